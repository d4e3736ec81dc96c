"""Task entry points: they parse their arguments and call `jobs.work`; the job's tables say
what is left to do, so a task delivered twice does no harm."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from jobs import work
from jobs.models import DeletionJob, FileState, JobFile, JobState


@task
def run_job(job_id: int) -> None:
    work.job_work(job_id=int(job_id))


def jobs_wake_stalled() -> list[int]:
    """Wake every job that needs a worker and has none: its worker died, its start time came,
    or its wake-up was lost. Run every few seconds beside the task worker."""
    now = timezone.now()
    quiet = now - timedelta(seconds=settings.JOBS_WORKER_TIMEOUT)
    live = work.live_workers()
    candidates = (
        DeletionJob.objects.filter(
            Q(state__in=[JobState.PREVIEWING, JobState.RUNNING])
            | Q(state=JobState.SCHEDULED, start_after__isnull=True)
            | Q(state=JobState.SCHEDULED, start_after__lte=now)
            | Q(state__in=[JobState.PAUSED, JobState.CANCELLED], files__state=FileState.WAITING)
            & ~Q(files__claimed_by="")
        )
        .filter(Q(woken_at__isnull=True) | Q(woken_at__lt=quiet))
        .distinct()
    )
    woken = []
    for job in candidates:
        held = JobFile.objects.filter(job=job, claimed_by__in=live).exists()
        if not held:
            job_wake(job=job)
            woken.append(job.pk)
    return woken


def job_wake(*, job: DeletionJob) -> None:
    """Ask a worker to look at the job. Delivered twice, it does no harm."""
    DeletionJob.objects.filter(pk=job.pk).update(woken_at=timezone.now())
    if job.state == JobState.SCHEDULED and job.start_after and job.start_after > timezone.now():
        run_job.using(run_after=job.start_after).enqueue(job.pk)
    else:
        run_job.enqueue(job.pk)
