"""What a worker does with a job: resolve its preview, delete its files, finish what a stopped
worker left in flight, and end it. Everything is read from and written to the job's tables
through `jobs.machine`, so a task delivered twice, or a worker that dies, harms nothing: the
next worker carries on.

Each file is held by one live worker at a time (a fenced claim, jobs.machine). Before every
call to Tallyfy the worker checks that it still holds the file with a fresh heartbeat, and
stops otherwise. A heartbeat that cannot be written stops all the worker's work. Several
threads of a worker work on a job at once (`JOBS_FILES_IN_FLIGHT`); the organization's rate
limit paces them all. A pass works for at most `JOBS_SLICE_SECONDS` and then hands the job back
to the queue, so jobs take turns on the workers and a small job never waits for a large one.

Failure policy: a 401/403 pauses the job (its organization's token will not work for any other
file); timeouts, 5xx and unreachable Tallyfy leave the file for a later pass with backoff, and
the job pauses itself when too many of its recent files failed so (`JOBS_PAUSE_AFTER_*`).
Authority is checked when the work happens: before each file the job's creator and approver
must still be active staff with their permissions, or the job pauses and says why.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Now
from django.utils.html import strip_tags

import tallyfy_api
from files import services as file_services
from files.models import DeletionState, FileDeletion
from jobs import machine
from jobs.conf import conf
from jobs.machine import Claim, ClaimLost
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState, Worker
from organizations.clients import calls_guarded_by, tallyfy_client
from organizations.errors import describe_failure
from organizations.selectors import may_reach
from organizations.tokens import TokenDecryptionError
from tallyfy_api.base_urls import DisallowedBaseURL

logger = logging.getLogger(__name__)

START_PERMISSIONS = ("files.lookup_file", "files.delete_file")
APPROVE_PERMISSION = "jobs.approve_deletionjob"
# Answers that say the organization's token or URL cannot work: the job pauses.
_ORGANIZATION_BROKEN = (
    tallyfy_api.AuthenticationFailed,
    tallyfy_api.PermissionDenied,
    tallyfy_api.EndpointNotFound,
    TokenDecryptionError,
    DisallowedBaseURL,
)
# Answers after which nothing was learnt about the file: it waits for a later pass.
_TRANSIENT = (tallyfy_api.ServerError, tallyfy_api.ConnectionFailed, tallyfy_api.UnexpectedResponse)


class WorkerStopped(Exception):
    """The worker's heartbeat could not be written: it stops all its work."""


@dataclass
class Session:
    worker: Worker
    lost: threading.Event

    def check(self) -> None:
        if self.lost.is_set():
            raise WorkerStopped(f"worker {self.worker.pk} lost its heartbeat")


@contextmanager
def worker_session() -> Iterator[Session]:
    """A registered worker with a heartbeat on the database's clock, for as long as the block
    runs. A heartbeat that fails once marks the session lost: its work stops before its next
    call to Tallyfy, and its claims lapse for other workers to take."""
    worker = Worker.objects.create(
        id=uuid.uuid4().hex, host=socket.gethostname()[:255], pid=os.getpid()
    )
    stop, lost = threading.Event(), threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(conf.JOBS_HEARTBEAT_SECONDS):
                if not machine.worker_beat(worker_id=worker.pk):
                    lost.set()
                    logger.error("worker %s was taken for dead: stopping its work", worker.pk)
                    return
        except Exception:
            lost.set()
            logger.exception("worker %s could not write its heartbeat: stopping", worker.pk)
        finally:
            connection.close()

    heart = threading.Thread(target=beat, name=f"heartbeat-{worker.pk[:8]}", daemon=True)
    heart.start()
    try:
        yield Session(worker=worker, lost=lost)
    finally:
        stop.set()
        heart.join()
        try:
            machine.files_release_all(worker_id=worker.pk)
            Worker.objects.filter(pk=worker.pk).delete()
        except DatabaseError:
            logger.warning("worker %s could not release its claims: they lapse", worker.pk)


def live_workers() -> list[str]:
    return list(machine.live_workers().values_list("id", flat=True))


