"""Benchmark: a scan of a generated organization (default 2,000 runs, 10,000 files), paced as
the product paces it, against a sandbox that enforces the same rate limit.

    python -m bench.catalog_scan DATABASE_URL [RUNS FILES LATENCY_MS RATE]
migrates DATABASE_URL, starts the sandbox in a process of its own serving a generated
organization (`python -m bench.catalog_scan serve RUNS FILES`), tells it to add LATENCY_MS to
every call and to answer 429 beyond RATE requests a minute, sets the organization's rate in the
panel (`throttling`) to RATE too, and runs the scan with `catalog.scans.scan_advance`, as the
scan task and `scan_files` do: every call takes a slot of the organization's shared rate limit.
It prints, as one JSON object: calls made per 1,000 files (the cost the rate limit turns into
time), files indexed a minute, the ceiling at RATE (RATE / calls per file), the requests the
sandbox answered 429, and how the requests were spaced: the slot interval is 60 s / RATE, and
the time by which the scan fell behind that pace is summed by the kind of request after which
the next one came late (the scan's own work between two calls).
"""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.harness import PYTHON, ROOT
from devtools.processes import wait_for_port
from sandbox.control import sandbox_control

RUNS, FILES, LATENCY_MS, RATE = 2000, 10_000, 50, 600


def serve(runs: int, files: int) -> None:
    """The sandbox, serving a generated organization: prints its port, id and token as JSON."""
    from sandbox.faults import FaultPlan
    from sandbox.places import generate_organization
    from sandbox.server import make_server
    from sandbox.store import Store

    store = Store(":memory:")
    org_id, token = generate_organization(store, runs=runs, files=files)
    server = make_server(store=store, faults=FaultPlan())
    port = server.server_address[1]
    print(json.dumps({"port": port, "org_id": org_id, "token": token}), flush=True)
    server.serve_forever()


