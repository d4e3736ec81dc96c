"""Tallyfy's file API: the only module that speaks HTTP. No database access.

Every call goes through `TallyfyClient._request`: the contract's headers, connect and read
timeouts, no redirects, URL-quoted ids, and one mapping from status codes to exceptions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from files.base_urls import check_api_base_url
from files.ids import validate_id

logger = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
MAX_RETRIES = 3  # retries after the first try, for any one call
_MESSAGE_LIMIT = 500
_EXTENDED_FILENAME = re.compile(
    r"filename\*\s*=\s*(?P<charset>[\w-]*)'[\w-]*'(?P<value>[^;\s]+)", re.I
)
_PLAIN_FILENAME = re.compile(
    r'filename\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s]+))', re.I
)


class TallyfyError(Exception):
    """Base of every failure talking to Tallyfy."""

    def __init__(self, message: str, *, status: int | None = None, request_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id


class AuthenticationFailed(TallyfyError):
    """401: the token is missing, invalid or expired. Enter a new token."""


class PermissionDenied(TallyfyError):
    """403: the token's user may not do this in this organization."""


class NotFound(TallyfyError):
    """404: no such file (or it was deleted), or no such endpoint."""


class RequestRejected(TallyfyError):
    """422 and any other 4xx: Tallyfy refused the request; repeating it will not help."""


class RateLimited(TallyfyError):
    """429 after the retries allowed: wait `retry_after` seconds and try again."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(TallyfyError):
    """5xx: Tallyfy failed. A DELETE may or may not have been applied."""


class ConnectionFailed(TallyfyError):
    """No answer (refused, reset, timed out). A DELETE may or may not have been applied."""


class UnexpectedResponse(TallyfyError):
    """A redirect or a body that is not what the contract promises."""


@dataclass(frozen=True)
class Asset:
    id: str
    filename: str
    version: str
    uploaded_at: datetime | None
    subject_type: str
    subject_id: str
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> Asset:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict) or not data.get("id"):
            raise UnexpectedResponse("Tallyfy's answer holds no file metadata.")
        subject = data.get("subject") if isinstance(data.get("subject"), dict) else {}
        return cls(
            id=str(data["id"]),
            filename=str(data.get("filename") or ""),
            version=str(data.get("version") or ""),
            uploaded_at=_parse_timestamp(data.get("uploaded_at")),
            subject_type=str(subject.get("type") or ""),
            subject_id=str(subject.get("id") or ""),
            raw=data,
        )


@dataclass(frozen=True)
class Deleted:
    status: int
    request_id: str


class Download:
    """An open, streamed file body. Iterate for its bytes; always `close()` it."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self.content_type = response.headers.get("Content-Type", "application/octet-stream")
        length = response.headers.get("Content-Length", "")
        self.content_length = int(length) if length.isdigit() else None
        self.filename = _filename_from_disposition(response.headers.get("Content-Disposition"))
        self.request_id = response.headers.get("X-Request-Id", "")

    def __iter__(self) -> Iterator[bytes]:
        # Whatever has arrived, up to a chunk: waiting to fill a whole chunk first would hold
        # a small file back until all of it had crossed the network.
        raw = self._response.raw
        while chunk := raw.read1(DOWNLOAD_CHUNK_BYTES):
            yield chunk

    def close(self) -> None:
        self._response.close()


class _TallyfyRetry(Retry):
    """Retry 429 on every method (it was not applied), other statuses only on GET."""

    retry_after_cap: float = 30.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        retry_after = super().get_retry_after(response)
        return None if retry_after is None else min(retry_after, self.retry_after_cap)

    def new(self, **kw: Any) -> _TallyfyRetry:
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        return retry


