"""Sending a reviewed request for approval, and a second person's approval, which starts the
deletion job of the files kept (jobs: the same approval rule and permission as a job's)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now

from erasure import machine
from erasure.models import Decision, ErasureJob, ErasureRequest, RequestState
from erasure.selectors import kept_asset_ids, latest_discovery, may_approve, may_send
from jobs.lines import ParsedFiles
from jobs.models import DeletionJob
from jobs.services import DecidedInAdvance, JobRefused, job_create


def sending_problems(request: ErasureRequest) -> list[str]:
    """What keeps a request in review from being sent for approval; empty when nothing does."""
    if request.state != RequestState.REVIEW:
        return [f"The request is {request.get_state_display()}, not in review."]
    discovery = latest_discovery(request_id=request.pk)
    if discovery is None:
        return ["Search the index for the subject's files first."]
    undecided = discovery.findings.filter(decision=Decision.UNDECIDED).count()
    if undecided:
        return [f"{undecided} file(s) are not decided yet: delete each or leave it out."]
    return []


def erasure_request_send(*, request: ErasureRequest, by: AbstractBaseUser) -> None:
    """review → awaiting approval, once every file found is decided."""
    if not may_send(by):
        raise ValidationError("Only a user who may delete files and handle requests sends one.")
    problems = sending_problems(request)
    if problems:
        raise ValidationError(problems)
    kept = len(kept_asset_ids(request))
    if not machine.move(
        request=request,
        expected=RequestState.REVIEW,
        to=RequestState.AWAITING_APPROVAL,
        by=by,
        note=f"{kept} file(s) to delete.",
        sent_by=by,
    ):
        raise ValidationError("The request changed meanwhile: reload it and try again.")


def erasure_request_send_back(
    *, request: ErasureRequest, by: AbstractBaseUser, reason: str
) -> None:
    """awaiting approval → review, with what the approver wants looked at again."""
    if not may_approve(by):
        raise ValidationError("Only an approver sends a request back to review.")
    if not reason.strip():
        raise ValidationError("Say what should be reviewed again.")
    if not machine.move(
        request=request,
        expected=RequestState.AWAITING_APPROVAL,
        to=RequestState.REVIEW,
        by=by,
        note=f"Sent back: {reason.strip()}",
        sent_by=None,
    ):
        raise ValidationError("The request is no longer awaiting approval: reload it.")


def erasure_request_approve(*, request: ErasureRequest, by: AbstractBaseUser) -> DeletionJob | None:
    """awaiting approval → erasing, by a second person, with the deletion job of the kept files
    in the same transaction (its preview runs, then it is scheduled without another
    confirmation). No file kept: the request completes at once, nothing to delete."""
    if not may_approve(by):
        raise ValidationError("Only a user who may approve deletion jobs approves a request.")
    if request.state != RequestState.AWAITING_APPROVAL:
        raise ValidationError(f"The request is {request.get_state_display()}: nothing to approve.")
    if request.sent_by_id is None or request.sent_by_id == by.pk:
        raise ValidationError(
            "Nobody approves a request they sent for approval: ask another staff user."
        )
    asset_ids = kept_asset_ids(request)
    with transaction.atomic():
        if not machine.move(
            request=request,
            expected=RequestState.AWAITING_APPROVAL,
            to=RequestState.ERASING,
            by=by,
            note=f"Approved: {len(asset_ids)} file(s) to delete.",
            approved_by=by,
            approved_at=Now(),
        ):
            raise ValidationError("The request changed meanwhile: reload it and try again.")
        if not asset_ids:
            machine.move(
                request=request,
                expected=RequestState.ERASING,
                to=RequestState.COMPLETED,
                by=by,
                note="No file to delete: every file found was left out.",
            )
            return None
        return erasure_job_start(
            request=request, asset_ids=asset_ids, creator=request.sent_by, started_by=by
        )


def erasure_job_start(
    *,
    request: ErasureRequest,
    asset_ids: list[str],
    creator: AbstractBaseUser,
    started_by: AbstractBaseUser,
) -> DeletionJob:
    """A deletion job of `asset_ids` decided by the request's approval (jobs.DecidedInAdvance),
    linked to the request. Call it in the transaction that records why."""
    wanted = ParsedFiles()
    for line, asset_id in enumerate(asset_ids, 1):
        wanted.add(line, asset_id)
    try:
        job = job_create(
            organization=request.organization,
            user=creator,
            wanted=wanted,
            built_from=f"Erasure request {request.reference} (request {request.pk})",
            decided=DecidedInAdvance(
                reason=f"Erasure request {request.reference}: {request.get_legal_basis_display()}",
                approver=request.approved_by,
            ),
        )
    except JobRefused as exc:
        raise ValidationError(str(exc)) from exc
    ErasureJob.objects.create(request=request, job=job, started_by=started_by)
    machine.note(
        request=request,
        by=started_by,
        note=f"{job} started: {len(asset_ids)} file(s).",
        sealed=f"deletion job {job.pk} started",
    )
    return job
