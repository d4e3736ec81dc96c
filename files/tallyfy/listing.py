"""Tallyfy's list answers (Fractal): `{"data": [...], "meta": {"pagination": {...}}}`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


MAX_PAGES = 100_000  # a guard against a server that never ends a list


def page_is_last(page: Page, *, read: int) -> bool:
    """Whether no page follows this one, `read` items having been read up to and including it.

    `total_pages` and `links` are not trusted: the list ends at an empty page or once `total`
    items are read (or, with no `total`, at the first empty page)."""
    if not page.items:
        return True
    return page.total is not None and read >= page.total


def pages(fetch: Callable[[int], Page], *, first_page: int = 1) -> Iterator[Page]:
    """Every page of a list, asking for `page + 1` ourselves (never following `next`)."""
    read = 0
    previous_ids: tuple[object, ...] | None = None
    for number in range(first_page, first_page + MAX_PAGES):
        page = fetch(number)
        ids = tuple(item.get("id") for item in page.items)
        if ids and ids == previous_ids:
            return  # the server ignored `page` and answered the same page again
        previous_ids = ids
        read += len(page.items)
        yield page
        if page_is_last(page, read=read + (first_page - 1) * (page.per_page or 0)):
            return
