"""Task entry points: they parse their arguments and call `jobs.work`; the job's tables say
what is left to do, so a task delivered twice does no harm."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.tasks import task
from django.utils import timezone

from jobs import machine, work
from jobs.conf import conf
from jobs.models import DeletionJob, JobFile, JobState


@task
def run_job(job_id: int) -> None:
    """One slice of the job's work; a job with work left goes to the back of the queue, so the
    jobs waiting for a worker take turns."""
    job_id = int(job_id)
    if work.job_work(job_id=job_id, slice_seconds=conf.JOBS_SLICE_SECONDS):
        job = DeletionJob.objects.filter(pk=job_id).first()
        if job is not None:
            job_wake(job=job)


def jobs_wake_stalled() -> list[int]:
    """Wake every job that needs a worker and has none: its worker died, its start time came,
    a file's retry came due, or its wake-up was lost. Run every few seconds beside the task
    worker. Times are the database's. Workers that died are forgotten first, their claims
    taken back."""
    machine.workers_reap()
    quiet = Now() - machine.worker_timeout()
    held = JobFile.objects.filter(job=OuterRef("pk")).exclude(machine.unheld())
    in_flight = JobFile.objects.filter(machine.in_flight(), job=OuterRef("pk"))
    candidates = (
        DeletionJob.objects.filter(
            Q(state__in=[JobState.PREVIEWING, JobState.RUNNING])
            | Q(state=JobState.SCHEDULED, start_after__isnull=True)
            | Q(state=JobState.SCHEDULED, start_after__lte=Now())
            | Q(state=JobState.PAUSED) & Exists(in_flight)
            | Q(state=JobState.CANCELLED, finished_at__isnull=True)
        )
        .filter(Q(woken_at__isnull=True) | Q(woken_at__lt=quiet))
        .filter(~Exists(held))
    )
    woken = []
    for job in candidates:
        job_wake(job=job)
        woken.append(job.pk)
    return woken


def job_wake(*, job: DeletionJob) -> None:
    """Ask a worker to look at the job. Delivered twice, it does no harm."""
    DeletionJob.objects.filter(pk=job.pk).update(woken_at=Now())
    if job.state == JobState.SCHEDULED and job.start_after and job.start_after > timezone.now():
        run_job.using(run_after=job.start_after).enqueue(job.pk)
    else:
        run_job.enqueue(job.pk)
