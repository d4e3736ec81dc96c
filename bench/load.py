"""Benchmark 4: concurrent staff on the look-up and detail pages, under gunicorn, with wrk."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bench.harness import ROOT, Panel, Sandbox

LATENCY_MS = 50
DURATION_S = 10
USERS = (8, 32)


def wrk(url: str, cookie: str, connections: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            "wrk",
            "--threads",
            "2",
            "--connections",
            str(connections),
            "--duration",
            f"{DURATION_S}s",
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
        timeout=DURATION_S + 60,
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
    finally:
        box.control("reset", {})
    return rows
