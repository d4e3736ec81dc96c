"""Free-text search of the deletion log, answered by indexes however long the log grows.

A whole Tallyfy file id (32 hex digits) is looked up through the asset id index alone.
Anything else is split into words as the admin splits it ("quoted phrases" stay whole), and every
word must match the row somewhere: the file id or the username exactly (any case), or part of
the file name or the reason. The first two are answered by case-insensitive indexes. For
the parts, PostgreSQL has trigram indexes on the columns themselves (migration 0002), so a
plain `icontains` uses them; SQLite has a full-text table with a trigram tokenizer
(migration 0003), which answers words of three characters or more. A word ending in a common
file extension is put to them without it, and the rows found are checked for the whole word;
a search matching no more rows than a page counts is pinned to them by primary key
(files/text_search.py says why of both).
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from admin_pages.text_search import (
    TRIGRAM,
    checked_part,
    fts_phrase,
    pinned,
    search_words,
    sqlite_tables_exist,
    unindexed,
    without_common_extension,
)
from files.models import FileDeletion

SQLITE_TEXT_TABLE = "files_filedeletion_search"
_IN_TEXT_TABLE = (
    "SELECT rowid FROM files_filedeletion_search WHERE files_filedeletion_search MATCH %s"
)
_TALLYFY_OBJECT_ID = re.compile(r"[0-9a-f]{32}")


def matching(queryset: QuerySet[FileDeletion], term: str) -> QuerySet[FileDeletion]:
    """The rows of `queryset` that match `term`, pinned by primary key when they are few."""
    if _TALLYFY_OBJECT_ID.fullmatch(term.strip()):
        return queryset.filter(asset_id=term.strip())
    found = searched(queryset, term)
    if found is queryset:
        return found
    few = pinned(queryset, found)
    return found if few is None else few


def searched(queryset: QuerySet[FileDeletion], term: str) -> QuerySet[FileDeletion]:
    """The search's words as one query, for the database's indexes to answer."""
    words = search_words(term)
    if not words:
        return queryset
    uses_text_table = sqlite_tables_exist(queryset.db, SQLITE_TEXT_TABLE)
    queryset = queryset.alias(
        file_name_checked=unindexed("file_name"), reason_checked=unindexed("reason")
    )
    for word in words:
        queryset = queryset.filter(_word_matches(word, uses_text_table=uses_text_table))
    return queryset


def _word_matches(word: str, *, uses_text_table: bool) -> Q:
    exactly = Q(asset_id__iexact=word) | Q(username__iexact=word)
    stem = without_common_extension(word)
    if uses_text_table and len(word) >= TRIGRAM:
        in_text = RawSQL(_IN_TEXT_TABLE, [fts_phrase(stem)])  # noqa: S611 (a bound word)
        found = Q(pk__in=in_text)
    else:
        found = Q(file_name__icontains=stem) | Q(reason__icontains=stem)
    if stem != word:
        part = checked_part(word, ascii_case_only=uses_text_table)
        found &= Q(file_name_checked__icontains=part) | Q(reason_checked__icontains=part)
    return exactly | found
