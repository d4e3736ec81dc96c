from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.conf import conf
from accounts.selectors import two_factor_required


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
