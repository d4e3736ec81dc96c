"""The one place that speaks HTTP to Tallyfy: headers, timeouts, deadlines, body caps,
retries, waits and the throttle, for every call.

Retries are an explicit loop rather than urllib3's `Retry`: before every attempt the throttle
must be asked for a slot, a 429 must be reported to it, and no wait may go past the caller's
wait budget, none of which `Retry` (which sleeps inside urllib3) can do.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Timeout

from tallyfy_api.config import ClientConfig
from tallyfy_api.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    TallyfyError,
    error_for,
)
from tallyfy_api.throttle import LocalThrottle, Throttle

logger = logging.getLogger(__name__)

MAX_RETRIES = 3  # retries after the first try, for any one call
RETRIED_STATUSES = frozenset({500, 502, 503, 504})  # on GET only
_READ_BYTES = 64 * 1024
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
# What urllib3 and the socket raise while a body is read.
BODY_READ_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    requests.RequestException,
    OSError,
)


def call_time_limit(*, call_deadline: float, wait_budget: float) -> float:
    """The longest one call can take, retries and waits included: every attempt is bounded
    by the deadline, and every wait (Retry-After, throttle, backoff) comes out of the budget."""
    return (1 + MAX_RETRIES) * call_deadline + wait_budget


def ascii_int(value: str | None) -> int | None:
    """A header's non-negative integer, ASCII digits only (`str.isdigit` accepts `²`)."""
    value = (value or "").strip()
    return int(value) if _ASCII_DIGITS.fullmatch(value) else None


def set_read_timeout(raw: Any, seconds: float) -> None:
    """Bound the next read of a streamed body; urllib3 sets a timeout only per request."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


@dataclass(frozen=True)
class Answer:
    """A complete 2xx answer whose body was read under the cap."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def request_id(self) -> str:
        return self.headers.get("X-Request-Id", "")


class _Budget:
    def __init__(self, seconds: float | None) -> None:
        self.left = seconds

    def spend(self, seconds: float) -> None:
        if self.left is not None:
            self.left = max(0.0, self.left - seconds)

    def allows(self, seconds: float) -> bool:
        return self.left is None or seconds <= self.left


