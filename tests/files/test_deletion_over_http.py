"""The real client and the deletion service against the sandbox, over a real socket."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import tallyfy_api
from files import services
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.files import confirm_page
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def user() -> User:
    return make_staff("deleter", "lookup_file", "delete_file", "view_filedeletion")


def delete(sandbox: Sandbox, org: Organization, user: User, asset_id: str) -> FileDeletion:
    """Confirm the file as the confirm page would have shown it (read straight from the
    sandbox's store, so no request is made before the deletion's own)."""
    stored = sandbox.server.store.asset(org_id=org.org_id, asset_id=asset_id)
    assert stored is not None
    shown = stored.to_json()
    ticket = confirm_page(user=user, organization=org, asset=shown)
    return services.file_delete(
        organization=org,
        asset_id=asset_id,
        user=user,
        reason="ticket-1",
        confirmation=asset_id,
        ticket=ticket,
    )


def api_calls(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in sandbox.requests()]


def test_client_sends_the_contract_headers(sandbox: Sandbox, sandbox_org: Organization) -> None:
    asset = sandbox.add_file()
    services.file_lookup(organization=sandbox_org, asset_id=asset.asset_id)
    (entry,) = sandbox.requests()
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    assert headers["accept"] == "application/json"
    assert headers["x-tallyfy-client"] == "APIClient"
    assert headers["authorization"] == "Bearer <redacted>"


def test_download_through_the_client_matches_the_bytes(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(size=2 * 1024 * 1024 + 3)
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=False)
    try:
        body = b"".join(download)
    finally:
        download.close()
    assert body == b"".join(sandbox.server.store.content(asset))
    assert download.content_length == len(body)


def test_deleted(sandbox: Sandbox, sandbox_org: Organization, user: User) -> None:
    asset = sandbox.add_file()
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert (deletion.state, deletion.http_status, deletion.attempts) == (
        DeletionState.DELETED,
        200,
        1,
    )
    assert deletion.request_id
    assert not sandbox.exists(asset.asset_id)
    assert api_calls(sandbox) == [("GET", "assets"), ("DELETE", "file")]


def test_get_and_delete_reuse_one_connection(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    delete(sandbox, sandbox_org, user, asset.asset_id)
    ports = {r["client_port"] for r in sandbox.requests()}
    assert len(ports) == 1


def test_a_logo_is_refused_before_anything_is_recorded_or_deleted(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    logo = sandbox.add_file(subject_type="Organization")
    with pytest.raises(services.NotDeletable, match="logo"):
        delete(sandbox, sandbox_org, user, logo.asset_id)
    assert api_calls(sandbox) == [("GET", "assets")]
    assert FileDeletion.objects.count() == 0
    assert sandbox.exists(logo.asset_id)


def test_a_link_is_refused_before_anything_is_recorded_or_sent(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    link = sandbox.add_link()
    try:
        with pytest.raises(services.NotDeletable, match="a link, not a file"):
            delete(sandbox, sandbox_org, user, link.asset_id)
    finally:  # the sandbox's store lives for the whole session: leave run a1 as it was
        sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=link.asset_id)
    assert api_calls(sandbox) == [("GET", "assets")]
    assert FileDeletion.objects.count() == 0


def test_expired_token_fails(sandbox: Sandbox, sandbox_org: Organization, user: User) -> None:
    asset = sandbox.add_file()
    sandbox.faults(expired_tokens=True)
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert (deletion.state, deletion.http_status, deletion.attempts) == (
        DeletionState.FAILED,
        401,
        0,
    )
    assert sandbox.exists(asset.asset_id)


def test_rate_limited_then_deleted_waits_for_retry_after(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(rate_limit_next=1, retry_after="1")
    started = time.monotonic()
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert time.monotonic() - started >= 1.0
    assert deletion.state == DeletionState.DELETED
    assert [m for m, _ in api_calls(sandbox)] == ["GET", "GET", "DELETE"]


def test_dropped_delete_answer_is_verified_as_deleted(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(lose_delete="drop", lose_delete_next=1)
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert deletion.state == DeletionState.DELETED
    assert "check then answered 404" in deletion.outcome
    assert api_calls(sandbox) == [("GET", "assets"), ("DELETE", "file"), ("GET", "assets")]


def test_timed_out_delete_is_verified_as_deleted(
    sandbox: Sandbox, sandbox_org: Organization, user: User, settings: object
) -> None:
    settings.TALLYFY_READ_TIMEOUT = 0.5  # type: ignore[attr-defined]
    asset = sandbox.add_file()
    sandbox.faults(lose_delete="timeout", lose_delete_next=1, lose_delete_delay=1.5)
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert deletion.state == DeletionState.DELETED
    assert "did not answer in time" in deletion.outcome


def test_503_on_delete_then_check_then_retry(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(
        unavailable_next=2
    )  # the snapshot GET is retried past the first; the DELETE meets the second
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert deletion.state == DeletionState.DELETED
    assert not sandbox.exists(asset.asset_id)


def test_tallyfy_down_leaves_unknown_then_reconcile_settles(
    sandbox: Sandbox, sandbox_org: Organization, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(lose_delete="drop", lose_delete_next=1)
    verify = services._verify_after_uncertain

    def verify_while_tallyfy_is_down(**kwargs: object) -> object:
        sandbox.faults(unavailable_next=10)
        try:
            return verify(**kwargs)  # type: ignore[arg-type]
        finally:
            sandbox.faults(unavailable_next=0)

    monkeypatch.setattr(services, "_verify_after_uncertain", verify_while_tallyfy_is_down)
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert deletion.state == DeletionState.UNKNOWN
    assert not sandbox.exists(asset.asset_id)

    FileDeletion.objects.filter(pk=deletion.pk).update(
        started_at=timezone.now() - timedelta(minutes=6)
    )
    call_command("reconcile_deletions")
    deletion.refresh_from_db()
    assert deletion.state == DeletionState.DELETED


def test_broken_download_shows_a_message(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(broken_downloads=[asset.asset_id])
    client = Client()
    client.force_login(user)
    response = client.get(
        reverse(
            "admin:files_download", kwargs={"org_pk": sandbox_org.pk, "asset_id": asset.asset_id}
        ),
        follow=True,
    )
    assert any("Tallyfy is unavailable" in str(m) for m in response.context["messages"])


def test_panel_download_streams_the_real_bytes(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file(
        filename="Résumé.pdf", content=b"%PDF-1.4 body", content_type="application/pdf"
    )
    client = Client()
    client.force_login(user)
    response = client.get(
        reverse(
            "admin:files_download", kwargs={"org_pk": sandbox_org.pk, "asset_id": asset.asset_id}
        )
    )
    assert response.streaming
    assert b"".join(response.streaming_content) == b"%PDF-1.4 body"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf"


def test_client_timeout_is_applied(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.TALLYFY_READ_TIMEOUT = 0.3  # type: ignore[attr-defined]
    asset = sandbox.add_file()
    sandbox.faults(latency_ms=20_000)
    started = time.monotonic()
    with pytest.raises(tallyfy_api.ConnectionFailed):
        services.file_lookup(organization=sandbox_org, asset_id=asset.asset_id)
    # Four tries of 0.3 s; far from the 20 s a request would take without the timeout.
    assert time.monotonic() - started < 10


def test_inline_view_through_the_client_has_the_real_type(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(filename="scan.png", content=b"\x89PNG fake", content_type="image/png")
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=True)
    try:
        assert (download.content_type, b"".join(download)) == ("image/png", b"\x89PNG fake")
    finally:
        download.close()


def test_tallyfy_unavailable_before_the_delete_records_a_failure_and_sends_none(
    sandbox: Sandbox, sandbox_org: Organization, user: User
) -> None:
    asset = sandbox.add_file()
    sandbox.faults(unavailable_share=1.0)
    deletion = delete(sandbox, sandbox_org, user, asset.asset_id)
    assert (deletion.state, deletion.http_status, deletion.attempts) == (
        DeletionState.FAILED,
        503,
        0,
    )
    assert {m for m, _ in api_calls(sandbox)} == {"GET"}
    assert sandbox.exists(asset.asset_id)


def test_a_finished_download_gives_its_connection_back(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(size=300_000)
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=False)
    assert sum(len(chunk) for chunk in download) == 300_000
    download.close()
    services.file_lookup(organization=sandbox_org, asset_id=asset.asset_id)
    assert len({entry["client_port"] for entry in sandbox.requests()}) == 1
