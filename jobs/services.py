"""Use cases of deletion jobs: create, preview, confirm, approve, schedule, pause, resume,
cancel, and what a job's progress is. The work itself is in `jobs.work`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import Now
from django.utils import timezone

from accounts.signed_in import signed_in_answer
from evidence.models import EventAction
from evidence.services import record_decision
from files.models import DeletionState, FileDeletion
from jobs import machine
from jobs.conf import conf
from jobs.lines import BadLine, ParsedFiles
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState
from jobs.tasks import job_wake
from organizations.models import Organization
from sql_names import column, table

ENDED_STATES = machine.ENDED_STATES


class JobRefused(Exception):
    """The request changes nothing; the message says why in plain words."""


@dataclass(frozen=True)
class DecidedInAdvance:
    """A job whose confirmation and approval were given before its preview (an erasure
    request's review and approval stand for them): its reason and its second person. Once
    its preview is done it is scheduled, without the confirm page."""

    reason: str
    approver: AbstractBaseUser


class BadLines(JobRefused):
    def __init__(self, bad: list[BadLine]) -> None:
        super().__init__(f"{len(bad)} line(s) are not file ids or Tallyfy file URLs.")
        self.bad = bad


def job_create(
    *,
    organization: Organization,
    user: AbstractBaseUser,
    wanted: ParsedFiles,
    retry_of: DeletionJob | None = None,
    built_from: str = "",
    warning: str = "",
    decided: DecidedInAdvance | None = None,
) -> DeletionJob:
    """A job for the files asked for, its preview started. Any bad line refuses the whole
    request (listed in BadLines); repeats are merged; URLs of another organization are kept
    and shown as such, never sent."""
    if decided is not None:
        if not decided.reason.strip():
            raise JobRefused("Give a reason: a ticket, GDPR request or incident reference.")
        if decided.approver.pk == user.pk:
            raise JobRefused("Nobody approves their own job: ask another staff user.")
    if wanted.bad:
        raise BadLines(wanted.bad)
    if not wanted.files:
        raise JobRefused("Give at least one file id or Tallyfy file URL.")
    limit = conf.JOBS_MAX_FILES
    if len(wanted.files) > limit:
        raise JobRefused(
            f"A job holds at most {limit:,} files; this list has {len(wanted.files):,}."
        )
    decided_fields = _decided_fields(decided)
    with transaction.atomic():
        job = DeletionJob.objects.create(
            organization=organization,
            created_by=user,
            created_by_name=user.get_username(),
            retry_of=retry_of,
            built_from=built_from,
            warning=warning,
            **{"reason": retry_of.reason if retry_of is not None else "", **decided_fields},
        )
        if decided is not None:
            _decided(EventAction.JOB_CONFIRMED, job=job, user=user, detail=decided.reason)
            _decided(EventAction.JOB_APPROVED, job=job, user=decided.approver)
        JobFile.objects.bulk_create(
            [
                JobFile(
                    job=job,
                    line=wanted_file.line,
                    asset_id=wanted_file.asset_id,
                    **_other_organization(wanted_file.org_id, organization),
                )
                for wanted_file in wanted.files
            ],
            batch_size=1000,
        )
        transaction.on_commit(lambda: job_wake(job=job))
    return job


def _decided_fields(decided: DecidedInAdvance | None) -> dict[str, object]:
    if decided is None:
        return {}
    return {
        "reason": decided.reason.strip(),
        "confirmed_at": Now(),
        "approved_by": decided.approver,
        "approved_by_name": decided.approver.get_username(),
        "approved_at": Now(),
    }


def _other_organization(org_id: str | None, organization: Organization) -> dict[str, object]:
    if org_id is None or org_id == organization.org_id:
        return {}
    return {
        "preview": PreviewState.WRONG_ORGANIZATION,
        "state": FileState.LEFT_OUT,
        "note": f"The URL is for Tallyfy organization {org_id}, not {organization.org_id}.",
    }


def job_confirm(
    *,
    job: DeletionJob,
    user: AbstractBaseUser,
    reason: str,
    typed_count: int,
    start_after: datetime | None = None,
) -> DeletionJob:
    """The creator confirms the previewed job: a reason, and the number of files to delete typed
    back. Above `JOBS_APPROVAL_THRESHOLD` files the job then waits for a second staff user."""
    if job.created_by_id != user.pk:
        raise JobRefused("Only the user who started a job can confirm it.")
    if job.state != JobState.PREVIEWED:
        raise JobRefused(f"This job cannot be confirmed now: it is {job.get_state_display()}.")
    reason = reason.strip()
    if not reason:
        raise JobRefused("Give a reason: a ticket, GDPR request or incident reference.")
    found = job.files.filter(preview=PreviewState.FOUND).count()
    if found == 0:
        raise JobRefused("The preview found no file that can be deleted: nothing to confirm.")
    if typed_count != found:
        raise JobRefused(f"Type the number of files to delete, {found}, to confirm.")
    if start_after is not None and start_after <= timezone.now():
        start_after = None
    needs_approval = found + unapproved_files_recently(user=user) > conf.JOBS_APPROVAL_THRESHOLD
    state = JobState.AWAITING_APPROVAL if needs_approval else JobState.SCHEDULED
    with transaction.atomic():
        changed = DeletionJob.objects.filter(pk=job.pk, state=JobState.PREVIEWED).update(
            state=state, reason=reason, start_after=start_after, confirmed_at=Now()
        )
        if not changed:
            raise JobRefused("This job was changed meanwhile: reload it.")
        _decided(EventAction.JOB_CONFIRMED, job=job, user=user, detail=reason)
    job.refresh_from_db()
    if not needs_approval:
        job_wake(job=job)
    return job


def unapproved_files_recently(*, user: AbstractBaseUser) -> int:
    """Files the user's jobs were confirmed to delete without a second person's approval within
    `JOBS_APPROVAL_WINDOW_SECONDS`: the approval threshold counts them all, so that splitting
    a large deletion into small jobs does not avoid approval."""
    window = Now() - timedelta(seconds=conf.JOBS_APPROVAL_WINDOW_SECONDS)
    return (
        JobFile.objects.filter(
            job__created_by=user,
            job__confirmed_at__gte=window,
            job__approved_by_name="",
            preview=PreviewState.FOUND,
        )
        .exclude(state=FileState.NOT_ATTEMPTED)
        .count()
    )


def job_approve(*, job: DeletionJob, user: AbstractBaseUser) -> DeletionJob:
    """A second staff user approves a job above the threshold (the view checks the permission)."""
    if job.created_by_id == user.pk:
        raise JobRefused("Nobody approves their own job: ask another staff user with approval.")
    with transaction.atomic():
        if not machine.job_move(
            job,
            (JobState.AWAITING_APPROVAL,),
            JobState.SCHEDULED,
            approved_by=user,
            approved_by_name=user.get_username(),
            approved_at=Now(),
        ):
            raise JobRefused("This job is not awaiting approval.")
        _decided(EventAction.JOB_APPROVED, job=job, user=user)
    job.refresh_from_db()
    job_wake(job=job)
    return job


def job_reject(*, job: DeletionJob, user: AbstractBaseUser, reason: str) -> DeletionJob:
    """An approver refuses a job awaiting approval, with a reason: it ends and sends nothing
    (the view checks the permission)."""
    reason = reason.strip()
    if not reason:
        raise JobRefused("Say why the job is rejected.")
    if job.created_by_id == user.pk:
        raise JobRefused("Nobody rejects their own job: cancel it instead.")
    with transaction.atomic():
        if not machine.job_reject(
            job, user_id=user.pk, username=user.get_username(), reason=reason
        ):
            raise JobRefused("This job is not awaiting approval.")
        _decided(EventAction.JOB_REJECTED, job=job, user=user, detail=reason)
    job.refresh_from_db()
    return job


def job_pause(*, job: DeletionJob, user: AbstractBaseUser | None = None) -> DeletionJob:
    """Stop before the next file; the files in flight finish."""
    with transaction.atomic():
        if not machine.job_pause(job):
            raise _cannot(job, "paused")
        _decided(EventAction.JOB_PAUSED, job=job, user=user)
    job.refresh_from_db()
    return job


def job_resume(*, job: DeletionJob, user: AbstractBaseUser | None = None) -> DeletionJob:
    """Back to work: at once, or at its start time if that is still to come."""
    with transaction.atomic():
        if not machine.job_resume(job):
            raise _cannot(job, "resumed")
        _decided(EventAction.JOB_RESUMED, job=job, user=user)
    job.refresh_from_db()
    job_wake(job=job)
    return job


def job_cancel(*, job: DeletionJob, user: AbstractBaseUser | None = None) -> DeletionJob:
    """Stop before the next file: files not started are marked not attempted; files in flight
    finish and keep their log rows; the job ends once none is left."""
    with transaction.atomic():
        if not machine.job_cancel(job):
            raise _cannot(job, "cancelled")
        _decided(EventAction.JOB_CANCELLED, job=job, user=user)
    job.refresh_from_db()
    if job.finished_at is None:
        job_wake(job=job)  # a worker finishes what is in flight, then ends the job
    return job


def _decided(
    action: str, *, job: DeletionJob, user: AbstractBaseUser | None, detail: str = ""
) -> None:
    """A person's decision on a job, sealed with the change (evidence's event record)."""
    record_decision(
        action=action, user=user, object_type="deletion_job", object_id=job.pk, detail=detail
    )


def job_retry_failed(*, job: DeletionJob, user: AbstractBaseUser) -> DeletionJob:
    """A new job, linked to this ended one, of its files whose deletion failed, is still
    uncertain, or was refused before sending: same organization and reason; its preview runs
    again, and confirmation and approval apply as to any job."""
    if job.state not in machine.FINISHED_STATES and job.state != JobState.CANCELLED:
        raise JobRefused("Only a job that has ended can have its failed files tried again.")
    if job.finished_at is None:
        raise JobRefused("This job is still stopping: wait until it has ended.")
    failed = job.files.filter(
        Q(state=FileState.REFUSED)
        | Q(
            state=FileState.DONE,
            deletion__state__in=(DeletionState.FAILED, DeletionState.UNKNOWN),
        )
    ).order_by("line", "id")
    wanted = ParsedFiles()
    for line, asset_id in enumerate(failed.values_list("asset_id", flat=True), 1):
        wanted.add(line, asset_id)
    if not wanted.files:
        raise JobRefused("No file of this job failed: there is nothing to try again.")
    return job_create(organization=job.organization, user=user, wanted=wanted, retry_of=job)


def _cannot(job: DeletionJob, verb: str) -> JobRefused:
    job.refresh_from_db()
    return JobRefused(f"This job is {job.get_state_display().lower()}: it cannot be {verb}.")


@dataclass(frozen=True)
class Progress:
    total: int
    preview: Counter[str]
    files: Counter[str]
    log: Counter[str]
    done: int
    to_delete: int
    # Files whose DELETE a worker holds right now (a pending log row): neither waiting nor
    # uncertain.
    in_flight: int
    per_minute: float | None
    seconds_left: float | None

    @property
    def percent(self) -> int:
        if self.to_delete == 0:
            return 100
        return min(100, round(100 * self.done / self.to_delete))


def job_progress(*, job: DeletionJob) -> Progress:
    preview = Counter(
        dict(job.files.values_list("preview").annotate(n=Count("id")).values_list("preview", "n"))
    )
    files = Counter(
        dict(job.files.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    )
    log = Counter(
        dict(
            FileDeletion.objects.filter(job_id=job.pk)
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
    )
    to_delete = preview[PreviewState.FOUND]
    # Files a worker finished with; those a cancel left never attempted are not "done".
    done = files[FileState.DONE] + files[FileState.REFUSED]
    per_minute = seconds_left = None
    if job.started_at and done:
        elapsed = ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
        if elapsed > 0:
            per_minute = done * 60 / elapsed
            if job.state == JobState.RUNNING:  # a paused or ended job has no time left
                seconds_left = max(0, to_delete - done) * 60 / per_minute
    in_flight = job.files.filter(machine.in_flight()).count() if log[DeletionState.PENDING] else 0
    return Progress(
        in_flight=in_flight,
        total=sum(preview.values()),
        preview=preview,
        files=files,
        log=log,
        done=done,
        to_delete=to_delete,
        per_minute=per_minute,
        seconds_left=seconds_left,
    )


def jobs_ended_untold(*, user: AbstractBaseUser) -> list[DeletionJob]:
    """The user's jobs that ended, or paused themselves, since they were last told; now marked
    told. Every admin page asks, and almost always there is none: the answer comes with the
    signed-in user's read (accounts.signed_in), or else from one written-out query (the ORM
    would take thirty times longer to build it than the database to run it); the jobs are
    read only when there are some."""
    any_untold = signed_in_answer(user, HAS_JOBS_ENDED_UNTOLD)
    if not (_any_ended_untold(user_id=user.pk) if any_untold is None else any_untold):
        return []
    ended = list(
        DeletionJob.objects.filter(created_by=user, creator_told=False).filter(
            Q(state__in=ENDED_STATES, finished_at__isnull=False)
            | Q(state=JobState.PAUSED) & ~Q(pause_reason="")
        )
    )
    if ended:
        DeletionJob.objects.filter(pk__in=[job.pk for job in ended]).update(creator_told=True)
    return ended


def _any_ended_untold(*, user_id: int) -> bool:
    """Whether `jobs_ended_untold` would find a job: the same test, in SQL."""
    expression, params = ended_untold_question(user_id)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression}", params)
        row = cursor.fetchone()
    return bool(row and row[0])


HAS_JOBS_ENDED_UNTOLD = "has_jobs_ended_untold"


def ended_untold_question(user_id: object) -> tuple[str, list[object]]:
    """Whether the user has a job that ended untold, as a boolean SQL expression, to be asked
    with the signed-in user's read (accounts.signed_in)."""
    ended = [str(state) for state in ENDED_STATES]
    return _ended_untold_sql(len(ended)), [user_id, False, *ended, str(JobState.PAUSED), ""]


