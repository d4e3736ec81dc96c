from __future__ import annotations

import base64
import re

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.conftest import (
    add_app,
    add_recovery_codes,
    password_step,
    second_step,
    signed_in_with_app,
    totp_code,
    unthrottle,
)

ADD_APP = reverse("admin:accounts_add_app")
SECURITY = reverse("admin:accounts_security")


def shown_secret(body: str) -> str:
    shown = re.search(r'id="totp-secret">([^<]+)<', body)
    assert shown is not None
    return shown.group(1).replace(" ", "")


def test_enrolling_an_app_shows_its_qr_code_and_secret_then_signs_in(deleter: User) -> None:
    client = Client()
    password_step(client, deleter)
    page = client.get(ADD_APP)
    body = page.content.decode()
    assert not TOTPDevice.objects.filter(user=deleter).exists()  # nothing written on GET
    assert shown_secret(client.get(ADD_APP).content.decode()) == shown_secret(body)
    device = TOTPDevice(key=client.session["_pending_totp_device"])
    qr = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', body)
    assert qr is not None
    assert base64.b64decode(qr.group(1)).startswith(b"<?xml")
    secret = base64.b32encode(device.bin_key).decode()
    assert shown_secret(body) == secret
    assert "That code is not right" in client.post(ADD_APP, {"code": "000000"}).content.decode()
    assert not TOTPDevice.objects.get(user=deleter).confirmed
    assert "Too many wrong codes" in client.post(ADD_APP, {"code": "111111"}).content.decode()
    unthrottle(TOTPDevice.objects.get(user=deleter))
    response = client.post(ADD_APP, {"code": totp_code(device)})
    assert response["Location"] == SECURITY
    assert TOTPDevice.objects.get(user=deleter).confirmed
    assert client.get(reverse("admin:index")).status_code == 200  # verified by enrolling


def test_the_page_answers_without_a_script_or_style_of_its_own(deleter: User) -> None:
    client = Client()
    password_step(client, deleter)
    for url in (ADD_APP, SECURITY, reverse("admin:accounts_add_passkey")):
        response = client.get(url)
        nonce = response.context["csp_nonce"]
        body = response.content.decode()
        assert "style=" not in body, url
        for tag in re.findall(r"<script[^>]*>", body):
            assert f'nonce="{nonce}"' in tag or 'type="application/json"' in tag, (url, tag)


def test_a_user_with_a_factor_must_give_it_before_adding_another(deleter: User) -> None:
    add_app(deleter)
    client = Client()
    password_step(client, deleter)
    assert client.get(ADD_APP)["Location"].startswith(reverse("admin:accounts_verify"))
    assert TOTPDevice.objects.filter(user=deleter).count() == 1


def test_recovery_codes_are_shown_once_and_replace_the_old(deleter: User) -> None:
    client, _ = signed_in_with_app(deleter)
    add_recovery_codes(deleter, "oldoldol")
    url = reverse("admin:accounts_recovery_codes")
    assert "1 unused recovery code" in client.get(url).content.decode()
    codes = client.post(url).context["codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    shown_again = client.get(url).content.decode()
    assert not any(code in shown_again for code in codes)
    device = StaticDevice.objects.get(user=deleter)
    assert sorted(device.token_set.values_list("token", flat=True)) == sorted(codes)
    other = Client()
    password_step(other, deleter)
    assert second_step(other, "oldoldol").status_code == 200
    unthrottle(device)
    assert second_step(other, codes[0]).status_code == 302


def test_the_last_app_cannot_be_removed_while_two_factors_are_required(deleter: User) -> None:
    client, device = signed_in_with_app(deleter)
    url = reverse("admin:accounts_remove_device", args=["app", device.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, follow=True)
    assert "This is your last authenticator app or passkey" in response.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    other = add_app(deleter)
    client.post(url)
    assert list(TOTPDevice.objects.filter(user=deleter)) == [other]


def test_a_user_removes_only_their_own_factors(deleter: User, viewer: User) -> None:
    client, _ = signed_in_with_app(deleter)
    add_app(deleter)
    theirs = add_app(viewer)
    url = reverse("admin:accounts_remove_device", args=["app", theirs.pk])
    assert client.post(url).status_code == 404
    assert TOTPDevice.objects.filter(pk=theirs.pk).exists()


def test_a_superuser_resets_a_users_factors_and_it_is_recorded(deleter: User) -> None:
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    client, _ = signed_in_with_app(root)
    add_app(deleter)
    add_recovery_codes(deleter, "abcdefgh")
    url = reverse("admin:accounts_reset_user", args=[deleter.pk])
    assert client.post(url, {"reason": ""}).status_code == 200  # a reason is required
    assert TOTPDevice.objects.filter(user=deleter).exists()
    response = client.post(url, {"reason": "lost phone, ticket 42"})
    assert response["Location"] == reverse("admin:auth_user_change", args=[deleter.pk])
    assert not TOTPDevice.objects.filter(user=deleter).exists()
    assert not StaticDevice.objects.filter(user=deleter).exists()
    entry = LogEntry.objects.get(object_id=str(deleter.pk))
    assert entry.user == root
    assert "Reset two-factor sign-in: 2 removed. lost phone, ticket 42" in entry.change_message
    # The user enrols again right after the password.
    again = Client()
    password_step(again, deleter)
    assert again.get(reverse("admin:index"))["Location"] == SECURITY


def test_only_a_superuser_may_reset(deleter: User, approver: User) -> None:
    client, _ = signed_in_with_app(approver)
    add_app(deleter)
    url = reverse("admin:accounts_reset_user", args=[deleter.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403
    assert TOTPDevice.objects.filter(user=deleter).exists()


def test_the_command_resets_a_locked_out_users_factors(deleter: User) -> None:
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    add_app(deleter)
    call_command("reset_two_factor", "deleter", "--by", "root", "--reason", "lost phone")
    assert not TOTPDevice.objects.filter(user=deleter).exists()
    entry = LogEntry.objects.get(object_id=str(deleter.pk))
    assert entry.user == root


def test_the_pages_are_linked_from_every_page_and_the_users_page(deleter: User) -> None:
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    client, _ = signed_in_with_app(root)
    body = client.get(reverse("admin:auth_user_change", args=[deleter.pk])).content.decode()
    assert f'href="{SECURITY}"' in body
    assert f'href="{reverse("admin:accounts_reset_user", args=[deleter.pk])}"' in body


def test_second_factors_have_no_model_admin_of_their_own() -> None:
    from django.contrib import admin

    registered = {model._meta.app_label for model in admin.site._registry}
    assert not registered & {"otp_totp", "otp_static", "django_otp_webauthn"}


def test_adding_a_factor_with_a_stale_one_asks_for_it_first(deleter: User) -> None:
    client, device = signed_in_with_app(deleter)
    session = client.session
    session["_second_factor_at"] = session["_second_factor_at"] - 16 * 60
    session.save()
    for url in (ADD_APP, reverse("admin:accounts_add_passkey")):
        asked = client.get(url)
        assert asked["Location"].startswith(reverse("admin:accounts_sudo")), url
    begin = client.post(reverse("otp_webauthn:credential-registration-begin"))
    assert begin.status_code == 403
    assert begin.json()["code"] == "stale_second_factor"
    assert "otp_webauthn_register_state" not in client.session
    confirmed = client.post(asked["Location"], {"code": totp_code(device, steps_ahead=1)})
    assert confirmed["Location"] == reverse("admin:accounts_add_passkey")  # the page opens
    assert client.get(ADD_APP).status_code == 200
    assert client.post(reverse("otp_webauthn:credential-registration-begin")).status_code == 200