class Transport:
    """One organization's pooled session to one base URL."""

    def __init__(
        self,
        *,
        base_url: str,
        org_id: str,
        token: str,
        config: ClientConfig,
        throttle: Throttle | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.root = f"{base_url}/organizations/{quote(org_id, safe='')}"
        self.config = config
        self.throttle: Throttle = throttle if throttle is not None else LocalThrottle()
        self._sleep = sleep
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "X-Tallyfy-Client": "APIClient",
            }
        )
        adapter = HTTPAdapter(max_retries=0)  # retries are ours, below
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        method: str,
        *segments: str,
        params: Mapping[str, str | int] | None = None,
        body_limit: int | None = None,
        body_needed: bool = True,
    ) -> Answer:
        """A whole answer. A 2xx body over `body_limit` raises ResponseTooLarge, unless the
        body is not needed (then it is dropped unread)."""
        limit = self.config.max_body_bytes if body_limit is None else body_limit
        return self._with_retries(
            method,
            self._url(segments),
            lambda response, started: self._answer(
                response, started, limit=limit, body_needed=body_needed
            ),
            params=params,
            stream=False,
        )

    def open(self, *segments: str) -> requests.Response:
        """A 2xx GET whose body is left unread, to be streamed by the caller."""
        return self._with_retries(
            "GET", self._url(segments), lambda response, started: response, stream=True
        )

    def _url(self, segments: tuple[str, ...]) -> str:
        return "/".join((self.root, *(quote(segment, safe="") for segment in segments)))

    def _with_retries[T](
        self,
        method: str,
        url: str,
        finish: Callable[[requests.Response, float], T],
        *,
        stream: bool,
        params: Mapping[str, str | int] | None = None,
    ) -> T:
        budget = _Budget(self.config.wait_budget)
        rate_limited: RateLimited | None = None
        attempt = 0
        while True:
            self._take_slot(budget, rate_limited)
            try:
                response, started = self._send(method, url, params=params, stream=stream)
                return finish(response, started)
            except RateLimited as exc:
                rate_limited = exc
                self.throttle.pushed_back(
                    retry_after=(
                        self._backoff_delay(attempt)
                        if exc.retry_after is None
                        else min(exc.retry_after, self.config.retry_after_cap)
                    )
                )
                if attempt >= MAX_RETRIES:
                    raise
            except (ServerError, ConnectionFailed) as exc:
                retryable = method == "GET" and not isinstance(exc, DeadlineExceeded)
                if isinstance(exc, ServerError):
                    retryable = retryable and exc.status in RETRIED_STATUSES
                delay = self._backoff_delay(attempt)
                if not retryable or attempt >= MAX_RETRIES or not budget.allows(delay):
                    raise
                budget.spend(delay)
                self._sleep(delay)
            attempt += 1

    def _take_slot(self, budget: _Budget, rate_limited: RateLimited | None) -> None:
        started = time.monotonic()
        wait = self.throttle.acquire(max_wait=budget.left)
        budget.spend(time.monotonic() - started)
        if wait is None:
            return
        if rate_limited is None:
            raise RateLimited(
                f"The request rate for this organization is used up for {wait:.0f} s.",
                retry_after=wait,
            )
        raise RateLimited(
            rate_limited.message,
            retry_after=wait,
            status=rate_limited.status,
            request_id=rate_limited.request_id,
            code=rate_limited.code,
            json_body=rate_limited.json_body,
        ) from rate_limited

    def _backoff_delay(self, attempt: int) -> float:
        backoff = self.config.backoff
        return backoff * 2**attempt + random.uniform(0, backoff / 2)  # noqa: S311 (jitter)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None,
        stream: bool,
    ) -> tuple[requests.Response, float]:
        """One attempt, up to the headers of a 2xx answer; any other answer is raised."""
        started = time.monotonic()
        # A streamed body is passed on byte for byte with its Content-Length: no compression.
        headers = {"Accept-Encoding": "identity"} if stream else None
        timeout = Timeout(
            total=self.config.call_deadline,
            connect=self.config.connect_timeout,
            read=self.config.read_timeout,
        )
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            if time.monotonic() - started >= self.config.call_deadline:
                raise DeadlineExceeded(
                    f"Tallyfy did not answer within {self.config.call_deadline:g} s ({method})."
                ) from exc
            raise ConnectionFailed(f"Tallyfy did not answer in time ({method}).") from exc
        except requests.RequestException as exc:
            raise ConnectionFailed(
                f"Could not reach Tallyfy ({type(exc).__name__}) on {method}."
            ) from exc
        logger.info(
            "tallyfy %s %s -> %s", method, url.removeprefix(self.root), response.status_code
        )
        if not 200 <= response.status_code < 300:
            body = self._read(response, started, limit=self.config.max_body_bytes)
            raise error_for(response.status_code, response.headers, body or b"")
        return response, started

    def _answer(
        self, response: requests.Response, started: float, *, limit: int, body_needed: bool
    ) -> Answer:
        body = self._read(response, started, limit=limit)
        if body is None and body_needed:
            raise ResponseTooLarge(
                f"Tallyfy's answer is larger than {limit} bytes; it was not read.",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id", ""),
            )
        return Answer(response.status_code, response.headers, body or b"")

    def _read(self, response: requests.Response, started: float, *, limit: int) -> bytes | None:
        """The body, read under the call deadline; None (and the connection closed) when it
        is larger than `limit`."""
        try:
            declared = ascii_int(response.headers.get("Content-Length"))
            if declared is not None and declared > limit:
                response.close()
                return None
            raw, chunks, size = response.raw, [], 0
            while True:
                left = started + self.config.call_deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded(
                        f"Tallyfy's answer took longer than {self.config.call_deadline:g} s."
                    )
                set_read_timeout(raw, min(self.config.read_timeout, left))
                try:
                    chunk = raw.read1(_READ_BYTES, decode_content=True)
                except BODY_READ_ERRORS as exc:
                    if time.monotonic() - started >= self.config.call_deadline:
                        raise DeadlineExceeded(
                            f"Tallyfy's answer took longer than {self.config.call_deadline:g} s."
                        ) from exc
                    raise ConnectionFailed(
                        f"Tallyfy's answer broke off ({type(exc).__name__})."
                    ) from exc
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > limit:
                    response.close()
                    return None
                chunks.append(chunk)
        except TallyfyError:
            response.close()
            raise
