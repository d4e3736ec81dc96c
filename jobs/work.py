"""What a worker does with a job: resolve its preview, delete its files, settle what a stopped
worker left, and end it. Everything is read from and written to the job's tables, so a task
delivered twice, or a worker that dies, harms nothing: the next worker carries on.

Each file is claimed by one live worker at a time (`JobFile.claimed_by`, a conditional UPDATE);
a claim lapses when its worker's heartbeat stops for `JOBS_WORKER_TIMEOUT` seconds. Several
threads of a worker work on a job at once (`JOBS_FILES_IN_FLIGHT`), so requests overlap when
Tallyfy is far away; the organization's rate limit paces them all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from files import services as file_services
from files import tallyfy
from files.clients import tallyfy_client
from files.errors import USER_FACING_ERRORS, describe_failure
from files.models import FileDeletion
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState, Worker

logger = logging.getLogger(__name__)


@contextmanager
def worker_session(*, job_id: int | None = None) -> Iterator[Worker]:
    """A registered worker with a heartbeat, for as long as the block runs."""
    worker = Worker.objects.create(
        id=uuid.uuid4().hex, host=socket.gethostname()[:255], pid=os.getpid()
    )
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.JOBS_HEARTBEAT_SECONDS):
                Worker.objects.filter(pk=worker.pk).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    heart = threading.Thread(target=beat, name=f"heartbeat-{worker.pk[:8]}", daemon=True)
    heart.start()
    try:
        yield worker
    finally:
        stop.set()
        heart.join()
        JobFile.objects.filter(claimed_by=worker.pk).update(claimed_by="")
        Worker.objects.filter(pk=worker.pk).delete()


def live_workers() -> list[str]:
    fresh = timezone.now() - timedelta(seconds=settings.JOBS_WORKER_TIMEOUT)
    return list(Worker.objects.filter(heartbeat_at__gte=fresh).values_list("id", flat=True))


def job_work(*, job_id: int) -> None:
    """Do whatever the job needs now, until nothing is left for this worker."""
    job = DeletionJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    with worker_session() as worker:
        if job.state == JobState.PREVIEWING:
            _in_threads(lambda: _preview_files(job=job, worker=worker))
            DeletionJob.objects.filter(pk=job.pk, state=JobState.PREVIEWING).exclude(
                files__preview=PreviewState.UNRESOLVED
            ).update(state=JobState.PREVIEWED)
            return
        _start_if_due(job)
        job.refresh_from_db()
        if job.state == JobState.RUNNING:
            _in_threads(lambda: _delete_files(job=job, worker=worker))
        _salvage(job=job, worker=worker)
        _end_if_done(job)


def _start_if_due(job: DeletionJob) -> None:
    now = timezone.now()
    DeletionJob.objects.filter(pk=job.pk, state=JobState.SCHEDULED).filter(
        Q(start_after__isnull=True) | Q(start_after__lte=now)
    ).update(state=JobState.RUNNING, started_at=now)


def _in_threads(work: Callable[[], None]) -> None:
    def run() -> None:
        try:
            work()
        except Exception:
            logger.exception("job worker thread failed")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, name=f"job-file-{n}")
        for n in range(max(1, settings.JOBS_FILES_IN_FLIGHT))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _claim(files: Q, *, job: DeletionJob, worker: Worker) -> JobFile | None:
    """Take the next file matching `files` that no live worker holds, or None."""
    while True:
        close_old_connections()
        claimable = JobFile.objects.filter(files, job=job).filter(
            Q(claimed_by="") | ~Q(claimed_by__in=live_workers())
        )
        candidate = claimable.order_by("id").values_list("pk", "claimed_by").first()
        if candidate is None:
            return None
        pk, holder = candidate
        # Still matching `files` and still held by the same holder: a file another thread
        # took and finished meanwhile (released, so unheld again) no longer matches.
        if JobFile.objects.filter(files, pk=pk, claimed_by=holder).update(claimed_by=worker.pk):
            return JobFile.objects.get(pk=pk)


def _release(job_file: JobFile, **changes: object) -> None:
    JobFile.objects.filter(pk=job_file.pk).update(claimed_by="", **changes)


def _preview_files(*, job: DeletionJob, worker: Worker) -> None:
    unresolved = Q(preview=PreviewState.UNRESOLVED)
    while _in_state(job, JobState.PREVIEWING) and (
        job_file := _claim(unresolved, job=job, worker=worker)
    ):
        _release(job_file, **_preview_of(job, job_file.asset_id))


def _preview_of(job: DeletionJob, asset_id: str) -> dict[str, object]:
    try:
        client = tallyfy_client(organization=job.organization, background=True)
        asset = client.get_asset(asset_id)
    except tallyfy.NotFound:
        return {
            "preview": PreviewState.NOT_FOUND,
            "state": FileState.LEFT_OUT,
            "note": "Tallyfy has no such file: it does not exist or was deleted.",
        }
    except USER_FACING_ERRORS as exc:
        return {
            "preview": PreviewState.UNREADABLE,
            "state": FileState.LEFT_OUT,
            "note": describe_failure(exc, organization=job.organization, asset_id=asset_id),
        }
    details = {
        "file_name": asset.filename,
        "subject_type": asset.subject_type,
        "subject_id": asset.subject_id,
        "uploaded_at": asset.uploaded_at,
    }
    refusal = file_services.file_deletion_refusal(asset=asset, asset_id=asset_id)
    if refusal is not None:
        return {
            **details,
            "preview": PreviewState.NOT_DELETABLE,
            "state": FileState.LEFT_OUT,
            "note": refusal,
        }
    return {**details, "preview": PreviewState.FOUND, "note": ""}


def _delete_files(*, job: DeletionJob, worker: Worker) -> None:
    wanted = Q(state=FileState.WAITING, preview=PreviewState.FOUND)
    done = 0
    while _in_state(job, JobState.RUNNING) and (job_file := _claim(wanted, job=job, worker=worker)):
        _delete_one(job=job, job_file=job_file)
        done += 1
    logger.info("worker %s: %d file(s) of job %s", worker.pk, done, job.pk)


def _in_state(job: DeletionJob, state: JobState) -> bool:
    return DeletionJob.objects.filter(pk=job.pk, state=state).exists()


def _delete_one(*, job: DeletionJob, job_file: JobFile) -> None:
    try:
        deletion = file_services.file_delete_in_job(
            organization=job.organization,
            asset_id=job_file.asset_id,
            user=job.created_by,
            reason=job.reason,
            job_id=job.pk,
        )
    except file_services.DeletionRefused as exc:
        _release(job_file, state=FileState.REFUSED, note=str(exc), finished_at=timezone.now())
    except tallyfy.RateLimited:
        _release(job_file)  # nothing was deleted: the file is taken again after the hold
    except USER_FACING_ERRORS as exc:
        # The organization cannot be reached at all (its token, its URL): nothing was
        # recorded; the file waits for a later pass.
        logger.warning("job %s file %s not started: %r", job.pk, job_file.asset_id, str(exc))
        _release(job_file)
        raise
    else:
        _release(job_file, state=FileState.DONE, deletion=deletion, finished_at=timezone.now())


def _salvage(*, job: DeletionJob, worker: Worker) -> None:
    """Files that a stopped worker held in a paused or cancelled job: a deletion it had
    recorded is settled (asking Tallyfy first); one it had not started is not attempted
    (cancelled) or left waiting (paused)."""
    job.refresh_from_db()
    if job.state not in (JobState.PAUSED, JobState.CANCELLED):
        return
    while job_file := _claim(
        Q(state=FileState.WAITING) & ~Q(claimed_by=""), job=job, worker=worker
    ):
        own = FileDeletion.objects.filter(
            job_id=job.pk, org_id=job.organization.org_id, asset_id=job_file.asset_id
        ).first()
        if own is not None:
            _delete_one(job=job, job_file=job_file)
        elif job.state == JobState.CANCELLED:
            _release(job_file, state=FileState.NOT_ATTEMPTED, finished_at=timezone.now())
        else:
            _release(job_file)


def _end_if_done(job: DeletionJob) -> None:
    if (
        JobFile.objects.filter(job=job, state=FileState.WAITING)
        .filter(Q(preview=PreviewState.FOUND) | ~Q(claimed_by=""))
        .exists()
    ):
        return
    now = timezone.now()
    DeletionJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.FINISHED, finished_at=now
    )
    DeletionJob.objects.filter(
        pk=job.pk, state=JobState.CANCELLED, finished_at__isnull=True
    ).update(finished_at=now)
