"""The deletion rules that keep the log true: what is checked before anything is recorded or
sent, one deletion of a file at a time, and how uncertain attempts end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.contrib.auth.models import User
from django.db import IntegrityError
from django.utils import timezone

from files import services
from files.models import DeletionState, DeletionTicket, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, confirm_page
from tests.fixtures.organizations import ORG_ID, make_organization

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def org() -> Organization:
    return make_organization()


@pytest.fixture
def user() -> User:
    return make_staff("deleter", "lookup_file", "delete_file")


def delete(
    org: Organization, user: User, *, ticket: str, confirmation: str = "report_q1.pdf"
) -> FileDeletion:
    return services.file_delete(
        organization=org,
        asset_id=ASSET_ID,
        user=user,
        reason="GDPR-42",
        confirmation=confirmation,
        ticket=ticket,
    )


def sent(http: responses.RequestsMock) -> list[str]:
    return [call.request.method for call in http.calls]


def row_of(org: Organization, user: User, state: DeletionState) -> FileDeletion:
    return FileDeletion.objects.create(
        organization=org,
        org_id=ORG_ID,
        asset_id=ASSET_ID,
        file_name="report_q1.pdf",
        user=user,
        username=user.username,
        reason="earlier",
        state=state,
    )


# --- an uncertain attempt never ends `failed` ---


@pytest.mark.parametrize("status", [401, 403, 422])
@pytest.mark.parametrize(
    "uncertain",
    [
        {"status": 503, "body": ""},
        {"body": requests.ReadTimeout("timed out")},
    ],
    ids=["5xx", "timeout"],
)
def test_uncertain_then_refused_is_unknown(
    http: responses.RequestsMock, org: Organization, user: User, status: int, uncertain: dict
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, **uncertain)
    http.get(ASSET_URL, json={"data": ASSET})  # the check: still there
    http.delete(FILE_URL, status=status, json={"message": "refused"})
    deletion = delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert (deletion.state, deletion.attempts, deletion.http_status) == (
        DeletionState.UNKNOWN,
        2,
        status,
    )
    assert "may still have been applied" in deletion.outcome
    assert deletion.finished_at is None


def test_uncertain_then_rate_limited_is_unknown(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=502, body="")
    http.get(ASSET_URL, json={"data": ASSET})
    for _ in range(4):  # the transport retries a 429 three times, then gives up
        http.delete(FILE_URL, status=429, json={"message": "Too Many Attempts."})
    deletion = delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert (deletion.state, deletion.http_status) == (DeletionState.UNKNOWN, 429)


def test_a_first_certain_refusal_is_failed(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=403, json={"message": "refused"})
    deletion = delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert (deletion.state, deletion.attempts) == (DeletionState.FAILED, 1)
    assert deletion.finished_at is not None


def test_a_rate_limited_first_attempt_is_failed_and_says_nothing_was_deleted(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    for _ in range(4):
        http.delete(
            FILE_URL,
            status=429,
            json={"message": "Too Many Attempts."},
            headers={"Retry-After": "0"},
        )
    deletion = delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert (deletion.state, deletion.http_status) == (DeletionState.FAILED, 429)
    assert "never applied" in deletion.outcome


# --- the confirmation is checked against what the page showed, before anything happens ---


def test_wrong_confirmation_is_refused_even_when_tallyfy_is_down(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    with pytest.raises(services.ConfirmationMismatch):
        delete(
            org, user, ticket=confirm_page(user=user, organization=org), confirmation="other.pdf"
        )
    assert sent(http) == []
    assert FileDeletion.objects.count() == 0


def test_a_failed_metadata_read_records_the_name_the_page_showed(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    for _ in range(4):
        http.get(ASSET_URL, status=503, body="")
    deletion = delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert (deletion.state, deletion.file_name, deletion.attempts) == (
        DeletionState.FAILED,
        "report_q1.pdf",
        0,
    )
    assert "DELETE" not in sent(http)


def test_a_wrong_confirmation_leaves_the_ticket_usable(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    ticket = confirm_page(user=user, organization=org)
    with pytest.raises(services.ConfirmationMismatch):
        delete(org, user, ticket=ticket, confirmation="typo.pdf")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    assert delete(org, user, ticket=ticket).state == DeletionState.DELETED


# --- the one-time ticket ---


def test_a_ticket_acts_once(http: responses.RequestsMock, org: Organization, user: User) -> None:
    ticket = confirm_page(user=user, organization=org)
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    first = delete(org, user, ticket=ticket)
    with pytest.raises(services.DeletionConflict) as refused:
        delete(org, user, ticket=ticket)
    assert refused.value.deletion == first
    assert "already submitted" in str(refused.value)
    assert "deleter deleted this file" in str(refused.value)
    assert sent(http) == ["GET", "DELETE"]
    assert FileDeletion.objects.count() == 1


def test_a_ticket_taken_by_a_request_still_reading_says_it_is_under_way(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    ticket = confirm_page(user=user, organization=org)
    DeletionTicket.objects.filter(key=ticket).update(used_at=timezone.now())
    with pytest.raises(services.DeletionConflict, match="under way") as refused:
        delete(org, user, ticket=ticket)
    assert refused.value.deletion is None
    assert sent(http) == []


def test_another_users_ticket_is_refused(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    other = make_staff("other", "lookup_file", "delete_file")
    with pytest.raises(services.ConfirmationExpired):
        delete(org, user, ticket=confirm_page(user=other, organization=org))
    assert sent(http) == []
    assert FileDeletion.objects.count() == 0


def test_a_ticket_for_another_file_is_refused(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    ticket = confirm_page(user=user, organization=org, asset={**ASSET, "id": "f" * 32})
    with pytest.raises(services.ConfirmationExpired):
        delete(org, user, ticket=ticket)
    assert sent(http) == []


def test_an_expired_ticket_is_refused(
    http: responses.RequestsMock, org: Organization, user: User, settings: object
) -> None:
    ticket = confirm_page(user=user, organization=org)
    DeletionTicket.objects.update(issued_at=timezone.now() - timedelta(hours=2))
    with pytest.raises(services.ConfirmationExpired):
        delete(org, user, ticket=ticket)
    assert sent(http) == []


def test_an_unknown_ticket_is_refused(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    with pytest.raises(services.ConfirmationExpired):
        delete(org, user, ticket="made-up")
    assert sent(http) == []


# --- one deletion of a file at a time ---


@pytest.mark.parametrize(
    ("state", "said"),
    [
        (DeletionState.PENDING, "still in progress"),
        (DeletionState.UNKNOWN, "not yet known"),
        (DeletionState.DELETED, "other deleted this file"),
        (DeletionState.ALREADY_GONE, "already gone"),
    ],
)
def test_a_file_in_flight_or_gone_is_not_deleted_again(
    http: responses.RequestsMock, org: Organization, user: User, state: DeletionState, said: str
) -> None:
    earlier = row_of(org, make_staff("other"), state)
    with pytest.raises(services.DeletionConflict, match=said) as refused:
        delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert refused.value.deletion == earlier
    assert sent(http) == []
    assert FileDeletion.objects.count() == 1


def test_a_file_whose_deletion_failed_can_be_deleted_again(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    row_of(org, user, DeletionState.FAILED)
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    assert delete(org, user, ticket=confirm_page(user=user, organization=org)).state == (
        DeletionState.DELETED
    )


def test_the_database_refuses_a_second_unsettled_row_for_a_file(
    org: Organization, user: User
) -> None:
    row_of(org, user, DeletionState.PENDING)
    with pytest.raises(IntegrityError):
        row_of(org, user, DeletionState.UNKNOWN)


def test_the_database_allows_settled_rows_beside_one_in_flight(
    org: Organization, user: User
) -> None:
    for state in (DeletionState.FAILED, DeletionState.FAILED, DeletionState.PENDING):
        row_of(org, user, state)
    assert FileDeletion.objects.count() == 3


def test_a_deletion_started_while_reading_the_metadata_wins_and_nothing_is_sent(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    """Another request writes its row between our check and our insert: the database says no."""
    other = make_staff("other")

    def metadata_while_another_starts(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        row_of(org, other, DeletionState.PENDING)  # committed at once: no transaction is open
        return 200, {}, json.dumps({"data": ASSET})

    http.add_callback("GET", ASSET_URL, callback=metadata_while_another_starts)
    with pytest.raises(services.DeletionConflict, match="other started deleting"):
        delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert sent(http) == ["GET"]
    assert list(FileDeletion.objects.values_list("username", flat=True)) == ["other"]


# --- what the metadata says is checked before the row is written ---


def test_an_answer_for_another_id_is_refused(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "id": "d" * 32}})
    with pytest.raises(services.NotDeletable, match="when asked for"):
        delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert sent(http) == ["GET"]
    assert FileDeletion.objects.count() == 0


def test_a_logo_is_refused(http: responses.RequestsMock, org: Organization, user: User) -> None:
    logo = {**ASSET, "subject": {"id": ORG_ID, "type": "Organization"}}
    http.get(ASSET_URL, json={"data": logo})
    with pytest.raises(services.NotDeletable, match="logo"):
        delete(org, user, ticket=confirm_page(user=user, organization=org, asset=logo))
    assert sent(http) == ["GET"]
    assert FileDeletion.objects.count() == 0


def test_a_file_renamed_since_the_page_was_shown_is_refused(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "renamed.pdf"}})
    with pytest.raises(services.NotDeletable, match=r"now named renamed\.pdf"):
        delete(org, user, ticket=confirm_page(user=user, organization=org))
    assert sent(http) == ["GET"]
    assert FileDeletion.objects.count() == 0


def test_a_name_with_hidden_characters_is_confirmed_as_it_was_shown(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    tricky = {**ASSET, "filename": "invoice\u202efdp.exe"}
    http.get(ASSET_URL, json={"data": tricky})
    http.delete(FILE_URL, body="")
    ticket = confirm_page(user=user, organization=org, asset=tricky)
    deletion = delete(org, user, ticket=ticket, confirmation="invoicefdp.exe")
    assert deletion.state == DeletionState.DELETED
