"""Second factors: enrolling, removing, resetting (writes)."""

from __future__ import annotations

import logging
from base64 import b32encode

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key
from django_otp_webauthn.models import WebAuthnCredential

from accounts.selectors import two_factor_required, user_devices

logger = logging.getLogger(__name__)

RECOVERY_CODES = 10


class DeviceRefused(Exception):
    """The change would break the policy; nothing was changed."""


def totp_key_new() -> str:
    """A new authenticator app's secret (hex), kept by the caller until it is confirmed."""
    return default_key()


def totp_device_unsaved(*, user: AbstractBaseUser, key: str) -> TOTPDevice:
    """The app `key` describes, for its QR code and typed secret; nothing is written."""
    return TOTPDevice(user=user, key=key, name="Authenticator app", confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed: base32, in groups of four."""
    text = b32encode(device.bin_key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def totp_device_confirm(*, user: AbstractBaseUser, key: str, code: str) -> TOTPDevice | None:
    """Add the app of `key` once it shows a right code (which is then used up). Wrong codes
    are throttled as at sign-in: they are counted on an unconfirmed device of that key."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(key=key).delete()
        device = TOTPDevice.objects.select_for_update().filter(
            user=user, key=key
        ).first() or totp_device_unsaved(user=user, key=key)
        if device.confirmed:
            return None
        if device.pk is None:
            device.save()
        if not device.verify_is_allowed()[0]:
            raise DeviceRefused("Too many wrong codes: wait a few seconds, then try again.")
        if not device.verify_token(code):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    logger.info("second factor added: user=%r kind=app", user.get_username())
    return device


def recovery_codes_generate(*, user: AbstractBaseUser) -> list[str]:
    """Ten new single-use recovery codes, replacing any left; shown once by the caller."""
    if not user_devices(user=user).primary:
        raise DeviceRefused("Add an authenticator app or a passkey before recovery codes.")
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    logger.info("recovery codes generated: user=%r", user.get_username())
    return codes


DEVICE_KINDS: dict[str, type[Device]] = {
    "app": TOTPDevice,
    "passkey": WebAuthnCredential,
    "recovery": StaticDevice,
}


def device_remove(*, user: AbstractBaseUser, kind: str, pk: int) -> str:
    """Remove one of the user's own second factors; refused for the last app or passkey of a
    user who must use two factors. Returns what was removed, for the message."""
    model = DEVICE_KINDS[kind]
    with transaction.atomic():
        device = model.objects.select_for_update().get(user=user, pk=pk)
        primary = user_devices(user=user).primary
        if kind != "recovery" and len(primary) <= 1 and two_factor_required(user=user):
            raise DeviceRefused(
                "This is your last authenticator app or passkey, and your account must sign "
                "in with a second factor: add another before removing this one."
            )
        name = str(device.name or kind)
        device.delete()
    logger.info("second factor removed: user=%r kind=%s", user.get_username(), kind)
    return name


def devices_reset(*, user: AbstractBaseUser, by: AbstractBaseUser | None, reason: str) -> int:
    """Remove every second factor of `user` (a lost phone, a lost key), recorded in the
    admin's log (`by`, or the command line when None). The user enrols again at next sign-in
    if the policy requires it. Returns how many were removed."""
    with transaction.atomic():
        removed = sum(
            model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
            for model in DEVICE_KINDS.values()
        )
        if by is not None:
            LogEntry.objects.log_actions(
                user_id=by.pk,
                queryset=[user],
                action_flag=CHANGE,
                change_message=f"Reset two-factor sign-in: {removed} removed. {reason}".strip(),
                single_object=True,
            )
    logger.warning(
        "second factors reset: user=%r by=%r removed=%s reason=%r",
        user.get_username(),
        by.get_username() if by is not None else "(command line)",
        removed,
        reason,
    )
    return removed
