"""Words of a free-text search, and how they are put to trigram indexes.

Used by the deletion log's search (files/log_search.py) and the file index's
(catalog/search.py).
"""

from __future__ import annotations

import re

from django.db.models import TextField, Value
from django.db.models.functions import Concat
from django.utils.text import smart_split, unescape_string_literal

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


def unindexed(column: str) -> Concat:
    """The column as an expression no index is built on, to check a word on the rows the
    indexes found without the database reading the indexes for it again."""
    return Concat(column, Value(""), output_field=TextField())
