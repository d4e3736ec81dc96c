"""Issue 18's proof: deletion jobs under faults keep the invariants of tests/chaos/invariants.py.

Real `run_worker` processes on the test's database, the sandbox in this process on a loopback
port. The seed is printed; CHAOS_SEED replays a run's plan, CHAOS_SECONDS sets its length.
`make bench BENCH=chaos` runs the longer version over several seeds.
"""

from __future__ import annotations

import os

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.db import connection

from files.models import FileDeletion
from jobs.models import JobFile
from organizations.models import Organization
from tests.chaos.driver import ChaosConfig, ChaosReport, ChaosRun, chaos_seed, take_snapshot
from tests.chaos.invariants import check_all, failures
from tests.fixtures.accounts import make_staff
from tests.fixtures.evidence import log_rewritten
from tests.fixtures.sandbox import Sandbox
from tests.processes import on_test_database_env

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.over_the_wire,
    pytest.mark.django_db(transaction=True),
]

POSTGRES = connection.vendor == "postgresql"


def approver() -> User:
    """The workers check the job's approver before each file: it needs the permission."""
    user = make_staff("chaos-approver", "lookup_file", "delete_file")
    user.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    return user


def run_chaos(config: ChaosConfig, sandbox: Sandbox, organization: Organization) -> ChaosReport:
    print(f"chaos seed {config.seed} (replay: CHAOS_SEED={config.seed})", flush=True)
    report = ChaosRun(
        config,
        sandbox=sandbox,
        organization=organization,
        creator=make_staff("chaos-creator", "lookup_file", "delete_file"),
        approver=approver(),
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
    config = ChaosConfig(seed=chaos_seed(), duration=seconds(50), log_dir=tmp_path)  # type: ignore[arg-type]
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


def test_a_calm_run_passes_and_violations_planted_in_its_rows_are_found(
    sandbox: Sandbox, sandbox_org: Organization, tmp_path: object
) -> None:
    """The harness end to end: with no faults every invariant holds; then a blind second
    DELETE sent to the sandbox, a log row set back to pending and a deleted file marked not
    attempted are each reported, read back through the same snapshot."""

    config = ChaosConfig(
        seed=chaos_seed(18),
        duration=3,
        workers=1,
        jobs=2,
        files=16,
        faults=False,
        kills=False,
        db_cuts=False,
        pauses=False,
        skew_seconds=0,
        log_dir=tmp_path,  # type: ignore[arg-type]
    )
    report = run_chaos(config, sandbox, sandbox_org)
    assert report.passed, f"{failures(report.violations)}\n{report.summary()}"
    assert report.deleted_in_tallyfy == 16
    first, second, third = FileDeletion.objects.filter(state="deleted").order_by("pk")[:3]
    sandbox_delete = f"{sandbox.base_url}/organizations/{sandbox.org_id}/file/{first.asset_id}"
    requests.delete(
        sandbox_delete,
        headers={"Authorization": f"Bearer {sandbox.token}", "X-Tallyfy-Client": "APIClient"},
        timeout=5,
    )
    with log_rewritten():
        FileDeletion.objects.filter(pk=second.pk).update(state="pending")
    JobFile.objects.filter(deletion_id=third.pk).update(state="not_attempted")
    job_ids = list(JobFile.objects.values_list("job_id", flat=True).distinct())
    found = check_all(take_snapshot(sandbox, job_ids, set()))
    assert any(f"file {first.asset_id}: DELETE" in line for line in found["1"])
    assert any(
        f"file {second.asset_id}: log row {second.pk} is still pending" in line
        for line in found["2"]
    )
    assert any(f"file {third.asset_id} (file not_attempted" in line for line in found["5"])
