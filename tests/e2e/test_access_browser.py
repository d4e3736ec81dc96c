"""The pages where organization access and permissions are given: a user's and a group's,
added and changed, each with Django's two-list pickers (groups, permissions, organizations),
in both themes: no accessibility violation (axe, moderate or higher), no CSP violation or
console error; and an organization given through the picker is saved."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from playwright.sync_api import Browser

from organizations.models import Organization, OrganizationAccess
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_pages import AXE, AXE_THEMES, THEMES, axe_violations
from tests.fixtures.accounts import make_staff

pytestmark = pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run npm ci")


def test_the_user_and_group_pages_have_no_accessibility_violations(
    browser: Browser, panel: str, sandbox_org: Organization, transactional_db: None
) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    member = make_staff("member", "lookup_file")
    group = Group.objects.create(name="Agency staff")
    group.permissions.add(*Permission.objects.filter(codename__in=["delete_file", "lookup_file"]))
    pages = {
        "user-add": "/admin/auth/user/add/",
        "user-change": f"/admin/auth/user/{member.pk}/change/",
        "group-add": "/admin/auth/group/add/",
        "group-change": f"/admin/auth/group/{group.pk}/change/",
    }
    found: dict[str, Any] = {}
    problems: list[str] = []
    for theme in AXE_THEMES:
        toggle, scheme = THEMES[theme]
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
        context.add_init_script(f"localStorage.setItem('theme', {json.dumps(toggle)});")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{panel}/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{panel}/admin/")
        for name, path in pages.items():
            page.goto(f"{panel}{path}")
            page.wait_for_load_state("load")
            violations = axe_violations(page)
            if violations:
                found[f"{theme} {name}"] = violations
        context.close()
    assert found == {}, json.dumps(found, indent=1)
    assert problems == []


def test_an_organization_is_given_to_a_user_through_the_picker(
    browser: Browser, panel: str, sandbox_org: Organization, transactional_db: None
) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    member = User.objects.create_user("newcomer", password=PASSWORD, is_staff=True)
    assert not OrganizationAccess.objects.filter(user=member).exists()  # reaches none
    page = browser.new_page()
    page.goto(f"{panel}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{panel}/admin/")
    page.goto(f"{panel}/admin/auth/user/{member.pk}/change/")
    picker = "#id_organization_access-0-organizations"
    page.select_option(f"{picker}_from", label="Sandbox")
    page.click(f"{picker}_add")
    page.click("input[name=_save]")
    page.wait_for_url(f"{panel}/admin/auth/user/")
    access = OrganizationAccess.objects.get(user=member)
    assert (access.all_organizations, list(access.organizations.all())) == (False, [sandbox_org])
