"""Who must give a second factor, and which ones a user has."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.conf import conf

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
    left), in one query: the middleware asks it on every page of a session without one."""
    mine = {"user": user, "confirmed": True}
    return (
        TOTPDevice.objects.filter(**mine)
        .values("user_id")
        .union(
            WebAuthnCredential.objects.filter(**mine).values("user_id"),
            StaticToken.objects.filter(device__user=user, device__confirmed=True).values(
                "device__user_id"
            ),
        )
        .exists()
    )


def request_user_has_second_factor(request: HttpRequest) -> bool:
    """`has_second_factor` of the request's user, asked once a request (the middleware, then
    sudo mode on the same POST)."""
    if not hasattr(request, "_user_has_second_factor"):
        request._user_has_second_factor = has_second_factor(user=request.user)  # type: ignore[attr-defined]
    return request._user_has_second_factor  # type: ignore[attr-defined]
