from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import responses
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from files import services
from files.models import DeletionState, FileDeletion
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
    org: Organization, user: User, confirmation: str = "report_q1.pdf", ticket: str | None = None
) -> FileDeletion:
    return services.file_delete(
        organization=org,
        asset_id=ASSET_ID,
        user=user,
        reason="GDPR-42",
        confirmation=confirmation,
        ticket=ticket or confirm_page(user=user, organization=org),
    )


def committed_rows() -> list[tuple[str, str]]:
    """What another connection sees: only committed rows."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT asset_id, state FROM files_filedeletion")
            return list(cursor.fetchall())
    finally:
        other.close()


def test_pending_row_is_committed_before_the_delete_is_sent(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    seen_at_delete: list[list[tuple[str, str]]] = []

    def on_delete(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        seen_at_delete.append(committed_rows())
        return 200, {}, ""

    http.get(ASSET_URL, json={"data": ASSET})
    http.add_callback("DELETE", FILE_URL, callback=on_delete)
    deletion = delete(org, user)
    assert seen_at_delete == [[(ASSET_ID, "pending")]]
    assert deletion.state == DeletionState.DELETED


def test_successful_deletion_snapshots_metadata_and_who(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="", headers={"X-Request-Id": "rq-9"})
    deletion = delete(org, user)
    assert deletion.state == DeletionState.DELETED
    assert (deletion.file_name, deletion.subject_type, deletion.subject_id) == (
        "report_q1.pdf",
        "Run",
        "run-1",
    )
    assert deletion.metadata == ASSET
    assert (deletion.username, deletion.reason, deletion.org_id) == ("deleter", "GDPR-42", ORG_ID)
    assert (deletion.http_status, deletion.request_id, deletion.attempts) == (200, "rq-9", 1)
    assert deletion.finished_at is not None
    assert deletion.finished_at >= deletion.started_at


def test_retyped_id_is_accepted_as_confirmation(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    assert delete(org, user, confirmation=ASSET_ID).state == DeletionState.DELETED


def test_wrong_confirmation_sends_nothing_and_records_nothing(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    with pytest.raises(services.ConfirmationMismatch):
        delete(org, user, confirmation="report_q2.pdf")
    assert FileDeletion.objects.count() == 0
    assert len(http.calls) == 0


def test_404_on_first_delete_is_already_gone(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=404, json={"error": True, "message": "Resource not found"})
    deletion = delete(org, user)
    assert deletion.state == DeletionState.ALREADY_GONE
    assert deletion.http_status == 404


@pytest.mark.parametrize("status", [401, 403, 422])
def test_refusals_fail_with_tallyfys_message(
    http: responses.RequestsMock, org: Organization, user: User, status: int
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(
        FILE_URL,
        status=status,
        json={"message": f"refused {status}"},
        headers={"X-Request-Id": "r"},
    )
    deletion = delete(org, user)
    assert (deletion.state, deletion.http_status, deletion.error_message) == (
        DeletionState.FAILED,
        status,
        f"refused {status}",
    )
    assert deletion.request_id == "r"
    assert deletion.finished_at is not None


def test_429_then_200_is_deleted(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(
        FILE_URL, status=429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "0"}
    )
    http.delete(FILE_URL, body="")
    deletion = delete(org, user)
    assert (deletion.state, deletion.http_status) == (DeletionState.DELETED, 200)


def test_timeout_then_verify_404_is_deleted_not_already_gone(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body=requests.ReadTimeout("timed out"))
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    deletion = delete(org, user)
    assert deletion.state == DeletionState.DELETED
    assert "404" in deletion.outcome
    assert deletion.attempts == 1


def test_5xx_then_verify_200_retries_the_delete(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=503, body="")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    deletion = delete(org, user)
    assert (deletion.state, deletion.attempts) == (DeletionState.DELETED, 2)
    assert [c.request.method for c in http.calls] == ["GET", "DELETE", "GET", "DELETE"]


def test_5xx_then_404_on_retry_is_deleted(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=502, body="")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=404, json={"message": "Resource not found"})
    deletion = delete(org, user)
    assert deletion.state == DeletionState.DELETED
    assert "uncertain" in deletion.outcome


def test_still_there_after_every_uncertain_attempt_is_unknown(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    """Each 500 may still be applied later, so a 200 from the last check proves nothing."""
    http.get(ASSET_URL, json={"data": ASSET})
    for _ in range(3):
        http.delete(FILE_URL, status=500, body="")
        http.get(ASSET_URL, json={"data": ASSET})
    deletion = delete(org, user)
    assert (deletion.state, deletion.attempts, deletion.http_status) == (
        DeletionState.UNKNOWN,
        3,
        500,
    )
    assert deletion.finished_at is None


def test_uncertain_delete_and_failed_check_is_unknown(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body=requests.ConnectionError("reset"))
    for _ in range(4):  # the check is a GET: retried on 503, then gives up
        http.get(ASSET_URL, status=503, body="")
    deletion = delete(org, user)
    assert deletion.state == DeletionState.UNKNOWN
    assert deletion.finished_at is None


def test_metadata_404_records_already_gone_without_sending_delete(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    deletion = delete(org, user)
    assert (deletion.state, deletion.attempts, deletion.http_status) == (
        DeletionState.ALREADY_GONE,
        0,
        404,
    )
    assert [c.request.method for c in http.calls] == ["GET"]


def test_metadata_401_records_failed_without_sending_delete(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    http.get(ASSET_URL, status=401, json={"message": "Unauthenticated."})
    deletion = delete(org, user)
    assert (deletion.state, deletion.attempts, deletion.http_status) == (
        DeletionState.FAILED,
        0,
        401,
    )


def test_refuses_to_run_inside_a_transaction(org: Organization, user: User) -> None:
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError):
        delete(org, user)


def test_crash_after_delete_leaves_pending_that_reconcile_settles(
    http: responses.RequestsMock, org: Organization, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")

    def crash(**kwargs: object) -> None:
        raise SystemExit("process killed")

    monkeypatch.setattr(services, "_settle", crash)
    with pytest.raises(SystemExit):
        delete(org, user)
    assert committed_rows() == [(ASSET_ID, "pending")]

    FileDeletion.objects.update(
        started_at=timezone.now() - services.deletion_time_limit() - timedelta(seconds=1)
    )
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    call_command("reconcile_deletions")
    deletion = FileDeletion.objects.get()
    assert deletion.state == DeletionState.DELETED
    assert deletion.finished_at is not None


def past_the_time_limit() -> int:
    """Minutes after which a pending row's request can no longer be running."""
    return int(services.deletion_time_limit().total_seconds() // 60) + 1


def _unsettled(
    org: Organization, user: User, state: DeletionState, minutes_ago: int
) -> FileDeletion:
    return FileDeletion.objects.create(
        organization=org,
        org_id=ORG_ID,
        asset_id=ASSET_ID,
        user=user,
        username=user.username,
        reason="r",
        state=state,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_reconcile_marks_a_file_still_there_as_failed(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    row = _unsettled(org, user, DeletionState.UNKNOWN, 10)
    http.get(ASSET_URL, json={"data": ASSET})
    call_command("reconcile_deletions")
    row.refresh_from_db()
    assert row.state == DeletionState.FAILED


def test_reconcile_leaves_rows_unchanged_without_a_clear_answer(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    row = _unsettled(org, user, DeletionState.PENDING, past_the_time_limit())
    for _ in range(4):
        http.get(ASSET_URL, status=503, body="")
    call_command("reconcile_deletions")
    row.refresh_from_db()
    assert row.state == DeletionState.PENDING


def would_answer_gone(http: responses.RequestsMock) -> None:
    """Tallyfy would settle any row reconciled now; the test asserts none is asked."""
    http.assert_all_requests_are_fired = False
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})


def test_reconcile_skips_recent_pending_rows(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    would_answer_gone(http)
    recent = _unsettled(org, user, DeletionState.PENDING, 1)
    call_command("reconcile_deletions")
    recent.refresh_from_db()
    assert recent.state == DeletionState.PENDING
    assert len(http.calls) == 0


def test_reconcile_skips_recent_unknown_rows(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    would_answer_gone(http)
    recent = _unsettled(org, user, DeletionState.UNKNOWN, 1)
    call_command("reconcile_deletions")
    recent.refresh_from_db()
    assert recent.state == DeletionState.UNKNOWN
    assert len(http.calls) == 0


def test_reconcile_never_touches_settled_rows(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    would_answer_gone(http)
    settled = _unsettled(org, user, DeletionState.FAILED, 60)
    call_command("reconcile_deletions")
    settled.refresh_from_db()
    assert settled.state == DeletionState.FAILED
    assert len(http.calls) == 0


def test_reconcile_leaves_rows_of_an_organization_it_cannot_reach(
    http: responses.RequestsMock, org: Organization, user: User, settings: object
) -> None:
    from cryptography.fernet import Fernet

    would_answer_gone(http)
    row = _unsettled(org, user, DeletionState.UNKNOWN, 10)
    settings.TALLYFY_TOKEN_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    call_command("reconcile_deletions")
    row.refresh_from_db()
    assert row.state == DeletionState.UNKNOWN
    assert len(http.calls) == 0


def test_reconcile_leaves_a_pending_row_whose_request_may_still_be_running(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    would_answer_gone(http)
    limit_minutes = services.deletion_time_limit().total_seconds() / 60
    in_flight = _unsettled(org, user, DeletionState.PENDING, int(limit_minutes) - 1)
    call_command("reconcile_deletions", older_than=0)
    in_flight.refresh_from_db()
    assert in_flight.state == DeletionState.PENDING
    assert len(http.calls) == 0


def test_reconcile_settles_a_pending_row_past_the_time_limit(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    row = _unsettled(org, user, DeletionState.PENDING, past_the_time_limit())
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    call_command("reconcile_deletions", older_than=0)
    row.refresh_from_db()
    assert row.state == DeletionState.DELETED


def test_reconcile_refuses_a_negative_age(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="0 or more"):
        call_command("reconcile_deletions", older_than=-1)


def test_deletion_time_limit_covers_every_call_and_wait(settings: object) -> None:
    settings.TALLYFY_CALL_DEADLINE = 30  # type: ignore[attr-defined]
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 10  # type: ignore[attr-defined]
    settings.TALLYFY_RETRY_BACKOFF = 0.5  # type: ignore[attr-defined]
    settings.TALLYFY_DELETE_ATTEMPTS = 3  # type: ignore[attr-defined]
    # 3 attempts x (DELETE + check) x (4 tries x 30 s + 10 s of waits) + 0.5 + 1 + 2 s backoff
    assert services.deletion_time_limit().total_seconds() == 3 * 2 * (4 * 30 + 10) + 3.5


def test_deletion_time_limit_follows_the_call_deadline(settings: object) -> None:
    settings.TALLYFY_CALL_DEADLINE = 30  # type: ignore[attr-defined]
    before = services.deletion_time_limit()
    settings.TALLYFY_CALL_DEADLINE = 300  # type: ignore[attr-defined]
    assert services.deletion_time_limit() > before


def test_our_words_about_a_call_with_no_answer_are_not_logged_as_tallyfys(
    http: responses.RequestsMock, org: Organization, user: User
) -> None:
    for _ in range(4):  # the metadata read, retried, never answered
        http.get(ASSET_URL, body=requests.ConnectionError("refused"))
    deletion = delete(org, user)
    assert (deletion.state, deletion.http_status, deletion.error_message) == (
        DeletionState.FAILED,
        None,
        "",
    )
    assert deletion.outcome.startswith("Not sent: the file's metadata could not be read")
    assert "Could not reach Tallyfy" in deletion.outcome