@cache
def _ended_untold_sql(ended_states: int) -> str:
    def field(name: str) -> str:
        return column(DeletionJob, name)

    return (
        f"EXISTS (SELECT 1 FROM {table(DeletionJob)} "  # noqa: S608
        f"WHERE {field('created_by')} = %s AND {field('creator_told')} = %s AND ("
        f"({field('state')} IN ({', '.join(['%s'] * ended_states)}) "
        f"AND {field('finished_at')} IS NOT NULL) "
        f"OR ({field('state')} = %s AND {field('pause_reason')} <> %s)))"
    )


def job_time_left_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return str(timedelta(seconds=round(seconds)))


def job_results(*, job: DeletionJob) -> Iterator[list[object]]:
    """One row a file, in the order asked: line, file id, name, preview state, final state,
    log row id, outcome, HTTP status, finished at."""
    files = job.files.select_related("deletion").order_by("line", "id")
    for job_file in files.iterator(chunk_size=1000):
        deletion = job_file.deletion
        if deletion is not None:
            final = deletion.get_state_display()
            outcome = deletion.outcome
        else:
            final = job_file.get_state_display()
            outcome = job_file.note
        yield [
            job_file.line,
            job_file.asset_id,
            job_file.file_name,
            job_file.get_preview_display(),
            final,
            job_file.deletion_id or "",
            outcome,
            deletion.http_status if deletion is not None and deletion.http_status else "",
            job_file.finished_at.isoformat() if job_file.finished_at else "",
        ]
