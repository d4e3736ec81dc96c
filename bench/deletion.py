"""Benchmark 2: one deletion through the panel vs. the floor of two requests on one connection.

Where the panel's extra time goes is read from the sandbox's request log: when the metadata
read and the DELETE arrived, against when the POST was sent and its answer came back. The
floor is split the same way, so each phase is compared with what the bare requests cost."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests

from bench.harness import Panel, Sandbox

LATENCIES_MS = (50, 150)
RUNS = 15
# Who deletes: a superuser skips the permission queries a staff member's request makes.
DELETERS = {"superuser": "bench", "staff with group permissions": "bench-staff"}


TICKET = re.compile(r'name="ticket" value="([^"]+)"')


def confirm_page(session: requests.Session, site: Panel, asset_id: str) -> str:
    """Open the confirm page, as a user does before deleting; the one-time ticket it carries."""
    page = session.get(delete_url(site, asset_id), timeout=30)
    found = TICKET.search(page.text)
    if page.status_code != 200 or found is None:
        raise RuntimeError(f"no confirm page: {page.status_code}")
    return found[1]


def delete_url(site: Panel, asset_id: str) -> str:
    return f"{site.url}/admin/tallyfy-files/{site.org_pk}/{asset_id}/delete/"


# The three stretches of a deletion, each without the sandbox's added latency.
PHASES = {
    "before": "before the metadata read (sign-in checks, ticket, read slot)",
    "between": "from the read's answer to the DELETE (pending row committed)",
    "after": "from the DELETE's answer to the POST's (settled, sealed, logged)",
}


@dataclass(frozen=True)
class Timed:
    """One deletion, panel or floor: how long it took and when the sandbox saw each request."""

    elapsed: float
    sent: float  # wall clock (the sandbox's log uses it) just before the first request
    answered: float
    read_at: float
    delete_at: float
    ports: frozenset[int]

    def phases(self, latency_s: float) -> dict[str, float]:
        return {
            "before": self.read_at - self.sent,
            "between": self.delete_at - self.read_at - latency_s,
            "after": self.answered - self.delete_at - latency_s,
        }


def panel_delete(
    session: requests.Session, site: Panel, asset_id: str, ticket: str | None
) -> float:
    """The confirm page's POST, timed; `ticket` None for a panel from before the ticket."""
    url = delete_url(site, asset_id)
    data = {
        "reason": "benchmark",
        "confirmation": asset_id,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
        **({"ticket": ticket} if ticket is not None else {}),
    }
    started = time.perf_counter()
    response = session.post(url, data=data, allow_redirects=False, timeout=30)
    elapsed = time.perf_counter() - started
    if response.status_code != 302 or "/filedeletion/" not in response.headers["Location"]:
        raise RuntimeError(f"deletion did not go through: {response.status_code}")
    return elapsed


def floor_delete(session: requests.Session, box: Sandbox, asset_id: str) -> float:
    base = f"{box.base_url}/organizations/{box.org_id}"
    started = time.perf_counter()
    session.get(f"{base}/assets/{asset_id}", timeout=30).raise_for_status()
    session.delete(f"{base}/file/{asset_id}", timeout=30).raise_for_status()
    return time.perf_counter() - started


def timed(box: Sandbox, latency_ms: int, delete: Callable[[], float]) -> Timed:
    """`delete()` (returning its own elapsed time) on a fresh request log."""
    box.control("reset", {})
    box.control("faults", {"latency_ms": latency_ms})
    sent = time.time()
    elapsed = delete()
    answered = time.time()
    log = box.control("requests")
    if [entry["method"] for entry in log] != ["GET", "DELETE"]:
        raise RuntimeError(f"expected a read and a DELETE, the sandbox saw {log}")
    return Timed(
        elapsed,
        sent,
        answered,
        log[0]["at"],
        log[1]["at"],
        frozenset(entry["client_port"] for entry in log),
    )


def run(box: Sandbox, site: Panel) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for latency in LATENCIES_MS:
        for deleter, username in DELETERS.items():
            rows += _run_at(box, site, latency, deleter=deleter, username=username)
    return rows


def _run_at(
    box: Sandbox, site: Panel, latency_ms: int, *, deleter: str, username: str
) -> list[dict[str, Any]]:
    session = site.login(username)
    floor = requests.Session()
    floor.headers.update(
        {
            "Authorization": f"Bearer {box.token}",
            "Accept": "application/json",
            "X-Tallyfy-Client": "APIClient",
        }
    )
    box.control("faults", {"latency_ms": latency_ms})
    panel: list[Timed] = []
    floors: list[Timed] = []
    try:
        warm_up = box.add_file(10)
        panel_delete(session, site, warm_up, confirm_page(session, site, warm_up))
        floor_delete(floor, box, box.add_file(10))
        for _ in range(RUNS):
            floor_file = box.add_file(10)
            floors.append(timed(box, latency_ms, partial(floor_delete, floor, box, floor_file)))
            asset_id = box.add_file(10)
            ticket = confirm_page(session, site, asset_id)
            post = partial(panel_delete, session, site, asset_id, ticket)
            panel.append(timed(box, latency_ms, post))
    finally:
        box.control("reset", {})
    panel_s = statistics.median(t.elapsed for t in panel)
    floor_s = statistics.median(t.elapsed for t in floors)
    reused = [len(t.ports) == 1 for t in panel]
    return [
        {
            "figure": f"delete one file as {deleter} (sandbox +{latency_ms} ms a request): "
            "panel POST vs GET+DELETE floor",
            "ours": f"{panel_s * 1000:.1f} ms",
            "reference": f"{floor_s * 1000:.1f} ms",
            "ratio": round(panel_s / floor_s, 3),
            "target": "<= 1.10",
            "met": panel_s / floor_s <= 1.10,
        },
        {
            "figure": f"delete one file as {deleter} (+{latency_ms} ms): GET and DELETE on one "
            "connection",
            "ours": f"{sum(reused)} of {len(reused)} deletions",
            "reference": "all",
            "ratio": None,
            "target": "all",
            "met": all(reused),
        },
        *_phase_rows(panel, floors, latency_ms=latency_ms, deleter=deleter),
    ]


def _phase_rows(
    panel: list[Timed], floors: list[Timed], *, latency_ms: int, deleter: str
) -> list[dict[str, Any]]:
    """Where the panel's extra time goes: each stretch's median, the floor's beside it."""
    rows = []
    for phase, what in PHASES.items():
        ours = statistics.median(t.phases(latency_ms / 1000)[phase] for t in panel)
        bare = statistics.median(t.phases(latency_ms / 1000)[phase] for t in floors)
        rows.append(
            {
                "figure": f"delete one file as {deleter} (+{latency_ms} ms): {what}",
                "ours": f"{ours * 1000:.1f} ms",
                "reference": f"{bare * 1000:.1f} ms (floor)",
                "ratio": None,
                "target": "",
                "met": None,
            }
        )
    return rows
