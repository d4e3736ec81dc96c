"""Task entry points: they parse their arguments and call `jobs.work`; the job's tables say
what is left to do, so a task delivered twice does no harm."""

from __future__ import annotations

from django.tasks import task

from jobs import work


@task
def run_job(job_id: int) -> None:
    work.job_work(job_id=int(job_id))
