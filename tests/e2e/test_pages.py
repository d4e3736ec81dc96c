"""Every page of the panel, in both themes, as a superuser, a view-only user and a visitor:
axe-core finds no violation of moderate or higher impact, and `make screenshots` keeps a
picture of each (light and dark, desktop and phone)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page

from admin_pages.errors import server_error_view
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from erasure.approval import erasure_request_approve, erasure_request_send
from erasure.discovery import erasure_request_discover
from erasure.models import Decision, ErasureRequest, Finding, LeaveOutReason
from erasure.review import finding_decide
from files.models import DeletionState, FileDeletion
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState
from organizations.models import Organization
from sandbox.seed import png_bytes
from tests.e2e.conftest import PASSWORD
from tests.erasure.conftest import index_completed, make_request
from tests.fixtures.accounts import make_staff
from tests.fixtures.sandbox import Sandbox

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("moderate", "serious", "critical")
THEMES = {
    # name: (the admin's theme toggle in localStorage, prefers-color-scheme)
    "light": ("light", "light"),
    "dark": ("dark", "dark"),
    "auto-dark": ("auto", "dark"),
}
AXE_THEMES = ("light", "dark")
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SERVER_ERROR_PATH = "/admin/__server-error-page__/"


@dataclass(frozen=True)
class Tour:
    """The pages each kind of user is shown: (name, path)."""

    pages: dict[str, list[tuple[str, str]]]


@pytest.fixture
def tour(panel: str, sandbox: Sandbox, sandbox_org: Organization, transactional_db: None) -> Tour:
    image = sandbox.add_file(
        filename="scan.png", content=png_bytes(40, 30, (10, 120, 200)), content_type="image/png"
    )
    report = sandbox.add_file(filename="report_q1.pdf", content_type="application/pdf")
    admin = User.objects.create_superuser("root", password=PASSWORD)
    make_staff("viewer", "lookup_file", "view_filedeletion", "view_organization")
    row = {
        "organization": sandbox_org,
        "org_id": sandbox_org.org_id,
        "user": admin,
        "username": admin.username,
        "reason": "GDPR-2024-0117: erase the customer's scanned passport on request",
    }
    failed = FileDeletion.objects.create(
        **row,
        asset_id=report.asset_id,
        file_name="report_q1.pdf",
        state=DeletionState.FAILED,
        outcome="Tallyfy refused the deletion.",
        http_status=401,
        error_message="Unauthenticated.",
        request_id="req-4f2a9c",
        finished_at=timezone.now(),
    )
    unknown = FileDeletion.objects.create(
        **row,
        asset_id="u" * 32,
        file_name="contract.docx",
        state=DeletionState.UNKNOWN,
        outcome="Uncertain: 3 attempts got no clear answer.",
        started_at=timezone.now() - timedelta(days=40),
    )
    FileDeletion.objects.create(
        **row,
        asset_id="d" * 32,
        file_name="leaked.pdf",
        state=DeletionState.DELETED,
        outcome="Tallyfy confirmed the deletion (HTTP 204).",
        finished_at=timezone.now(),
    )
    approver = make_staff("approver")
    approver.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    jobs = _jobs(sandbox_org, admin, approver)
    scan = Scan.objects.create(
        organization=sandbox_org,
        state=ScanState.DONE,
        phase=ScanPhase.DONE,
        finished_at=timezone.now(),
    )
    erasures = _erasure_requests(sandbox_org, admin)
    org, files = sandbox_org.pk, "/admin/tallyfy-files"
    run_url = f"https://go.tallyfy.com/api/organizations/{sandbox.org_id}/runs/{'r' * 32}"
    common = [
        ("index", "/admin/"),
        ("app-index", "/admin/files/"),
        ("organization-list", "/admin/organizations/organization/"),
        ("organization-change", f"/admin/organizations/organization/{org}/change/"),
        ("lookup", f"{files}/lookup/"),
        ("lookup-errors", f"{files}/lookup/?organization={org}&file=a+b"),
        ("lookup-run-url", f"{files}/lookup/?file={run_url}"),
        ("detail", f"{files}/{org}/{image.asset_id}/"),
        ("log-list", "/admin/files/filedeletion/"),
        ("log-failed", f"/admin/files/filedeletion/{failed.pk}/change/"),
        ("log-unknown", f"/admin/files/filedeletion/{unknown.pk}/change/"),
        ("log-history", f"/admin/files/filedeletion/{failed.pk}/history/"),
        ("log-receipt", f"/admin/files/filedeletion/{failed.pk}/receipt/"),
        ("password-change", "/admin/password_change/"),
        ("not-found", f"{files}/99999/nothing/"),
        ("server-error", SERVER_ERROR_PATH),
    ]
    job_pages = [
        ("jobs-app", "/admin/jobs/"),
        ("jobs-list", "/admin/jobs/deletionjob/"),
        ("jobs-search", "/admin/jobs/deletionjob/?q=GDPR"),
        ("job-create", "/admin/deletion-jobs/new/"),
        ("job-preview", f"/admin/deletion-jobs/{jobs['previewed'].pk}/"),
        ("job-preview-page-2", f"/admin/deletion-jobs/{jobs['previewed'].pk}/?p=2"),
        ("job-running", f"/admin/deletion-jobs/{jobs['running'].pk}/"),
        ("job-finished", f"/admin/deletion-jobs/{jobs['finished'].pk}/"),
        ("job-rejected", f"/admin/deletion-jobs/{jobs['rejected'].pk}/"),
        ("job-cancel", f"/admin/deletion-jobs/{jobs['running'].pk}/cancel/"),
        ("catalog-app", "/admin/catalog/"),
        ("index-list", "/admin/catalog/indexedfile/"),
        ("index-search", "/admin/catalog/indexedfile/?q=jane%40example.com"),
        ("scan-list", "/admin/catalog/scan/"),
        ("scan-add", "/admin/catalog/scan/add/"),
        ("scan-change", f"/admin/catalog/scan/{scan.pk}/change/"),
        ("erasure-list", "/admin/erasure/erasurerequest/"),
        ("erasure-add", "/admin/erasure/erasurerequest/add/"),
        *[
            (f"erasure-{name}", f"/admin/erasure/erasurerequest/{request.pk}/change/")
            for name, request in erasures.items()
        ],
        ("erasure-receipt", f"/admin/erasure/erasurerequest/{erasures['completed'].pk}/receipt/"),
    ]
    approval = [
        ("index", "/admin/"),
        ("jobs-list", "/admin/jobs/deletionjob/"),
        ("job-approval", f"/admin/deletion-jobs/{jobs['awaiting'].pk}/"),
        ("job-rejected", f"/admin/deletion-jobs/{jobs['rejected'].pk}/"),
        ("index-list", "/admin/catalog/indexedfile/"),
    ]
    return Tour(
        pages={
            "superuser": [
                *common,
                *job_pages,
                ("organization-add", "/admin/organizations/organization/add/"),
                ("events", "/admin/evidence/event/"),
                ("confirm", f"{files}/{org}/{report.asset_id}/delete/"),
            ],
            "viewer": [*common, ("forbidden", f"{files}/{org}/{report.asset_id}/delete/")],
            "approver": approval,
            "visitor": [("login", "/admin/login/")],
        }
    )


PLACES = [
    ("Onboarding: Jane Roe", "Upload your passport", "Client onboarding"),
    ("Claim 2024-117: John Smith", "Attach the invoice", "Insurance claim"),
    ("Offboarding: Ana Díaz", "Return the signed contract", "Employee offboarding"),
]
UPLOADERS = [("jane@example.com", False), ("john@example.com", True), ("", False)]


def _job(org: Organization, user: User, state: JobState, count: int, **fields: Any) -> DeletionJob:
    """A job in `state` with `count` found files, each indexed under a run, task and uploader."""
    job = DeletionJob.objects.create(
        organization=org,
        created_by=user,
        created_by_name=user.get_username(),
        state=state,
        reason="GDPR-2024-0117: erase the customer's files on request",
        built_from="the file index, searched for “jane@example.com”",
        **fields,
    )
    rows, indexed = [], []
    for n in range(count):
        asset_id = f"{job.pk:04x}{n:028x}"
        run, task, template = PLACES[n % len(PLACES)]
        email, inferred = UPLOADERS[n % len(UPLOADERS)]
        rows.append(
            JobFile(
                job=job,
                asset_id=asset_id,
                line=n + 1,
                preview=PreviewState.FOUND,
                file_name=f"passport-scan-{n + 1:02d}.pdf",
                subject_type="Run",
                subject_id=f"{n % 3:032x}",
                uploaded_at=timezone.now() - timedelta(days=n),
            )
        )
        indexed.append(
            IndexedFile(
                organization=org,
                key=asset_id,
                asset_id=asset_id,
                file_name=f"passport-scan-{n + 1:02d}.pdf",
                attached_to=AttachedTo.RUN,
                run_id=f"{n % 3:032x}",
                run_name=run,
                task_id=f"{n % 3 + 10:032x}",
                task_name=task,
                template_name=template,
                uploader_email=email,
                uploader_inferred=inferred,
                uploader_note="Named by the activity feed." if email else "No upload entry.",
                uploaded_at=timezone.now() - timedelta(days=n),
            )
        )
    JobFile.objects.bulk_create(rows)
    IndexedFile.objects.bulk_create(indexed)
    return job


def _jobs(org: Organization, admin: User, approver: User) -> dict[str, DeletionJob]:
    now = timezone.now()
    owner = make_staff("owner", "lookup_file", "delete_file")
    jobs = {
        "previewed": _job(org, admin, JobState.PREVIEWED, 58),
        "awaiting": _job(org, owner, JobState.AWAITING_APPROVAL, 12, confirmed_at=now),
        "running": _job(
            org, admin, JobState.RUNNING, 6, confirmed_at=now, started_at=now - timedelta(minutes=2)
        ),
        "finished": _job(
            org, admin, JobState.FINISHED, 3, confirmed_at=now, started_at=now, finished_at=now
        ),
        "rejected": _job(
            org,
            owner,
            JobState.REJECTED,
            4,
            confirmed_at=now,
            finished_at=now,
            rejected_by=approver,
            rejected_by_name=approver.username,
            rejected_at=now,
            rejection_reason="The ticket names another customer: check GDPR-2024-0117 again.",
        ),
    }
    JobFile.objects.filter(job=jobs["rejected"]).update(state=FileState.NOT_ATTEMPTED)
    for job_file in jobs["finished"].files.all():
        deletion = FileDeletion.objects.create(
            organization=org,
            org_id=org.org_id,
            asset_id=job_file.asset_id,
            file_name=job_file.file_name,
            user=admin,
            username=admin.username,
            reason=jobs["finished"].reason,
            state=DeletionState.DELETED,
            outcome="Tallyfy confirmed the deletion (HTTP 204).",
            job_id=jobs["finished"].pk,
            finished_at=now,
        )
        JobFile.objects.filter(pk=job_file.pk).update(state=FileState.DONE, deletion=deletion)
    return jobs


def _erasure_requests(org: Organization, admin: User) -> dict[str, ErasureRequest]:
    """Requests for jane@example.com, whose files the jobs' index rows hold: in review, awaiting
    approval, and completed with every file left out (a receipt without a deletion)."""
    checker = make_staff("erasure-approver")
    checker.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["approve_deletionjob", "handle_erasurerequest", "view_erasurerequest"]
        )
    )
    checker = User.objects.get(pk=checker.pk)
    index_completed(org)  # fresh: discovery searches at once, without a scan first
    requests = {}
    for n, name in enumerate(("review", "awaiting", "completed")):
        request = make_request(
            organization=org, by=admin, emails=["jane@example.com"], reference=f"DSR-2024-{n}"
        )
        erasure_request_discover(request=request, by=admin)
        requests[name] = request
    for name in ("awaiting", "completed"):
        findings = Finding.objects.filter(discovery__request=requests[name])
        for finding in findings:
            keep = name == "awaiting" and not finding.is_candidate
            finding.refresh_from_db()
            if finding.decision:
                continue
            finding_decide(
                finding=finding,
                decision=Decision.KEEP if keep else Decision.LEAVE_OUT,
                reason="" if keep else LeaveOutReason.KEPT_BY_POLICY,
                by=admin,
            )
        requests[name].refresh_from_db()
        erasure_request_send(request=requests[name], by=admin)
    erasure_request_approve(request=requests["completed"], by=checker)
    return requests


def _context(
    browser: Browser, panel: str, who: str, theme: str, viewport: dict[str, int]
) -> BrowserContext:
    toggle, scheme = THEMES[theme]
    context = browser.new_context(
        color_scheme=scheme, viewport=viewport, is_mobile=viewport["width"] < 600
    )
    context.add_init_script(f"localStorage.setItem('theme', {json.dumps(toggle)});")
    html = server_error_view(RequestFactory().get("/")).content.decode()
    context.route(
        f"{panel}{SERVER_ERROR_PATH}",
        lambda route: route.fulfill(status=500, body=html, content_type="text/html"),
    )
    if who != "visitor":
        page = context.new_page()
        page.goto(f"{panel}/admin/login/")
        page.fill("#id_username", "root" if who == "superuser" else who)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{panel}/admin/")
        page.close()
    return context


def _visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of moderate or higher impact on the page as it is now.

    The source is evaluated through Playwright, outside the page's CSP, which forbids it."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.fixture
def axe_report(request: pytest.FixtureRequest) -> Iterator[dict[str, int]]:
    """Violations counted per user, theme and page, written to test-artifacts/axe/."""
    counts: dict[str, int] = {}
    yield counts
    out = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{request.node.callspec.id}.json").write_text(
        json.dumps(counts, indent=2, sort_keys=True)
    )


# One test a user and theme, so that the browser workers share the pages between them. The
# sign-in page is also checked with the toggle on "auto" and the system's dark scheme.
AXE_RUNS = [
    (who, theme)
    for who in ("superuser", "viewer", "approver", "visitor")
    for theme in ((*AXE_THEMES, "auto-dark") if who == "visitor" else AXE_THEMES)
]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run npm ci")
@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the pages are the same on either database: run once"
)
@pytest.mark.parametrize(("who", "theme"), AXE_RUNS)
def test_every_page_has_no_accessibility_violations(
    browser: Browser,
    panel: str,
    tour: Tour,
    who: str,
    theme: str,
    axe_report: dict[str, int],
) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    context = _context(browser, panel, who, theme, VIEWPORTS["desktop"])
    page = context.new_page()
    for name, path in tour.pages[who]:
        _visit(page, f"{panel}{path}")
        violations = axe_violations(page)
        axe_report[f"{who}/{theme}/{name}"] = len(violations)
        if violations:
            found[f"{theme} {name}"] = violations
    context.close()
    assert found == {}, json.dumps(found, indent=1)


@pytest.mark.skipif(
    not os.environ.get("SCREENSHOTS_DIR"), reason="make screenshots sets SCREENSHOTS_DIR"
)
def test_screenshots_of_every_page(browser: Browser, panel: str, tour: Tour) -> None:
    out = Path(os.environ["SCREENSHOTS_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    # The view-only user's other pages look like the superuser's, without the buttons.
    viewer_only = {"forbidden", "detail", "log-unknown", "organization-change"}
    for who in ("superuser", "viewer", "approver", "visitor"):
        for theme in ("light", "dark"):
            for size, viewport in VIEWPORTS.items():
                context = _context(browser, panel, who, theme, viewport)
                page = context.new_page()
                for name, path in tour.pages[who]:
                    if who == "viewer" and name not in viewer_only:
                        continue
                    _visit(page, f"{panel}{path}")
                    page.screenshot(path=out / f"{who}-{name}-{theme}-{size}.png", full_page=True)
                context.close()
