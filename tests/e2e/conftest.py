from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page

from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "pw-for-tests-only"

# Playwright's sync API keeps an event loop on the test thread; the ORM calls made there
# (fixtures, assertions) are ordinary blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.over_the_wire)
            if not os.path.exists(CHROMIUM):
                item.add_marker(pytest.mark.skip(reason=f"Chromium is not installed at {CHROMIUM}"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "accept_downloads": True}


@pytest.fixture
def panel(live_server: Any, settings: Any, sandbox: Sandbox) -> str:
    # The live server speaks plain http on localhost; production keeps these on.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return live_server.url


@pytest.fixture
def sandbox_org(panel: str, sandbox: Sandbox) -> Organization:
    return make_organization(
        base_url=sandbox.base_url, org_id=sandbox.org_id, token=sandbox.token, name="Sandbox"
    )


@pytest.fixture
def deleter(transactional_db: None) -> User:
    return make_staff("deleter", "lookup_file", "delete_file", "view_filedeletion")


@pytest.fixture
def viewer(transactional_db: None) -> User:
    return make_staff("viewer", "lookup_file", "view_filedeletion")


@pytest.fixture
def browser_problems(page: Page) -> Iterator[list[str]]:
    """Console errors, page errors and CSP violations seen during a test; none are allowed."""
    problems: list[str] = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.text} ({m.location.get('url')})") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield problems
    # The inline file view is a sandboxed document: the browser refusing to run this
    # fixture's own listener there is the sandbox working, not a problem of the page.
    real = [p for p in problems if not (p.startswith("Blocked script execution") and "/view/" in p)]
    assert real == [], real


def sign_in(page: Page, panel: str, user: User) -> None:
    page.goto(f"{panel}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{panel}/admin/")
