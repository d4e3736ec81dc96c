"""A deletion job in a real browser, from the pasted list to the results CSV. The test thread
plays the worker (`jobs.work.job_work`); the open page follows the job by itself."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.models import Permission, User
from django.urls import reverse
from playwright.sync_api import Page, expect

from files.models import DeletionState, FileDeletion
from jobs import services, work
from jobs.lines import files_from_text
from jobs.models import DeletionJob, JobState
from organizations.models import Organization
from tests.e2e.conftest import sign_in
from tests.fixtures.accounts import make_staff
from tests.fixtures.sandbox import Sandbox

WAIT_MS = 15_000  # the page polls every 2 s


def test_a_whole_job_from_paste_to_csv(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    files = [sandbox.add_file(filename=f"leak-{n}.pdf") for n in range(3)]
    missing = "9" * 32
    pasted = [f.asset_id for f in files] + [missing, files[0].asset_id]
    sign_in(page, panel, deleter)
    page.click("text=Delete many files")
    page.fill("#id_files", "\n".join(pasted))
    page.click("input[value='Preview these files']")
    expect(page.locator(".messagelist")).to_contain_text("1 repeated line(s) were merged")
    expect(page.locator("#job-state")).to_have_text("Preview running")
    job = DeletionJob.objects.get()

    work.job_work(job_id=job.pk)
    expect(page.locator("#confirm-form")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('[data-preview-count="found"]')).to_have_text("3")
    expect(page.locator('[data-preview-count="not_found"]')).to_have_text("1")
    expect(page.locator("#job-files")).to_contain_text("leak-2.pdf")

    page.fill("#id_reason", "GDPR-2024-17")
    page.fill("#id_typed_count", "4")
    page.click("input[value='Delete these files']")
    expect(page.locator(".errorlist")).to_contain_text("Type the number of files to delete, 3")
    assert all(sandbox.exists(f.asset_id) for f in files)

    page.fill("#id_typed_count", "3")
    page.click("input[value='Delete these files']")
    expect(page.locator("#job-state")).to_have_text("Scheduled")
    expect(page.locator("input[value='Pause']")).to_be_visible()

    work.job_work(job_id=job.pk)
    expect(page.locator("#job-results-link")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#job-state")).to_have_text("Finished")
    expect(page.locator('[data-result-count="deleted"]')).to_have_text("3")
    expect(page.locator(".messagelist")).to_contain_text(f"{job} has finished")
    assert not any(sandbox.exists(f.asset_id) for f in files)

    with page.expect_download() as info:
        page.click("#job-results-link")
    with open(info.value.path(), newline="", encoding="utf-8") as saved:
        rows = list(csv.DictReader(saved))
    assert [(r["file id"], r["final state"]) for r in rows] == [
        (files[0].asset_id, "Deleted"),
        (files[1].asset_id, "Deleted"),
        (files[2].asset_id, "Deleted"),
        (missing, "Left out (not found or not deletable at preview)"),
    ]
    deletion = FileDeletion.objects.get(asset_id=files[1].asset_id)
    assert rows[1]["log row id"] == str(deletion.pk)

    page.click("#job-log-link")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert {d.state for d in FileDeletion.objects.filter(job_id=job.pk)} == {DeletionState.DELETED}
    job.refresh_from_db()
    assert job.state == JobState.FINISHED


def test_an_approver_rejects_a_job_with_a_reason_and_nothing_is_sent(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
    settings: Any,
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 1
    files = [sandbox.add_file(filename=f"scan-{n}.pdf") for n in range(2)]
    job = services.job_create(
        organization=sandbox_org,
        user=deleter,
        wanted=files_from_text("\n".join(f.asset_id for f in files)),
    )
    work.job_work(job_id=job.pk)
    job = services.job_confirm(
        job=DeletionJob.objects.get(pk=job.pk), user=deleter, reason="GDPR-5", typed_count=2
    )
    assert job.state == JobState.AWAITING_APPROVAL
    approver = make_staff("approver")
    approver.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    sign_in(page, panel, approver)
    page.goto(f"{panel}{reverse('admin:jobs_detail', args=[job.pk])}")
    expect(page.locator("#job-files")).to_contain_text("scan-1.pdf")
    page.click("#reject-form input[value='Reject']")
    expect(page.locator("#reject-form .errorlist")).to_be_visible()
    page.fill("#id_rejection_reason", "Not this customer's files.")
    page.click("#reject-form input[value='Reject']")
    expect(page.locator("#job-state")).to_have_text("Rejected")
    expect(page.locator("#job-rejected")).to_contain_text("sent nothing to Tallyfy")
    expect(page.locator("#job-rejection-reason")).to_have_text("Not this customer's files.")
    work.job_work(job_id=job.pk)
    assert all(sandbox.exists(f.asset_id) for f in files)
    assert not FileDeletion.objects.filter(job_id=job.pk).exists()
