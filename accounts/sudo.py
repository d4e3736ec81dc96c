"""Sudo mode: a dangerous action asks for the second factor again when the last one given is
older than TALLYFY_SUDO_SECONDS, as GitHub does, and keeps what was typed.

`@sudo_required` on a view (under its method and permission decorators): a POST made with a
stale second factor is kept in the session, not acted on, and the user is sent to confirm it
is them (an app's code, a recovery code or a passkey); then a page offers the same form, with
what was typed, to send on. Users without a second factor are not asked (the sign-in policy
decides who must have one).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.conf import conf
from accounts.second_factor import verified_at
from accounts.selectors import request_user_has_second_factor

type View = Callable[..., HttpResponse]

PENDING_KEY = "_sudo_pending"
KEPT = 5  # forms kept at once in a session (several tabs)
NOT_KEPT = {"csrfmiddlewaretoken"}


def sudo_fresh(request: HttpRequest) -> bool:
    """The session's last second factor is recent enough, or this user has none to give."""
    user = request.user
    if not user.is_authenticated:
        return False
    if not request_user_has_second_factor(request):
        return True
    at = verified_at(request)
    return at is not None and time.time() - at <= conf.TALLYFY_SUDO_SECONDS


def sudo_required(view: View) -> View:
    """A POST to `view` needs a recent second factor; a stale one's form is kept."""
    return _sudo(view, methods={"POST"})


def sudo_required_to_open(view: View) -> View:
    """`view` needs a recent second factor even to be opened (adding a second factor: a
    stolen session must not add its own); after confirming, the page opens."""
    return _sudo(view, methods={"GET", "HEAD", "POST"})


def _sudo(view: View, *, methods: set[str]) -> View:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in methods or sudo_fresh(request):
            return view(request, *args, **kwargs)
        key = _keep(request)
        return HttpResponseRedirect(f"{reverse('admin:accounts_sudo')}?{urlencode({'form': key})}")

    return checked


def _keep(request: HttpRequest) -> str:
    pending: dict[str, Any] = dict(request.session.get(PENDING_KEY, {}))
    key = secrets.token_urlsafe(12)
    pending[key] = {
        "method": "POST" if request.method == "POST" else "GET",
        "path": request.get_full_path(),
        "fields": [
            [name, value]
            for name, values in request.POST.lists()
            if name not in NOT_KEPT
            for value in values
        ],
        "at": time.time(),
    }
    request.session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda i: i[1]["at"])[-KEPT:])
    return key


def kept_form(request: HttpRequest, key: str) -> dict[str, Any] | None:
    """The POST kept under `key` (its path and fields), or None."""
    kept = request.session.get(PENDING_KEY, {}).get(key)
    return kept if isinstance(kept, dict) else None


def kept_form_drop(request: HttpRequest, key: str) -> None:
    pending = dict(request.session.get(PENDING_KEY, {}))
    if pending.pop(key, None) is not None:
        request.session[PENDING_KEY] = pending
