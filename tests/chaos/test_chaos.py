"""Issue 18's proof: deletion jobs under faults keep the invariants of tests/chaos/invariants.py.

Real `run_worker` processes on the test's database, the sandbox in this process on a loopback
port. The seed is printed; CHAOS_SEED replays a run's plan, CHAOS_SECONDS sets its length.
`make bench BENCH=chaos` runs the longer version over several seeds.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection

from files.models import Organization
from tests.chaos.driver import ChaosConfig, ChaosReport, ChaosRun, chaos_seed
from tests.chaos.invariants import failures
from tests.conftest import make_staff
from tests.processes import on_test_database_env
from tests.sandbox_fixtures import Sandbox

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

POSTGRES = connection.vendor == "postgresql"


def run_chaos(config: ChaosConfig, sandbox: Sandbox, organization: Organization) -> ChaosReport:
    print(f"chaos seed {config.seed} (replay: CHAOS_SEED={config.seed})", flush=True)
    report = ChaosRun(
        config,
        sandbox=sandbox,
        organization=organization,
        creator=make_staff("chaos-creator", "lookup_file", "delete_file"),
        approver=make_staff("chaos-approver", "lookup_file", "delete_file"),
        base_env=on_test_database_env(),
    ).run()
    print(report.summary(), flush=True)
    return report


def seconds(default: float) -> float:
    return float(os.environ.get("CHAOS_SECONDS") or default)


@pytest.mark.skipif(
    not POSTGRES,
    reason="several worker processes, cut database connections: PostgreSQL only "
    "(SQLite runs test_one_worker_under_faults_keeps_the_invariants)",
)
def test_deletion_jobs_under_chaos_keep_the_invariants(
    sandbox: Sandbox, sandbox_org: Organization, tmp_path: object
) -> None:
    config = ChaosConfig(seed=chaos_seed(), duration=seconds(35), log_dir=tmp_path)  # type: ignore[arg-type]
    report = run_chaos(config, sandbox, sandbox_org)
    assert report.passed, f"seed {config.seed}\n{failures(report.violations)}\n{report.summary()}"


@pytest.mark.skipif(POSTGRES, reason="SQLite's variant: PostgreSQL runs the full chaos test")
def test_one_worker_under_faults_keeps_the_invariants(
    sandbox: Sandbox, sandbox_org: Organization, tmp_path: object
) -> None:
    config = ChaosConfig(
        seed=chaos_seed(),
        duration=seconds(20),
        workers=1,
        jobs=3,
        files=60,
        skew_seconds=0,
        db_cuts=False,
        log_dir=tmp_path,  # type: ignore[arg-type]
    )
    report = run_chaos(config, sandbox, sandbox_org)
    assert report.passed, f"seed {config.seed}\n{failures(report.violations)}\n{report.summary()}"
