"""Reads of erasure requests."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from erasure.machine import OPEN_STATES
from erasure.models import Decision, Discovery, ErasureRequest, Finding, RequestState
from erasure.subjects import Subject, decrypt_subject, email_hash
from organizations.selectors import within_reach

HANDLE_PERMISSION = "erasure.handle_erasurerequest"
APPROVE_PERMISSION = "jobs.approve_deletionjob"
SEND_PERMISSIONS = ("files.lookup_file", "files.delete_file")


def may_handle(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(HANDLE_PERMISSION))


def may_send(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Who sends a request for approval becomes its deletion job's creator: the permissions
    to start a job (jobs.work.START_PERMISSIONS) and to handle requests."""
    return may_handle(user) and user.has_perms(SEND_PERMISSIONS)


def may_approve(user: AbstractBaseUser | AnonymousUser) -> bool:
    return may_handle(user) and user.has_perm(APPROVE_PERMISSION)


def requests_by_urgency() -> QuerySet[ErasureRequest]:
    """Open requests first, soonest due (so overdue) first; ended ones after, newest due first."""
    return ErasureRequest.objects.annotate(
        ended=Case(
            When(state__in=OPEN_STATES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("ended", "due_at", "id")


def requests_for_email(email: str) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(emails__email_hash=email_hash(email)).distinct()


def days_left(request: ErasureRequest) -> int:
    """Whole days until the due date; negative once overdue."""
    return (timezone.localdate(request.due_at) - timezone.localdate()).days


def subject_of(request: ErasureRequest, *, user: AbstractBaseUser | AnonymousUser) -> Subject:
    if not may_handle(user):
        raise PermissionDenied("Only users who handle erasure requests see the subject in full.")
    return subject_unchecked(request)


def subject_unchecked(request: ErasureRequest) -> Subject:
    """For callers that checked `may_handle` themselves (the admin's fieldsets)."""
    return decrypt_subject(request.subject_ciphertext, owner=f"erasure request {request.pk}")


def latest_discovery(*, request_id: int) -> Discovery | None:
    return (
        Discovery.objects.filter(request_id=request_id)
        .prefetch_related("searches", "findings")
        .order_by("-at", "-id")
        .first()
    )


def requests_due_soon(*, user: AbstractBaseUser) -> QuerySet[ErasureRequest]:
    """The open requests assigned to `user` that are due within 7 days, or overdue, soonest
    first (the admin index shows them to their assignee)."""
    soon = timezone.now() + timedelta(days=7)
    return within_reach(
        ErasureRequest.objects.filter(assignee=user, state__in=OPEN_STATES, due_at__lte=soon),
        user,
    ).order_by("due_at", "id")


def kept_findings(request: ErasureRequest) -> QuerySet[Finding]:
    """The findings of the request's latest discovery kept for deletion."""
    latest = Discovery.objects.filter(request=request).order_by("-at", "-id").values("pk")[:1]
    return Finding.objects.filter(discovery__in=latest, decision=Decision.KEEP, is_link=False)


def kept_asset_ids(request: ErasureRequest) -> list[str]:
    """The ids of the files to delete, each once, in the order they were found."""
    ids = (
        kept_findings(request)
        .exclude(asset_id="")
        .order_by("pk")
        .values_list("asset_id", flat=True)
    )
    return list(dict.fromkeys(ids))


def requests_awaiting_approval(*, user: AbstractBaseUser) -> QuerySet[ErasureRequest]:
    """The requests another user sent for approval that `user` may approve, oldest due first
    (the admin index lists them to approvers)."""
    if not may_approve(user):
        return ErasureRequest.objects.none()
    waiting = ErasureRequest.objects.filter(state=RequestState.AWAITING_APPROVAL).exclude(
        sent_by=user
    )
    return within_reach(waiting, user).select_related("sent_by").order_by("due_at", "id")
