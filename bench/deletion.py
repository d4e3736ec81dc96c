"""Benchmark 2: one deletion through the panel vs. the floor of two requests on one connection."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import requests

from bench.harness import Panel, Sandbox

LATENCIES_MS = (50, 150)
RUNS = 15
# Who deletes: a superuser skips the permission queries a staff member's request makes.
DELETERS = {"superuser": "bench", "staff with group permissions": "bench-staff"}


def confirm_page(session: requests.Session, site: Panel, asset_id: str) -> str:
    """Open the confirm page, as a user does before deleting; the one-time ticket it carries."""
    page = session.get(delete_url(site, asset_id), timeout=30)
    found = re.search(r'name="ticket" value="([^"]+)"', page.text)
    if page.status_code != 200 or found is None:
        raise RuntimeError(f"no confirm page: {page.status_code}")
    return found[1]


def delete_url(site: Panel, asset_id: str) -> str:
    return f"{site.url}/admin/tallyfy-files/{site.org_pk}/{asset_id}/delete/"


def panel_delete(session: requests.Session, site: Panel, asset_id: str, ticket: str) -> float:
    url = delete_url(site, asset_id)
    data = {
        "reason": "benchmark",
        "confirmation": asset_id,
        "ticket": ticket,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
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
    panel_times, floor_times, reused = [], [], []
    try:
        warm_up = box.add_file(10)
        panel_delete(session, site, warm_up, confirm_page(session, site, warm_up))
        floor_delete(floor, box, box.add_file(10))
        for _ in range(RUNS):
            floor_times.append(floor_delete(floor, box, box.add_file(10)))
            asset_id = box.add_file(10)
            ticket = confirm_page(session, site, asset_id)
            box.control("reset", {})
            box.control("faults", {"latency_ms": latency_ms})
            panel_times.append(panel_delete(session, site, asset_id, ticket))
            ports = {entry["client_port"] for entry in box.control("requests")}
            reused.append(len(ports) == 1)
    finally:
        box.control("reset", {})
    panel_s, floor_s = statistics.median(panel_times), statistics.median(floor_times)
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
    ]
