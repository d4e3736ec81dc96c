from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from erasure import machine, selectors, services
from erasure.models import ErasureRequest, RequestEvent, RequestState, SubjectEmail
from organizations.models import Organization
from tests.erasure.conftest import SUBJECT_EMAIL, make_request


def test_subject_is_stored_encrypted_masked_and_hashed(
    organization: Organization, handler: User
) -> None:
    request = make_request(
        organization=organization, by=handler, emails=[" Jane.Guest@Example.com", "jg@example.org"]
    )
    row = ErasureRequest.objects.get(pk=request.pk)
    assert "jane" not in row.subject_ciphertext.lower()
    assert row.subject_masked == "j***@example.com, j***@example.org"
    hashes = set(SubjectEmail.objects.filter(request=row).values_list("email_hash", flat=True))
    assert len(hashes) == 2
    assert SUBJECT_EMAIL not in str(hashes)
    assert list(selectors.requests_for_email("JANE.guest@example.com")) == [row]
    assert list(selectors.requests_for_email("someone@example.com")) == []
    subject = selectors.subject_of(row, user=handler)
    assert subject.emails == (SUBJECT_EMAIL, "jg@example.org")
    assert subject.name == "Jane Guest"


def test_subject_in_full_needs_the_permission(
    organization: Organization, handler: User, onlooker: User
) -> None:
    request = make_request(organization=organization, by=handler)
    with pytest.raises(PermissionDenied):
        selectors.subject_of(request, user=onlooker)


def test_bad_email_is_refused_and_nothing_is_written(
    organization: Organization, handler: User
) -> None:
    with pytest.raises(ValidationError, match="not an email address"):
        make_request(organization=organization, by=handler, emails=["jane at example"])
    assert not ErasureRequest.objects.exists()


def test_due_one_month_after_received_and_history_starts(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    assert request.due_at == services.add_months(request.received_at, 1)
    event = RequestEvent.objects.get(request=request)
    assert (event.from_state, event.to_state, event.by) == ("", RequestState.RECEIVED, handler)


def test_add_months_keeps_to_the_end_of_short_months() -> None:
    assert services.add_months(datetime(2027, 1, 31, 9, tzinfo=UTC), 1) == datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )
    assert services.add_months(datetime(2026, 11, 30, tzinfo=UTC), 3).date() == date(2027, 2, 28)