def job_work(
    *, job_id: int, slice_seconds: float | None = None, in_flight_only: bool = False
) -> bool:
    """Do what the job needs now, for at most `slice_seconds` (None: until nothing is left for
    this worker), or only finish its files in flight. True when the slice ran out with work
    left, so the caller hands the job back to the queue."""
    job = DeletionJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None:
        return False
    deadline = None if slice_seconds is None else time.monotonic() + slice_seconds
    with worker_session() as session:
        if job.state == JobState.PREVIEWING:
            _in_threads(session, lambda: _preview_files(job, session, deadline))
            if machine.job_preview_done(job) == JobState.SCHEDULED:
                return True  # decided in advance: back to the queue, to be deleted at once
        else:
            if not in_flight_only:
                machine.job_start_if_due(job)
            _in_threads(session, lambda: _delete_files(job, session, deadline, in_flight_only))
            machine.job_end_if_done(job)
    out_of_time = deadline is not None and time.monotonic() >= deadline
    return out_of_time and _has_work(job)


def jobs_finish_stranded() -> list[FileDeletion]:
    """Finish the files in flight that no live worker holds, in jobs of any state, and end
    the jobs they kept from ending. Returns their log rows as they now stand."""
    stranded = JobFile.objects.filter(machine.in_flight()).filter(machine.unheld())
    rows = dict(stranded.order_by().values_list("deletion_id", "job_id"))
    for job_id in sorted(set(rows.values())):
        job_work(job_id=job_id, in_flight_only=True)
    return list(FileDeletion.objects.filter(pk__in=rows).order_by("pk"))


def _has_work(job: DeletionJob) -> bool:
    job.refresh_from_db(fields=["state"])
    files = JobFile.objects.filter(job=job)
    if job.state == JobState.PREVIEWING:
        return files.filter(machine.to_preview()).exists()
    if job.state == JobState.RUNNING:
        return files.filter(machine.to_delete() | machine.in_flight()).exists()
    return files.filter(machine.in_flight()).exists()


def _in_threads(session: Session, work: Callable[[], None]) -> None:
    def run() -> None:
        try:
            work()
        except WorkerStopped as exc:
            logger.error("%s", exc)
        except Exception:
            logger.exception("job worker thread failed")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, name=f"job-file-{n}")
        for n in range(max(1, conf.JOBS_FILES_IN_FLIGHT))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _guard(session: Session, claim: Claim) -> Callable[[], None]:
    def check() -> None:
        session.check()
        if not machine.file_holds(claim):
            raise ClaimLost(f"file {claim.job_file.asset_id} is no longer held by this worker")

    return check


def _claims(
    job: DeletionJob,
    session: Session,
    deadline: float | None,
    files: Callable[[], Q | None],
    *,
    due_only: bool = True,
) -> Iterator[Claim]:
    """The files this thread works on, one claim at a time, until none is left, the slice
    ends or the worker stops."""
    while deadline is None or time.monotonic() < deadline:
        session.check()
        close_old_connections()
        wanted = files()
        if wanted is None:
            return
        claim = machine.file_claim(
            job_id=job.pk, worker_id=session.worker.pk, files=wanted, due_only=due_only
        )
        if claim is None:
            return
        yield claim


# --- preview ---


def _preview_files(job: DeletionJob, session: Session, deadline: float | None) -> None:
    def wanted() -> Q | None:
        return machine.to_preview() if machine.job_in(job, JobState.PREVIEWING) else None

    for claim in _claims(job, session, deadline, wanted):
        try:
            with calls_guarded_by(_guard(session, claim)):
                _preview_one(job, claim)
        except ClaimLost as exc:
            logger.info("%s", exc)


