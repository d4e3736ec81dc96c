"""Review of a discovery's findings: each file kept for deletion or left out with a reason."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now

from erasure import machine
from erasure.models import Decision, Discovery, Finding, LeaveOutReason, RequestState


def finding_decide(
    *, finding: Finding, decision: str, reason: str = "", by: AbstractBaseUser
) -> None:
    """Keep the file for deletion, or leave it out with a reason. Only the request's latest
    discovery is reviewed, and only while the request is in review."""
    if decision not in (Decision.KEEP, Decision.LEAVE_OUT):
        raise ValidationError("Choose whether the file is deleted or left out.")
    if decision == Decision.KEEP and finding.is_link:
        raise ValidationError("A link is never deleted: there is no file behind it in Tallyfy.")
    if decision == Decision.LEAVE_OUT and reason not in LeaveOutReason.values:
        raise ValidationError("Choose why the file is left out.")
    request = finding.discovery.request
    latest = Discovery.objects.filter(request=request).order_by("-at", "-id").first()
    if latest is None or latest.pk != finding.discovery_id:
        raise ValidationError("The index was searched again since: review the new findings.")
    with transaction.atomic():
        # A file several rules found is one file: one decision for all its findings.
        same_file = (
            Q(indexed_file=finding.indexed_file_id)
            if finding.indexed_file_id is not None
            else Q(pk=finding.pk)
        )
        updated = Finding.objects.filter(
            same_file,
            discovery=finding.discovery_id,
            discovery__request__state=RequestState.REVIEW,
        ).update(
            decision=decision,
            leave_out_reason=reason if decision == Decision.LEAVE_OUT else "",
            decided_by=by,
            decided_at=Now(),
        )
        if not updated:
            raise ValidationError("The request is no longer in review: nothing was changed.")
        label = (
            "to delete"
            if decision == Decision.KEEP
            else f"left out ({LeaveOutReason(reason).label})"
        )
        machine.note(
            request=request,
            by=by,
            note=f"File {finding.asset_id}: {label}.",
            sealed=f"file {finding.asset_id}: {label}",
        )
