"""Free-text search of the file index, answered by indexes at a million files.

Every word (quoted phrases stay whole) must match a file somewhere: part of its file name,
accents and case ignored (the folded column), part of its run's name or its template's name,
or its uploader's email: part of it, or, for a whole address, exactly that uploader (any case).
A whole file id matches that file.

PostgreSQL answers the parts with trigram indexes (migration 0002) and a whole address with
an index on the upper-cased email (migration 0003). SQLite answers the parts with two
full-text tables with a trigram tokenizer, one over the names and one over the uploaders'
emails, for words of three characters or more, and a whole address with a case-blind index
(migration 0003).

Trigrams found in nearly every row make an index read nearly every row, so two kinds of
word are not given to the indexes whole:
- a whole email address is looked up exactly ("exa", "com" are in every email);
- a word ending in a common file extension (`.pdf`, `.jpg`, …) is looked up without it and
  the rows found are checked for the whole word (most names end in one of a few extensions).

The matching files are found once and pinned by primary key when no more match than a page
counts (files/text_search.py). More matches than that are common enough that walking the
upload-date index finds a page of them quickly: the search is left to the database, and the
admin neither counts them nor bounds their dates (`Found.broad`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest

from admin_pages import text_search
from admin_pages.text_search import (
    TRIGRAM,
    checked_part,
    fts_phrase,
    search_words,
    sqlite_tables_exist,
    unindexed,
    without_common_extension,
)
from catalog.folding import fold
from catalog.models import IndexedFile
from tallyfy_api.ids import is_valid_id

NAMES_TEXT_TABLE = "catalog_indexedfile_search"
UPLOADERS_TEXT_TABLE = "catalog_indexedfile_uploader_search"
_IN_NAMES = "SELECT rowid FROM catalog_indexedfile_search WHERE catalog_indexedfile_search MATCH %s"
_IN_UPLOADERS = (
    "SELECT rowid FROM catalog_indexedfile_uploader_search "
    "WHERE catalog_indexedfile_uploader_search MATCH %s"
)
_WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_UNINDEXED_NAMES = {
    "name_checked": unindexed("file_name_folded"),
    "run_name_checked": unindexed("run_name"),
    "template_name_checked": unindexed("template_name"),
}


@dataclass(frozen=True)
class Found:
    files: QuerySet[IndexedFile]
    # More files match than a page counts: too many to count or to bound by date cheaply.
    broad: bool = False


def matching(queryset: QuerySet[IndexedFile], term: str) -> QuerySet[IndexedFile]:
    """The files of `queryset` that match every word of `term`."""
    return find(queryset, term).files


def find(queryset: QuerySet[IndexedFile], term: str) -> Found:
    if not search_words(term.strip()):
        return Found(queryset)
    text_tables = _has_text_tables(queryset.db)
    found = searched(queryset, term, text_tables=text_tables)
    if (few := text_search.pinned(queryset, found)) is not None:
        return Found(few)
    if not text_tables:
        return Found(found, broad=True)
    # SQLite would read every match to sort them by date; hiding the primary key from the
    # planner (`id + 0`) makes it walk the date index and stop at a page of matches.
    walked = queryset.alias(id_unindexed=F("pk") + 0)
    return Found(searched(walked, term, text_tables=True, by_id="id_unindexed"), broad=True)


def remember_breadth(request: HttpRequest, found: Found) -> None:
    """For the rest of the request's page (its paginator, its date hierarchy)."""
    request.index_search_broad = found.broad  # type: ignore[attr-defined]


def was_broad(request: HttpRequest) -> bool:
    return getattr(request, "index_search_broad", False)


def searched(
    queryset: QuerySet[IndexedFile],
    term: str,
    *,
    text_tables: bool | None = None,
    by_id: str = "pk",
) -> QuerySet[IndexedFile]:
    """The search as one query, for the database's indexes to answer."""
    if text_tables is None:
        text_tables = _has_text_tables(queryset.db)
    queryset = queryset.alias(**_UNINDEXED_NAMES)
    for word in search_words(term.strip()):
        queryset = queryset.filter(_word_matches(word, text_tables=text_tables, by_id=by_id))
    return queryset


def _word_matches(word: str, *, text_tables: bool, by_id: str) -> Q:
    exactly = Q(asset_id=word) if is_valid_id(word) else Q(pk__in=[])
    by_name = _names_match(word, text_tables, by_id)
    if _WHOLE_EMAIL.fullmatch(word):
        return exactly | by_name | Q(uploader_email__iexact=word)
    return exactly | by_name | _uploader_part(word, text_tables, by_id)


def _names_match(word: str, text_tables: bool, by_id: str) -> Q:
    """Part of the file name (folded), the run name or the template name."""
    stem = without_common_extension(word)
    found = _names_contain(stem, text_tables, by_id)
    if stem == word:
        return found
    part = checked_part(word, ascii_case_only=text_tables)
    return found & (
        Q(name_checked__contains=fold(word))  # folded on both sides: any case, any database
        | Q(run_name_checked__icontains=part)
        | Q(template_name_checked__icontains=part)
    )


def _names_contain(word: str, text_tables: bool, by_id: str) -> Q:
    folded = fold(word)
    if text_tables and len(folded) >= TRIGRAM and len(word) >= TRIGRAM:
        phrases = " OR ".join(sorted({fts_phrase(folded), fts_phrase(word)}))
        return Q(**{f"{by_id}__in": RawSQL(_IN_NAMES, [phrases])})  # noqa: S611 (bound words)
    return (
        Q(file_name_folded__contains=folded)
        | Q(run_name__icontains=word)
        | Q(template_name__icontains=word)
    )


def _uploader_part(word: str, text_tables: bool, by_id: str) -> Q:
    if text_tables and len(word) >= TRIGRAM:
        in_emails = RawSQL(_IN_UPLOADERS, [fts_phrase(word)])  # noqa: S611 (a bound word)
        return Q(**{f"{by_id}__in": in_emails})
    return Q(uploader_email__icontains=word)


def _has_text_tables(alias: str) -> bool:
    return sqlite_tables_exist(alias, NAMES_TEXT_TABLE, UPLOADERS_TEXT_TABLE)


def whole_email(term: str) -> str:
    """The email address a search is for, when it is one whole address; else ""."""
    words = search_words(term)
    if len(words) == 1 and _WHOLE_EMAIL.fullmatch(words[0]):
        return words[0].lower()
    return ""
