"""Tallyfy's list answers (Fractal): `{"data": [...], "meta": {"pagination": {...}}}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from files.tallyfy.errors import UnexpectedResponse

MAX_PER_PAGE = 100  # Tallyfy's documented cap


@dataclass(frozen=True)
class Page:
    """One page of a list. `total` and `total_pages` are Tallyfy's word, which may be wrong:
    a caller reading every page stops at an empty page or once `total` items are read."""

    items: list[dict[str, Any]]
    total: int | None
    per_page: int | None
    current_page: int | None
    total_pages: int | None
    has_next: bool
    raw_meta: dict[str, Any] = field(repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> Page:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise UnexpectedResponse("Tallyfy's answer holds no list.")
        meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
        pagination = meta.get("pagination") if isinstance(meta.get("pagination"), dict) else {}
        links = pagination.get("links")  # {} or [] or null when there is no other page
        return cls(
            items=[item for item in data if isinstance(item, dict)],
            total=_count(pagination.get("total")),
            per_page=_count(pagination.get("per_page")),
            current_page=_count(pagination.get("current_page")),
            total_pages=_count(pagination.get("total_pages")),
            has_next=isinstance(links, dict) and bool(links.get("next")),
            raw_meta=meta,
        )


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
