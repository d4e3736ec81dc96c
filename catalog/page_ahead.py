"""The next page of a list, asked for while the scan writes the page before.

A scan makes one call at a time; with Tallyfy some 100 ms away and a page to write, each page
would take longer than a slot of the organization's rate limit, and the scan would fall behind
the pace the limit allows. So a step that read a page which is not the list's last asks for the
next one on a thread of its own, after renewing its lease and taking the call's rate slot here
(in the database, on this thread). The thread only talks to Tallyfy: its client's throttle holds
that one slot, and a retry (a 429, a timeout) that would need another abandons the page. The
next step's call of the same page takes the answer once it has renewed the lease; any other
call, or an abandoned or failed page, is asked for as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import tallyfy_api

type Key = tuple[str, tuple[tuple[str, Any], ...]]
# A listing call: the client's method and its keyword arguments.
type PageCall = tuple[str, dict[str, Any]]


class PageAbandoned(Exception):
    """The page asked ahead needed a second rate slot (a retry): it is asked for again."""


class _OneSlot:
    """A throttle holding the one slot taken for the page asked ahead."""

    def __init__(self) -> None:
        self.free = False

    def acquire(self, *, max_wait: float | None) -> float | None:
        if not self.free:
            raise PageAbandoned
        self.free = False
        return None  # the slot is taken: go

    def pushed_back(self, *, retry_after: float) -> None:
        raise PageAbandoned


class PageAhead:
    """At most one page in flight, on one thread, for the scan's life in this process."""

    def __init__(
        self,
        *,
        take_slot: Callable[[], None],
        client_paced_by: Callable[[tallyfy_api.Throttle], tallyfy_api.TallyfyClient],
    ) -> None:
        self._take_slot = take_slot
        self._slot = _OneSlot()
        self._client = client_paced_by(self._slot)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-page-ahead")
        self._pending: tuple[Key, Future[Any]] | None = None

    @staticmethod
    def key(name: str, kwargs: dict[str, Any]) -> Key:
        return name, tuple(sorted(kwargs.items()))

    def ask(self, name: str, **kwargs: Any) -> None:
        """Ask for `name(**kwargs)` now (the caller renewed its lease). One at a time."""
        self.drop()
        self._take_slot()
        self._slot.free = True
        method = getattr(self._client, name)
        self._pending = (self.key(name, kwargs), self._pool.submit(method, **kwargs))

    def answer(self, name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """(True, the page) when that very call was asked ahead and answered; else (False,
        None), and the caller asks for it itself."""
        pending = self._pending
        if pending is None or pending[0] != self.key(name, kwargs):
            return False, None  # another call (a run's details, say): the page stays asked
        self._pending = None
        try:
            return True, pending[1].result()
        except (PageAbandoned, tallyfy_api.TallyfyError):
            return False, None

    def drop(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None

    def close(self) -> None:
        self.drop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
