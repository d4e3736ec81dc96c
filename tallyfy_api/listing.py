"""Tallyfy's list answers (Fractal): `{"data": [...], "meta": {"pagination": {...}}}`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tallyfy_api.errors import UnexpectedResponse

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


HARD_MAX_PAGES = 10_000  # no list is read past this many pages, whatever it claims


class ListingBroken(UnexpectedResponse):
    """A list answer that cannot be the next page of the list being read: an empty or short
    page before `total` items are read, the page before it again (the server ignores `page`),
    or more pages than the list can have. What was read is not the whole list: never take
    what is missing from it as gone."""


def page_budget(*, total: int | None, page_size: int | None, hard_cap: int = HARD_MAX_PAGES) -> int:
    """The most pages a list of `total` items, `page_size` a page, may take: the pages it
    needs, and a margin for items added while it is read; never more than `hard_cap`."""
    if total is None or not page_size:
        return hard_cap
    needed = -(-total // page_size)
    return min(needed + needed // 10 + 2, hard_cap)


def page_fingerprint(page: Page) -> str:
    """A digest of the page's items (their ids, or the whole item when it has none)."""
    keys = [item.get("id") if item.get("id") is not None else item for item in page.items]
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class ListCursor:
    """Where a reading of a list stands, page by page: small enough to keep on a row between
    pages read by different processes. `accept` checks each page before it is used."""

    number: int = 1  # the page to ask for next
    read: int = 0
    page_size: int | None = None  # items on the first page: what every page but the last holds
    fingerprint: str = ""  # of the page read last
    max_pages: int | None = None  # None: `page_budget` of what the first page says
    hard_cap: int = HARD_MAX_PAGES

    def accept(self, page: Page) -> bool:
        """Take `page` as page `number`: raises ListingBroken when it cannot be, else moves on
        and says whether the list is read whole."""
        where = f"page {self.number}"
        if not page.items:
            if page.total is not None and self.read < page.total:
                raise ListingBroken(
                    f"Tallyfy's list answered {where} empty after {self.read} of {page.total} "
                    "items: the list is not whole."
                )
            return True
        fingerprint = page_fingerprint(page)
        if fingerprint == self.fingerprint:
            raise ListingBroken(
                f"Tallyfy's list answered {where} with the same items as the page before: it "
                "ignores the page asked for."
            )
        read = self.read + len(page.items)
        expected = self.page_size or page.per_page
        if (
            page.total is not None
            and read < page.total
            and expected is not None
            and len(page.items) < expected
        ):
            raise ListingBroken(
                f"Tallyfy's list answered {where} with {len(page.items)} items, not "
                f"{expected}, before {page.total} items were read: the list is not whole."
            )
        if self.max_pages is None:  # fixed by the first page: a total that grows is no excuse
            self.max_pages = page_budget(
                total=page.total, page_size=len(page.items), hard_cap=self.hard_cap
            )
        budget = min(self.max_pages, self.hard_cap)
        if self.number > budget:
            total = "no total" if page.total is None else f"a total of {page.total}"
            raise ListingBroken(
                f"Tallyfy's list went on past {budget} pages ({where}, {total}): it does not end."
            )
        self.read, self.fingerprint = read, fingerprint
        self.page_size = self.page_size or len(page.items)
        if page.total is not None and self.read >= page.total:
            return True
        self.number += 1
        return False


def pages(
    fetch: Callable[[int], Page],
    *,
    max_pages: int | None = None,
    hard_cap: int = HARD_MAX_PAGES,
) -> Iterator[Page]:
    """Every page of a list, asking for `page + 1` ourselves (never following `next`), each
    checked by a `ListCursor` before it is yielded. Raises ListingBroken (see there)."""
    cursor = ListCursor(max_pages=max_pages, hard_cap=hard_cap)
    while True:
        page = fetch(cursor.number)
        last = cursor.accept(page)
        yield page
        if last:
            return
