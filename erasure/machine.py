"""The states of an erasure request, and every change between them.

received → discovering → review → awaiting approval → erasing → completed | completed with
exceptions; review ← awaiting approval (sent back); any state before erasing → rejected (with a
reason) or cancelled. A request ends erasing by itself once its jobs end with every kept file
gone (erasure.following); a person may close it with exceptions, with a reason.

Each change is one conditional UPDATE naming the state it expects, and a history row with who
made it, in one transaction: zero rows updated means someone else moved first, and the caller
is told (False) without overwriting anything.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Now

from erasure.models import ErasureRequest, RequestEvent, RequestState
from evidence.models import EventAction
from evidence.services import record_decision

S = RequestState
ENDED_STATES = (S.COMPLETED, S.COMPLETED_WITH_EXCEPTIONS, S.REJECTED, S.CANCELLED)
OPEN_STATES = tuple(state for state in S if state not in ENDED_STATES)
_BEFORE_ERASING = (S.RECEIVED, S.DISCOVERING, S.REVIEW, S.AWAITING_APPROVAL)

TRANSITIONS: dict[RequestState, tuple[RequestState, ...]] = {
    S.RECEIVED: (S.DISCOVERING, S.REJECTED, S.CANCELLED),
    S.DISCOVERING: (S.REVIEW, S.REJECTED, S.CANCELLED),
    S.REVIEW: (S.DISCOVERING, S.AWAITING_APPROVAL, S.REJECTED, S.CANCELLED),
    S.AWAITING_APPROVAL: (S.REVIEW, S.ERASING, S.REJECTED, S.CANCELLED),
    S.ERASING: (S.COMPLETED, S.COMPLETED_WITH_EXCEPTIONS),
}
REASON_REQUIRED = (S.REJECTED, S.CANCELLED)
# Who moves a request into these states is recorded as the reason's author, or as the panel.
NOTE_IS_REASON = (S.REJECTED, S.CANCELLED, S.COMPLETED_WITH_EXCEPTIONS)


class TransitionNotAllowed(ValueError):
    pass


def move(
    *,
    request: ErasureRequest,
    expected: RequestState,
    to: RequestState,
    by: AbstractBaseUser | None,
    note: str = "",
    **changes: object,
) -> bool:
    """Move the request from `expected` to `to`, with `changes` to its other fields; False
    when it was no longer in `expected`. `by` None: the panel itself moved it."""
    if to not in TRANSITIONS.get(expected, ()):
        raise TransitionNotAllowed(f"An erasure request cannot go from {expected} to {to}.")
    note = note.strip()
    if to in REASON_REQUIRED and not note:
        raise TransitionNotAllowed(f"Say why the request is {S(to).label}.")
    fields: dict[str, object] = {"state": to, **changes}
    if to in NOTE_IS_REASON:
        fields["state_reason"] = note
    if to in ENDED_STATES:
        fields["ended_at"] = Now()
    with transaction.atomic():
        moved = ErasureRequest.objects.filter(pk=request.pk, state=expected).update(**fields)
        if not moved:
            return False
        _history(request, from_state=expected, to_state=to, by=by, note=note)
    request.refresh_from_db()
    return True


def record_received(*, request: ErasureRequest, by: AbstractBaseUser) -> None:
    """In the transaction that creates the request."""
    _history(request, from_state="", to_state=S.RECEIVED, by=by)


def extend(
    *,
    request: ErasureRequest,
    months: int,
    due_at: object,
    reason: str,
    subject_told_on: object,
    by: AbstractBaseUser,
) -> bool:
    """Set the extended due date while the request is open and not yet extended that far."""
    with transaction.atomic():
        moved = (
            ErasureRequest.objects.filter(pk=request.pk, state__in=OPEN_STATES)
            .filter(extension_months__lt=months)
            .update(
                extension_months=months,
                due_at=due_at,
                extension_reason=reason,
                subject_told_of_extension_on=subject_told_on,
            )
        )
        if not moved:
            return False
        _history(
            request,
            from_state=request.state,
            to_state=request.state,
            by=by,
            note=f"Due date extended by {months} month(s): {reason}",
            sealed=f"due date extended by {months} month(s)",
        )
    return True


def note(*, request: ErasureRequest, by: AbstractBaseUser | None, note: str, sealed: str) -> None:
    """A change that is not a change of state (an assignee), kept in the same history."""
    with transaction.atomic():
        _history(
            request,
            from_state=request.state,
            to_state=request.state,
            by=by,
            note=note,
            sealed=sealed,
        )


def _history(
    request: ErasureRequest,
    *,
    from_state: str,
    to_state: str,
    by: AbstractBaseUser | None,
    note: str = "",
    sealed: str = "",
) -> None:
    """A row of the request's history, and the same decision sealed in the evidence record
    (evidence.services.record_decision), in the caller's transaction. The sealed detail names
    states only: notes may quote the subject, and the evidence record is read more widely."""
    RequestEvent.objects.create(
        request=request, from_state=from_state, to_state=to_state, by=by, note=note
    )
    states = f"{from_state or 'new'} → {to_state}"
    record_decision(
        action=EventAction.ERASURE_REQUEST_CHANGED,
        user=by,
        object_type="erasure_request",
        object_id=request.pk,
        detail=f"{states}: {sealed}" if sealed else states,
    )
