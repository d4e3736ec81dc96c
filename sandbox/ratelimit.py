"""Tallyfy's rate limit, imitated: at most N API requests a minute per organization.

A sliding window: a request is admitted when fewer than N requests of its organization were
admitted in the 60 seconds before it, so no minute, wherever it starts, holds more than N (a
fixed window lets 2N through across a boundary). Requests answered 429 are not counted against
the window, as Laravel, which Tallyfy runs on, does not count them. Off while N is 0.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    retry_after: int  # whole seconds until one more would be admitted (0 when admitted)


class SlidingWindowLimiter:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}
        self._counts: dict[str, dict[str, int]] = {}

    def check(self, org_id: str, *, per_minute: int) -> Verdict | None:
        """Admit or refuse one request of `org_id`; None when the limit is off."""
        if per_minute <= 0:
            return None
        with self._lock:
            now = self._clock()
            admitted = self._admitted.setdefault(org_id, deque())
            while admitted and admitted[0] <= now - WINDOW_SECONDS:
                admitted.popleft()
            counts = self._counts.setdefault(org_id, {"requests": 0, "limited": 0})
            counts["requests"] += 1
            if len(admitted) >= per_minute:
                counts["limited"] += 1
                # The oldest admission that keeps the window full leaves it at this time.
                frees_at = admitted[len(admitted) - per_minute] + WINDOW_SECONDS
                return Verdict(admitted=False, retry_after=max(1, math.ceil(frees_at - now)))
            admitted.append(now)
            return Verdict(admitted=True, retry_after=0)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            organizations = {org: dict(counts) for org, counts in self._counts.items()}
        requests = sum(c["requests"] for c in organizations.values())
        limited = sum(c["limited"] for c in organizations.values())
        return {
            "window": "sliding, 60 s",
            "requests": requests,
            "limited": limited,
            "limited_share": limited / requests if requests else 0.0,
            "organizations": organizations,
        }

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()
            self._counts.clear()