def _preview_one(job: DeletionJob, claim: Claim) -> None:
    asset_id = claim.job_file.asset_id
    try:
        client = tallyfy_client(organization=job.organization, background=True)
        asset = client.get_asset(asset_id)
    except tallyfy_api.NotFound:
        machine.file_previewed(
            claim,
            preview=PreviewState.NOT_FOUND,
            state=FileState.LEFT_OUT,
            note="Tallyfy has no such file: it does not exist or was deleted.",
        )
        return
    except tallyfy_api.RateLimited as exc:
        machine.file_retry_later(claim, note=_describe(job, exc, asset_id), counts=False)
        return
    except _TRANSIENT as exc:
        note = _describe(job, exc, asset_id)
        if claim.job_file.failures + 1 < conf.JOBS_PREVIEW_ATTEMPTS:
            machine.file_retry_later(claim, note=note)
            return
        machine.file_previewed(
            claim, preview=PreviewState.UNREADABLE, state=FileState.LEFT_OUT, note=note
        )
        return
    except (tallyfy_api.TallyfyError, TokenDecryptionError, DisallowedBaseURL) as exc:
        machine.file_previewed(
            claim,
            preview=PreviewState.UNREADABLE,
            state=FileState.LEFT_OUT,
            note=_describe(job, exc, asset_id),
        )
        return
    details = {
        "file_name": asset.filename,
        "subject_type": asset.subject_type,
        "subject_id": asset.subject_id,
        "uploaded_at": asset.uploaded_at,
    }
    refusal = file_services.file_deletion_refusal(asset=asset, asset_id=asset_id)
    if refusal is not None:
        machine.file_previewed(
            claim,
            **details,
            preview=PreviewState.NOT_DELETABLE,
            state=FileState.LEFT_OUT,
            note=refusal,
        )
        return
    machine.file_previewed(
        claim,
        **details,
        preview=PreviewState.FOUND,
        note="",
        preview_snapshot=asset.raw,
        previewed_at=Now(),
    )


def _describe(job: DeletionJob, exc: Exception, asset_id: str) -> str:
    return strip_tags(describe_failure(exc, organization=job.organization, asset_id=asset_id))


# --- deletion ---


def _delete_files(
    job: DeletionJob, session: Session, deadline: float | None, in_flight_only: bool
) -> None:
    tried: set[int] = set()

    def wanted() -> Q | None:
        # Files in flight finish whatever the job's state; new files start only while it runs.
        state = DeletionJob.objects.filter(pk=job.pk).values_list("state", flat=True).first()
        if in_flight_only:
            # Asked for now (reconcile_deletions), whatever the backoff: each file once.
            return machine.in_flight() & ~Q(pk__in=tried)
        if state == JobState.RUNNING:
            return machine.in_flight() | machine.to_delete()
        return machine.in_flight()

    done = 0
    for claim in _claims(job, session, deadline, wanted, due_only=not in_flight_only):
        tried.add(claim.job_file.pk)
        guard = _guard(session, claim)
        try:
            with calls_guarded_by(guard):
                _work_on(job, claim, guard)
        except ClaimLost as exc:
            logger.info("%s", exc)
        done += 1
    logger.info("worker %s: %d file(s) of job %s", session.worker.pk, done, job.pk)


def _work_on(job: DeletionJob, claim: Claim, guard: Callable[[], None]) -> None:
    if claim.job_file.deletion_id is not None:
        _finish_in_flight(job, claim)
    else:
        _delete_new(job, claim, guard)


