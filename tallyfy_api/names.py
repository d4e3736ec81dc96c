"""Names from Tallyfy as they may be shown: nothing in them can reorder or hide the text."""

from __future__ import annotations

import re
from typing import Any

# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the
# directional marks (U+200E, U+200F, U+061C), and C1 controls (U+0080-U+009F): an RLO makes
# "invoice_fdp.exe" read "invoice_exe.pdf".
_HIDDEN_FORMATTING = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u0080-\u009f]")


def display_name(name: str) -> str:
    return _HIDDEN_FORMATTING.sub("", name)


_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def plain_text(text: str) -> str:
    """A name as a line of text outside a page (a CSV cell, a terminal): no control
    characters at all, nothing that reorders or hides the text."""
    return display_name(_CONTROLS.sub("", text))


def escaped_in_json(text: str) -> str:
    """JSON text with those characters as `\\uXXXX` escapes: the same JSON, nothing hidden."""
    return _HIDDEN_FORMATTING.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def bounded(text: str, limit: int) -> str:
    """`text` as it can be stored in a column of `limit` characters on any database: without
    NUL (which PostgreSQL stores in no text column), cut at the limit (ending in an
    ellipsis). Other characters are kept as Tallyfy sent them; pages and exports show them
    through display_name and plain_text."""
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def storable_json(value: Any) -> Any:
    """A copy of `value` (decoded JSON, at most client.MAX_JSON_DEPTH deep) with NUL
    characters in its strings replaced by U+FFFD, which PostgreSQL's JSON can hold."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value
