from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.client_ip import client_ip

logger = logging.getLogger(__name__)


def lockout_response(
    request: HttpRequest, response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout page: what happened and when to try again, in the admin's look."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    logger.warning(
        "sign-in locked out: ip=%r after %s failures",
        client_ip(request),  # the address the lock applies to, not a proxy's
        settings.AXES_FAILURE_LIMIT,
    )
    context = {
        "title": "Sign-in locked",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
        "site_header": "Tallyfy admin",
    }
    return render(request, "admin/lockout.html", context, status=429)
