"""Tasks for the tests of the task backend and its workers."""

from __future__ import annotations

import os
import time

from django.tasks import TaskContext, task
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult


@task
def worker_pid() -> int:
    return os.getpid()


@task(takes_context=True)
def wait_for_another_worker(context: TaskContext, *, timeout: float = 60) -> bool:
    """True once a worker other than this one has taken a task: with one worker alone, never."""
    me = context.task_result.worker_ids[-1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        taken = DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.RUNNING, TaskResultStatus.SUCCESSFUL]
        ).values_list("worker_ids", flat=True)
        if any(worker != me for workers in taken for worker in workers):
            return True
        time.sleep(0.05)
    return False


@task
def sleep(seconds: float) -> None:
    time.sleep(seconds)


@task
def append_line(path: str, line: str) -> None:
    with open(path, "a") as log:  # one short append: whole lines, even from two processes
        log.write(f"{line}\n")
