"""The file index in a real browser: scan an organization, find its files, delete them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Page, expect

from files.models import DeletionState, FileDeletion
from jobs.models import DeletionJob, JobState
from organizations.models import Organization
from sandbox import places
from tests.e2e.conftest import PASSWORD, sign_in
from tests.fixtures.accounts import reach_all
from tests.fixtures.sandbox import Sandbox

GUEST_FILES = {places.TASK_FILE: "Führerschein_scan.jpg", places.COMMENT_FILE: "comment_photo.jpg"}


def make_indexer(*more: str) -> User:
    user = User.objects.create_user(username="indexer", password=PASSWORD, is_staff=True)
    reach_all(user)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_indexedfile", "view_scan", "add_scan", "lookup_file", *more]
        )
    )
    return user


def scan_and_search_the_guest(page: Page, panel: str, user: User) -> None:
    sign_in(page, panel, user)
    # The file index, not the single-file pages' section of the same name.
    page.locator("#catalog-indexedfile").get_by_role("link", name="Tallyfy files").click()
    page.click("text=Scan an organization")
    page.select_option("#id_organization", label="Sandbox")
    page.click("[name=_save]")
    expect(page.locator("#content")).to_contain_text("Done")
    page.click("text=Files of this organization")
    page.fill("#searchbar", places.GUEST_EMAIL)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)


@pytest.fixture
def guest_files_restored(sandbox: Sandbox) -> Iterator[None]:
    """The seeded guest's files are back in the sandbox after the test: the store is shared
    by the whole session, and other tests find these files."""
    yield
    marks = ", ".join("?" for _ in GUEST_FILES)
    sandbox.server.store.query(
        f"UPDATE assets SET deleted_at = NULL WHERE asset_id IN ({marks})",  # noqa: S608
        tuple(GUEST_FILES),
    )


def test_scan_then_find_a_guests_files(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    immediate_tasks: None,
    browser_problems: list[str],
) -> None:
    scan_and_search_the_guest(page, panel, make_indexer())
    page.fill("#searchbar", "fuhrerschein")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("text=Führerschein_scan.jpg")
    expect(page.locator("#file-name")).to_have_text("Führerschein_scan.jpg")


def test_a_pasted_run_url_is_scanned_and_shows_its_files(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    browser_problems: list[str],
) -> None:
    sign_in(page, panel, make_indexer())
    page.goto(f"{panel}/admin/tallyfy-files/lookup/")
    run_url = f"{sandbox_org.api_base_url}/organizations/{sandbox_org.org_id}/runs/"
    page.fill("#id_file", run_url + places.ONBOARDING_RUN)
    page.click("input[value='Look up']")
    expect(page.locator("#run-not-indexed")).to_contain_text("nothing of process run")
    page.click("input[value='Scan this run and show its files']")
    expect(page.locator(".messagelist")).to_contain_text(f"{places.ONBOARDING_RUN} scanned:")
    expect(page.locator("#result_list")).to_contain_text("Führerschein_scan.jpg")
    expect(page.locator("#result_list")).not_to_contain_text("exit_interview.docx")
    # Indexed now: the same URL opens the files at once.
    page.goto(f"{panel}/admin/tallyfy-files/lookup/")
    page.fill("#id_file", run_url + places.ONBOARDING_RUN)
    page.click("input[value='Look up']")
    expect(page.locator("#result_list")).to_contain_text("Führerschein_scan.jpg")


def test_scan_find_then_delete_a_guests_files(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    immediate_tasks: None,
    guest_files_restored: None,
    browser_problems: list[str],
) -> None:
    user = make_indexer("delete_file", "view_filedeletion")
    scan_and_search_the_guest(page, panel, user)
    rows = page.locator("#result_list tbody tr")
    for name in GUEST_FILES.values():
        expect(rows.filter(has_text=name)).to_contain_text("Present")

    page.check("#action-toggle")
    expect(page.locator(".action-counter")).to_contain_text("2 of 2 selected")
    page.select_option("select[name=action]", label="Delete selected files…")
    page.click("button[name=index]")
    # The preview ran as the job was created (tasks run inline here).
    expect(page.locator("#job-state")).to_have_text("Preview ready")
    expect(page.locator('[data-preview-count="found"]')).to_have_text("2")
    for name in GUEST_FILES.values():
        expect(page.locator("#job-files")).to_contain_text(name)
    assert all(sandbox.exists(asset_id) for asset_id in GUEST_FILES)

    page.fill("#id_reason", "GDPR-2025-031")
    page.fill("#id_typed_count", "2")
    page.click("input[value='Delete these files']")
    expect(page.locator("#job-state")).to_have_text("Finished")
    expect(page.locator('[data-result-count="deleted"]')).to_have_text("2")
    assert not any(sandbox.exists(asset_id) for asset_id in GUEST_FILES)

    page.click("#job-log-link")
    log_rows = page.locator("#result_list tbody tr")
    expect(log_rows).to_have_count(2)
    for name in GUEST_FILES.values():
        expect(log_rows.filter(has_text=name)).to_contain_text("Deleted")
    job = DeletionJob.objects.get()
    assert job.state == JobState.FINISHED
    assert job.created_by == user
    assert sorted(
        FileDeletion.objects.filter(job_id=job.pk).values_list("asset_id", "state", "reason")
    ) == sorted((asset_id, DeletionState.DELETED, "GDPR-2025-031") for asset_id in GUEST_FILES)

    page.goto(f"{panel}/admin/catalog/indexedfile/")
    page.fill("#searchbar", places.GUEST_EMAIL)
    page.press("#searchbar", "Enter")
    expect(rows).to_have_count(2)
    for name in GUEST_FILES.values():
        expect(rows.filter(has_text=name)).to_contain_text("Deleted")
    # "Present" leaves them out, "Gone" lists them.
    page.click("#changelist-filter >> text=Present")
    expect(page.locator("#changelist .paginator")).to_contain_text(re.compile(r"\b0 Tallyfy files"))
    expect(rows).to_have_count(0)
    page.click("#changelist-filter >> text=Gone")
    expect(rows).to_have_count(2)
