"""Passkeys and security keys (django-otp-webauthn), as a second factor after the password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.middleware import csrf
from django.urls import path, reverse
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import views as webauthn
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.helpers import WebAuthnHelper

from accounts.second_factor import second_factor_login
from accounts.sudo import sudo_fresh


def relying_party_id(request: HttpRequest) -> str:
    """TALLYFY_WEBAUTHN_RP_ID, else the host the page was served from (an allowed host)."""
    return settings.OTP_WEBAUTHN_RP_ID or request.get_host().rsplit(":", 1)[0].strip("[]")


class PasskeyHelper(WebAuthnHelper):
    def get_allowed_origins(self) -> list[str]:
        origins = list(super().get_allowed_origins())
        if settings.DEBUG:  # make run: http://localhost:8000, whatever the port
            origins.append(f"{self.request.scheme}://{self.request.get_host()}")
        return origins

    def get_credential_name(self, user: Any) -> str:
        return "Passkey"


class StaleSecondFactor(OTPWebAuthnApiError):
    status_code = 403
    default_code = "stale_second_factor"
    default_detail = "Confirm it is you first: reload the page."


class RegistrationCheck:
    """A user who has a second factor adds a passkey only with a recent one (sudo mode), as
    the page that offers it asked."""

    def check_can_register(self) -> None:
        if not sudo_fresh(self.request):  # type: ignore[attr-defined]
            raise StaleSecondFactor()


class RegistrationBegin(RegistrationCheck, webauthn.BeginCredentialRegistrationView):
    pass


class RegistrationComplete(RegistrationCheck, webauthn.CompleteCredentialRegistrationView):
    """A new passkey; a user enrolling their first factor is verified by it, now."""

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        verified_before = self.request.user.is_verified()
        response = super().post(*args, **kwargs)
        if not verified_before and self.request.user.is_verified():
            second_factor_login(request=self.request, device=self.request.user.otp_device)
        return response


class AuthenticationComplete(webauthn.CompleteCredentialAuthenticationView):
    """The second step (or sudo mode's) given with a passkey of the signed-in user."""

    def complete_auth(self, device: Any) -> None:
        second_factor_login(request=self.request, device=device)


passkey_urls = (
    [
        path(
            "registration/begin/",
            RegistrationBegin.as_view(),
            name="credential-registration-begin",
        ),
        path(
            "registration/complete/",
            RegistrationComplete.as_view(),
            name="credential-registration-complete",
        ),
        path(
            "authentication/begin/",
            webauthn.BeginCredentialAuthenticationView.as_view(),
            name="credential-authentication-begin",
        ),
        path(
            "authentication/complete/",
            AuthenticationComplete.as_view(),
            name="credential-authentication-complete",
        ),
        path(
            "jsi18n/",
            JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
            name="js-i18n-catalog",
        ),
    ],
    "otp_webauthn",
)


def passkey_script_config(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What django-otp-webauthn's scripts read from the page (json_script)."""
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("otp_webauthn:credential-authentication-begin"),
        "completeAuthenticationUrl": reverse("otp_webauthn:credential-authentication-complete"),
        "beginRegistrationUrl": reverse("otp_webauthn:credential-registration-begin"),
        "completeRegistrationUrl": reverse("otp_webauthn:credential-registration-complete"),
        **extra,
    }
