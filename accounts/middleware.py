from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.conf import conf

# How stale the idle clock may be, in seconds: a session is saved at most once in this span.
SESSION_TOUCH_INTERVAL = 60
_STARTED_KEY = "_session_started_at"
_TOUCHED_KEY = "_session_touched_at"


class SessionLifetimeMiddleware:
    """Idle and absolute limits for signed-in sessions.

    Idle: the session is saved (and its expiry pushed SESSION_COOKIE_AGE ahead) at most once
    per SESSION_TOUCH_INTERVAL, rather than on every request, so a page view costs no write.
    Absolute: DJANGO_SESSION_ABSOLUTE_SECONDS after sign-in the user is signed out, active or not.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(_STARTED_KEY, now)
            if now - started > conf.DJANGO_SESSION_ABSOLUTE_SECONDS:
                logout(request)
            elif now - request.session.get(_TOUCHED_KEY, 0) > SESSION_TOUCH_INTERVAL:
                request.session[_TOUCHED_KEY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """A signed-in user who owes a second factor reaches only the pages that take it.

    After the password alone (the admin's login), a user who must or can give a second factor
    is sent to the second step; one who must but has none is sent to enrolment. Every other
    URL, the file pages and the log included, answers with that redirect (or 403 to a script).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from accounts.second_factor import second_step_redirect

        redirect = second_step_redirect(request)
        return redirect if redirect is not None else self.get_response(request)