def test_extension_without_the_date_the_subject_was_told_is_refused(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    due = request.due_at
    with pytest.raises(ValidationError) as refused:
        services.erasure_request_extend(
            request=request, months=2, reason="Many systems.", subject_told_on=None, by=handler
        )
    assert "subject_told_of_extension_on" in refused.value.message_dict
    request.refresh_from_db()
    assert (request.due_at, request.extension_months) == (due, 0)


@pytest.mark.parametrize("months", [0, 3])
def test_extension_is_one_or_two_months(
    organization: Organization, handler: User, months: int
) -> None:
    request = make_request(organization=organization, by=handler)
    with pytest.raises(ValidationError, match="1 or 2 months"):
        services.erasure_request_extend(
            request=request,
            months=months,
            reason="Many systems.",
            subject_told_on=timezone.localdate(),
            by=handler,
        )


def test_extension_moves_the_due_date_and_is_recorded(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    services.erasure_request_extend(
        request=request,
        months=2,
        reason="Files in many runs.",
        subject_told_on=timezone.localdate(),
        by=handler,
    )
    assert request.due_at == services.add_months(request.received_at, 3)
    assert request.extension_months == 2
    assert "extended by 2" in RequestEvent.objects.filter(request=request).last().note


def test_a_stale_transition_changes_nothing(organization: Organization, handler: User) -> None:
    request = make_request(organization=organization, by=handler)
    assert machine.move(
        request=request, expected=RequestState.RECEIVED, to=RequestState.DISCOVERING, by=handler
    )
    stale = ErasureRequest.objects.get(pk=request.pk)
    stale.state = RequestState.RECEIVED
    # Someone else already moved it on: the second move must not overwrite.
    assert not machine.move(
        request=stale,
        expected=RequestState.RECEIVED,
        to=RequestState.CANCELLED,
        by=handler,
        note="Duplicate.",
    )
    request.refresh_from_db()
    assert request.state == RequestState.DISCOVERING
    assert RequestEvent.objects.filter(request=request).count() == 2


def test_transitions_outside_the_machine_are_refused(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    with pytest.raises(machine.TransitionNotAllowed):
        machine.move(
            request=request, expected=RequestState.RECEIVED, to=RequestState.COMPLETED, by=handler
        )
    with pytest.raises(ValidationError, match="Say why"):
        services.erasure_request_reject(request=request, reason="  ", by=handler)
    request.refresh_from_db()
    assert request.state == RequestState.RECEIVED


def test_reject_records_the_reason(organization: Organization, handler: User) -> None:
    request = make_request(organization=organization, by=handler)
    services.erasure_request_reject(request=request, reason="Identity not proven.", by=handler)
    request.refresh_from_db()
    assert (request.state, request.state_reason) == (RequestState.REJECTED, "Identity not proven.")
    with pytest.raises(ValidationError):
        services.erasure_request_extend(
            request=request, months=1, reason="x", subject_told_on=timezone.localdate(), by=handler
        )


def test_overdue_first_and_ended_last(organization: Organization, handler: User) -> None:
    soon = make_request(
        organization=organization, by=handler, reference="SOON", received_days_ago=20
    )
    overdue = make_request(
        organization=organization, by=handler, reference="LATE", received_days_ago=40
    )
    ended = make_request(
        organization=organization, by=handler, reference="ENDED", received_days_ago=60
    )
    services.erasure_request_cancel(request=ended, reason="Withdrawn.", by=handler)
    assert [r.reference for r in selectors.requests_by_urgency()] == ["LATE", "SOON", "ENDED"]
    assert selectors.days_left(overdue) < 0 < selectors.days_left(soon)
    assert overdue.due_at < timezone.now() - timedelta(days=1)


def test_subjects_are_reencrypted_with_the_first_key(
    organization: Organization, handler: User, settings: object
) -> None:
    from cryptography.fernet import Fernet

    from organizations.conf import conf

    request = make_request(organization=organization, by=handler)
    old_keys = list(conf.TALLYFY_TOKEN_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.TALLYFY_TOKEN_KEYS = [new_key, *old_keys]
    assert services.erasure_subjects_reencrypt() == 1
    settings.TALLYFY_TOKEN_KEYS = [new_key]
    request.refresh_from_db()
    assert selectors.subject_of(request, user=handler).emails == (SUBJECT_EMAIL,)


def test_the_command_reencrypts_subjects_and_refuses_an_unreadable_one(
    organization: Organization, handler: User, settings: object
) -> None:
    from cryptography.fernet import Fernet
    from django.core.management import CommandError, call_command

    from organizations.conf import conf

    request = make_request(organization=organization, by=handler)
    new_key = Fernet.generate_key().decode()
    settings.TALLYFY_TOKEN_KEYS = [new_key, *conf.TALLYFY_TOKEN_KEYS]
    call_command("reencrypt_erasure_subjects")
    settings.TALLYFY_TOKEN_KEYS = [new_key]
    request.refresh_from_db()
    assert selectors.subject_of(request, user=handler).emails == (SUBJECT_EMAIL,)
    settings.TALLYFY_TOKEN_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("reencrypt_erasure_subjects")


def test_every_change_of_a_request_is_sealed_in_the_evidence_record_without_its_notes(
    organization: Organization, handler: User
) -> None:
    from evidence.models import Event
    from tests.fixtures.evidence import verify

    request = make_request(organization=organization, by=handler)
    machine.move(
        request=request, expected=RequestState.RECEIVED, to=RequestState.DISCOVERING, by=handler
    )
    services.erasure_request_cancel(
        request=request, reason=f"Asked by {SUBJECT_EMAIL}.", by=handler
    )
    events = list(
        Event.objects.filter(object_type="erasure_request", object_id=str(request.pk))
        .order_by("id")
        .values_list("action", "username", "detail")
    )
    assert events == [
        ("erasure_request_changed", "handler", "new → received"),
        ("erasure_request_changed", "handler", "received → discovering"),
        ("erasure_request_changed", "handler", "discovering → cancelled"),
    ]
    assert not Event.objects.filter(detail__contains=SUBJECT_EMAIL).exists()
    assert verify()[0] == 0
