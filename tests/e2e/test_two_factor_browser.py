"""Two-factor sign-in in Chromium: passkeys through the DevTools protocol's virtual
authenticator, an authenticator app, sudo mode; no CSP violation, no axe violation."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import Page, expect

from accounts.second_factor import VERIFIED_AT_KEY
from files.models import FileDeletion
from organizations.models import Organization
from tests.accounts.conftest import totp_code
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_pages import AXE, axe_violations
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run npm ci")


@pytest.fixture
def two_factor(panel: str, settings: Any) -> str:
    settings.TALLYFY_TWO_FACTOR_REQUIRED = True
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [panel]  # http://localhost:<port>
    return panel


@pytest.fixture
def authenticator(page: Page) -> str:
    """A platform authenticator with user verification, as a laptop's fingerprint reader."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return str(added["authenticatorId"])


def password_step(page: Page, panel: str, user: User) -> None:
    page.goto(f"{panel}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("load")


def assert_accessible(page: Page) -> None:
    assert axe_violations(page) == [], page.url


def sign_out(page: Page) -> None:
    page.click("#logout-form button")
    page.wait_for_load_state("load")


def enrol_a_passkey(page: Page, panel: str, user: User) -> None:
    password_step(page, panel, user)
    page.goto(f"{panel}/admin/two-factor/passkey/")
    page.click("#passkey-register-button")
    page.wait_for_url(f"{panel}/admin/two-factor/")


def browser_session(page: Page) -> SessionStore:
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    return SessionStore(session_key=key)


def age_second_factor(page: Page, seconds: float) -> None:
    session = browser_session(page)
    session[VERIFIED_AT_KEY] = time.time() - seconds
    session.save()


def test_a_deletion_with_a_stale_second_factor_asks_for_the_passkey_and_keeps_the_form(
    two_factor: str,
    page: Page,
    authenticator: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    asset = sandbox.add_file(filename="leaked.pdf", content_type="application/pdf")
    enrol_a_passkey(page, two_factor, deleter)
    page.goto(f"{two_factor}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    page.fill("#id_reason", "GDPR-123")
    page.fill("#id_confirmation", "leaked.pdf")
    age_second_factor(page, 16 * 60)
    page.click("#delete-submit")
    page.wait_for_url(re.compile(r".*/admin/two-factor/confirm/\?form="))
    assert sandbox.exists(asset.asset_id)
    expect(page.locator("#passkey-verification-button")).to_be_visible()
    assert_accessible(page)
    page.click("#passkey-verification-button")
    expect(page.locator("#sudo-continue")).to_be_visible()
    assert_accessible(page)
    assert sandbox.exists(asset.asset_id)
    page.click("#sudo-continue")
    expect(page.locator(".messagelist")).to_contain_text("was deleted from Tallyfy")
    assert not sandbox.exists(asset.asset_id)
    assert FileDeletion.objects.get(asset_id=asset.asset_id).reason == "GDPR-123"


def test_a_deleter_enrols_a_passkey_and_signs_in_with_it(
    two_factor: str, page: Page, authenticator: str, deleter: User, browser_problems: list[str]
) -> None:
    password_step(page, two_factor, deleter)
    assert page.url == f"{two_factor}/admin/two-factor/"  # forced to enrol
    assert_accessible(page)
    page.click("a:has-text('Add a passkey')")
    expect(page.locator("#passkey-register-button")).to_be_visible()
    assert_accessible(page)
    page.click("#passkey-register-button")
    page.wait_for_url(f"{two_factor}/admin/two-factor/")
    expect(page.locator("#second-factors")).to_contain_text("Passkey")
    assert WebAuthnCredential.objects.filter(user=deleter, confirmed=True).count() == 1
    page.goto(f"{two_factor}/admin/")
    assert page.url == f"{two_factor}/admin/"  # verified by enrolling

    sign_out(page)
    password_step(page, two_factor, deleter)
    assert page.url.startswith(f"{two_factor}/admin/two-factor/verify/")
    expect(page.locator("#passkey-verification-button")).to_be_visible()
    assert_accessible(page)
    page.click("#passkey-verification-button")
    page.wait_for_url(f"{two_factor}/admin/")
    expect(page.locator("#site-name")).to_be_visible()


def test_a_deleter_enrols_an_app_and_signs_in_with_a_code(
    two_factor: str, page: Page, deleter: User, browser_problems: list[str]
) -> None:
    password_step(page, two_factor, deleter)
    page.click("a:has-text('Add an authenticator app')")
    expect(page.locator("#totp-qr")).to_be_visible()
    assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 0  # CSP allows it
    assert_accessible(page)
    device = TOTPDevice(key=browser_session(page)["_pending_totp_device"])  # the app's secret
    page.fill("#id_code", totp_code(device))
    page.click("input[type=submit]")
    page.wait_for_url(f"{two_factor}/admin/two-factor/")
    page.click("a:has-text('Recovery codes')")
    assert_accessible(page)
    page.click("input[value='Generate new recovery codes']")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert_accessible(page)
    page.click("text=Done")
    expect(page.locator("#second-factors")).to_contain_text("10 left")
    assert_accessible(page)
    page.locator("#second-factors a", has_text="Remove").first.click()
    expect(page.locator("#content")).to_contain_text("It will no longer sign you in")
    assert_accessible(page)
    page.click("input[value='Yes, remove it']")
    expect(page.locator(".messagelist")).to_contain_text("This is your last authenticator app")

    sign_out(page)
    password_step(page, two_factor, deleter)
    assert page.url.startswith(f"{two_factor}/admin/two-factor/verify/")
    page.fill("#id_code", "000000")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("That code is not right")
    assert_accessible(page)
    device = TOTPDevice.objects.get(user=deleter)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    page.fill("#id_code", totp_code(device, steps_ahead=1))
    page.click("input[type=submit]")
    page.wait_for_url(f"{two_factor}/admin/")


def test_a_superuser_resets_a_users_second_factors(
    two_factor: str, page: Page, deleter: User, browser_problems: list[str]
) -> None:
    root = User.objects.create_superuser("root", "", PASSWORD)
    device = TOTPDevice.objects.create(user=root, name="Phone", confirmed=True)
    TOTPDevice.objects.create(user=deleter, name="Lost phone", confirmed=True)
    password_step(page, two_factor, root)
    page.fill("#id_code", totp_code(device))
    page.click("input[type=submit]")
    page.goto(f"{two_factor}/admin/auth/user/{deleter.pk}/change/")
    page.click("text=Reset two-factor sign-in")
    expect(page.locator("#content")).to_contain_text("1 authenticator app")
    assert_accessible(page)
    page.fill("#id_reason", "lost phone, ticket 42")
    page.click("input[value='Reset two-factor sign-in']")
    expect(page.locator(".messagelist")).to_contain_text("is reset (1 removed)")
    assert not TOTPDevice.objects.filter(user=deleter).exists()
