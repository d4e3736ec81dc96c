"""A per-file journal of the API requests the sandbox answered, for tests that check, after the
fact, what happened to each file: in arrival order, each request's method, what it asked for,
the status it was answered (None when the answer was lost) and whether a delete was applied.

Bounded: at most `per_file` entries a file (older ones are dropped and counted) and at most
`files` files (the least recently touched are forgotten). An entry is appended when a request
arrives, so a request held back by a fault keeps its place in the order. A request held back
by the `stall` fault is marked `late`: the fault is meant to outlast the client's read timeout,
so whatever it was answered, its client did not read the answer.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from typing import Any

KINDS = {
    "get_asset": "metadata",
    "view_file": "view",
    "download_file": "download",
    "delete_file": "delete",
}


class JournalEntry:
    __slots__ = ("applied", "kind", "late", "method", "seq", "status")

    def __init__(self, seq: int, method: str, kind: str) -> None:
        self.seq = seq
        self.method = method
        self.kind = kind
        self.status: int | None = None
        self.applied = False
        self.late = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "kind": self.kind,
            "status": self.status,
            "applied": self.applied,
            "late": self.late,
        }


class _FileLog:
    __slots__ = ("dropped", "entries")

    def __init__(self, per_file: int) -> None:
        self.entries: deque[JournalEntry] = deque(maxlen=per_file)
        self.dropped = 0


class FileJournal:
    def __init__(self, *, per_file: int = 256, files: int = 100_000) -> None:
        self._per_file = per_file
        self._files = files
        self._logs: OrderedDict[tuple[str, str], _FileLog] = OrderedDict()
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.forgotten = 0

    def start(self, *, org_id: str, asset_id: str, method: str, route: str) -> JournalEntry:
        """The entry of a request that just arrived; its caller fills in status and applied."""
        with self._lock:
            key = (org_id, asset_id)
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = _FileLog(self._per_file)
                if len(self._logs) > self._files:
                    self._logs.popitem(last=False)
                    self.forgotten += 1
            else:
                self._logs.move_to_end(key)
            if len(log.entries) == log.entries.maxlen:
                log.dropped += 1
            entry = JournalEntry(next(self._seq), method, KINDS.get(route, route))
            log.entries.append(entry)
            return entry

    def read(self, *, org_id: str | None = None, asset_ids: list[str] | None = None) -> dict:
        """{asset id: {"org_id", "entries", "dropped"}} for the files asked for (all when
        `asset_ids` is None), plus "forgotten": how many files fell out of the journal."""
        with self._lock:
            wanted = None if asset_ids is None else set(asset_ids)
            files = {
                asset: {
                    "org_id": org,
                    "entries": [entry.as_dict() for entry in log.entries],
                    "dropped": log.dropped,
                }
                for (org, asset), log in self._logs.items()
                if (org_id is None or org == org_id) and (wanted is None or asset in wanted)
            }
            return {"files": files, "forgotten": self.forgotten}

    def clear(self) -> None:
        with self._lock:
            self._logs.clear()
            self.forgotten = 0
