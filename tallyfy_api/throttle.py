"""How the client paces itself: the Throttle protocol, and the in-process default.

The client never imports a throttle's implementation: a shared one (one request rate per
organization across every worker and page) is handed to `TallyfyClient(throttle=...)`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Throttle(Protocol):
    def acquire(self, *, max_wait: float | None) -> float | None:
        """Wait for this organization's next request slot and take it. Returns None once taken.
        If the slot is further away than `max_wait` seconds, waits nothing, takes nothing and
        returns the seconds until it. `max_wait=None` waits as long as needed."""

    def pushed_back(self, *, retry_after: float) -> None:
        """Tallyfy answered 429: hold back every request of this organization for `retry_after` s."""  # noqa: E501


class LocalThrottle:
    """No pacing in advance, only the hold-off after a 429, for the requests of one process
    that share this object (by default: one client)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._not_before = 0.0

    def acquire(self, *, max_wait: float | None) -> float | None:
        deadline = None if max_wait is None else self._clock() + max_wait
        while True:
            with self._lock:
                now = self._clock()
                wait = self._not_before - now
            if wait <= 0:
                return None
            if deadline is not None and now + wait > deadline:
                return wait
            self._sleep(wait)

    def pushed_back(self, *, retry_after: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + max(retry_after, 0.0))
