"""Benchmark: a scan of a generated organization (default 2,000 runs, 10,000 files), paced as
the product paces it, against a sandbox that enforces the same rate limit; then a refresh
after 1% of it changed.

    python -m bench.catalog_scan DATABASE_URL [RUNS FILES LATENCY_MS RATE]
migrates DATABASE_URL, starts the sandbox in a process of its own serving a generated
organization (`python -m bench.catalog_scan serve RUNS FILES`), tells it to add LATENCY_MS to
every call and to answer 429 beyond RATE requests a minute, sets the organization's rate in the
panel (`throttling`) to RATE too, and runs the scan with `catalog.scans.scan_advance`, as the
scan task and `scan_files` do: every call takes a slot of the organization's shared rate limit.

It prints, as one JSON object: calls made per 1,000 files against the fewest the documented
endpoints allow for the same result (`minimum_calls`: each list the scan must read, at the
page size the server gives, at least one call each), files indexed a minute against the
ceiling at RATE (RATE / calls per file), the share of files whose upload the feed records that
got their uploader, the requests answered 429, how the requests were spaced; and for the
refresh after the sandbox changed 1% of the organization (`serve` reads `change` on its
standard input: an upload with its feed entry to 1% of the runs, and a deletion and an
archived run recorded in the feed), its calls and time and whether it found every change.
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
    """The sandbox, serving a generated organization: prints its port, id, token and the
    fewest calls a scan of it needs as JSON; then, for each `change` line on its standard
    input, changes 1% of the organization and prints what changed."""
    from sandbox.faults import FaultPlan
    from sandbox.places import generate_organization
    from sandbox.server import make_server, start_in_thread
    from sandbox.store import Store

    store = Store(":memory:")
    org_id, token = generate_organization(store, runs=runs, files=files)
    server = make_server(store=store, faults=FaultPlan())
    port = server.server_address[1]
    served = {"port": port, "org_id": org_id, "token": token, **minimum_calls(store, org_id)}
    print(json.dumps(served), flush=True)
    start_in_thread(server)
    for line in sys.stdin:
        if line.strip() == "change":
            print(json.dumps(change_one_percent(store, org_id)), flush=True)


def _count(store: Any, sql: str, org_id: str) -> int:
    return int(store.query(sql, (org_id,))[0]["n"])


def minimum_calls(store: Any, org_id: str) -> dict[str, Any]:
    """The fewest calls the documented endpoints allow for a complete scan of the generated
    organization: every list read once at the page size the server gives (100; templates 10),
    each at least one call, since an empty list must be asked to be known empty. The task
    listing is four lists (as listed, completed, archived, archived and completed): whether
    the first leaves completed tasks out is undocumented, so only the four are complete."""
    runs = (
        "SELECT COUNT(*) AS n FROM runs r JOIN run_details d ON d.run_id = r.run_id "
        "WHERE r.org_id = ? AND d.archived_at IS {} NULL"
    )
    tasks = (
        "SELECT COUNT(*) AS n FROM tasks t LEFT JOIN run_details d ON d.run_id = t.run_id "
        "WHERE t.org_id = ? AND {} (t.archived_at IS NOT NULL OR d.archived_at IS NOT NULL) "
        "AND t.completed_at IS {} NULL"
    )
    templates = "SELECT COUNT(*) AS n FROM templates WHERE org_id = ? AND archived_at IS {} NULL"
    lists = {
        "runs": (_count(store, runs.format(""), org_id), 100),
        "archived runs": (_count(store, runs.format("NOT"), org_id), 100),
        "tasks": (_count(store, tasks.format("NOT", ""), org_id), 100),
        "completed tasks": (_count(store, tasks.format("NOT", "NOT"), org_id), 100),
        "archived tasks": (_count(store, tasks.format("", ""), org_id), 100),
        "archived completed tasks": (_count(store, tasks.format("", "NOT"), org_id), 100),
        "templates": (_count(store, templates.format(""), org_id), 10),
        "archived templates": (_count(store, templates.format("NOT"), org_id), 10),
        "uploads in the feed": (
            _count(store, "SELECT COUNT(*) AS n FROM feed WHERE org_id = ?", org_id),
            100,
        ),
    }
    pages = {name: max(1, -(-items // size)) for name, (items, size) in lists.items()}
    uploads = (
        "SELECT COUNT(DISTINCT asset_id) AS n FROM feed WHERE org_id = ? AND verb = 'uploaded'"
    )
    # The entries that name their file, and those naming only its place (sandbox.listing).
    naming_only_the_place = (
        f"{uploads} AND COALESCE(shape, CASE id % 6 WHEN 2 THEN 'parent' ELSE '' END) = 'parent'"
    )
    return {
        "minimum_calls": sum(pages.values()),
        "minimum_by_list": pages,
        "items_by_list": {name: items for name, (items, _size) in lists.items()},
        "uploads_recorded": _count(store, uploads, org_id),
        "uploads_naming_only_the_place": _count(store, naming_only_the_place, org_id),
    }


def change_one_percent(store: Any, org_id: str) -> dict[str, Any]:
    """1% of the runs get a new upload recorded in the feed; one file is deleted and one run
    archived, each recorded too. What changed, for the refresh to be checked against."""
    from datetime import UTC, datetime

    from sandbox import listing

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = [
        row["run_id"]
        for row in store.query(
            "SELECT r.run_id FROM runs r JOIN run_details d ON d.run_id = r.run_id "
            "WHERE r.org_id = ? AND d.archived_at IS NULL ORDER BY r.rowid",
            (org_id,),
        )
    ]
    changed = runs[::100]  # 1% of the runs
    uploads = []
    for number, run_id in enumerate(changed):
        asset = store.add_asset(
            org_id=org_id,
            filename=f"late_upload_{number}.pdf",
            content_type="application/pdf",
            content=b"%PDF-",
            subject_type="Checklist",
            subject_id=run_id,
        )
        listing.field_value_add(store, owner_id=run_id, field_id="late", asset_id=asset.asset_id)
        listing.feed_add(
            store,
            org_id=org_id,
            actor_email=f"late{number}@example.com",
            actor_type="guest",
            asset_id=asset.asset_id,
            run_id=run_id,
            filename=asset.filename,
            created_at=now,
        )
        uploads.append(asset.asset_id)
    victim = store.query(
        "SELECT asset_id, subject_id, filename FROM assets WHERE org_id = ? AND "
        "subject_type = 'Run' AND deleted_at IS NULL ORDER BY rowid LIMIT 1",
        (org_id,),
    )[0]
    store.delete_asset(org_id=org_id, asset_id=victim["asset_id"])
    listing.feed_add(
        store,
        org_id=org_id,
        verb="deleted",
        actor_email="olivia.ops@example.com",
        actor_type="member",
        asset_id=victim["asset_id"],
        run_id=victim["subject_id"],
        filename=victim["filename"],
        created_at=now,
    )
    archived = runs[-1]
    store.query("UPDATE run_details SET archived_at = ? WHERE run_id = ?", (now, archived))
    listing.feed_add(
        store,
        org_id=org_id,
        verb="archived",
        actor_email="olivia.ops@example.com",
        actor_type="member",
        asset_id=None,
        run_id=archived,
        filename="",
        created_at=now,
    )
    return {"uploads": uploads, "deleted": victim["asset_id"], "archived_run": archived}


def measure(database_url: str, runs: int, files: int, latency_ms: int, rate: int) -> dict[str, Any]:
    from bench.log_scale import configure

    configure(database_url)
    box = subprocess.Popen(
        [PYTHON, "-m", "bench.catalog_scan", "serve", str(runs), str(files)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        served = json.loads(box.stdout.readline())  # type: ignore[union-attr]
        wait_for_port(served["port"])
        full = scan(served, latency_ms=latency_ms, rate=rate)
        box.stdin.write("change\n")  # type: ignore[union-attr]
        box.stdin.flush()  # type: ignore[union-attr]
        changed = json.loads(box.stdout.readline())  # type: ignore[union-attr]
        return {
            "generated": {"runs": runs, "files": files},
            "minimum_calls": served["minimum_calls"],
            "minimum_by_list": served["minimum_by_list"],
            "items_by_list": served["items_by_list"],
            "uploads_recorded": served["uploads_recorded"],
            "uploads_naming_only_the_place": served["uploads_naming_only_the_place"],
            **full,
            "refresh": refresh(served, changed),
        }
    finally:
        box.terminate()
        box.wait(30)


def paced_organization(served: dict[str, Any], *, latency_ms: int, rate: int) -> tuple[Any, str]:
    """The generated organization in the panel at `rate` calls a minute, and the sandbox
    answering at that rate, `latency_ms` later, its log cleared: the organization and the
    sandbox's root."""
    from django.conf import settings

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
    return organization, root


