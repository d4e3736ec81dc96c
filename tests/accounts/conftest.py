"""Second factors as tests make them; the policy switched on (the suite's settings switch it
off for every other test)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.fixtures.accounts import make_staff

PASSWORD = "pw-for-tests-only"
ADDRESS = "203.0.113.9"


@pytest.fixture(autouse=True)
def policy_on(settings: Any) -> None:
    settings.TALLYFY_TWO_FACTOR_REQUIRED = True


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def unthrottle(device: Device) -> None:
    """As if the device's throttling delay had passed (its failures stay counted)."""
    type(device).objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(hours=2)
    )


def add_app(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def add_recovery_codes(user: User, *codes: str) -> StaticDevice:
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    for code in codes:
        StaticToken.objects.create(device=device, token=code)
    return device


def password_step(client: Client, user: User, **extra: Any) -> Any:
    response = client.post(
        reverse("admin:login"),
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR=ADDRESS,
        **extra,
    )
    assert response.status_code == 302, "the password step failed"
    return response


def second_step(client: Client, code: str) -> Any:
    return client.post(reverse("admin:accounts_verify"), {"code": code}, REMOTE_ADDR=ADDRESS)


def signed_in_with_app(user: User) -> tuple[Client, TOTPDevice]:
    device = add_app(user)
    client = Client()
    password_step(client, user)
    assert second_step(client, totp_code(device)).status_code == 302
    return client, device


@pytest.fixture
def approver(db: None) -> User:
    user = make_staff("approver")
    user.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    return user