def build_retry(*, backoff: float, retry_after_cap: float) -> Retry:
    retry = _TallyfyRetry(
        total=MAX_RETRIES,
        connect=MAX_RETRIES,
        read=2,
        status=MAX_RETRIES,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=frozenset({429, 500, 502, 503, 504}),
        backoff_factor=backoff,
        backoff_jitter=backoff / 2,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.retry_after_cap = retry_after_cap
    return retry


class TallyfyClient:
    """One organization's view of Tallyfy's file API, over one pooled session."""

    def __init__(
        self,
        *,
        base_url: str,
        org_id: str,
        token: str,
        allowed_hosts: Iterable[str],
        insecure_hosts: Iterable[str] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry_after_cap: float = 30.0,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = check_api_base_url(
            base_url, allowed_hosts=allowed_hosts, insecure_hosts=insecure_hosts
        )
        self.org_id = validate_id(org_id, what="organization id")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "X-Tallyfy-Client": "APIClient",
            }
        )
        adapter = HTTPAdapter(
            max_retries=build_retry(backoff=backoff, retry_after_cap=retry_after_cap)
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def close(self) -> None:
        self.session.close()

    def get_asset(self, asset_id: str) -> Asset:
        """`GET /assets/{id}`. Raises NotFound (404) and the rest of the family."""
        response = self._request("GET", "assets", asset_id)
        try:
            return Asset.from_payload(response.json())
        except ValueError as exc:
            raise UnexpectedResponse(
                "Tallyfy answered with something that is not JSON.",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id", ""),
            ) from exc

    def open_download(self, asset_id: str, *, inline: bool = False) -> Download:
        """`GET /file/{id}` (inline, the real type) or `/file/{id}/dl` (attachment), streamed."""
        suffix = () if inline else ("dl",)
        return Download(self._request("GET", "file", asset_id, *suffix, stream=True))

    def delete_file(self, asset_id: str) -> Deleted:
        """`DELETE /file/{id}`: any 2xx (empty 200, JSON 200, 204) is success.

        Raises NotFound (404), ServerError (5xx) and ConnectionFailed when the outcome is
        uncertain, RateLimited (429 past the retries), and the rest of the family.
        """
        response = self._request("DELETE", "file", asset_id)
        return Deleted(response.status_code, response.headers.get("X-Request-Id", ""))

    def _url(self, *segments: str) -> str:
        quoted = "/".join(quote(segment, safe="") for segment in segments)
        return f"{self.base_url}/organizations/{quote(self.org_id, safe='')}/{quoted}"

    def _request(
        self, method: str, resource: str, asset_id: str, *rest: str, stream: bool = False
    ) -> requests.Response:
        validate_id(asset_id, what="file id")
        url = self._url(resource, asset_id, *rest)
        # A streamed body is passed on byte for byte with its Content-Length: no compression.
        headers = {"Accept-Encoding": "identity"} if stream else None
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=stream,
            )
        except requests.Timeout as exc:
            raise ConnectionFailed(
                f"Tallyfy did not answer in time ({method} {resource})."
            ) from exc
        except requests.RequestException as exc:
            raise ConnectionFailed(
                f"Could not reach Tallyfy ({type(exc).__name__}) on {method} {resource}."
            ) from exc
        logger.info(
            "tallyfy %s %s/%s -> %s",
            method,
            resource,
            asset_id,
            response.status_code,
        )
        if not 200 <= response.status_code < 300:
            try:
                raise_for_status(response)
            finally:
                response.close()
        return response


def raise_for_status(response: requests.Response) -> None:
    """Map a non-2xx answer to the exception that tells the caller what to do next."""
    status = response.status_code
    request_id = response.headers.get("X-Request-Id", "")
    message = error_message(response)
    kwargs: dict[str, Any] = {"status": status, "request_id": request_id}
    if 300 <= status < 400:
        raise UnexpectedResponse(f"Tallyfy answered with a redirect ({status}).", **kwargs)
    if status == 401:
        raise AuthenticationFailed(message or "The access token was rejected.", **kwargs)
    if status == 403:
        raise PermissionDenied(message or "Permission denied.", **kwargs)
    if status == 404:
        raise NotFound(message or "Resource not found.", **kwargs)
    if status == 429:
        raise RateLimited(
            message or "Too many requests.",
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            **kwargs,
        )
    if status >= 500:
        raise ServerError(message or f"Tallyfy failed with HTTP {status}.", **kwargs)
    raise RequestRejected(message or f"Tallyfy refused the request (HTTP {status}).", **kwargs)


def error_message(response: requests.Response) -> str:
    """Tallyfy's own words from an error body that may be JSON, plain text or HTML."""
    text = response.text if response.content else ""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            parts.append(body["message"])
        elif isinstance(body.get("error"), str):
            parts.append(body["error"])
        errors = body.get("errors")
        if isinstance(errors, dict):
            for name, messages in errors.items():
                listed = messages if isinstance(messages, list) else [messages]
                parts.append(f"{name}: {'; '.join(str(m) for m in listed)}")
    elif text and "<" not in text[:100]:
        parts.append(text.strip())
    return " ".join(" ".join(parts).split())[:_MESSAGE_LIMIT]


def _retry_after_seconds(value: str | None) -> float | None:
    if not value or not value.strip():
        return None
    try:
        return Retry().parse_retry_after(value.strip())
    except Exception:  # urllib3 raises InvalidHeader for anything unreadable
        return None


def _parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filename_from_disposition(value: str | None) -> str:
    """The file name from a Content-Disposition header, `filename*` (RFC 6266) first."""
    if not value:
        return ""
    extended = _EXTENDED_FILENAME.search(value)
    if extended:
        charset, encoded = extended["charset"] or "utf-8", extended["value"]
        try:
            return unquote(encoded, encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    plain = _PLAIN_FILENAME.search(value)
    if plain:
        return (
            re.sub(r"\\(.)", r"\1", plain["quoted"])
            if plain["quoted"] is not None
            else plain["token"]
        )
    return ""
