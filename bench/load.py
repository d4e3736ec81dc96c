"""Benchmark 4: concurrent staff on the look-up and detail pages, under gunicorn, with wrk.

A reference is measured in the same run: the admin's own JavaScript catalogue, which passes
the same sign-in checks and middleware and renders no page. The look-up page's throughput as
a share of it is what our page costs on top of the framework, on whatever machine runs it:
the two take turns in short rounds, and the share is the geometric mean of each pair's
(bench.paired)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from typing import Any

from bench.harness import ROOT, Panel, Sandbox
from bench.paired import paired

LATENCY_MS = 50
DURATION_S = 10
PAIRED_ROUNDS = 10
ROUND_SECONDS = 3
USERS = (8, 32)
REFERENCE = "signed-in response with no page (the admin's jsi18n)"


def wrk(url: str, cookie: str, connections: int, *, seconds: int = DURATION_S) -> dict[str, Any]:
    result = subprocess.run(
        [
            "wrk",
            "--threads",
            "2",
            "--connections",
            str(connections),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--header",
            f"Cookie: {cookie}",
            "--script",
            str(ROOT / "bench" / "wrk_report.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(box: Sandbox, site: Panel) -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        return [
            {
                "figure": "load test",
                "ours": "skipped: wrk is not installed",
                "reference": "",
                "ratio": None,
                "target": "",
                "met": False,
            }
        ]
    session = site.login()
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    asset_id = box.add_file(1000, filename="load.pdf")
    pages = {
        REFERENCE: f"{site.url}/admin/jsi18n/",
        "look-up page": f"{site.url}/admin/tallyfy-files/lookup/",
        "detail page": f"{site.url}/admin/tallyfy-files/{site.org_pk}/{asset_id}/",
    }
    box.control("faults", {"latency_ms": LATENCY_MS})
    rows = []
    try:
        for name, url in pages.items():
            for users in USERS:
                report = wrk(url, cookie, users)
                rows.append(
                    {
                        "figure": f"load, {name}, {users} users (sandbox +{LATENCY_MS} ms)",
                        "ours": f"{report['rps']:.0f} req/s, p95 {report['p95_ms']:.0f} ms",
                        "reference": f"{report['requests']} requests in {report['seconds']:.0f} s, "
                        f"p50 {report['p50_ms']:.0f} ms",
                        "ratio": None,
                        "target": "no errors",
                        "met": report["errors"] == 0,
                        "errors": report["errors"],
                    }
                )
        for users in USERS:
            rows.append(_versus_reference(pages["look-up page"], pages[REFERENCE], cookie, users))
    finally:
        box.control("reset", {})
    return rows


def _versus_reference(page: str, reference: str, cookie: str, users: int) -> dict[str, Any]:
    served: dict[str, list[float]] = {page: [], reference: []}
    for round_ in range(PAIRED_ROUNDS):
        for url in (page, reference) if round_ % 2 else (reference, page):
            served[url].append(wrk(url, cookie, users, seconds=ROUND_SECONDS)["rps"])
    ratio, low, high = paired(served[page], served[reference])
    return {
        "figure": f"load, look-up page vs the {REFERENCE}, {users} users, {PAIRED_ROUNDS} "
        f"rounds of {ROUND_SECONDS} s taking turns (ratio: paired, 95 % interval {low:.2f} to "
        f"{high:.2f})",
        "ours": f"{statistics.median(served[page]):.0f} req/s (median)",
        "reference": f"{statistics.median(served[reference]):.0f} req/s (median)",
        "ratio": round(ratio, 2),
        "target": "",
        "met": None,
    }
