"""Writes to erasure requests. Every change of state goes through erasure.machine."""

from __future__ import annotations

import calendar
from datetime import date, datetime

from cryptography.fernet import InvalidToken
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from erasure import machine
from erasure.models import ErasureRequest, LegalBasis, RequestState, SubjectEmail
from erasure.subjects import (
    Subject,
    SubjectUnreadable,
    email_hash,
    encrypt_subject,
    mask,
    normalize_emails,
)
from organizations.models import Organization
from organizations.tokens import reencrypt_token

# Art. 12(3): one month, extendable "by two further months where necessary".
MAX_EXTENSION_MONTHS = 2


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or that month's last day when it has fewer (31 Jan → 28 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_at_for(*, received_at: datetime, extension_months: int = 0) -> datetime:
    return add_months(received_at, 1 + extension_months)


def creation_errors(
    *, received_at: datetime | None, verified_at: datetime | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    now = timezone.now()
    if received_at is not None and received_at > now:
        errors["received_at"] = "The request cannot have been received in the future."
    if verified_at is not None and verified_at > now:
        errors["verified_at"] = "The identity cannot have been verified in the future."
    return errors


def erasure_request_create(
    *,
    organization: Organization,
    emails: list[str],
    name: str = "",
    reference: str,
    legal_basis: str,
    received_at: datetime,
    verified_by: AbstractBaseUser,
    verification_method: str,
    verified_at: datetime,
    assignee: AbstractBaseUser | None = None,
    created_by: AbstractBaseUser,
) -> ErasureRequest:
    subject = Subject(emails=normalize_emails(emails), name=name.strip())
    errors: dict[str, str] = {}
    if not reference.strip():
        errors["reference"] = "Give the requester's reference (the ticket or letter)."
    if legal_basis not in LegalBasis.values:
        errors["legal_basis"] = "Choose the legal basis of the request."
    if not verification_method.strip():
        errors["verification_method"] = "Say how the subject's identity was verified."
    errors.update(creation_errors(received_at=received_at, verified_at=verified_at))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        request = ErasureRequest.objects.create(
            organization=organization,
            subject_ciphertext=encrypt_subject(subject),
            subject_masked=mask(subject),
            reference=reference.strip(),
            legal_basis=legal_basis,
            received_at=received_at,
            due_at=due_at_for(received_at=received_at),
            verified_by=verified_by,
            verification_method=verification_method.strip(),
            verified_at=verified_at,
            assignee=assignee,
            created_by=created_by,
        )
        SubjectEmail.objects.bulk_create(
            SubjectEmail(request=request, email_hash=email_hash(email)) for email in subject.emails
        )
        machine.record_received(request=request, by=created_by)
    return request


def extension_errors(*, months: int, reason: str, subject_told_on: date | None) -> dict[str, str]:
    """What is missing for an extension Art. 12(3) allows; empty when it may be granted."""
    errors: dict[str, str] = {}
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        errors["extension_months"] = (
            f"An extension is 1 or {MAX_EXTENSION_MONTHS} months past the first month."
        )
    if not reason.strip():
        errors["extension_reason"] = "Say why the request needs more time."
    if subject_told_on is None:
        errors["subject_told_of_extension_on"] = (
            "Give the date the subject was told of the extension and why (Art. 12(3))."
        )
    elif subject_told_on > timezone.localdate():
        errors["subject_told_of_extension_on"] = "The subject cannot have been told in the future."
    return errors


def erasure_request_extend(
    *,
    request: ErasureRequest,
    months: int,
    reason: str,
    subject_told_on: date | None,
    by: AbstractBaseUser,
) -> ErasureRequest:
    errors = extension_errors(months=months, reason=reason, subject_told_on=subject_told_on)
    if errors:
        raise ValidationError(errors)
    if months <= request.extension_months:
        raise ValidationError(
            {"extension_months": f"The request is already extended by {request.extension_months}."}
        )
    if not machine.extend(
        request=request,
        months=months,
        due_at=due_at_for(received_at=request.received_at, extension_months=months),
        reason=reason.strip(),
        subject_told_on=subject_told_on,
        by=by,
    ):
        raise ValidationError("The request has ended or was extended meanwhile: reload it.")
    request.refresh_from_db()
    return request


def erasure_request_assign(
    *, request: ErasureRequest, assignee: AbstractBaseUser | None, by: AbstractBaseUser
) -> None:
    request.assignee = assignee
    request.save(update_fields=["assignee"])
    machine.note(
        request=request,
        by=by,
        note=f"Assigned to {assignee or 'nobody'}.",
        sealed="assignee changed",
    )


def _end(*, request: ErasureRequest, to: RequestState, reason: str, by: AbstractBaseUser) -> None:
    try:
        moved = machine.move(request=request, expected=request.state, to=to, by=by, note=reason)
    except machine.TransitionNotAllowed as exc:
        raise ValidationError(str(exc)) from exc
    if not moved:
        raise ValidationError("The request changed meanwhile: reload it and try again.")


def erasure_request_reject(*, request: ErasureRequest, reason: str, by: AbstractBaseUser) -> None:
    _end(request=request, to=RequestState.REJECTED, reason=reason, by=by)


def erasure_request_cancel(*, request: ErasureRequest, reason: str, by: AbstractBaseUser) -> None:
    _end(request=request, to=RequestState.CANCELLED, reason=reason, by=by)


def erasure_subjects_reencrypt() -> int:
    """Re-encrypt every subject with the first key of TALLYFY_TOKEN_KEYS, all or nothing (the
    counterpart of `rotate_token_keys` for organizations' tokens)."""
    with transaction.atomic():
        requests = list(ErasureRequest.objects.select_for_update().only("subject_ciphertext"))
        for request in requests:
            try:
                ciphertext = reencrypt_token(request.subject_ciphertext)
            except InvalidToken as exc:
                raise SubjectUnreadable(
                    f"The subject of erasure request {request.pk} cannot be decrypted with any "
                    "key in TALLYFY_TOKEN_KEYS; nothing was re-encrypted."
                ) from exc
            ErasureRequest.objects.filter(pk=request.pk).update(subject_ciphertext=ciphertext)
    return len(requests)
