"""A request while its files are erased: it completes by itself once every kept file is
certainly gone; a failed or uncertain file keeps it open, to be tried again (*Retry failed
files*) or, when the rest is certain, closed with exceptions by a person with a reason."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from erasure import machine
from erasure.approval import erasure_job_start
from erasure.models import ErasureRequest, RequestState
from erasure.outcomes import RETRYABLE, FileOutcome, file_outcomes, tally
from erasure.selectors import may_send
from jobs.models import DeletionJob


def jobs_running(request: ErasureRequest) -> bool:
    return DeletionJob.objects.filter(
        pk__in=request.jobs.values("job"), finished_at__isnull=True
    ).exists()


def erasure_request_follow(request: ErasureRequest) -> bool:
    """Complete an erasing request whose jobs have all ended with every kept file gone (or
    with only files Tallyfy refuses to delete: completed with exceptions). True when it ended."""
    if request.state != RequestState.ERASING or jobs_running(request):
        return False
    counts = tally(file_outcomes(request))
    if not counts.settled or counts.retryable:
        return False
    if counts.exceptions:
        to = RequestState.COMPLETED_WITH_EXCEPTIONS
        note = f"{counts.gone} file(s) gone; {counts.exceptions} Tallyfy refuses to delete."
    else:
        to, note = RequestState.COMPLETED, f"All {counts.gone} file(s) gone."
    return machine.move(request=request, expected=RequestState.ERASING, to=to, by=None, note=note)


def erasure_requests_follow() -> list[int]:
    """The sweep (settings.BACKGROUND_SWEEPS): every erasing request whose jobs ended."""
    ended = []
    for request in ErasureRequest.objects.filter(state=RequestState.ERASING).order_by("pk"):
        if erasure_request_follow(request):
            ended.append(request.pk)
    return ended


def retry_problems(
    request: ErasureRequest, *, outcomes: list[FileOutcome], running: bool
) -> list[str]:
    """Why the request's failed files cannot be tried again now, given its files' `outcomes`
    and whether a job of it is `running` (read once by the caller); empty when they can."""
    if request.state != RequestState.ERASING:
        return [f"The request is {request.get_state_display()}: nothing to try again."]
    if running:
        return ["A deletion job of the request is still running: wait until it ends."]
    if not any(o.outcome in RETRYABLE for o in outcomes):
        return ["No file of the request failed: there is nothing to try again."]
    return []


def erasure_request_retry_failed(*, request: ErasureRequest, by: AbstractBaseUser) -> DeletionJob:
    """A new job of the files that failed, are uncertain or were not attempted, under the
    request's approval (the same files it approved). Its creator is `by`, so the approver
    cannot start it."""
    if not may_send(by):
        raise ValidationError("Only a user who may delete files and handle requests retries.")
    outcomes = file_outcomes(request)
    problems = retry_problems(request, outcomes=outcomes, running=jobs_running(request))
    if problems:
        raise ValidationError(problems)
    if request.approved_by_id == by.pk:
        raise ValidationError(
            "The request's approver cannot start its deletion: ask the user who sent it."
        )
    asset_ids = [o.asset_id for o in outcomes if o.outcome in RETRYABLE]
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().filter(
            pk=request.pk, state=RequestState.ERASING
        )
        if not locked.exists() or jobs_running(request):
            raise ValidationError("The request changed meanwhile: reload it.")
        return erasure_job_start(request=request, asset_ids=asset_ids, creator=by, started_by=by)


def erasure_request_close_with_exceptions(
    *, request: ErasureRequest, by: AbstractBaseUser, reason: str
) -> None:
    """Close an erasing request whose jobs have ended with files not gone, saying why (for
    example: Tallyfy keeps refusing them, a ticket is open with Tallyfy's support). The
    receipt lists every such file with its outcome."""
    if not may_send(by):
        raise ValidationError("Only a user who may delete files and handle requests closes one.")
    if not reason.strip():
        raise ValidationError("Say why the request closes with files not deleted.")
    if request.state != RequestState.ERASING:
        raise ValidationError(f"The request is {request.get_state_display()}: it is not erasing.")
    if jobs_running(request):
        raise ValidationError("A deletion job of the request is still running: wait until it ends.")
    counts = tally(file_outcomes(request))
    note = (
        f"Closed with {counts.exceptions + counts.retryable} file(s) not deleted: {reason.strip()}"
    )
    if not machine.move(
        request=request,
        expected=RequestState.ERASING,
        to=RequestState.COMPLETED_WITH_EXCEPTIONS,
        by=by,
        note=note,
    ):
        raise ValidationError("The request changed meanwhile: reload it.")
