"""The admin's password change, where a wrong current password counts as a failed sign-in."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse

from accounts.lockout import lockout_response


class ThrottledPasswordChangeView(PasswordChangeView):
    """Django admin's password change page, throttled by django-axes like the sign-in page.

    A wrong current password is a failed sign-in for this user from this address, so a session
    that is not its owner's cannot guess the password: at the failure limit the session is
    signed out and the lockout page shown, and signing in again is locked out too.
    """

    form_class = AdminPasswordChangeForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not AxesProxyHandler.is_allowed(
            request, self._credentials()
        ):
            logout(request)
            return lockout_response(request)
        return super().dispatch(request, *args, **kwargs)

    def form_invalid(self, form: AdminPasswordChangeForm) -> HttpResponse:
        if form.has_error("old_password", code="password_incorrect"):
            user_login_failed.send(
                sender=__name__, credentials=self._credentials(), request=self.request
            )
            if getattr(self.request, "axes_locked_out", False):
                # axes' middleware answers with the lockout page; the session ends here.
                logout(self.request)
        return super().form_invalid(form)

    def _credentials(self) -> dict[str, str]:
        return {"username": self.request.user.get_username()}
