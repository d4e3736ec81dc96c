from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

_STARTED_KEY = "_session_started_at"


class AbsoluteSessionLifetimeMiddleware:
    """End a signed-in session SESSION_ABSOLUTE_LIFETIME after sign-in, active or not.

    SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST covers the idle limit.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            started = request.session.setdefault(_STARTED_KEY, time.time())
            if time.time() - started > settings.SESSION_ABSOLUTE_LIFETIME.total_seconds():
                logout(request)
        return self.get_response(request)
