"""An erasure request in the browser, from intake to receipt: discovery, review with an
exclusion, approval by a second staff user, the deletion (the test thread plays the worker and
the sweep), and the receipt; each page with no accessibility violation (axe, moderate or
higher), no CSP violation or console error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from erasure.following import erasure_requests_follow
from erasure.models import Decision, ErasureRequest, Finding, RequestState
from jobs import work
from organizations.models import Organization
from tests.e2e.conftest import sign_in
from tests.e2e.test_pages import AXE, axe_violations
from tests.erasure.conftest import SUBJECT_EMAIL, index_completed, make_erasure_staff
from tests.erasure.test_erasure import with_perms
from tests.fixtures.catalog import index_file
from tests.fixtures.sandbox import Sandbox

HANDLING = (
    "view_erasurerequest",
    "add_erasurerequest",
    "change_erasurerequest",
    "handle_erasurerequest",
)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run npm ci")
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the pages are the same: run once")
def test_a_request_from_intake_to_receipt_in_the_browser(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    browser_problems: list[str],
) -> None:
    handler = with_perms(
        make_erasure_staff("handler", *HANDLING), "files.lookup_file", "files.delete_file"
    )
    approver = with_perms(make_erasure_staff("approver", *HANDLING), "jobs.approve_deletionjob")
    passport = sandbox.add_file(filename="passport.pdf")
    index_file(
        sandbox_org,
        "passport.pdf",
        key=passport.asset_id,
        asset_id=passport.asset_id,
        uploader_email=SUBJECT_EMAIL,
        run_id="r1",
    )
    index_file(sandbox_org, "unknown.png", run_id="r1")
    index_completed(sandbox_org)  # fresh: discovery searches at once, without a scan first
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
    request_page = f"{panel}/admin/erasure/erasurerequest/{request.pk}/change/"
    page.goto(request_page)
    violations["received"] = axe_violations(page)
    with page.expect_navigation():
        page.click("button[form=erasure-discover]")
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW
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
    with page.expect_navigation():
        page.click("button[form=erasure-send]")
    expect(page.locator("#deletion")).to_contain_text("not you, who sent it")
    violations["awaiting approval"] = axe_violations(page)

    page.context.clear_cookies()
    sign_in(page, panel, approver)
    page.goto(request_page)
    expect(page.locator("#deletion")).to_contain_text("Sent for approval by handler")
    with page.expect_navigation():
        page.click("button[form=erasure-approve]")
    request.refresh_from_db()
    assert request.state == RequestState.ERASING
    (erasure_job,) = request.jobs.all()
    while work.job_work(job_id=erasure_job.job_id):
        pass
    assert erasure_requests_follow() == [request.pk]
    assert not sandbox.exists(passport.asset_id)

    page.goto(request_page)
    expect(page.locator("#deletion")).to_contain_text("1 of 1 file gone")
    violations["completed"] = axe_violations(page)
    page.click("text=Receipt")
    expect(page.locator("#receipt")).to_contain_text("passport.pdf")
    expect(page.locator("#receipt")).to_contain_text("not about the subject")
    expect(page.locator("#receipt")).to_contain_text("35 days")
    violations["receipt"] = axe_violations(page)
    assert SUBJECT_EMAIL not in page.content()
    assert all(not found for found in violations.values()), violations
