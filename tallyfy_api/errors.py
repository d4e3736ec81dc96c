"""The exceptions of the Tallyfy client, named for what the caller does next, and the one
function that maps an HTTP error answer to them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from urllib3.util.retry import Retry

_MESSAGE_LIMIT = 500


class TallyfyError(Exception):
    """Base of every failure talking to Tallyfy.

    `code` is the `code` of Tallyfy's JSON error body (`RESOURCE_NOT_FOUND`,
    `ENDPOINT_NOT_FOUND`, `RATE_LIMIT_EXCEEDED`, …), empty when it had none; `json_body` says
    whether the error body was JSON at all (an HTML page means something other than Tallyfy's
    API answered).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str = "",
        code: str = "",
        json_body: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.code = code
        self.json_body = json_body


class AuthenticationFailed(TallyfyError):
    """401: the token is missing, invalid or expired. Enter a new token."""


class PermissionDenied(TallyfyError):
    """403: the token's user may not do this in this organization."""


class NotFound(TallyfyError):
    """404 (any code but `ENDPOINT_NOT_FOUND`): no such file (or it was deleted). Read `code`
    for which 404 it was."""


class EndpointNotFound(TallyfyError):
    """404 with code `ENDPOINT_NOT_FOUND`: Tallyfy has no such endpoint, so the API base URL is
    wrong. Nothing is known about the file: fix the organization's base URL."""


class RequestRejected(TallyfyError):
    """422 and any other 4xx: Tallyfy refused the request; repeating it will not help."""


class RateLimited(TallyfyError):
    """429 after the retries allowed, or a wait longer than the caller's wait budget: wait
    `retry_after` seconds and try again."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(TallyfyError):
    """5xx: Tallyfy failed. A DELETE may or may not have been applied."""


class ConnectionFailed(TallyfyError):
    """No answer (refused, reset, timed out). A DELETE may or may not have been applied."""


class DeadlineExceeded(ConnectionFailed):
    """No complete answer within the call deadline (connect to last byte), e.g. an upstream
    that trickles its body. Not retried. A DELETE may or may not have been applied."""


class DownloadInterrupted(TallyfyError):
    """A file body broke off, stalled or ended short of its `Content-Length` after it had
    started. The bytes passed on so far are not the whole file: abort the response."""


class UnexpectedResponse(TallyfyError):
    """A redirect (3xx) or a 2xx body that is not what the contract promises."""


class ResponseTooLarge(UnexpectedResponse):
    """A 2xx metadata or list body larger than the configured cap; it was not read."""


def error_for(status: int, headers: Mapping[str, str], body: bytes) -> TallyfyError:
    """The exception that tells the caller what to do next about a non-2xx answer."""
    parsed = _json(body)
    code = parsed.get("code") if isinstance(parsed, dict) else None
    kwargs: dict[str, Any] = {
        "status": status,
        "request_id": headers.get("X-Request-Id", ""),
        "code": code if isinstance(code, str) else "",
        "json_body": parsed is not None,
    }
    message = error_message(body)
    if 300 <= status < 400:
        return UnexpectedResponse(f"Tallyfy answered with a redirect ({status}).", **kwargs)
    if status == 401:
        return AuthenticationFailed(message or "The access token was rejected.", **kwargs)
    if status == 403:
        return PermissionDenied(message or "Permission denied.", **kwargs)
    if status == 404 and kwargs["code"] == "ENDPOINT_NOT_FOUND":
        return EndpointNotFound(message or "Endpoint not found.", **kwargs)
    if status == 404:
        return NotFound(message or "Resource not found.", **kwargs)
    if status == 429:
        return RateLimited(
            message or "Too many requests.",
            retry_after=retry_after_seconds(headers.get("Retry-After")),
            **kwargs,
        )
    if status >= 500:
        return ServerError(message or f"Tallyfy failed with HTTP {status}.", **kwargs)
    return RequestRejected(message or f"Tallyfy refused the request (HTTP {status}).", **kwargs)


def error_message(body: bytes) -> str:
    """Tallyfy's own words from an error body that may be JSON, plain text or HTML."""
    parsed = _json(body)
    text = body.decode("utf-8", "replace") if parsed is None else ""
    parts: list[str] = []
    if isinstance(parsed, dict):
        if isinstance(parsed.get("message"), str):
            parts.append(parsed["message"])
        elif isinstance(parsed.get("error"), str):
            parts.append(parsed["error"])
        errors = parsed.get("errors")
        if isinstance(errors, dict):
            for name, messages in errors.items():
                listed = messages if isinstance(messages, list) else [messages]
                parts.append(f"{name}: {'; '.join(str(m) for m in listed)}")
    elif text and "<" not in text[:100]:
        parts.append(text.strip())
    return " ".join(" ".join(parts).split())[:_MESSAGE_LIMIT]


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (it may be a number or an HTTP date); None when unreadable."""
    if not value or not value.strip():
        return None
    try:
        return Retry().parse_retry_after(value.strip())
    except Exception:  # urllib3 raises InvalidHeader for anything unreadable
        return None


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