def scan(served: dict[str, Any], *, latency_ms: int, rate: int) -> dict[str, Any]:
    from catalog import scans
    from catalog.models import IndexedFile

    organization, root = paced_organization(served, latency_ms=latency_ms, rate=rate)

    started, started_wall = time.monotonic(), time.time()
    scan = scans.scan_advance(scan_id=scans.scan_start(organization=organization).pk)
    seconds = time.monotonic() - started
    ended_wall = time.time()
    indexed = IndexedFile.objects.filter(organization=organization, is_link=False)
    with_uploader = indexed.exclude(uploader_email="").count()

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
        "organization_pk": organization.pk,
        "state": scan.state,
        "files": found,
        "files with an uploader": with_uploader,
        "inferred uploaders": indexed.filter(uploader_inferred=True).count(),
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
        # The scan's own time outside its requests: starting, and finishing after the last.
        "seconds before the first request": round(sent[0] - started_wall, 2),
        "seconds after the last request": round(ended_wall - sent[-1], 2),
        # Where the scan fell behind: after which kind of request the next one came late.
        "seconds behind the pace after": {kind: round(lost, 1) for kind, lost in behind.items()},
    }


def refresh(served: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """A refresh after the change, and whether it found every change."""
    from catalog import scans
    from catalog.models import IndexedFile
    from organizations.models import Organization

    organization = Organization.objects.get(org_id=served["org_id"])
    root = f"http://127.0.0.1:{served['port']}"
    sandbox_control(root, "reset", {})
    started = time.monotonic()
    done = scans.scan_advance(scan_id=scans.scan_start(organization=organization, refresh=True).pk)
    seconds = time.monotonic() - started
    files = IndexedFile.objects.filter(organization=organization)
    uploads = files.filter(key__in=changed["uploads"]).exclude(uploader_email="")
    archived = files.filter(run_id=changed["archived_run"])
    found_all = (
        uploads.count() == len(changed["uploads"])
        and files.filter(key=changed["deleted"], gone_at__isnull=False).exists()
        and not archived.exclude(run_status="archived").exists()
    )
    return {
        "state": done.state,
        "refresh": done.refresh,
        "calls": done.calls_made,
        "seconds": round(seconds, 1),
        "changed runs": len(changed["uploads"]) + 2,
        "found every change": found_all,
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
    named = data["uploads_recorded"] - data["uploads_naming_only_the_place"]
    named_found = data["files with an uploader"] - data["inferred uploaders"]
    return [
        {
            "figure": f"{setting}: calls vs the fewest the documented endpoints allow "
            "(every list once at the server's page size)",
            "ours": f"{data['calls']:,} calls ({data['calls per 1,000 files']} per 1,000 files)",
            "reference": f"{data['minimum_calls']:,} calls ("
            + ", ".join(f"{name} {pages}" for name, pages in data["minimum_by_list"].items())
            + ")",
            "ratio": round(data["calls"] / data["minimum_calls"], 3),
            "target": "≤ 1.25",
            "met": data["calls"] <= 1.25 * data["minimum_calls"],
        },
        {
            "figure": f"{setting}: files indexed a minute vs ceiling "
            f"({data['rate']} ÷ calls a file)",
            "ours": f"{data['files per minute']:,.0f}/min ({data['seconds']:.0f} s; "
            f"{data['requests per minute']:.0f} requests/min)",
            "reference": f"{data['ceiling']:,.0f}/min",
            "ratio": data["ratio"],
            "target": "≥ 0.95",
            "met": data["ratio"] >= 0.95,
        },
        {
            "figure": f"{setting}: files whose feed entry names them that got their uploader",
            "ours": f"{named_found:,}",
            "reference": f"{named:,} entries naming their file",
            "ratio": round(named_found / named, 3),
            "target": "1.0",
            "met": named_found == named,
        },
        {
            "figure": f"{setting}: files whose feed entry names only their task or run, "
            "and the file's name",
            "ours": f"{data['inferred uploaders']:,} inferred (one file of that name there); "
            f"{data['files'] - data['files with an uploader']:,} of {data['files']:,} files "
            "flagged unknown with the reason",
            "reference": f"{data['uploads_naming_only_the_place']:,} such entries",
            "ratio": None,
            "target": "",
            "met": None,
        },
        {
            "figure": f"{setting}: a refresh after 1% changed ({data['refresh']['changed runs']} "
            "runs: an upload to 1% of them, a deletion, an archived run), vs the full scan",
            "ours": f"{data['refresh']['calls']} calls, {data['refresh']['seconds']:.1f} s; "
            f"found every change: {'yes' if data['refresh']['found every change'] else 'NO'}",
            "reference": f"{data['calls']:,} calls, {data['seconds']:.0f} s",
            "ratio": round(data["refresh"]["calls"] / data["calls"], 3),
            "target": "every change found",
            "met": bool(data["refresh"]["found every change"]),
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
        if parts[-3] == "runs":
            return "a run's tasks"
        return "a page of one-off tasks" if "is_oneoff" in request["query"] else "a page of tasks"
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
