"""Two-factor sign-in in Chromium: passkeys through the DevTools protocol's virtual
authenticator, an authenticator app, sudo mode; no CSP violation, no axe violation."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import Page, expect

from tests.accounts.conftest import totp_code
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_pages import AXE, axe_violations

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
    device = TOTPDevice.objects.get(user=deleter, confirmed=False)
    page.fill("#id_code", totp_code(device))
    page.click("input[type=submit]")
    page.wait_for_url(f"{two_factor}/admin/two-factor/")
    page.click("a:has-text('Recovery codes')")
    assert_accessible(page)
    page.click("input[value='Generate new recovery codes']")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert_accessible(page)

    sign_out(page)
    password_step(page, two_factor, deleter)
    assert page.url.startswith(f"{two_factor}/admin/two-factor/verify/")
    page.fill("#id_code", "000000")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("That code is not right")
    assert_accessible(page)
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    page.fill("#id_code", totp_code(device, steps_ahead=1))
    page.click("input[type=submit]")
    page.wait_for_url(f"{two_factor}/admin/")
