"""The address a sign-in came from, for the brute-force lockout."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.conf import conf


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, behind DJANGO_PROXY_COUNT trusted proxies, the address the outermost
    of them received the request from.

    Each proxy appends the address it was reached from to X-Forwarded-For, so only the last
    PROXY_COUNT entries were written by proxies we trust; anything left of them came from
    the client and is ignored.
    """
    count = conf.DJANGO_PROXY_COUNT
    if count:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")
