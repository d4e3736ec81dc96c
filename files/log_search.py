"""Free-text search of the deletion log, answered by indexes however long the log grows.

A whole Tallyfy file id (32 hex digits) is looked up through the asset id index alone.
Anything else is split into words as the admin splits it ("quoted phrases" stay whole), and every
word must match the row somewhere: the file id or the username exactly (any case), or part of
the file name or the reason. The first two are answered by case-insensitive indexes. For
the parts, PostgreSQL has trigram indexes on the columns themselves (migration 0002), so a
plain `icontains` uses them; SQLite has a full-text table with a trigram tokenizer
(migration 0003), which answers words of three characters or more.
"""

from __future__ import annotations

import re

from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.text import smart_split, unescape_string_literal

from files.models import FileDeletion

SQLITE_TEXT_TABLE = "files_filedeletion_search"
_IN_TEXT_TABLE = (
    "SELECT rowid FROM files_filedeletion_search WHERE files_filedeletion_search MATCH %s"
)
_TRIGRAM = 3
_TALLYFY_OBJECT_ID = re.compile(r"[0-9a-f]{32}")


def _search_words(term: str) -> list[str]:
    words = []
    for bit in smart_split(term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1] and len(bit) > 1:
            bit = unescape_string_literal(bit)
        if bit:
            words.append(bit)
    return words


def matching(queryset: QuerySet[FileDeletion], term: str) -> QuerySet[FileDeletion]:
    term = term.strip()
    if _TALLYFY_OBJECT_ID.fullmatch(term):
        return queryset.filter(asset_id=term)
    uses_text_table = _has_text_table(queryset.db)
    for word in _search_words(term):
        queryset = queryset.filter(_word_matches(word, uses_text_table=uses_text_table))
    return queryset


def _word_matches(word: str, *, uses_text_table: bool) -> Q:
    exactly = Q(asset_id__iexact=word) | Q(username__iexact=word)
    if uses_text_table and len(word) >= _TRIGRAM:
        # Fixed SQL; the word is a bound parameter.
        in_text = RawSQL(_IN_TEXT_TABLE, [_fts_phrase(word)])  # noqa: S611
        return exactly | Q(pk__in=in_text)
    return exactly | Q(file_name__icontains=word) | Q(reason__icontains=word)


def _fts_phrase(word: str) -> str:
    """The word as one FTS5 string, so none of its characters is read as query syntax."""
    return '"' + word.replace('"', '""') + '"'


def _has_text_table(alias: str) -> bool:
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [SQLITE_TEXT_TABLE]
        )
        return cursor.fetchone() is not None
