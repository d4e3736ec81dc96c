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
