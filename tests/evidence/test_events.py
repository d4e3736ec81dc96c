"""The access and decision events: sealed into the deletion log's chain as they are written,
refused any change by the database, read-only in the admin, and the decisions behind a job
each recorded with who and when."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from evidence import services
from evidence.models import Event, EventAction, Seal
from jobs import services as job_services
from jobs.models import JobState
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.evidence import log_rewritten, settled, verify
from tests.fixtures.jobs import confirmed, previewed
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.django_db


def refused(sql: str, *params: object) -> str:
    with pytest.raises(IntegrityError) as raised, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(raised.value)


@pytest.fixture
def event(db: None) -> Event:
    user = make_staff("carol")
    return services.record_decision(
        action=EventAction.ERASURE_REQUEST_CHANGED,
        user=user,
        object_type="erasure_request",
        object_id=12,
        detail="approved",
    )


def test_events_share_the_deletion_logs_chain(organization: Organization, event: Event) -> None:
    deletion = settled(organization)
    assert list(Seal.objects.values_list("kind", "object_id")) == [
        ("event", event.pk),
        ("file_deletion", deletion.pk),
    ]
    assert (event.username, event.object_id, event.detail) == ("carol", "12", "approved")
    assert verify()[0] == 0


def test_an_event_edited_is_caught(event: Event) -> None:
    with log_rewritten():
        Event.objects.filter(pk=event.pk).update(username="mallory")
    status, out = verify()
    assert status == 1
    assert f"event {event.pk} (seal #1) was edited after it was sealed" in out


def test_the_database_refuses_changing_or_removing_an_event(event: Event) -> None:
    assert "UPDATE on evidence_event refused" in refused(
        "UPDATE evidence_event SET username = 'x' WHERE id = %s", event.pk
    )
    assert "DELETE on evidence_event refused" in refused(
        "DELETE FROM evidence_event WHERE id = %s", event.pk
    )
    # Deleting the account clears user_id, the one change allowed; the seal still holds.
    User.objects.filter(username="carol").delete()
    event.refresh_from_db()
    assert (event.user_id, event.username) == (None, "carol")
    assert verify()[0] == 0


def test_checkpoint_copies_cannot_be_changed(settings: SettingsWrapper) -> None:
    from io import StringIO

    from django.core.management import call_command

    from evidence.checkpoints import signer_new
    from evidence.models import CheckpointRecord

    settings.EVIDENCE_SIGNING_KEY = signer_new("panel-2026").text()
    out = StringIO()
    call_command("seal_deletion_log", stdout=out)
    copy = CheckpointRecord.objects.get()
    assert copy.note == out.getvalue()
    assert "refused" in refused("UPDATE evidence_checkpointrecord SET size = 9")
    assert "refused" in refused("DELETE FROM evidence_checkpointrecord")


def test_a_kind_of_event_is_checked(db: None) -> None:
    with pytest.raises(ValueError, match="not a kind of event"):
        services.record_decision(action="job_exploded", user=None, object_type="x", object_id=1)
    with pytest.raises(ValueError, match="recorded by record_access"):
        services.record_decision(
            action=EventAction.FILE_VIEWED, user=None, object_type="file", object_id="a"
        )
    assert not Event.objects.exists()


def decisions(job_pk: int) -> list[tuple[str, str]]:
    return list(
        Event.objects.filter(object_type="deletion_job", object_id=str(job_pk))
        .order_by("id")
        .values_list("action", "username")
    )


@pytest.mark.over_the_wire
@pytest.mark.django_db(transaction=True)
def test_a_jobs_decisions_are_recorded(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 0  # type: ignore[attr-defined]
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    assert job.state == JobState.AWAITING_APPROVAL
    job = job_services.job_approve(job=job, user=bob)
    job = job_services.job_pause(job=job, user=alice)
    job = job_services.job_resume(job=job, user=bob)
    job_services.job_cancel(job=job, user=alice)
    assert decisions(job.pk) == [
        ("job_confirmed", "alice"),
        ("job_approved", "bob"),
        ("job_paused", "alice"),
        ("job_resumed", "bob"),
        ("job_cancelled", "alice"),
    ]
    assert Event.objects.get(action="job_confirmed").detail == "GDPR-77"
    assert verify()[0] == 0


@pytest.mark.over_the_wire
@pytest.mark.django_db(transaction=True)
def test_a_rejection_is_recorded_with_its_reason(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 0  # type: ignore[attr-defined]
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    job_services.job_reject(job=job, user=bob, reason="Not this guest's files")
    assert decisions(job.pk) == [("job_confirmed", "alice"), ("job_rejected", "bob")]
    assert Event.objects.get(action="job_rejected").detail == "Not this guest's files"
    assert verify()[0] == 0


@pytest.mark.over_the_wire
@pytest.mark.django_db(transaction=True)
def test_a_refused_decision_records_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = previewed(sandbox_org, alice, [sandbox.add_file().asset_id])
    with pytest.raises(job_services.JobRefused):
        job_services.job_resume(job=job, user=alice)
    assert decisions(job.pk) == []


@pytest.mark.over_the_wire
@pytest.mark.django_db(transaction=True)
def test_the_job_pages_record_who_decided(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    response = signed_in(alice).post(reverse("admin:jobs_pause", args=[job.pk]))
    assert response.status_code == 302
    assert decisions(job.pk)[-1] == ("job_paused", "alice")


def test_the_event_record_is_read_only_and_searchable(event: Event) -> None:
    client = signed_in(User.objects.create_superuser("root", password="pw-for-tests-only"))
    listing = reverse("admin:evidence_event_changelist")
    assert client.get(reverse("admin:evidence_event_add")).status_code == 403
    assert client.get(reverse("admin:evidence_event_delete", args=[event.pk])).status_code == 403
    page = client.post(reverse("admin:evidence_event_change", args=[event.pk]), {"username": "x"})
    assert page.status_code == 403
    row = reverse("admin:evidence_event_change", args=[event.pk])
    assert row in client.get(listing, {"q": "carol"}).content.decode()
    assert row not in client.get(listing, {"q": "dave"}).content.decode()
    assert row in client.get(listing, {"action__exact": "erasure_request_changed"}).content.decode()
    assert row not in client.get(listing, {"action__exact": "file_viewed"}).content.decode()
