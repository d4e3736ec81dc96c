"""Everything the chaos test knows about the jobs app, in one place: one small function per
action it takes, and the meaning of the jobs' state names. The jobs code is being rewritten
(fenced claims, a "finished with failures" end state): when its names change, only this module
changes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from organizations.models import Organization

# Job states, by what they mean to the checks.
ENDED = frozenset({"finished", "finished_with_failures", "cancelled"})
RESUMABLE = frozenset({"paused"})
WAITS_FOR_CONFIRMATION = frozenset({"previewed"})
WAITS_FOR_APPROVAL = frozenset({"awaiting_approval"})
CAN_PAUSE = frozenset({"scheduled", "running"})
CANCELLED = "cancelled"
# JobFile states and previews.
FILE_WAITING = "waiting"
FILE_DONE = "done"  # its log row says what happened
FILE_NOT_ATTEMPTED = "not_attempted"
FILE_FINISHED = frozenset({"refused", "done"})  # what progress counts done (not "not attempted")
PREVIEW_FOUND = "found"
# FileDeletion states.
LOG_PENDING = "pending"
LOG_FINAL = frozenset({"deleted", "already_gone", "failed"})
LOG_GONE = frozenset({"deleted", "already_gone"})
LOG_FAILED = "failed"


class Refused(Exception):
    """The jobs app refused the action (the job moved meanwhile): the driver carries on."""


def _refused() -> type[Exception]:
    from jobs.services import JobRefused

    return JobRefused


def job_create(*, organization: Organization, user: AbstractBaseUser, asset_ids: list[str]) -> int:
    from jobs.lines import files_from_text
    from jobs.services import job_create

    wanted = files_from_text("\n".join(asset_ids))
    return job_create(organization=organization, user=user, wanted=wanted).pk


def job_confirm(*, job_id: int, user: AbstractBaseUser) -> None:
    from jobs.services import job_confirm

    job = _job(job_id)
    found = job.files.filter(preview=PREVIEW_FOUND).count()
    try:
        job_confirm(job=job, user=user, reason="chaos test", typed_count=found)
    except _refused() as exc:
        raise Refused(str(exc)) from exc


def job_approve(*, job_id: int, user: AbstractBaseUser) -> None:
    from jobs.services import job_approve

    try:
        job_approve(job=_job(job_id), user=user)
    except _refused() as exc:
        raise Refused(str(exc)) from exc


def job_pause(*, job_id: int) -> None:
    from jobs.services import job_pause

    try:
        job_pause(job=_job(job_id))
    except _refused() as exc:
        raise Refused(str(exc)) from exc


def job_resume(*, job_id: int) -> None:
    from jobs.services import job_resume

    try:
        job_resume(job=_job(job_id))
    except _refused() as exc:
        raise Refused(str(exc)) from exc


def job_cancel(*, job_id: int) -> None:
    from jobs.services import job_cancel

    try:
        job_cancel(job=_job(job_id))
    except _refused() as exc:
        raise Refused(str(exc)) from exc


def job_states() -> dict[int, str]:
    from jobs.models import DeletionJob

    return dict(DeletionJob.objects.values_list("pk", "state"))


def job_progress_counts(*, job_id: int) -> dict[str, Any]:
    """What the job's own progress says, as plain counters."""
    from jobs.services import job_progress

    progress = job_progress(job=_job(job_id))
    return {
        "preview": dict(progress.preview),
        "files": dict(progress.files),
        "log": dict(progress.log),
        "done": progress.done,
        "to_delete": progress.to_delete,
    }


def jobs_snapshot() -> list[dict[str, Any]]:
    from jobs.models import DeletionJob

    return list(DeletionJob.objects.values("pk", "state", "finished_at").order_by("pk"))


def job_files_snapshot() -> list[dict[str, Any]]:
    from jobs.models import JobFile

    return list(
        JobFile.objects.values(
            "pk", "job_id", "asset_id", "preview", "state", "claimed_by", "deletion_id"
        ).order_by("job_id", "pk")
    )


def deletions_snapshot() -> list[dict[str, Any]]:
    from files.models import FileDeletion

    return list(FileDeletion.objects.values("pk", "job_id", "asset_id", "state").order_by("pk"))


def rate_book_ahead(*, organization: Organization) -> float:
    """How far ahead of this process's clock the organization's shared rate book has been
    pushed (a worker with a fast clock does that), in seconds; then the book is cleared, so
    this process's own calls (reconcile) are not held back by it."""
    from throttling.models import RateLimit

    book = RateLimit.objects.filter(organization=organization).first()
    if book is None:
        return 0.0
    now = timezone.now()
    moments = [moment for moment in (book.next_slot_at, book.held_until) if moment]
    ahead = max(((moment - now).total_seconds() for moment in moments), default=0.0)
    RateLimit.objects.filter(pk=book.pk).update(next_slot_at=None, held_until=None)
    return max(0.0, ahead)


def live_worker_ids(*, timeout: float) -> set[str]:
    """Workers whose heartbeat is at most `timeout` seconds old, by this process's clock."""
    from jobs.models import Worker

    fresh = timezone.now() - timedelta(seconds=timeout)
    return set(Worker.objects.filter(heartbeat_at__gte=fresh).values_list("pk", flat=True))


def claims_by_worker() -> Counter[str]:
    from jobs.models import JobFile

    return Counter(JobFile.objects.exclude(claimed_by="").values_list("claimed_by", flat=True))


def worker_settings(
    *, heartbeat: float, timeout: float, sweep: float, retry_backoff: float
) -> dict[str, str]:
    """The environment that makes workers beat, give up on each other, sweep and try a
    failed file again this fast."""
    return {
        "JOBS_HEARTBEAT_SECONDS": str(heartbeat),
        "JOBS_WORKER_TIMEOUT_SECONDS": str(timeout),
        "JOBS_SWEEP_SECONDS": str(sweep),
        "JOBS_RETRY_BACKOFF_SECONDS": str(retry_backoff),
    }


def longest_retry_wait(retry_backoff: float) -> float:
    """The longest a failed file waits before its next attempt (jobs.machine.file_retry_later
    doubles the backoff with each failure, up to 32 times it)."""
    return retry_backoff * 32


def _job(job_id: int) -> Any:
    from jobs.models import DeletionJob

    return DeletionJob.objects.get(pk=job_id)
