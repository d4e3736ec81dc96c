"""One Tallyfy client per organization and server thread, kept between requests."""

from __future__ import annotations

import threading

from django.conf import settings

from files import tallyfy
from files.models import Organization
from throttling.services import throttle_for

_clients = threading.local()
_CLIENTS_PER_THREAD = 32


def tallyfy_client(
    *, organization: Organization, background: bool = False
) -> tallyfy.TallyfyClient:
    """This thread's client for the organization, kept so its connection (and TLS session)
    is reused across requests. Any change to the organization or the settings makes a new one.
    Every call takes a slot of the organization's rate limit, shared with every other process.
    A page's call waits at most `TALLYFY_INTERACTIVE_WAIT_LIMIT` seconds in all for slots and
    Retry-After, and is served before background calls; a background call (`background=True`)
    waits as long as the limit needs.
    """
    from_settings = {
        "allowed_hosts": tuple(settings.TALLYFY_ALLOWED_API_HOSTS),
        "insecure_hosts": tuple(settings.TALLYFY_INSECURE_API_HOSTS),
        "connect_timeout": settings.TALLYFY_CONNECT_TIMEOUT,
        "read_timeout": settings.TALLYFY_READ_TIMEOUT,
        "call_deadline": settings.TALLYFY_CALL_DEADLINE,
        "download_min_rate": settings.TALLYFY_DOWNLOAD_MIN_RATE,
        "max_body_bytes": settings.TALLYFY_MAX_BODY_BYTES,
        "max_list_body_bytes": settings.TALLYFY_MAX_LIST_BODY_BYTES,
        "wait_budget": None if background else settings.TALLYFY_INTERACTIVE_WAIT_LIMIT,
        "retry_after_cap": settings.TALLYFY_RETRY_AFTER_CAP,
        "backoff": settings.TALLYFY_RETRY_BACKOFF,
    }
    config = (
        background,
        organization.pk,
        organization.api_base_url,
        organization.org_id,
        organization.token_ciphertext,
        *from_settings.values(),
    )
    cache: dict[tuple[object, ...], tallyfy.TallyfyClient] = _clients.__dict__.setdefault(
        "by_config", {}
    )
    client = cache.get(config)
    if client is None:
        client = tallyfy.TallyfyClient(
            base_url=organization.api_base_url,
            org_id=organization.org_id,
            token=organization.access_token(),
            throttle=throttle_for(organization, background=background),
            **from_settings,
        )
        if len(cache) >= _CLIENTS_PER_THREAD:
            for stale in cache.values():
                stale.close()
            cache.clear()
        cache[config] = client
    return client
