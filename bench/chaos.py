"""Benchmark: the chaos test of issue 18 at length (tests/chaos), over several seeds.

`run()` starts the sandbox (a process of its own), migrates a PostgreSQL database of its own
(dropped afterwards) and runs this module as a process configured for it
(`python -m bench.chaos PORT`), which runs first a control run with no faults at all (the
harness must find nothing there), then one chaos run a seed, and prints the reports as JSON.
Each row says which invariants held; the record keeps every run's violations (the first 50 of
each invariant), the faults the sandbox injected and the driver's events.

BENCH_CHAOS_SEEDS (comma-separated; default three fixed seeds), BENCH_CHAOS_SECONDS (chaos a
run, default 120) and BENCH_CHAOS_FILES (default 600) change the runs; a failing seed replays
in the suite with CHAOS_SEED=<seed> CHAOS_SECONDS=<seconds>.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench.harness import PYTHON, ROOT, manage_stdout, panel_env, sandbox
from bench.jobs import own_database

SEEDS = [int(s) for s in os.environ.get("BENCH_CHAOS_SEEDS", "1801,1802,1803").split(",") if s]
SECONDS = float(os.environ.get("BENCH_CHAOS_SECONDS", "120"))
FILES = int(os.environ.get("BENCH_CHAOS_FILES", "600"))
SKEW = 30.0


def run(admin_url: str) -> list[dict[str, Any]]:
    with own_database(admin_url, "tallyfy_bench_chaos") as database_url, sandbox() as box:
        # The workers read TEST_CLOCK_SKEW_SECONDS through the test settings.
        env = panel_env(
            database_url, sandbox_port=box.port, DJANGO_SETTINGS_MODULE="tests.settings"
        )
        manage_stdout(env, "migrate", "--no-input")
        result = subprocess.run(
            [PYTHON, "-m", "bench.chaos", str(box.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
            timeout=len(SEEDS) * (SECONDS + 600) + 900,
        )
    return rows(json.loads(result.stdout.strip().splitlines()[-1]))


def rows(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for report in reports:
        config = report["config"]
        control = not config["faults"]
        label = (
            "chaos control run, no faults, "
            if control
            else f"chaos seed {report['seed']}, {config['duration']:.0f} s of faults, "
        )
        skew = config.get("skew_applied", 0)
        failed = report["failed_invariants"]
        counts = report["violation_counts"]
        out.append(
            {
                "figure": f"{label}{config['workers']} workers, {report['files']} files in "
                f"{len(report['jobs'])} jobs, clock skew {skew:+.0f} s: invariants 1-5",
                "ours": "all hold"
                if not failed
                else "broken: " + ", ".join(f"{n} ({counts[n]} violation(s))" for n in failed),
                "reference": f"{report['deleted_in_tallyfy']} deleted in Tallyfy; "
                f"sandbox faults {report['sandbox_faults']}",
                "ratio": None,
                "target": "all hold",
                "met": not failed,
                "details": report,
            }
        )
    return out


# --- the measuring process, configured for the benchmark's database ---


def log(text: str) -> None:
    print(f"[chaos bench] {text}", file=sys.stderr, flush=True)


def measure(port: int) -> list[dict[str, Any]]:
    import django

    django.setup()
    from django.contrib.auth.models import User

    from bench.harness import Sandbox
    from organizations.services import organization_create
    from tests.chaos.driver import ChaosConfig, ChaosRun
    from tests.chaos.invariants import failures

    box = Sandbox(process=None, port=port)  # type: ignore[arg-type]
    organization = organization_create(
        name="Sandbox", org_id=box.org_id, api_base_url=box.base_url, token=box.token
    )
    from django.contrib.auth.models import Permission

    creator = User.objects.create_user("chaos-creator", is_staff=True)
    approver = User.objects.create_user("chaos-approver", is_staff=True)
    # The workers check the job's creator and approver before each file.
    deleting = Permission.objects.filter(codename__in=["lookup_file", "delete_file"])
    creator.user_permissions.set(deleting)
    approver.user_permissions.set(
        [*deleting, *Permission.objects.filter(codename="approve_deletionjob")]
    )
    from organizations.models import OrganizationAccess

    for user in (creator, approver):  # and their organization, before each file too
        OrganizationAccess.objects.create(user=user, all_organizations=True)
    logs = ROOT / "var" / "bench-chaos"
    control = ChaosConfig(
        seed=1800,
        duration=30,
        files=200,
        faults=False,
        kills=False,
        db_cuts=False,
        pauses=False,
        skew_seconds=0,
        log_dir=logs / "control",
    )
    configs = [control] + [
        ChaosConfig(
            seed=seed,
            duration=SECONDS,
            files=FILES,
            jobs=8,
            skew_seconds=SKEW,
            settle_timeout=180,
            log_dir=logs / str(seed),
        )
        for seed in SEEDS
    ]
    reports = []
    for config in configs:
        box.control("reset", {})
        log(f"seed {config.seed}: {config.duration:.0f} s, {config.files} files")
        report = ChaosRun(
            config,
            sandbox=box,
            organization=organization,
            creator=creator,
            approver=approver,
            base_env=dict(os.environ),
            say=log,
        ).run()
        log(report.summary())
        if not report.passed:
            log(failures(report.violations))
        reports.append(report.as_json())
    return reports


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1])), default=str))