def _delete_new(job: DeletionJob, claim: Claim, guard: Callable[[], None]) -> None:
    """A file not yet started: check the job's authority, read and check its metadata (or take
    what its preview read, while recent enough), commit its `pending` row, send the DELETE,
    settle the row."""
    problem = job_authority_problem(job)
    if problem is not None:
        machine.job_pause(job, reason=problem)
        machine.file_release(claim)
        return
    asset_id = claim.job_file.asset_id
    try:
        client = tallyfy_client(organization=job.organization, background=True)
        asset = _previewed_asset(claim) or client.get_asset(asset_id)
    except _ORGANIZATION_BROKEN as exc:
        _pause_for(job, claim, exc)
        return
    except tallyfy_api.RateLimited as exc:
        machine.file_retry_later(claim, note=_describe(job, exc, asset_id), counts=False)
        return
    except _TRANSIENT as exc:
        _failed_transiently(job, claim, exc)
        return
    except tallyfy_api.TallyfyError as exc:  # 404: already gone; 400: refused. Certain: no DELETE.
        _record_unsent(job, claim, exc)
        return
    refusal = file_services.file_deletion_refusal(asset=asset, asset_id=asset_id)
    if refusal is not None:
        machine.file_refuse(claim, note=refusal)
        return
    # The read's guard ran before it was sent, not after, and a reused snapshot had no read:
    # a worker that lost the file or its heartbeat meanwhile writes no row.
    guard()
    try:
        deletion = machine.file_begin_deletion(
            claim,
            record=lambda: file_services.deletion_record_pending(
                organization=job.organization,
                asset=asset,
                user=job.created_by,
                username=job.created_by_name,
                reason=job.reason,
                job_id=job.pk,
            ),
        )
    except file_services.DeletionRefused as exc:
        machine.file_refuse(claim, note=str(exc))
        return
    if deletion is None:  # paused or cancelled first, or the file was taken: nothing was sent
        machine.file_release(claim)
        return
    claim.job_file.deletion = deletion
    attempts, result = file_services.deletion_send(client=client, deletion=deletion)
    _conclude(job, claim, deletion, attempts, result)


def _previewed_asset(claim: Claim) -> tallyfy_api.Asset | None:
    """The file as its preview read it, when that is recent enough to stand as the log row's
    snapshot (JOBS_SNAPSHOT_MAX_AGE_SECONDS); None means read it again. A file deleted in
    Tallyfy since then gets a 404 for its DELETE, and its row settles as already gone."""
    max_age = timedelta(seconds=conf.JOBS_SNAPSHOT_MAX_AGE_SECONDS)
    raw = machine.file_preview_snapshot(claim, max_age=max_age)
    if raw is None:
        return None
    try:
        asset = tallyfy_api.Asset.from_payload({"data": raw})
    except tallyfy_api.UnexpectedResponse:
        return None
    job_file = claim.job_file
    # The fields as the preview derived them from Tallyfy's answer (names.bounded), not from
    # the stored copy, whose NULs became U+FFFD.
    return replace(
        asset,
        filename=job_file.file_name,
        subject_type=job_file.subject_type,
        subject_id=job_file.subject_id,
        uploaded_at=job_file.uploaded_at,
    )


def _record_unsent(job: DeletionJob, claim: Claim, error: tallyfy_api.TallyfyError) -> None:
    machine.file_settle(
        claim,
        settle=lambda: file_services.deletion_record_unsent(
            organization=job.organization,
            asset_id=claim.job_file.asset_id,
            # What the preview read: the file can no longer tell its name, the log row keeps it.
            file_name=claim.job_file.file_name,
            user=job.created_by,
            username=job.created_by_name,
            reason=job.reason,
            error=error,
            job_id=job.pk,
        ),
    )


def _finish_in_flight(job: DeletionJob, claim: Claim) -> None:
    """A file whose `pending` row was committed by a worker that stopped, or that waited after
    429s: its DELETE may have been sent. Only a check that finds the file lets this worker, its
    current holder, send the DELETE again."""
    deletion = FileDeletion.objects.get(pk=claim.job_file.deletion_id)
    if deletion.state != DeletionState.PENDING:
        machine.file_settle(claim, settle=lambda: deletion)
        return
    client = tallyfy_client(organization=job.organization, background=True)
    try:
        verdict = file_services.deletion_check_in_flight(client=client, deletion=deletion)
    except tallyfy_api.RateLimited as exc:
        machine.file_retry_later(claim, note=_describe(job, exc, deletion.asset_id), counts=False)
        return
    if verdict is not None:
        _conclude(job, claim, deletion, deletion.attempts, verdict)
        return
    attempts, result = file_services.deletion_send(
        client=client, deletion=deletion, uncertain=file_services.stopped_error()
    )
    _conclude(job, claim, deletion, attempts, result)


