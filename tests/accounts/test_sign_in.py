from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from organizations.models import Organization
from tests.accounts.conftest import (
    add_app,
    add_recovery_codes,
    password_step,
    second_step,
    signed_in_with_app,
    totp_code,
    unthrottle,
)
from tests.fixtures.files import file_page_url

VERIFY = reverse("admin:accounts_verify")
ENROL = reverse("admin:accounts_security")


def admin_urls(organization: Organization) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:files_lookup"),
        file_page_url("detail", organization),
        file_page_url("delete", organization),
        file_page_url("download", organization),
        reverse("admin:files_filedeletion_changelist"),
        reverse("admin:jobs_deletionjob_changelist"),
        reverse("admin:jobs_create"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:password_change"),
        reverse("admin:accounts_add_app"),
        reverse("admin:accounts_recovery_codes"),
    ]


def test_after_the_password_alone_no_admin_url_answers(
    deleter: User, organization: Organization
) -> None:
    add_app(deleter)
    client = Client()
    assert password_step(client, deleter)["Location"] == reverse("admin:index")
    for url in admin_urls(organization):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(VERIFY), url
    posted = client.post(file_page_url("delete", organization), {"reason": "x"})
    assert posted.status_code == 302
    assert posted["Location"] == VERIFY


def test_the_second_step_keeps_where_the_user_was_going(
    deleter: User, organization: Organization
) -> None:
    device = add_app(deleter)
    client = Client()
    password_step(client, deleter)
    lookup = reverse("admin:files_lookup")
    assert client.get(lookup)["Location"] == f"{VERIFY}?next={lookup.replace('/', '%2F')}"
    response = client.post(f"{VERIFY}?next={lookup}", {"code": totp_code(device)})
    assert response["Location"] == lookup


def test_a_right_app_code_signs_in(deleter: User) -> None:
    device = add_app(deleter)
    client = Client()
    password_step(client, deleter)
    assert client.get(VERIFY).status_code == 200
    response = second_step(client, totp_code(device))
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_is_refused(deleter: User) -> None:
    add_app(deleter)
    client = Client()
    password_step(client, deleter)
    response = second_step(client, "000000")
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_code_is_accepted_once(deleter: User) -> None:
    device = add_app(deleter)
    code = totp_code(device)
    first = Client()
    password_step(first, deleter)
    assert second_step(first, code).status_code == 302
    second = Client()
    password_step(second, deleter)
    response = second_step(second, code)
    assert response.status_code == 200
    assert "used already" in response.content.decode()
    assert second.get(reverse("admin:index")).status_code == 302


def test_after_a_wrong_code_the_device_is_throttled(deleter: User) -> None:
    device = add_app(deleter)
    client = Client()
    password_step(client, deleter)
    second_step(client, "000000")
    response = second_step(client, totp_code(device))  # right, but too soon
    assert response.status_code == 200
    assert "Too many wrong codes. Wait" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_wrong_codes_lock_the_user_out_and_are_logged(
    deleter: User, caplog: pytest.LogCaptureFixture
) -> None:
    device = add_app(deleter)
    client = Client()
    password_step(client, deleter)
    for _ in range(4):
        assert second_step(client, "000000").status_code == 200
        unthrottle(device)
    with caplog.at_level(logging.WARNING):
        locked = second_step(client, "000000")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert any("locked out" in r.getMessage() for r in caplog.records)
    assert any(r.getMessage() == "second factor locked out: user='deleter'" for r in caplog.records)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))
    # A right password does not clear it: the second step stays locked.
    password_step(client, deleter)
    unthrottle(device)
    assert second_step(client, totp_code(device)).status_code == 429


def test_recovery_codes_work_once(deleter: User) -> None:
    add_app(deleter)
    add_recovery_codes(deleter, "abcdefgh", "ijklmnop")
    client = Client()
    password_step(client, deleter)
    assert second_step(client, "ABCD-EFGH").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    again = Client()
    password_step(again, deleter)
    assert second_step(again, "abcdefgh").status_code == 200
    assert again.get(reverse("admin:index")).status_code == 302


def test_a_deleter_without_a_second_factor_is_sent_to_enrolment(
    deleter: User, organization: Organization
) -> None:
    client = Client()
    password_step(client, deleter)
    for url in admin_urls(organization):
        if url == reverse("admin:accounts_add_app"):
            continue
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(ENROL), url
    page = client.get(ENROL)
    assert page.status_code == 200
    assert "Add an authenticator app or a passkey to go on" in page.content.decode()
    assert client.get(reverse("admin:accounts_add_app")).status_code == 200
    assert client.get(reverse("admin:accounts_add_passkey")).status_code == 200


def test_a_viewer_is_not_asked_for_a_second_factor(viewer: User) -> None:
    client = Client()
    password_step(client, viewer)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:files_lookup")).status_code == 200


def test_a_viewer_who_enrolled_gives_it_too(viewer: User) -> None:
    device = add_app(viewer)
    client = Client()
    password_step(client, viewer)
    assert client.get(reverse("admin:index"))["Location"] == VERIFY
    second_step(client, totp_code(device))
    assert client.get(reverse("admin:index")).status_code == 200


def test_with_the_policy_off_a_deleter_signs_in_with_the_password(
    settings: object, deleter: User
) -> None:
    settings.TALLYFY_TWO_FACTOR_REQUIRED = False  # type: ignore[attr-defined]
    client = Client()
    password_step(client, deleter)
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_session_verified_by_a_removed_device_is_asked_again(deleter: User) -> None:
    client, device = signed_in_with_app(deleter)
    add_app(deleter)
    device.delete()
    assert client.get(reverse("admin:index"))["Location"] == VERIFY


def test_pages_before_the_second_factor_link_to_no_other_page(deleter: User) -> None:
    client = Client()
    password_step(client, deleter)
    enrol = client.get(ENROL).content.decode()
    assert reverse("admin:files_lookup") not in enrol
    add_app(deleter)
    other = Client()
    password_step(other, deleter)
    assert reverse("admin:files_lookup") not in other.get(VERIFY).content.decode()


def test_signing_in_again_with_the_password_asks_for_the_second_factor_again(
    deleter: User,
) -> None:
    """After the upgrade that replaced Django's ModelBackend a session names a backend no
    longer configured, so it reads as signed out with its data kept, and Django keeps a
    session's data when its own user signs in again: the second factor it had given must not
    be kept with it."""
    client, device = signed_in_with_app(deleter)
    old_key = client.session.session_key
    session = client.session
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session.save()
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))
    password_step(client, deleter)
    assert client.session.session_key != old_key
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    unthrottle(device)
    assert second_step(client, totp_code(device, steps_ahead=1)).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
