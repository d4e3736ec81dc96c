"""Words of a free-text search, and how they are put to trigram indexes.

Used by the deletion log's search (files/log_search.py) and the file index's
(catalog/search.py).
"""

from __future__ import annotations

import re

from django.db import connections
from django.db.models import Model, QuerySet, TextField, Value
from django.db.models.functions import Concat
from django.utils.text import smart_split, unescape_string_literal

from admin_pages.pagination import CappedCountPaginator

TRIGRAM = 3
_COMMON_EXTENSION = re.compile(
    r"\.(pdf|docx?|xlsx?|pptx?|csv|txt|jpe?g|png|gif|heic|zip|mp4|mov)\Z", re.IGNORECASE
)


def search_words(term: str) -> list[str]:
    """The words of a search as the admin splits them: "quoted phrases" stay whole."""
    words = []
    for bit in smart_split(term.strip()):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1] and len(bit) > 1:
            bit = unescape_string_literal(bit)
        if bit:
            words.append(bit)
    return words


def fts_phrase(word: str) -> str:
    """The word as one FTS5 string, so none of its characters is read as query syntax."""
    return '"' + word.replace('"', '""') + '"'


def without_common_extension(word: str) -> str:
    """`scan_0042.pdf` as `scan_0042.`, when what is left is long enough for a trigram index.

    Most file names end in one of a few extensions, so their trigrams are in nearly every row
    and an index asked for them reads nearly every row; the rows found without the extension
    are checked for the whole word instead (`unindexed`)."""
    stem = _COMMON_EXTENSION.sub(".", word)
    return stem if len(stem.rstrip(".")) >= TRIGRAM else word


def checked_part(word: str, *, ascii_case_only: bool) -> str:
    """What the rows found without the extension are checked for: the whole word; or, where
    the check ignores case for ASCII letters only (SQLite's LIKE) and the word has other
    letters, its part after the last of them (the full-text index found the rest, in any
    case): `Überblick.pdf` is checked for `berblick.pdf`."""
    if not ascii_case_only or word.isascii():
        return word
    last_other = max(i for i, char in enumerate(word) if not char.isascii())
    return word[last_other + 1 :]


def unindexed(column: str) -> Concat:
    """The column as an expression no index is built on, to check a word on the rows the
    indexes found without the database reading the indexes for it again."""
    return Concat(column, Value(""), output_field=TextField())


def sqlite_tables_exist(alias: str, *names: str) -> bool:
    """Whether the database is SQLite and holds every one of these tables (the full-text
    tables a migration leaves out where SQLite has no trigram tokenizer)."""
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",  # noqa: S608 (placeholders only)
            list(names),
        )
        return cursor.fetchone()[0] == len(names)


def pinned[M: Model](queryset: QuerySet[M], found: QuerySet[M]) -> QuerySet[M] | None:
    """`queryset` narrowed to the primary keys `found` holds, or None when it holds more than
    a page of the admin counts.

    The admin asks one search several times for one page (the page, its count, the first
    and last date); a search matching few rows is then asked once, and the rest are lookups
    by primary key. A search matching many rows is left to the database, which finds a page
    of them by walking the date index."""
    limit = pinned_limit(queryset.db)
    keys = list(found.order_by().values_list("pk", flat=True)[: limit + 1])
    return queryset.filter(pk__in=keys) if len(keys) <= limit else None


def pinned_limit(alias: str) -> int:
    """As many rows as the admin's pages count, within the database's bound parameters."""
    bound = connections[alias].features.max_query_params
    cap = CappedCountPaginator.COUNT_CAP
    return cap if bound is None else min(cap, bound - 100)