def measure(database_url: str, runs: int, files: int, latency_ms: int, rate: int) -> dict[str, Any]:
    from bench.log_scale import configure

    configure(database_url)
    box = subprocess.Popen(
        [PYTHON, "-m", "bench.catalog_scan", "serve", str(runs), str(files)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        served = json.loads(box.stdout.readline())  # type: ignore[union-attr]
        wait_for_port(served["port"])
        return {
            "generated": {"runs": runs, "files": files},
            **scan(served, latency_ms=latency_ms, rate=rate),
        }
    finally:
        box.terminate()
        box.wait(30)


def scan(served: dict[str, Any], *, latency_ms: int, rate: int) -> dict[str, Any]:
    from django.conf import settings

    from catalog import scans
    from catalog.models import IndexedFile
    from organizations.services import organization_create
    from throttling.models import RateLimit

    root = f"http://127.0.0.1:{served['port']}"
    settings.TALLYFY_INSECURE_API_HOSTS = [f"127.0.0.1:{served['port']}"]
    organization = organization_create(
        name="Generated", org_id=served["org_id"], api_base_url=f"{root}/api", token=served["token"]
    )
    RateLimit.objects.update_or_create(organization=organization, defaults={"per_minute": rate})
    sandbox_control(root, "reset", {})
    sandbox_control(root, "faults", {"latency_ms": latency_ms, "rate_limit_per_minute": rate})

    started = time.monotonic()
    scan = scans.scan_advance(scan_id=scans.scan_start(organization=organization).pk)
    seconds = time.monotonic() - started

    limits = sandbox_control(root, "rate-limit")
    requests = sorted(
        (r for r in sandbox_control(root, "requests") if r["path"].startswith("/api")),
        key=lambda r: r["at"],
    )
    sent = [r["at"] for r in requests]
    found = IndexedFile.objects.filter(organization=organization, is_link=False).count()
    per_file = scan.calls_made / found
    ceiling = rate / per_file
    per_minute = found * 60 / seconds
    interval = 60 / rate
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    behind: dict[str, float] = {}
    for request, gap in zip(requests, gaps, strict=False):
        kind = endpoint(request)
        behind[kind] = behind.get(kind, 0.0) + max(0.0, gap - interval)
    return {
        "state": scan.state,
        "files": found,
        "runs": scan.runs_read,
        "calls": scan.calls_made,
        "requests": limits["requests"],
        "limited": limits["limited"],
        "seconds": round(seconds, 1),
        "rate": rate,
        "latency_ms": latency_ms,
        "calls per 1,000 files": round(1000 * per_file, 1),
        "files per minute": round(per_minute, 1),
        "ceiling": round(ceiling, 1),
        "ratio": round(per_minute / ceiling, 3),
        # From the first request to the last, as the sandbox received them.
        "requests per minute": round((len(sent) - 1) * 60 / (sent[-1] - sent[0]), 1),
        "median gap ms": round(1000 * statistics.median(gaps), 1),
        "gaps over 1.1 intervals": sum(1 for gap in gaps if gap > 1.1 * interval),
        "seconds behind the pace": round(sum(max(0.0, gap - interval) for gap in gaps), 1),
        # Where the scan fell behind: after which kind of request the next one came late.
        "seconds behind the pace after": {kind: round(lost, 1) for kind, lost in behind.items()},
    }


def rows(data: dict[str, Any], *, vendor: str) -> list[dict[str, Any]]:
    """The benchmark's rows for bench/run.py's table."""
    setting = (
        f"file index scan, {data['generated']['runs']:,} runs and "
        f"{data['generated']['files']:,} files ({vendor}), "
        f"organization's rate and sandbox {data['rate']}/min, +{data['latency_ms']} ms a call"
    )
    behind = ", ".join(
        f"{seconds:.0f} s after {kind}"
        for kind, seconds in sorted(
            data["seconds behind the pace after"].items(), key=lambda i: -i[1]
        )
        if seconds >= 0.5
    )
    return [
        {
            "figure": f"{setting}: calls per 1,000 files",
            "ours": f"{data['calls per 1,000 files']} ({data['calls']:,} calls)",
            "reference": "",
            "ratio": None,
            "target": "",
            "met": None,
        },
        {
            "figure": f"{setting}: files indexed a minute vs ceiling "
            f"({data['rate']} ÷ calls a file)",
            "ours": f"{data['files per minute']:,.0f}/min ({data['seconds']:.0f} s; "
            f"{data['requests per minute']:.0f} requests/min)",
            "reference": f"{data['ceiling']:,.0f}/min",
            "ratio": data["ratio"],
            "target": "",
            "met": None,
        },
        {
            "figure": f"{setting}: requests answered 429",
            "ours": f"{data['limited']} of {data['requests']:,}",
            "reference": "",
            "ratio": None,
            "target": "0",
            "met": data["limited"] == 0,
        },
        {
            "figure": f"{setting}: time behind the pace of one request every "
            f"{60_000 / data['rate']:.0f} ms, by the request after which the next came late",
            "ours": f"{data['seconds behind the pace']:.0f} s: {behind}",
            "reference": f"{data['seconds']:.0f} s in all",
            "ratio": None,
            "target": "",
            "met": None,
        },
    ]


def endpoint(request: dict[str, Any]) -> str:
    """What a request asked for, in the scan's words."""
    parts = request["path"].rstrip("/").split("/")
    if parts[-2] == "runs":
        return "a run"
    if parts[-1] == "tasks":
        return "a page of one-off tasks" if "is_oneoff" in request["query"] else "a run's tasks"
    if parts[-1] == "runs":
        return "a page of archived runs" if "archived" in request["query"] else "a page of runs"
    return {"checklists": "a page of templates", "activity-feeds": "a page of the feed"}.get(
        parts[-1], parts[-1]
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        serve(*(int(arg) for arg in argv[1:3]))
        return
    database_url, *numbers = argv
    runs, files, latency_ms, rate = (int(n) for n in numbers or (RUNS, FILES, LATENCY_MS, RATE))
    print(json.dumps(measure(database_url, runs, files, latency_ms, rate)))


if __name__ == "__main__":
    main(sys.argv[1:])
