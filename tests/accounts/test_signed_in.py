"""The signed-in user is read once a request with what every page asks of them, each answer
as fresh as the read and the same as the question's own query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.backends import SignedInUserBackend
from accounts.selectors import (
    HAS_SECOND_FACTOR,
    has_second_factor,
    request_user_has_second_factor,
)
from accounts.signed_in import signed_in_answer, signed_in_question_add
from tests.accounts.conftest import add_app, add_recovery_codes, password_step


def read(user: User) -> Any:
    return SignedInUserBackend().get_user(user.pk)


def nothing(user: User) -> None:
    pass


def unconfirmed(user: User) -> None:
    TOTPDevice.objects.create(user=user, name="Unfinished", confirmed=False)
    device = StaticDevice.objects.create(user=user, name="Codes", confirmed=False)
    StaticToken.objects.create(device=device, token="abcdefgh")


def passkey(user: User) -> None:
    WebAuthnCredential.objects.create(
        user=user, name="Key", confirmed=True, credential_id=b"id", public_key=b"key"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (nothing, False),
        (unconfirmed, False),
        (lambda user: add_recovery_codes(user), False),  # no code left: nothing to give
        (lambda user: add_recovery_codes(user, "abcdefgh"), True),
        (add_app, True),
        (passkey, True),
    ],
)
def test_whether_the_user_has_a_second_factor_is_answered_with_their_read(
    viewer: User, deleter: User, given: Callable[[User], object], expected: bool
) -> None:
    add_app(deleter)  # another user's factors are not theirs
    given(viewer)
    assert has_second_factor(user=viewer) is expected
    with CaptureQueriesContext(connection) as queries:
        user = read(viewer)
    assert len(queries) == 1
    assert user == viewer
    assert signed_in_answer(user, HAS_SECOND_FACTOR) is expected


def test_a_missing_or_inactive_user_is_not_read(viewer: User) -> None:
    assert SignedInUserBackend().get_user(viewer.pk + 1000) is None
    User.objects.filter(pk=viewer.pk).update(is_active=False)
    assert SignedInUserBackend().get_user(viewer.pk) is None


def test_a_factor_added_in_another_session_is_asked_for_on_the_next_page(viewer: User) -> None:
    """The answer is as old as the request: nothing about it is kept in the session."""
    client = Client()
    password_step(client, viewer)
    assert client.get(reverse("admin:index")).status_code == 200
    add_app(viewer)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:accounts_verify"))


def test_a_user_read_another_way_is_asked_on_their_own(viewer: User) -> None:
    add_app(viewer)
    request = RequestFactory().get("/")
    request.user = User.objects.get(pk=viewer.pk)
    with CaptureQueriesContext(connection) as queries:
        assert request_user_has_second_factor(request) is True
    assert len(queries) == 1


def test_a_question_is_named_by_an_identifier() -> None:
    with pytest.raises(ValueError, match="identifier"):
        signed_in_question_add('x" FROM t; --', lambda user_id: ("TRUE", []))
