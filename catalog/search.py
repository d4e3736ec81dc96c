"""Free-text search of the file index, answered by indexes at a million files.

Every word (quoted phrases stay whole) must match a file somewhere: part of its file name,
accents and case ignored (the folded column), or part of its run's name, its template's
name or its uploader's email. A whole file id matches that file. PostgreSQL answers the parts
with trigram indexes (migration 0002); SQLite with a full-text table with a trigram tokenizer
over the same columns (also migration 0002), for words of three characters or more.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from catalog.folding import fold
from catalog.models import IndexedFile
from files.ids import is_valid_id
from files.log_search import _fts_phrase, _search_words

SQLITE_TEXT_TABLE = "catalog_indexedfile_search"
_IN_TEXT_TABLE = (
    "SELECT rowid FROM catalog_indexedfile_search WHERE catalog_indexedfile_search MATCH %s"
)
_TRIGRAM = 3


def matching(queryset: QuerySet[IndexedFile], term: str) -> QuerySet[IndexedFile]:
    uses_text_table = _has_text_table(queryset.db)
    for word in _search_words(term.strip()):
        queryset = queryset.filter(_word_matches(word, uses_text_table=uses_text_table))
    return queryset


def _word_matches(word: str, *, uses_text_table: bool) -> Q:
    folded = fold(word)
    exactly = Q(asset_id=word) if is_valid_id(word) else Q(pk__in=[])
    if uses_text_table and len(folded) >= _TRIGRAM and len(word) >= _TRIGRAM:
        phrases = {_fts_phrase(folded), _fts_phrase(word)}
        in_text = RawSQL(_IN_TEXT_TABLE, [" OR ".join(sorted(phrases))])  # noqa: S611
        return exactly | Q(pk__in=in_text)
    return (
        exactly
        | Q(file_name_folded__contains=folded)
        | Q(run_name__icontains=word)
        | Q(template_name__icontains=word)
        | Q(uploader_email__icontains=word)
    )


def _has_text_table(alias: str) -> bool:
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [SQLITE_TEXT_TABLE]
        )
        return cursor.fetchone() is not None
