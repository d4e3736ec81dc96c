"""Faults the sandbox can be told to inject, at start (flags, environment) or at run time."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

LOSE_DELETE_MODES = ("", "drop", "timeout")


@dataclass
class Faults:
    latency_ms: int = 0
    rate_limit_next: int = 0  # the next N API requests answer 429
    rate_limit_share: float = 0.0  # then this share of requests answer 429
    rate_limit_per_minute: int = 0  # beyond N requests a minute per organization, 429 (0: off)
    retry_after: str = "1"  # seconds or an HTTP date
    unavailable_next: int = 0  # the next N API requests answer 503
    unavailable_share: float = 0.0  # then this share of requests answer 503
    lose_delete: str = ""  # "drop" or "timeout": the delete is applied, its answer lost
    lose_delete_next: int = 0  # for the next N deletes (0: every delete while lose_delete is set)
    lose_delete_delay: float = 10.0  # how long "timeout" holds the answer back, in seconds
    # this share of API requests is held back `stall_ms` before it is handled at all (a slow
    # Tallyfy: the client may give up first, and a delete is then applied after it did)
    stall_share: float = 0.0
    stall_ms: int = 0
    broken_downloads: list[str] = field(default_factory=list)  # asset ids whose bytes fail (500)
    # asset ids whose inline GET /file/{id} answers 404 while /dl serves them (as Tallyfy does
    # for files on tasks of running processes)
    broken_inline: list[str] = field(default_factory=list)
    # asset ids whose body stops half-way, connection closed, short of its Content-Length
    truncated_downloads: list[str] = field(default_factory=list)
    trickle_ms: int = 0  # API bodies (JSON and files) go out one byte every N ms (0: at once)
    expired_tokens: bool = False  # every token answers 401
    bandwidth_mbps: float = 0.0  # pace file bodies to this many megabits a second (0: no limit)
    # archived=only (runs, templates, one-off tasks) answers as if it were not sent
    ignore_archived_only: bool = False
    html_answer_next: int = 0  # the next N API requests answer 200 with an HTML page
    # Broken lists, on every list endpoint or only those whose path ends with listing_faults_path
    # (e.g. "/runs", "/tasks"):
    empty_page_at: int = 0  # this page answers with no items, its total unchanged (0: off)
    ignore_page: bool = False  # every page asked for answers as page 1
    total_override: int = 0  # the total every page claims (0: the real one)
    omit_total: bool = False  # pages say no total
    listing_faults_path: str = ""

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            if isinstance(current, bool):
                value = (
                    value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
                )
            elif isinstance(current, list):
                value = (
                    list(value)
                    if isinstance(value, list)
                    else [v for v in str(value).split(",") if v]
                )
            else:
                value = type(current)(value)
            setattr(self, name, value)
        if self.lose_delete not in LOSE_DELETE_MODES:
            raise ValueError(f"lose_delete must be one of {LOSE_DELETE_MODES}")
        if self.rate_limit_per_minute < 0:
            raise ValueError("rate_limit_per_minute must be 0 (off) or more")
        for share in ("unavailable_share", "rate_limit_share", "stall_share"):
            if not 0.0 <= getattr(self, share) <= 1.0:
                raise ValueError(f"{share} must be between 0 and 1")
        if min(self.html_answer_next, self.empty_page_at, self.total_override) < 0:
            raise ValueError("html_answer_next, empty_page_at and total_override must be 0 or more")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """Thread-safe decisions, one per request, from the current Faults; `injected` counts the
    faults each kind of decision injected since the last reset."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def injected_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.injected)

    def count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.faults.as_dict()

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            trial = Faults(**self.faults.as_dict())
            trial.update(changes)
            self.faults = trial
            return trial.as_dict()

    def reset(self) -> None:
        with self._lock:
            self.faults = Faults()
            self.injected.clear()

    def take_rate_limit(self) -> str | None:
        with self._lock:
            if self.faults.rate_limit_next > 0:
                self.faults.rate_limit_next -= 1
            elif not random.random() < self.faults.rate_limit_share:
                return None
            self.injected["rate_limited"] += 1
            return self.faults.retry_after

    def take_html_answer(self) -> bool:
        with self._lock:
            if self.faults.html_answer_next > 0:
                self.faults.html_answer_next -= 1
                return True
            return False

    def take_unavailable(self) -> bool:
        with self._lock:
            if self.faults.unavailable_next > 0:
                self.faults.unavailable_next -= 1
            elif not random.random() < self.faults.unavailable_share:
                return False
            self.injected["unavailable"] += 1
            return True

    def take_stall(self) -> float:
        """Seconds to hold this request back before handling it (0: none)."""
        with self._lock:
            if not self.faults.stall_ms or not random.random() < self.faults.stall_share:
                return 0.0
            self.injected["stalled"] += 1
            return self.faults.stall_ms / 1000

    def take_lost_delete(self) -> tuple[str, float] | None:
        with self._lock:
            mode = self.faults.lose_delete
            if not mode:
                return None
            if self.faults.lose_delete_next > 0:
                self.faults.lose_delete_next -= 1
                if self.faults.lose_delete_next == 0:
                    self.faults.lose_delete = ""
            self.injected[f"lost_delete_{mode}"] += 1
            return mode, self.faults.lose_delete_delay
