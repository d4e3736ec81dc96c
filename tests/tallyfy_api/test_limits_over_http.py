"""The client's deadlines, stalls, broken bodies, inline fallback and connection probe,
against the sandbox over a real socket."""

from __future__ import annotations

import html
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import tallyfy_api
from files import services
from organizations.models import Organization
from organizations.services import organization_check_connection
from tests.fixtures.accounts import make_staff
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db]


def read_all(download: tallyfy_api.Download) -> bytes:
    try:
        return b"".join(download)
    finally:
        download.close()


# --- the total deadline ---


def test_a_trickling_metadata_answer_ends_at_the_deadline(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 1.0  # type: ignore[attr-defined]
    asset = sandbox.add_file()
    sandbox.faults(trickle_ms=100)  # about 300 bytes: half a minute at this pace
    started = time.monotonic()
    with pytest.raises(tallyfy_api.DeadlineExceeded):
        services.file_lookup(organization=sandbox_org, asset_id=asset.asset_id)
    assert time.monotonic() - started < 15


def test_a_call_past_its_deadline_is_not_retried(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 1.0  # type: ignore[attr-defined]
    asset = sandbox.add_file()
    sandbox.faults(trickle_ms=200)
    with pytest.raises(tallyfy_api.DeadlineExceeded):
        services.file_lookup(organization=sandbox_org, asset_id=asset.asset_id)
    assert len(sandbox.requests()) == 1


def test_a_stalled_download_ends(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 1.0  # type: ignore[attr-defined]
    asset = sandbox.add_file(size=50)
    sandbox.faults(trickle_ms=200)  # 5 bytes a second: well under the minimum rate
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=False)
    started = time.monotonic()
    with pytest.raises(tallyfy_api.DownloadInterrupted, match="stalled"):
        read_all(download)
    assert time.monotonic() - started < 15


def test_a_slow_download_that_keeps_moving_outlasts_the_call_deadline(
    sandbox: Sandbox, sandbox_org: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 1.0  # type: ignore[attr-defined]
    asset = sandbox.add_file(size=1_000_000)
    # 500 kB/s in the sandbox's 256 kB bursts: half a second each, two seconds in all
    sandbox.faults(bandwidth_mbps=4)
    started = time.monotonic()
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=False)
    assert len(read_all(download)) == 1_000_000
    assert time.monotonic() - started > 1.0


# --- downloads that break ---


def test_a_download_cut_off_half_way_raises_download_interrupted(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(size=600_000)
    sandbox.faults(truncated_downloads=[asset.asset_id])
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=False)
    with pytest.raises(tallyfy_api.DownloadInterrupted) as caught:
        read_all(download)
    assert caught.value.__cause__ is not None


def test_a_download_cut_off_half_way_never_ends_cleanly_for_the_browser(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(size=600_000)
    sandbox.faults(truncated_downloads=[asset.asset_id])
    browser = Client()
    browser.force_login(make_staff("viewer", "lookup_file"))
    response = browser.get(
        reverse(
            "admin:files_download", kwargs={"org_pk": sandbox_org.pk, "asset_id": asset.asset_id}
        )
    )
    assert response["Content-Length"] == "600000"
    with pytest.raises(tallyfy_api.DownloadInterrupted):
        b"".join(response.streaming_content)


# --- inline fallback ---


def test_inline_view_falls_back_to_dl_when_inline_answers_404(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(filename="scan.png", content=b"\x89PNG fake", content_type="image/png")
    sandbox.faults(broken_inline=[asset.asset_id])
    download = services.file_open(organization=sandbox_org, asset_id=asset.asset_id, inline=True)
    assert (download.content_type, read_all(download)) == ("image/png", b"\x89PNG fake")
    paths = [entry["path"].split("/organizations/")[1] for entry in sandbox.requests()]
    assert [path.split("/", 1)[1] for path in paths] == [
        f"file/{asset.asset_id}",
        f"assets/{asset.asset_id}",
        f"file/{asset.asset_id}/dl",
    ]


def test_inline_page_of_such_a_file_is_shown_inline(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(filename="scan.png", content=b"\x89PNG fake", content_type="image/png")
    sandbox.faults(broken_inline=[asset.asset_id])
    browser = Client()
    browser.force_login(make_staff("viewer", "lookup_file"))
    response = browser.get(
        reverse("admin:files_inline", kwargs={"org_pk": sandbox_org.pk, "asset_id": asset.asset_id})
    )
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert b"".join(response.streaming_content) == b"\x89PNG fake"


def test_inline_page_of_such_an_html_file_is_an_attachment(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file(filename="page.html", content=b"<script>1</script>")
    sandbox.faults(broken_inline=[asset.asset_id])
    browser = Client()
    browser.force_login(make_staff("viewer", "lookup_file"))
    response = browser.get(
        reverse("admin:files_inline", kwargs={"org_pk": sandbox_org.pk, "asset_id": asset.asset_id})
    )
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


# --- the connection probe ---


def test_connection_check_works_with_a_good_token(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    assert "The token works" in organization_check_connection(organization=sandbox_org)
    (entry,) = sandbox.requests()
    assert entry["path"].endswith("/runs")
    assert "per_page=1" in entry["query"]


def test_connection_check_tells_a_rejected_token(sandbox: Sandbox) -> None:
    organization = make_organization(
        base_url=sandbox.base_url, org_id=sandbox.org_id, token="wrong", name="Bad token"
    )
    with pytest.raises(tallyfy_api.AuthenticationFailed):
        organization_check_connection(organization=organization)


def test_connection_check_tells_no_access_to_the_organization(sandbox: Sandbox) -> None:
    from sandbox.seed import OTHER_TOKEN

    organization = make_organization(
        base_url=sandbox.base_url, org_id=sandbox.org_id, token=OTHER_TOKEN, name="Other"
    )
    with pytest.raises(tallyfy_api.PermissionDenied):
        organization_check_connection(organization=organization)


def test_connection_check_tells_a_base_url_without_api(sandbox: Sandbox) -> None:
    organization = make_organization(
        base_url=sandbox.root, org_id=sandbox.org_id, token=sandbox.token, name="No api"
    )
    with pytest.raises(tallyfy_api.EndpointNotFound):
        organization_check_connection(organization=organization)


def test_connection_check_tells_tallyfy_unavailable(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(unavailable_share=1.0)
    with pytest.raises(tallyfy_api.ServerError):
        organization_check_connection(organization=sandbox_org)


def test_a_user_sees_a_wrong_base_url_in_the_admin(sandbox: Sandbox, admin_user: User) -> None:
    organization = make_organization(
        base_url=sandbox.root, org_id=sandbox.org_id, token=sandbox.token, name="No api"
    )
    browser = Client()
    browser.force_login(admin_user)
    response = browser.post(
        reverse("admin:organizations_organization_changelist"),
        {"action": "test_connection", "_selected_action": [organization.pk]},
        follow=True,
    )
    (message,) = (html.unescape(str(m)) for m in response.context["messages"])
    assert "does not reach Tallyfy's API" in message
