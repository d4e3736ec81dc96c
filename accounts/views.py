"""The second step of signing in, the security page (enrolment), sudo mode's confirmation and
a superuser's reset: pages of the admin site (accounts.urls), thin over accounts.services."""

from __future__ import annotations

import base64
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import CodeForm, ConfirmAppForm, ResetForm
from accounts.passkeys import passkey_script_config
from accounts.second_factor import second_factor_login, second_factor_verify
from accounts.selectors import two_factor_required, user_devices
from accounts.sudo import (
    kept_form,
    kept_form_drop,
    sudo_fresh,
    sudo_required,
    sudo_required_to_open,
)
from admin_pages.pages import render_page

PENDING_APP_KEY = "_pending_totp_device"


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """The second step after the password: a code (app or recovery) or a passkey."""
    next_url = _safe_next(request, reverse("admin:index"))
    if request.user.is_verified():
        return redirect(next_url)
    devices = user_devices(user=request.user)
    if not devices.any:
        return redirect("admin:accounts_security")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = second_factor_verify(request=request, code=form.cleaned_data["code"])
        if outcome.response is not None:
            return outcome.response
        if outcome.device is not None:
            return redirect(next_url)
        form.add_error("code", outcome.error)
    return render_page(
        request,
        "accounts/verify.html",
        "Sign in: second step",
        form=form,
        devices=devices,
        next_url=next_url,
        passkey_config=passkey_script_config(request),
        is_nav_sidebar_enabled=False,  # no other page answers before this step
    )


@never_cache
@require_http_methods(["GET"])
def security_view(request: HttpRequest) -> HttpResponse:
    """The user's own second factors: add, list, remove."""
    devices = user_devices(user=request.user)
    required = two_factor_required(user=request.user)
    return render_page(
        request,
        "accounts/security.html",
        "Two-factor sign-in",
        devices=devices,
        required=required,
        next_url=_safe_next(request, ""),
        # A user who must enrol opens no other page until then.
        is_nav_sidebar_enabled=not required or bool(devices.primary),
    )


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@never_cache
@require_http_methods(["GET", "POST"])
@sudo_required_to_open
def add_app_view(request: HttpRequest) -> HttpResponse:
    """An authenticator app: scan the QR code or type the secret, then confirm with a code.
    The secret waits in the session until then; nothing is written before the POST."""
    user = request.user
    key = request.session.get(PENDING_APP_KEY)
    if not isinstance(key, str):
        key = request.session[PENDING_APP_KEY] = services.totp_key_new()
    form = ConfirmAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_device_confirm(
                user=user, key=key, code=form.cleaned_data["code"]
            )
        except services.DeviceRefused as exc:
            form.add_error("code", str(exc))
        else:
            if device is not None:
                request.session.pop(PENDING_APP_KEY, None)
                if not user.is_verified():
                    second_factor_login(request=request, device=device)
                messages.success(request, "The authenticator app is added.")
                return redirect(_safe_next(request, reverse("admin:accounts_security")))
            form.add_error("code", "That code is not right. Check the app's clock, then try again.")
    shown = services.totp_device_unsaved(user=user, key=key)
    return render_page(
        request,
        "accounts/add_app.html",
        "Add an authenticator app",
        form=form,
        qr_code=_qr_data_uri(shown.config_url),
        secret=services.totp_secret(shown),
        next_url=_safe_next(request, ""),
    )


@never_cache
@require_http_methods(["GET"])
@sudo_required_to_open
def add_passkey_view(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "accounts/add_passkey.html",
        "Add a passkey",
        passkey_config=passkey_script_config(request),
        security_url=_safe_next(request, reverse("admin:accounts_security")),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@sudo_required
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """New recovery codes replace the old; they are shown this once."""
    codes: list[str] = []
    if request.method == "POST":
        try:
            codes = services.recovery_codes_generate(user=request.user)
        except services.DeviceRefused as exc:
            messages.error(request, str(exc))
            return redirect("admin:accounts_security")
    return render_page(
        request,
        "accounts/recovery_codes.html",
        "Recovery codes",
        codes=codes,
        devices=user_devices(user=request.user),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@sudo_required
def remove_device_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    model = services.DEVICE_KINDS.get(kind)
    if model is None:
        raise Http404
    device = get_object_or_404(model, user=request.user, pk=pk)
    if request.method == "POST":
        try:
            name = services.device_remove(user=request.user, kind=kind, pk=device.pk)
        except services.DeviceRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{name} is removed.")
        return redirect("admin:accounts_security")
    return render_page(
        request, "accounts/remove_device.html", f"Remove {device.name or kind}?", device=device
    )


def _superuser(request: HttpRequest) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied


@never_cache
@require_http_methods(["GET", "POST"])
def reset_user_view(request: HttpRequest, user_pk: int) -> HttpResponse:
    """A superuser removes another user's second factors (a lost phone), recorded."""
    _superuser(request)
    return _reset_user(request, user_pk)


@sudo_required
def _reset_user(request: HttpRequest, user_pk: int) -> HttpResponse:
    target: AbstractBaseUser = get_object_or_404(get_user_model(), pk=user_pk)
    form = ResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        removed = services.devices_reset(
            user=target, by=request.user, reason=form.cleaned_data["reason"]
        )
        messages.success(
            request,
            f"Two-factor sign-in of {target.get_username()} is reset ({removed} removed).",
        )
        return redirect("admin:auth_user_change", target.pk)
    return render_page(
        request,
        "accounts/reset_user.html",
        f"Reset two-factor sign-in of {target.get_username()}?",
        target=target,
        form=form,
        devices=user_devices(user=target),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def sudo_view(request: HttpRequest) -> HttpResponse:
    """Confirm it is you, then send the kept form on."""
    key = request.GET.get("form", "")
    kept = kept_form(request, key)
    if kept is None:
        messages.warning(request, "That form is no longer kept: open the page and send it again.")
        return redirect("admin:index")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = second_factor_verify(request=request, code=form.cleaned_data["code"])
        if outcome.response is not None:
            return outcome.response
        if outcome.device is None:
            form.add_error("code", outcome.error)
    if sudo_fresh(request):
        kept_form_drop(request, key)
        if kept.get("method") == "GET":
            return redirect(kept["path"])
        return render_page(
            request, "accounts/sudo_continue.html", "Confirmed: send it on", kept=kept
        )
    return render_page(
        request,
        "accounts/sudo.html",
        "Confirm it is you",
        form=form,
        devices=user_devices(user=request.user),
        next_url=request.get_full_path(),
        passkey_config=passkey_script_config(request),
    )
