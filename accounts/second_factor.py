"""The second step of signing in, and what it writes: a session verified by a device.

Guessing is held twice: django-otp throttles each device (after a wrong code the next is
refused for 1, 2, 4, … seconds, kept in the database across sessions), and every wrong code
counts with django-axes as a failed sign-in of its own kind (the password's success does not
clear it), which at DJANGO_LOGIN_FAILURE_LIMIT locks the username out from that address, ends
the session and is logged.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import logout
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from accounts.lockout import lockout_response
from accounts.selectors import (
    request_user_has_second_factor,
    two_factor_required,
    user_devices,
)

logger = logging.getLogger(__name__)

VERIFIED_AT_KEY = "_second_factor_at"
TOTP_CODE = re.compile(r"[0-9]{6}")
RECOVERY_CODE = re.compile(r"[a-z2-7]{8}")

# What a user who still owes the second step may open: that step, and signing out.
SECOND_STEP_PAGES = {
    "admin:accounts_verify",
    "admin:logout",
    "otp_webauthn:credential-authentication-begin",
    "otp_webauthn:credential-authentication-complete",
    "otp_webauthn:js-i18n-catalog",
}
# What a user who must enrol but has no second factor may open.
ENROLMENT_PAGES = {
    "admin:accounts_security",
    "admin:accounts_add_app",
    "admin:accounts_add_passkey",
    "admin:logout",
    "otp_webauthn:credential-registration-begin",
    "otp_webauthn:credential-registration-complete",
    "otp_webauthn:js-i18n-catalog",
}


def second_factor_login(*, request: HttpRequest, device: Device) -> None:
    """Mark the session verified by `device`, now (the clock sudo mode reads)."""
    request.session.cycle_key()  # a session raised to two factors gets a new key
    django_otp.login(request, device)
    request.session[VERIFIED_AT_KEY] = time.time()


def password_sign_in_owes_second_factor(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: object
) -> None:
    """`user_logged_in`: a sign-in with the password alone starts a session that owes its
    second factor. Django keeps a session's data when the user it names signs in again (a
    session that reads as signed out because its backend is no longer configured, after an
    upgrade), and with it the device that had verified it; here it is dropped and the session
    gets a new key. A login that carries its device (django-otp's own forms) keeps it."""
    if request is None or hasattr(user, "otp_device"):
        return
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    request.session.pop(VERIFIED_AT_KEY, None)
    request.session.cycle_key()


def verified_at(request: HttpRequest) -> float | None:
    value = request.session.get(VERIFIED_AT_KEY)
    return float(value) if isinstance(value, int | float) else None


def _url_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


def second_step_redirect(request: HttpRequest) -> HttpResponse | None:
    """Where a signed-in user who owes a second factor must go instead, or None."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return None
    has_one = request_user_has_second_factor(request)
    if not has_one and not two_factor_required(user=user):
        return None
    name = _url_name(request.path_info)
    if has_one:
        if name in SECOND_STEP_PAGES:
            return None
        target = reverse("admin:accounts_verify")
    else:
        if name in ENROLMENT_PAGES:
            return None
        target = reverse("admin:accounts_security")
    if request.method in ("GET", "HEAD") and name not in (None, "admin:index", "admin:login"):
        target = f"{target}?{urlencode({'next': request.get_full_path()})}"
    return HttpResponseRedirect(target)


@dataclass(frozen=True)
class Outcome:
    device: Device | None = None
    error: str = ""
    response: HttpResponse | None = None  # the lockout page, the session ended


def _axes_credentials(user: AbstractBaseUser) -> dict[str, str]:
    # Its own name, so that a right password (which clears the password's failures) does
    # not clear the second factor's.
    return {"username": f"{user.get_username()}#second-factor"}


def _candidates(user: AbstractBaseUser, code: str) -> list[Device]:
    devices = user_devices(user=user)
    if TOTP_CODE.fullmatch(code):
        return list(devices.apps)
    if RECOVERY_CODE.fullmatch(code) and devices.recovery is not None:
        return [devices.recovery]
    return []


def normalized_code(text: str) -> str:
    return re.sub(r"[\s-]", "", text).lower()


def second_factor_verify(*, request: HttpRequest, code: str) -> Outcome:
    """Check a code from an authenticator app or a recovery code for the signed-in user.

    A TOTP code is accepted once (its time step must be later than the last one accepted); a
    recovery code is deleted when used.
    """
    user = request.user
    credentials = _axes_credentials(user)
    if not AxesProxyHandler.is_allowed(request, credentials):
        return _locked_out(request)
    code = normalized_code(code)
    candidates = _candidates(user, code)
    throttled = [d for d in candidates if not d.verify_is_allowed()[0]]
    if candidates and len(throttled) == len(candidates):
        until = min(d.verify_is_allowed()[1]["locked_until"] for d in throttled)
        seconds = max(1, int((until - timezone.now()).total_seconds() + 0.999))
        logger.warning("second factor throttled: user=%r", user.get_username())
        return Outcome(error=f"Too many wrong codes. Wait {seconds} seconds, then try again.")
    for device in candidates:
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            second_factor_login(request=request, device=verified)
            return Outcome(device=verified)
    logger.info("second factor refused: user=%r", user.get_username())
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if getattr(request, "axes_locked_out", False):
        return _locked_out(request)
    return Outcome(error="That code is not right, or it was used already.")


def _locked_out(request: HttpRequest) -> Outcome:
    logger.warning("second factor locked out: user=%r", request.user.get_username())
    logout(request)
    return Outcome(error="locked out", response=lockout_response(request))


def must_enrol(*, user: AbstractBaseUser) -> bool:
    return two_factor_required(user=user) and not user_devices(user=user).primary
