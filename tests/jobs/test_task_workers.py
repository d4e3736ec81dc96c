"""The task backend with real worker processes (`manage.py db_worker`) on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests import worker_tasks
from tests.processes import ROOT, on_test_database_env

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]
WORKER = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"]


def start_worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WORKER, "--interval", "0.1", *args],
        cwd=ROOT,
        env=on_test_database_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(worker: subprocess.Popen[str]) -> str:
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output
    return output


def test_a_worker_process_runs_an_enqueued_task() -> None:
    result = worker_tasks.worker_pid.enqueue()
    worker = start_worker("--batch")
    finish(worker)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == worker.pid


def test_two_worker_processes_take_distinct_tasks_at_once() -> None:
    results = [worker_tasks.wait_for_another_worker.enqueue() for _ in range(4)]
    workers = [start_worker("--batch", "--worker-id", f"worker-{n}") for n in (1, 2)]
    for worker in workers:
        finish(worker)
    for result in results:
        result.refresh()
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * 4
    assert [r.return_value for r in results] == [True] * 4
    assert all(len(r.worker_ids) == 1 for r in results)  # each task taken once
    assert {r.worker_ids[0] for r in results} == {"worker-1", "worker-2"}


def test_two_worker_processes_run_each_of_many_tasks_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    for n in range(200):
        worker_tasks.append_line.enqueue(str(runs), str(n))
    workers = [start_worker("--batch", "--interval", "0") for _ in range(2)]
    for worker in workers:
        finish(worker)
    assert sorted(int(line) for line in runs.read_text().split()) == list(range(200))


def test_a_task_whose_worker_is_killed_stays_running_and_is_never_taken_again() -> None:
    """The queue does not deliver a task twice: work that must survive a dead worker keeps its
    state in tables of its own, which the next worker reads."""
    result = worker_tasks.sleep.enqueue(60)
    worker = start_worker("--worker-id", "killed")
    deadline = time.monotonic() + 60
    while DBTaskResult.objects.get(pk=result.id).status != TaskResultStatus.RUNNING:
        assert time.monotonic() < deadline, "the worker never took the task"
        time.sleep(0.1)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    finish(start_worker("--batch", "--worker-id", "next"))
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING
    assert result.worker_ids == ["killed"]


def test_a_worker_stops_at_once_on_sigterm_when_idle() -> None:
    worker = start_worker()
    assert worker.stdout is not None
    while "Starting worker" not in (line := worker.stdout.readline()):
        assert line, "the worker ended before it started"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0


def test_the_immediate_backend_runs_a_task_inside_the_test() -> None:
    result = worker_tasks.worker_pid.using(backend="immediate").enqueue()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == os.getpid()
