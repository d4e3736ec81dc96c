"""Names from Tallyfy as they may be shown: nothing in them can reorder or hide the text."""

from __future__ import annotations

import re

# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the
# directional marks (U+200E, U+200F, U+061C), and C1 controls (U+0080-U+009F): an RLO makes
# "invoice_fdp.exe" read "invoice_exe.pdf".
_HIDDEN_FORMATTING = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u0080-\u009f]")


def display_name(name: str) -> str:
    return _HIDDEN_FORMATTING.sub("", name)


def escaped_in_json(text: str) -> str:
    """JSON text with those characters as `\\uXXXX` escapes: the same JSON, nothing hidden."""
    return _HIDDEN_FORMATTING.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
