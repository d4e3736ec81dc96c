"""Pagination for the deletion log that stays fast however long the log grows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows, so a page view never counts the whole log.

    Past the cap the listing says "more than …" and older rows are reached with the date and
    state filters or a search, which the log's indexes answer directly.
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        return min(self.object_list.order_by()[: self.COUNT_CAP + 1].count(), self.COUNT_CAP + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.COUNT_CAP
