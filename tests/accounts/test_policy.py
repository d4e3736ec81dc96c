from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.conf import conf
from accounts.selectors import has_second_factor, two_factor_required
from tests.accounts.conftest import add_app, add_recovery_codes


@pytest.fixture
def policy_unset(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    del settings.TALLYFY_TWO_FACTOR_REQUIRED
    monkeypatch.delenv("TALLYFY_TWO_FACTOR_REQUIRED", raising=False)
    return settings


def test_the_policy_is_on_by_default_without_debug(policy_unset: Any) -> None:
    policy_unset.DEBUG = False
    assert conf.two_factor_required is True


def test_development_does_not_force_it_by_default(policy_unset: Any) -> None:
    policy_unset.DEBUG = True
    assert conf.two_factor_required is False


def test_the_variable_turns_it_on_in_development(
    policy_unset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_unset.DEBUG = True
    monkeypatch.setenv("TALLYFY_TWO_FACTOR_REQUIRED", "true")
    assert conf.two_factor_required is True


def test_the_variable_turns_it_off_in_production(
    policy_unset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLYFY_TWO_FACTOR_REQUIRED", "false")
    assert conf.two_factor_required is False


def test_deleters_approvers_and_superusers_must_viewers_need_not(
    deleter: User, viewer: User, approver: User
) -> None:
    superuser = User.objects.create_superuser("root", "", "pw-for-tests-only")
    assert two_factor_required(user=deleter)
    assert two_factor_required(user=approver)
    assert two_factor_required(user=superuser)
    assert not two_factor_required(user=viewer)


def test_nobody_must_while_the_policy_is_off(settings: Any, deleter: User) -> None:
    settings.TALLYFY_TWO_FACTOR_REQUIRED = False
    assert not two_factor_required(user=deleter)


def test_whether_a_user_has_a_second_factor_is_one_query(deleter: User, viewer: User) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert not has_second_factor(user=viewer)
    assert len(queries) == 1
    add_recovery_codes(viewer)  # none left: nothing to give
    assert not has_second_factor(user=viewer)
    add_recovery_codes(deleter, "abcdefgh")
    assert has_second_factor(user=deleter)
    add_app(viewer)
    assert has_second_factor(user=viewer)


def test_only_confirmed_factors_count_and_a_passkey_is_one(viewer: User, deleter: User) -> None:
    TOTPDevice.objects.create(user=viewer, name="Unfinished", confirmed=False)
    unconfirmed = StaticDevice.objects.create(user=viewer, name="Codes", confirmed=False)
    StaticToken.objects.create(device=unconfirmed, token="abcdefgh")
    assert not has_second_factor(user=viewer)
    WebAuthnCredential.objects.create(
        user=deleter, name="Key", confirmed=True, credential_id=b"id", public_key=b"key"
    )
    assert has_second_factor(user=deleter)
    assert not has_second_factor(user=viewer)  # another user's factors are not theirs


def test_in_development_the_demo_superuser_signs_in_with_the_password(
    policy_unset: Any, db: None
) -> None:
    policy_unset.DEBUG = True
    User.objects.create_superuser("admin", "", "pw-for-tests-only")
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": "admin", "password": "pw-for-tests-only"}
    )
    assert response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_in_production_the_superuser_is_sent_to_enrol(policy_unset: Any, db: None) -> None:
    policy_unset.DEBUG = False
    User.objects.create_superuser("admin", "", "pw-for-tests-only")
    client = Client()
    client.post(reverse("admin:login"), {"username": "admin", "password": "pw-for-tests-only"})
    assert client.get(reverse("admin:index"))["Location"] == reverse("admin:accounts_security")
