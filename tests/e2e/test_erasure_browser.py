"""An erasure request in the browser: intake, discovery, review of a file; each page with no
accessibility violation (axe, moderate or higher), no CSP violation or console error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page

from erasure.models import Decision, ErasureRequest, Finding, RequestState
from organizations.models import Organization
from tests.e2e.conftest import sign_in
from tests.e2e.test_pages import AXE, axe_violations
from tests.erasure.conftest import SUBJECT_EMAIL, make_erasure_staff
from tests.fixtures.catalog import index_file


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run npm ci")
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the pages are the same: run once")
def test_intake_discovery_and_review_in_the_browser(
    page: Page, panel: str, sandbox_org: Organization, browser_problems: list[str]
) -> None:
    handler = make_erasure_staff(
        "handler",
        "view_erasurerequest",
        "add_erasurerequest",
        "change_erasurerequest",
        "handle_erasurerequest",
    )
    index_file(sandbox_org, "passport.pdf", uploader_email=SUBJECT_EMAIL, run_id="r1")
    index_file(sandbox_org, "unknown.png", run_id="r1")
    sign_in(page, panel, handler)
    violations: dict[str, object] = {}

    page.goto(f"{panel}/admin/erasure/erasurerequest/add/")
    violations["add"] = axe_violations(page)
    yesterday = timezone.localtime() - timedelta(days=1)
    page.select_option("#id_organization", str(sandbox_org.pk))
    page.fill("#id_subject_emails", SUBJECT_EMAIL)
    page.fill("#id_subject_name", "Jane Guest")
    page.fill("#id_reference", "TICKET-42")
    page.select_option("#id_legal_basis", "consent_withdrawn")
    for field in ("received_at", "verified_at"):
        page.fill(f"#id_{field}_0", yesterday.date().isoformat())
        page.fill(f"#id_{field}_1", "10:00:00")
    page.select_option("#id_verified_by", str(handler.pk))
    page.fill("#id_verification_method", "Replied from the address on file.")
    page.click("input[name=_save]")
    page.wait_for_url(f"{panel}/admin/erasure/erasurerequest/")
    violations["list"] = axe_violations(page)
    assert "j***@example.com" in page.content()
    assert SUBJECT_EMAIL not in page.content()

    request = ErasureRequest.objects.get()
    page.check(f"input[name=_selected_action][value='{request.pk}']")
    page.select_option("select[name=action]", "discover")
    with page.expect_navigation():
        page.click("button[name=index]")
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW

    page.goto(f"{panel}/admin/erasure/erasurerequest/{request.pk}/change/")
    violations["review"] = axe_violations(page)
    assert "searched, none found" in page.content()
    candidate = Finding.objects.get(file_name="unknown.png")
    page.select_option(f"#reason-{candidate.pk}", "not_about_subject")
    with page.expect_navigation():
        page.click(f"button[form=decide-{candidate.pk}][value=leave_out]")
    kept = Finding.objects.get(file_name="passport.pdf", rule="uploaded_by_subject")
    with page.expect_navigation():
        page.click(f"button[form=decide-{kept.pk}][value=keep]")
    violations["reviewed"] = axe_violations(page)
    candidate.refresh_from_db()
    kept.refresh_from_db()
    assert (candidate.decision, candidate.leave_out_reason) == (
        Decision.LEAVE_OUT,
        "not_about_subject",
    )
    assert kept.decision == Decision.KEEP
    assert all(not found for found in violations.values()), violations
