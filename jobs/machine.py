"""The states of a deletion job and of its files, and every change between them.

Job:  previewing → previewed → [awaiting approval →] scheduled → running → finished, or
      finished with failures; awaiting approval → rejected (ended: nothing was sent);
      scheduled and running → paused → scheduled (resume); any state
      before an ending → cancelled, which is "stopping" while a file is in flight and ended
      (`finished_at` set) once none is.
File: waiting → done (its log row says how) | refused | not attempted (a cancelled job's file
      with no log row) | left out (at preview). A file with a log row is never not attempted:
      it stays waiting, "in flight", until its row is settled.

Every change is one conditional UPDATE naming the state it expects and, for a file a worker
holds, the worker and the fence it claimed the file with. An UPDATE that changes no row means
someone else moved first: the caller is told (False, None or ClaimLost) and overwrites nothing.
Times are the database's (`Now()`), never a machine's: workers on machines whose clocks differ
still agree on who is alive and when a file is due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Now

from files.models import DeletionState, FileDeletion
from jobs.conf import conf
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState, Worker
from organizations.conf import conf as organizations_conf

ENDED_STATES = (
    JobState.CANCELLED,
    JobState.FINISHED,
    JobState.FINISHED_WITH_FAILURES,
    JobState.REJECTED,
)
FINISHED_STATES = (JobState.FINISHED, JobState.FINISHED_WITH_FAILURES)
# Before these a job deletes nothing; a cancel then ends it at once.
NOT_STARTED_STATES = (JobState.PREVIEWING, JobState.PREVIEWED, JobState.AWAITING_APPROVAL)


class ClaimLost(Exception):
    """This worker no longer holds the file (another took it, the job was cancelled, or the
    worker's heartbeat could not be written): it stops before its next call to Tallyfy."""


# --- workers ---


def worker_timeout() -> timedelta:
    return timedelta(seconds=conf.JOBS_WORKER_TIMEOUT_SECONDS)


def live_workers() -> QuerySet[Worker]:
    """Workers whose heartbeat the database saw within the timeout."""
    return Worker.objects.filter(heartbeat_at__gte=Now() - worker_timeout())


def call_margin() -> timedelta:
    """How fresh a worker's own heartbeat must be for it to start a call to Tallyfy: a call
    started then ends (`TALLYFY_CALL_DEADLINE`) before its claims can lapse, so no other worker
    acts on the file while the call may still be in flight. With a timeout under twice the
    deadline the margin is half the timeout (checks.py warns)."""
    timeout = conf.JOBS_WORKER_TIMEOUT_SECONDS
    margin = max(timeout - organizations_conf.TALLYFY_CALL_DEADLINE, timeout / 2)
    return timedelta(seconds=margin)


def workers_reap() -> int:
    """Forget the workers the database has not seen alive within the timeout, and take their
    claims back (fences raised), so that no file stays claimed by a worker that died. Their
    claims had lapsed already; this only makes the tables say so."""
    dead = list(
        Worker.objects.filter(heartbeat_at__lt=Now() - worker_timeout()).values_list(
            "pk", flat=True
        )
    )
    if not dead:
        return 0
    JobFile.objects.filter(claimed_by__in=dead).update(claimed_by="", fence=F("fence") + 1)
    Worker.objects.filter(pk__in=dead, heartbeat_at__lt=Now() - worker_timeout()).delete()
    return len(dead)


def worker_beat(*, worker_id: str) -> bool:
    """The worker's heartbeat; False when its row is gone (it was taken for dead)."""
    return bool(Worker.objects.filter(pk=worker_id).update(heartbeat_at=Now()))


# --- files ---


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one file of a job, named by the fence it was taken with."""

    worker_id: str
    job_file: JobFile

    @property
    def fence(self) -> int:
        return self.job_file.fence

    def mine(self) -> QuerySet[JobFile]:
        return JobFile.objects.filter(
            pk=self.job_file.pk, claimed_by=self.worker_id, fence=self.fence
        )


def unheld() -> Q:
    """Files nobody holds, or whose holder the database no longer sees alive."""
    return Q(claimed_by="") | ~Q(claimed_by__in=live_workers().values("pk"))


def in_flight() -> Q:
    """Waiting files that have a log row: their DELETE may have been sent."""
    return Q(state=FileState.WAITING, deletion__isnull=False)


def to_preview() -> Q:
    return Q(preview=PreviewState.UNRESOLVED, state=FileState.WAITING)


def to_delete() -> Q:
    return Q(state=FileState.WAITING, preview=PreviewState.FOUND, deletion__isnull=True)


def file_claim(*, job_id: int, worker_id: str, files: Q, due_only: bool = True) -> Claim | None:
    """Take the next file matching `files` that no live worker holds and whose retry time has
    come (any retry time with `due_only=False`), or None."""
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=Now()) if due_only else Q()
    claimable = JobFile.objects.filter(files, due, unheld(), job_id=job_id)
    while True:
        candidate = claimable.order_by("id").values_list("pk", "fence").first()
        if candidate is None:
            return None
        pk, fence = candidate
        taken = JobFile.objects.filter(files, unheld(), pk=pk, fence=fence).update(
            claimed_by=worker_id, fence=F("fence") + 1
        )
        if taken:
            return Claim(worker_id=worker_id, job_file=JobFile.objects.get(pk=pk))


def file_holds(claim: Claim) -> bool:
    """Whether the worker still holds the file, with a heartbeat fresh enough to start a call."""
    fresh = Worker.objects.filter(pk=claim.worker_id, heartbeat_at__gte=Now() - call_margin())
    return claim.mine().filter(Exists(fresh)).exists()


def file_release(claim: Claim, **changes: object) -> bool:
    """Let the file go, with `changes` written, if the worker still holds it."""
    return bool(claim.mine().update(claimed_by="", **changes))


def file_retry_later(claim: Claim, *, note: str, counts: bool = True) -> bool:
    """Leave the file for a later pass, after a backoff on the database's clock that grows
    with its failures. `counts=False` (a 429) waits without counting as a failure."""
    failures = claim.job_file.failures + (1 if counts else 0)
    base = conf.JOBS_RETRY_BACKOFF_SECONDS
    wait = timedelta(seconds=min(base * 2 ** max(failures - 1, 0), base * 32))
    changes: dict[str, object] = {"note": note, "retry_at": Now() + wait}
    if counts:
        changes.update(failures=failures, failed_at=Now())
    return file_release(claim, **changes)


def file_begin_deletion(claim: Claim, *, record: Callable[[], FileDeletion]) -> FileDeletion | None:
    """Commit the file's `pending` log row (`record` writes it) while the worker holds the file
    and the job runs, and link the file to it, in one transaction: a pause or a cancel either
    comes first (nothing is written, None) or after (the file is in flight and finishes)."""
    with transaction.atomic():
        running = DeletionJob.objects.select_for_update().filter(
            pk=claim.job_file.job_id, state=JobState.RUNNING
        )
        if not running.exists():
            return None
        deletion = record()
        if not claim.mine().filter(state=FileState.WAITING).update(deletion=deletion):
            transaction.set_rollback(True)
            return None
    return deletion


def file_settle(claim: Claim, *, settle: Callable[[], FileDeletion]) -> FileDeletion:
    """Mark the file done and write its row's final state (`settle`), in one transaction,
    only while the worker holds the file; otherwise ClaimLost and nothing is written."""
    with transaction.atomic():
        done = claim.mine().update(
            state=FileState.DONE, claimed_by="", finished_at=Now(), retry_at=None
        )
        if not done:
            raise ClaimLost(f"file {claim.job_file.asset_id} was taken from this worker")
        deletion = settle()
        if claim.job_file.deletion_id is None:
            JobFile.objects.filter(pk=claim.job_file.pk).update(deletion=deletion)
        return deletion


def file_refuse(claim: Claim, *, note: str) -> bool:
    return file_release(claim, state=FileState.REFUSED, note=note, finished_at=Now(), retry_at=None)


def file_previewed(claim: Claim, **preview: object) -> bool:
    """Write what the preview found, while the worker holds the file and the job previews."""
    if not DeletionJob.objects.filter(pk=claim.job_file.job_id, state=JobState.PREVIEWING).exists():
        return False
    return file_release(claim, retry_at=None, **preview)


def file_preview_snapshot(claim: Claim, *, max_age: timedelta) -> dict[str, object] | None:
    """The metadata the preview read of the file, if it read it less than `max_age` ago on
    the database's clock and the worker still holds the file; otherwise None."""
    if max_age <= timedelta(0):
        return None
    return (
        claim.mine()
        .filter(preview_snapshot__isnull=False, previewed_at__gt=Now() - max_age)
        .values_list("preview_snapshot", flat=True)
        .first()
    )


def files_not_attempted(*, job_id: int) -> int:
    """A cancelled job's waiting files with no log row: taken from any holder (a holder that
    has not written its row writes none now) and marked not attempted."""
    return JobFile.objects.filter(
        job_id=job_id, state=FileState.WAITING, deletion__isnull=True
    ).update(
        state=FileState.NOT_ATTEMPTED,
        claimed_by="",
        fence=F("fence") + 1,
        finished_at=Now(),
        retry_at=None,
    )


def files_release_all(*, worker_id: str) -> int:
    return JobFile.objects.filter(claimed_by=worker_id).update(claimed_by="", fence=F("fence") + 1)


# --- jobs ---


def job_move(
    job: DeletionJob, sources: tuple[str, ...], target: JobState, **changes: object
) -> bool:
    """`job` from one of `sources` to `target`; False when it is in none of them."""
    moved = DeletionJob.objects.filter(pk=job.pk, state__in=sources).update(state=target, **changes)
    return bool(moved)


def job_in(job: DeletionJob, *states: str) -> bool:
    return DeletionJob.objects.filter(pk=job.pk, state__in=states).exists()


def job_preview_done(job: DeletionJob) -> JobState | None:
    """The state a job whose every file is previewed moves to: previewed, or scheduled when
    it was confirmed and approved in advance (jobs.services.DecidedInAdvance). None while
    files are left to preview or the job is no longer previewing."""
    unresolved = JobFile.objects.filter(job=OuterRef("pk"), preview=PreviewState.UNRESOLVED)
    previewed = DeletionJob.objects.filter(pk=job.pk, state=JobState.PREVIEWING).filter(
        ~Exists(unresolved)
    )
    if previewed.filter(confirmed_at__isnull=False).update(state=JobState.SCHEDULED):
        return JobState.SCHEDULED
    return JobState.PREVIEWED if previewed.update(state=JobState.PREVIEWED) else None


def job_start_if_due(job: DeletionJob) -> bool:
    due = Q(start_after__isnull=True) | Q(start_after__lte=Now())
    return bool(
        DeletionJob.objects.filter(due, pk=job.pk, state=JobState.SCHEDULED).update(
            state=JobState.RUNNING, started_at=Coalesce(F("started_at"), Now())
        )
    )


def job_pause(job: DeletionJob, *, reason: str = "") -> bool:
    """Stop before the next file; files in flight finish. A reason means the job paused itself
    (its creator is told); a person's pause has none."""
    return job_move(
        job,
        (JobState.SCHEDULED, JobState.RUNNING),
        JobState.PAUSED,
        pause_reason=reason,
        creator_told=not reason,
    )


def job_resume(job: DeletionJob) -> bool:
    """Back to running, or to scheduled when its start time is still to come (or it never
    started)."""
    due = Q(start_after__isnull=True) | Q(start_after__lte=Now())
    paused = DeletionJob.objects.filter(pk=job.pk, state=JobState.PAUSED)
    if paused.filter(due, started_at__isnull=False).update(state=JobState.RUNNING, pause_reason=""):
        return True
    return bool(paused.update(state=JobState.SCHEDULED, pause_reason=""))


def job_cancel(job: DeletionJob) -> bool:
    """Cancelled: files not started are not attempted; files in flight finish; the job ends
    once none is left."""
    if not job_move(job, tuple(set(JobState) - set(ENDED_STATES)), JobState.CANCELLED):
        return False
    files_not_attempted(job_id=job.pk)
    job_end_if_done(job)
    return True


def job_reject(job: DeletionJob, *, user_id: int, username: str, reason: str) -> bool:
    """An approver refuses a job awaiting approval: it ends at once, its files not attempted,
    with who, when and why on its row. False when it no longer awaits approval."""
    with transaction.atomic():
        if not job_move(
            job,
            (JobState.AWAITING_APPROVAL,),
            JobState.REJECTED,
            rejected_by_id=user_id,
            rejected_by_name=username,
            rejected_at=Now(),
            rejection_reason=reason,
            finished_at=Now(),
        ):
            return False
        files_not_attempted(job_id=job.pk)
    return True


def job_end_if_done(job: DeletionJob) -> bool:
    """End a running or cancelled job that has no waiting file left: finished, finished with
    failures (a file refused, or a log row failed or still uncertain), or cancelled."""
    waiting = JobFile.objects.filter(job=OuterRef("pk"), state=FileState.WAITING)
    jobs = DeletionJob.objects.filter(~Exists(waiting), pk=job.pk, finished_at__isnull=True)
    refused = JobFile.objects.filter(job=OuterRef("pk"), state=FileState.REFUSED)
    unsuccessful = FileDeletion.objects.filter(
        job_id=OuterRef("pk"),
        state__in=(DeletionState.FAILED, DeletionState.UNKNOWN, DeletionState.PENDING),
    )
    outcome = Case(
        When(Exists(refused) | Exists(unsuccessful), then=Value(JobState.FINISHED_WITH_FAILURES)),
        default=Value(JobState.FINISHED),
    )
    finished = jobs.filter(state=JobState.RUNNING).update(state=outcome, finished_at=Now())
    cancelled = jobs.filter(state=JobState.CANCELLED).update(finished_at=Now())
    return bool(finished or cancelled)
