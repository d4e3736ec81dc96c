"""This checkout's panel against another checkout's, on one machine at one time.

    .venv/bin/python -m bench.versus OTHER_CHECKOUT [RUNS [ROUNDS]]

OTHER_CHECKOUT is another working tree of this repository, typically an earlier commit
(`git worktree add ../before <commit>`), with the same virtualenv installed. Both panels run
under gunicorn against one sandbox, and their requests take turns: a deletion at +50 ms on
each (the order swapped every round), then the look-up page and a file's detail page (two
Tallyfy calls a view, one file for both) under wrk, in short rounds alternating. A machine
that is slower now than when an earlier figure was taken slows both alike, so the ratios
answer "did the code get slower" where two runs hours apart cannot.

Each comparison is the geometric mean of the paired ratios (this side's deletion or round
over the other's next to it) with a 95 % bootstrap interval (bench.paired says why).

Each side is set up by its own bench/harness.py (`panel(box, database_url)`, `Panel.login`),
which every checkout since the benchmarks began has. The result goes to bench/results/.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from bench import deletion, load
from bench.harness import ROOT, Sandbox, sandbox
from bench.paired import paired
from bench.run import RESULTS, postgres_url, result_record, result_write

LATENCY_MS = 50
USERS = (8, 32)
ROUND_SECONDS = 3


def harness_of(checkout: Path) -> ModuleType:
    """The other checkout's bench/harness.py, loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location("other_harness", checkout / "bench/harness.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{checkout} has no bench/harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["other_harness"] = module
    spec.loader.exec_module(module)
    return module


def delete_once(box: Sandbox, session: requests.Session, site: Any) -> float:
    """Open the confirm page (no latency), then time the POST at LATENCY_MS; the ticket is
    sent when the page carries one (checkouts from before the ticket have none)."""
    asset_id = box.add_file(10)
    box.control("reset", {})
    page = session.get(deletion.delete_url(site, asset_id), timeout=30)
    ticket = deletion.TICKET.search(page.text)
    box.control("faults", {"latency_ms": LATENCY_MS})
    return deletion.panel_delete(session, site, asset_id, ticket[1] if ticket else None)


def floor_once(box: Sandbox, floor: requests.Session) -> float:
    asset_id = box.add_file(10)
    box.control("reset", {})
    box.control("faults", {"latency_ms": LATENCY_MS})
    return deletion.floor_delete(floor, box, asset_id)


def commit_of(checkout: Path) -> str:
    found = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or "unknown"


def compare(other: Path, *, runs: int, rounds: int) -> list[dict[str, Any]]:
    other_harness = harness_of(other)
    names = {"this": commit_of(ROOT), "other": commit_of(other)}
    database = os.environ.get("BENCH_DATABASE", "tallyfy_bench")
    with ExitStack() as stack:
        box = stack.enter_context(sandbox())
        sites = {}
        for side, harness in (("this", sys.modules["bench.harness"]), ("other", other_harness)):
            url = postgres_url(f"{database}_versus_{side}") or (
                f"sqlite:///{ROOT / 'var' / f'bench-versus-{side}.sqlite3'}"
            )
            sites[side] = stack.enter_context(harness.panel(box, url))
        sessions = {side: site.login("bench") for side, site in sites.items()}
        floor = requests.Session()
        floor.headers.update(
            {
                "Authorization": f"Bearer {box.token}",
                "Accept": "application/json",
                "X-Tallyfy-Client": "APIClient",
            }
        )
        times: dict[str, list[float]] = {"this": [], "other": [], "floor": []}
        for run in range(runs + 1):  # the first round warms up
            order = ("this", "other") if run % 2 else ("other", "this")
            measured = {"floor": floor_once(box, floor)}
            for side in order:
                measured[side] = delete_once(box, sessions[side], sites[side])
            if run:
                for key, value in measured.items():
                    times[key].append(value)
        box.control("reset", {})
        rows = _deletion_rows(times, names)
        asset_id = box.add_file(1000, filename="load.pdf")
        pages = {
            "look-up page": "/admin/tallyfy-files/lookup/",
            "detail page": "/admin/tallyfy-files/{org_pk}/" + asset_id + "/",
        }
        box.control("faults", {"latency_ms": LATENCY_MS})
        for page, path in pages.items():
            for users in USERS:
                served: dict[str, list[float]] = {"this": [], "other": []}
                for round_ in range(rounds + 1):  # the first round warms up
                    for side in ("this", "other") if round_ % 2 else ("other", "this"):
                        site = sites[side]
                        cookie = "; ".join(f"{c.name}={c.value}" for c in sessions[side].cookies)
                        url = site.url + path.format(org_pk=site.org_pk)
                        report = load.wrk(url, cookie, users, seconds=ROUND_SECONDS)
                        if round_:
                            served[side].append(report["rps"])
                rows.append(_load_row(served, names, page=page, users=users))
        box.control("reset", {})
    return rows


def _deletion_rows(times: dict[str, list[float]], names: dict[str, str]) -> list[dict[str, Any]]:
    floor = statistics.median(times["floor"])
    this, other = (statistics.median(times[side]) for side in ("this", "other"))
    ratio, low, high = paired(times["this"], times["other"])
    return [
        {
            "figure": f"delete one file as superuser (+{LATENCY_MS} ms), {len(times['this'])} "
            f"each, taking turns: {names['this']} vs {names['other']} (ratio: paired, 95 % "
            f"interval {low:.3f} to {high:.3f})",
            "ours": f"{this * 1000:.1f} ms ({this / floor:.3f} of the floor)",
            "reference": f"{other * 1000:.1f} ms ({other / floor:.3f} of the floor, "
            f"{floor * 1000:.1f} ms)",
            "ratio": round(ratio, 3),
            "target": "",
            "met": None,
        }
    ]


def _load_row(
    served: dict[str, list[float]], names: dict[str, str], *, page: str, users: int
) -> dict[str, Any]:
    this, other = (statistics.median(served[side]) for side in ("this", "other"))
    ratio, low, high = paired(served["this"], served["other"])
    return {
        "figure": f"load, {page}, {users} users, {len(served['this'])} rounds of "
        f"{ROUND_SECONDS} s taking turns: {names['this']} vs {names['other']} (ratio: paired, "
        f"95 % interval {low:.3f} to {high:.3f})",
        "ours": f"{this:.0f} req/s (median; {min(served['this']):.0f} to "
        f"{max(served['this']):.0f})",
        "reference": f"{other:.0f} req/s (median; {min(served['other']):.0f} to "
        f"{max(served['other']):.0f})",
        "ratio": round(ratio, 3),
        "target": "",
        "met": None,
    }


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    other = Path(argv[0]).resolve()
    runs = int(argv[1]) if len(argv) > 1 else 30
    rounds = int(argv[2]) if len(argv) > 2 else 20
    (ROOT / "var").mkdir(exist_ok=True)
    rows = compare(other, runs=runs, rounds=rounds)
    for row in rows:
        print(f"{row['figure']}: {row['ours']} vs {row['reference']} = {row['ratio']}")
    stamp = result_write(result_record(rows, versus=str(other)))
    print(f"\nWritten to {RESULTS / (stamp + '.json')}")


if __name__ == "__main__":
    main(sys.argv[1:])
