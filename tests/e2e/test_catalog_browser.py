"""The file index in a real browser: scan an organization, then find its files."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from playwright.sync_api import Page, expect

from files.models import Organization
from sandbox import places
from tests.catalog_fixtures import immediate_tasks  # noqa: F401
from tests.e2e.conftest import PASSWORD, sign_in


def make_indexer() -> User:
    user = User.objects.create_user(username="indexer", password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_indexedfile", "view_scan", "add_scan", "lookup_file"]
        )
    )
    return user


def test_scan_then_find_a_guests_files(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    immediate_tasks: None,  # noqa: F811
    browser_problems: list[str],
) -> None:
    sign_in(page, panel, make_indexer())
    page.get_by_role("link", name="Tallyfy files", exact=True).click()
    page.click("text=Scan an organization")
    page.select_option("#id_organization", label="Sandbox")
    page.click("[name=_save]")
    expect(page.locator("#content")).to_contain_text("Done")
    page.click("text=Files of this organization")
    page.fill("#searchbar", "fuhrerschein")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.fill("#searchbar", places.GUEST_EMAIL)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
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