def _conclude(
    job: DeletionJob,
    claim: Claim,
    deletion: FileDeletion,
    attempts: int,
    result: file_services.DeletionOutcome,
) -> None:
    if file_services.outcome_is_rate_limited(result):
        # A 429 is never applied: the row stays pending, and the file is tried again later.
        machine.file_retry_later(claim, note=result.outcome, counts=False)
        return
    machine.file_settle(
        claim,
        settle=lambda: file_services.deletion_settle(
            deletion=deletion, attempts=attempts, result=result
        ),
    )
    if result.state == DeletionState.FAILED and isinstance(result.error, _ORGANIZATION_BROKEN):
        machine.job_pause(job, reason=_organization_broken_reason(job, result.error))
    elif result.state == DeletionState.UNKNOWN:
        _pause_if_failing(job, str(result.outcome))


def _pause_for(job: DeletionJob, claim: Claim, exc: Exception) -> None:
    machine.file_release(claim)
    machine.job_pause(job, reason=_organization_broken_reason(job, exc))


def _organization_broken_reason(job: DeletionJob, exc: Exception) -> str:
    return (
        f"Paused by the worker: {_describe(job, exc, '')} No other file can be deleted until "
        "this is put right; then resume the job."
    )


def _failed_transiently(job: DeletionJob, claim: Claim, exc: Exception) -> None:
    note = _describe(job, exc, claim.job_file.asset_id)
    machine.file_retry_later(claim, note=f"Tried again later: {note}")
    _pause_if_failing(job, note)


def _pause_if_failing(job: DeletionJob, last: str) -> None:
    """Pause the job when its recent files keep failing: `JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW`
    in a row, or more than `JOBS_PAUSE_AT_FAILURE_SHARE` of the last
    `JOBS_FAILURE_WINDOW` files (once at least that many in a row could have)."""
    events = (
        JobFile.objects.filter(job=job)
        .filter(Q(state=FileState.DONE) | Q(state=FileState.WAITING, failed_at__isnull=False))
        .annotate(at=Coalesce("finished_at", "failed_at"))
        .order_by(F("at").desc(nulls_last=True), "-id")
        .values_list("state", "deletion__state")[: conf.JOBS_FAILURE_WINDOW]
    )
    failed = [
        state == FileState.WAITING or row_state == DeletionState.UNKNOWN
        for state, row_state in events
    ]
    in_a_row = next((n for n, bad in enumerate(failed) if not bad), len(failed))
    limit = conf.JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW
    share = sum(failed) / len(failed) if failed else 0.0
    if in_a_row >= limit:
        why = f"{in_a_row} files in a row could not be deleted"
    elif len(failed) >= limit and share > conf.JOBS_PAUSE_AT_FAILURE_SHARE:
        why = f"{sum(failed)} of its last {len(failed)} files could not be deleted"
    else:
        return
    machine.job_pause(
        job,
        reason=(
            f"Paused by the worker: {why} (the last: {last}). Nothing is lost: those files "
            "wait for a later pass. Resume the job when Tallyfy answers again."
        ),
    )


def job_authority_problem(job: DeletionJob) -> str | None:
    """Why the job may not delete now, or None: its creator (and approver) must still be active
    staff with their permissions, reaching the job's organization."""
    problem = _user_problem(
        job, job.created_by_id, job.created_by_name, "creator", START_PERMISSIONS, "delete files"
    )
    if problem is None and job.approved_by_name:
        problem = _user_problem(
            job,
            job.approved_by_id,
            job.approved_by_name,
            "approver",
            (APPROVE_PERMISSION,),
            "approve jobs",
        )
    return problem


def _user_problem(
    job: DeletionJob,
    user_id: int | None,
    name: str,
    role: str,
    permissions: tuple[str, ...],
    power: str,
) -> str | None:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if user is None or not (user.is_active and user.is_staff):
        return f"Paused: the job's {role}, {name}, is no longer an active staff user."
    if not user.has_perms(permissions):
        return f"Paused: the job's {role}, {name}, no longer has the permission to {power}."
    if not may_reach(user, job.organization_id):
        return f"Paused: the job's {role}, {name}, no longer has access to its organization."
    return None
