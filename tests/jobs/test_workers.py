"""Deletion jobs run by real worker processes (`manage.py run_worker`) on the test database."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection

from devtools.processes import RUN_WORKER
from files.models import DeletionState, FileDeletion
from jobs import services, work
from jobs.lines import files_from_text
from jobs.models import DeletionJob, JobState, PreviewState
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.sandbox import Sandbox
from tests.processes import ROOT, on_test_database_env

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


def start_worker(sandbox: Sandbox) -> subprocess.Popen[str]:
    host = sandbox.base_url.split("/")[2]
    env = {**on_test_database_env(), "TALLYFY_INSECURE_API_HOSTS": host, "DJANGO_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, *RUN_WORKER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(worker: subprocess.Popen[str]) -> str:
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=60)
    return output


def wait_for(condition: object, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several workers share PostgreSQL")
def test_two_worker_processes_share_one_job_and_delete_each_file_once(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 100  # type: ignore[attr-defined]
    alice: User = make_staff("alice", "lookup_file", "delete_file")
    files = [sandbox.add_file(filename=f"w{n}.txt") for n in range(40)]
    job = services.job_create(
        organization=sandbox_org,
        user=alice,
        wanted=files_from_text("\n".join(f.asset_id for f in files)),
    )
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED
    sandbox.control("reset", {})
    sandbox.faults(latency_ms=100)
    workers = [start_worker(sandbox) for _ in range(2)]
    try:
        count = job.files.filter(preview=PreviewState.FOUND).count()
        job = services.job_confirm(job=job, user=alice, reason="r", typed_count=count)
        services.job_wake(job=job)  # a second wake-up: each worker takes one
        finished = wait_for(lambda: DeletionJob.objects.get(pk=job.pk).state == JobState.FINISHED)
    finally:
        outputs = [stop(worker) for worker in workers]
    assert finished, "\n".join(outputs)
    rows = FileDeletion.objects.filter(job_id=job.pk)
    assert rows.count() == 40
    assert {r.state for r in rows} == {DeletionState.DELETED}
    deletes = [r["path"] for r in sandbox.requests() if r["method"] == "DELETE"]
    assert len(deletes) == len(set(deletes)) == 40
    done = [sum(int(n) for n in re.findall(r": (\d+) file\(s\) of job", out)) for out in outputs]
    assert sum(done) == 40
    assert all(n > 0 for n in done), (done, outputs)
