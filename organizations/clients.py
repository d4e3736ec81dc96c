"""One Tallyfy client per organization and server thread, kept between requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import tallyfy_api
from organizations.conf import conf
from organizations.models import Organization
from throttling.services import throttle_for

_clients = threading.local()
_CLIENTS_PER_THREAD = 32
_guard: ContextVar[Callable[[], None] | None] = ContextVar("tallyfy_call_guard", default=None)


@contextmanager
def calls_guarded_by(guard: Callable[[], None]) -> Iterator[None]:
    """Run `guard` before every request to Tallyfy made in this block (retries included), and
    again once the request's rate slot has come: a guard that raises stops the request before
    it is sent. A background worker uses it to stop as soon as it no longer holds its work."""
    token = _guard.set(guard)
    try:
        yield
    finally:
        _guard.reset(token)


class _GuardedThrottle:
    """The organization's throttle, with the guard of the calling context around each slot."""

    def __init__(self, inner: tallyfy_api.Throttle) -> None:
        self.inner = inner

    def acquire(self, *, max_wait: float | None) -> float | None:
        _check_guard()
        wait = self.inner.acquire(max_wait=max_wait)
        _check_guard()
        return wait

    def pushed_back(self, *, retry_after: float) -> None:
        self.inner.pushed_back(retry_after=retry_after)


def _check_guard() -> None:
    guard = _guard.get()
    if guard is not None:
        guard()


def client_config(*, background: bool = False) -> tallyfy_api.ClientConfig:
    """The bounds of every call to Tallyfy, from the settings: the one place they are read.
    A background call waits as long as the rate limit needs; a page's call waits at most
    `TALLYFY_INTERACTIVE_WAIT_LIMIT` seconds in all."""
    return tallyfy_api.ClientConfig(
        allowed_hosts=tuple(conf.TALLYFY_ALLOWED_API_HOSTS),
        insecure_hosts=tuple(conf.TALLYFY_INSECURE_API_HOSTS),
        connect_timeout=conf.TALLYFY_CONNECT_TIMEOUT,
        read_timeout=conf.TALLYFY_READ_TIMEOUT,
        call_deadline=conf.TALLYFY_CALL_DEADLINE,
        download_min_rate=conf.TALLYFY_DOWNLOAD_MIN_RATE,
        max_body_bytes=conf.TALLYFY_MAX_BODY_BYTES,
        max_list_body_bytes=conf.TALLYFY_MAX_LIST_BODY_BYTES,
        retry_after_cap=conf.TALLYFY_RETRY_AFTER_CAP,
        backoff=conf.TALLYFY_RETRY_BACKOFF,
        wait_budget=None if background else conf.TALLYFY_INTERACTIVE_WAIT_LIMIT,
    )


def tallyfy_client(
    *, organization: Organization, background: bool = False
) -> tallyfy_api.TallyfyClient:
    """This thread's client for the organization, kept so its connection (and TLS session)
    is reused across requests. Any change to the organization or the settings makes a new one.
    Every call takes a slot of the organization's rate limit, shared with every other process.
    A page's call waits at most `TALLYFY_INTERACTIVE_WAIT_LIMIT` seconds in all for slots and
    Retry-After, and is served before background calls; a background call (`background=True`)
    waits as long as the limit needs.
    """
    config = client_config(background=background)
    key = (
        config,
        background,
        organization.pk,
        organization.api_base_url,
        organization.org_id,
        organization.token_ciphertext,
    )
    cache: dict[tuple[object, ...], tallyfy_api.TallyfyClient] = _clients.__dict__.setdefault(
        "by_config", {}
    )
    client = cache.get(key)
    if client is None:
        client = tallyfy_api.TallyfyClient(
            base_url=organization.api_base_url,
            org_id=organization.org_id,
            token=organization.access_token(),
            config=config,
            throttle=_GuardedThrottle(throttle_for(organization, background=background)),
        )
        if len(cache) >= _CLIENTS_PER_THREAD:
            for stale in cache.values():
                stale.close()
            cache.clear()
        cache[key] = client
    return client


def tallyfy_client_paced_by(
    *, organization: Organization, throttle: tallyfy_api.Throttle
) -> tallyfy_api.TallyfyClient:
    """A background client of the organization whose calls are paced by `throttle` rather
    than the organization's shared one: for a caller that takes the shared slots itself."""
    return tallyfy_api.TallyfyClient(
        base_url=organization.api_base_url,
        org_id=organization.org_id,
        token=organization.access_token(),
        config=client_config(background=True),
        throttle=throttle,
    )
