"""Second factors are managed on the Two-factor sign-in pages (accounts.urls), not through
the libraries' own model admins: one way to add them (confirmed by a code or the browser) and
one recorded way for a superuser to reset them (Reset two-factor sign-in on a user's page)."""

from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnAttestation, WebAuthnCredential

for model in (TOTPDevice, StaticDevice, WebAuthnCredential, WebAuthnAttestation):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
