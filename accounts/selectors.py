"""Who must give a second factor, and which ones a user has."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.conf import conf
from accounts.signed_in import signed_in_answer
from sql_names import column, table

type User = AbstractBaseUser | AnonymousUser


def two_factor_required(*, user: User) -> bool:
    """Whether the policy makes this user sign in with a second factor: superusers and holders
    of a permission in TALLYFY_TWO_FACTOR_PERMISSIONS, while the policy is on."""
    if not user.is_authenticated or not conf.two_factor_required:
        return False
    if user.is_superuser:
        return True
    return any(user.has_perm(perm) for perm in conf.TALLYFY_TWO_FACTOR_PERMISSIONS)


@dataclass(frozen=True)
class UserDevices:
    apps: list[TOTPDevice]
    passkeys: list[WebAuthnCredential]
    recovery: StaticDevice | None
    recovery_left: int

    @property
    def primary(self) -> list[Device]:
        """The factors a user signs in with day to day; recovery codes are the spare key."""
        return [*self.apps, *self.passkeys]

    @property
    def any(self) -> bool:
        return bool(self.primary) or self.recovery_left > 0


def user_devices(*, user: AbstractBaseUser) -> UserDevices:
    """The user's confirmed second factors."""
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return UserDevices(
        apps=list(TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")),
        passkeys=list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")),
        recovery=recovery,
        recovery_left=recovery.token_set.count() if recovery else 0,
    )


def has_second_factor(*, user: AbstractBaseUser) -> bool:
    """Whether the user has any second factor to give (an app, a passkey, a recovery code
    left), in one query. The middleware asks it on every page of a session without one, so
    the query is written out: the ORM takes forty times longer to build this union than the
    database takes to answer it (about 1.2 ms against 0.03 ms a page)."""
    expression, params = second_factor_question(user.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression}", params)
        row = cursor.fetchone()
    return bool(row and row[0])


HAS_SECOND_FACTOR = "has_second_factor"


def second_factor_question(user_id: object) -> tuple[str, list[object]]:
    """`has_second_factor` as a boolean SQL expression, to be asked with the signed-in user's
    read (accounts.signed_in)."""
    return _second_factor_sql(), [user_id, True] * 3


@cache
def _second_factor_sql() -> str:
    def confirmed_of_user(model: type[Model]) -> str:
        return f"{column(model, 'user')} = %s AND {column(model, 'confirmed')} = %s"

    apps = [
        f"SELECT 1 FROM {table(model)} WHERE {confirmed_of_user(model)}"  # noqa: S608
        for model in (TOTPDevice, WebAuthnCredential)
    ]
    codes = (
        f"SELECT 1 FROM {table(StaticToken)} INNER JOIN {table(StaticDevice)} "  # noqa: S608
        f"ON {column(StaticToken, 'device')} = {column(StaticDevice, 'id')} "
        f"WHERE {confirmed_of_user(StaticDevice)}"
    )
    return f"EXISTS ({' UNION ALL '.join([*apps, codes])})"


def request_user_has_second_factor(request: HttpRequest) -> bool:
    """`has_second_factor` of the request's user, asked once a request (the middleware, then
    sudo mode on the same POST): with the user's own read when it was asked there."""
    if not hasattr(request, "_user_has_second_factor"):
        answer = signed_in_answer(request.user, HAS_SECOND_FACTOR)
        request._user_has_second_factor = (  # type: ignore[attr-defined]
            has_second_factor(user=request.user) if answer is None else answer
        )
    return request._user_has_second_factor  # type: ignore[attr-defined]
