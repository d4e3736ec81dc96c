"""Files (assets): their metadata, and their bodies as streamed downloads."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import requests

from tallyfy_api.errors import DownloadInterrupted, UnexpectedResponse
from tallyfy_api.names import bounded, storable_json
from tallyfy_api.transport import BODY_READ_ERRORS, ascii_int, set_read_timeout

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
_EXTENDED_FILENAME = re.compile(
    r"filename\*\s*=\s*(?P<charset>[\w-]*)'[\w-]*'(?P<value>[^;\s]+)", re.I
)
_PLAIN_FILENAME = re.compile(
    r'filename\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s]+))', re.I
)


@dataclass(frozen=True)
class Asset:
    id: str
    filename: str
    version: str
    uploaded_at: datetime | None
    subject_type: str
    subject_id: str
    raw: dict[str, Any] = field(repr=False)
    # The fields whose value Tallyfy sent could not be stored as it was (a NUL, a name over
    # 1,000 characters, …): they hold it cleaned (names.bounded); `raw` keeps the rest.
    cleaned: tuple[str, ...] = ()

    @property
    def is_link(self) -> bool:
        """A link to elsewhere (`source: "url"`) kept under an id: not a file in Tallyfy."""
        return self.raw.get("source") == "url"

    @classmethod
    def from_payload(cls, payload: Any) -> Asset:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict) or not data.get("id"):
            raise UnexpectedResponse("Tallyfy's answer holds no file metadata.")
        subject = data.get("subject") if isinstance(data.get("subject"), dict) else {}
        sent = {
            "filename": (str(data.get("filename") or ""), 1000),
            "version": (str(data.get("version") or ""), 255),
            "subject_type": (str(subject.get("type") or ""), 50),
            "subject_id": (str(subject.get("id") or ""), 255),
        }
        kept = {name: bounded(value, limit) for name, (value, limit) in sent.items()}
        cleaned = tuple(name for name, value in kept.items() if value != sent[name][0])
        raw = storable_json(data)
        if raw != data:
            cleaned += ("raw",)
        return cls(
            id=str(data["id"]),
            uploaded_at=_parse_timestamp(data.get("uploaded_at")),
            raw=raw,
            cleaned=cleaned,
            **kept,
        )


@dataclass(frozen=True)
class Deleted:
    status: int
    request_id: str


class Download:
    """An open, streamed file body. Iterate for its bytes; always `close()` it.

    Iterating raises DownloadInterrupted when the body breaks off, ends short of its
    `Content-Length`, or stalls: while we wait on Tallyfy (time spent by whoever consumes the
    bytes does not count), every `stall_window` seconds must bring `min_window_bytes`.
    """

    def __init__(
        self,
        response: requests.Response,
        *,
        read_timeout: float,
        stall_window: float,
        min_window_bytes: int,
        content_type: str | None = None,
    ) -> None:
        self._response = response
        self._read_timeout = read_timeout
        self._stall_window = stall_window
        self._min_window_bytes = min_window_bytes
        self.content_type = content_type or response.headers.get(
            "Content-Type", "application/octet-stream"
        )
        self.content_length = ascii_int(response.headers.get("Content-Length"))
        self.filename = _filename_from_disposition(response.headers.get("Content-Disposition"))

    def __iter__(self) -> Iterator[bytes]:
        raw = self._response.raw
        received = window_bytes = 0
        window_waited = 0.0
        while True:
            left = self._stall_window - window_waited
            set_read_timeout(raw, min(self._read_timeout, left))
            started = time.monotonic()
            try:
                # Whatever has arrived, up to a chunk: waiting to fill a whole chunk first
                # would hold a small file back until all of it had crossed the network.
                chunk = raw.read1(DOWNLOAD_CHUNK_BYTES)
            except BODY_READ_ERRORS as exc:
                self.close()
                if window_waited + time.monotonic() - started >= self._stall_window:
                    raise self._stalled(received) from exc
                raise DownloadInterrupted(
                    f"The file's download from Tallyfy broke off after {received} bytes "
                    f"({type(exc).__name__})."
                ) from exc
            window_waited += time.monotonic() - started
            if not chunk:
                break
            received += len(chunk)
            window_bytes += len(chunk)
            if window_bytes >= self._min_window_bytes:
                window_bytes, window_waited = 0, 0.0
            elif window_waited >= self._stall_window:
                self.close()
                raise self._stalled(received)
            yield chunk
        if self.content_length is not None and received != self.content_length:
            self.close()
            raise DownloadInterrupted(
                f"The file's download from Tallyfy ended after {received} of "
                f"{self.content_length} bytes."
            )

    def close(self) -> None:
        self._response.close()

    def _stalled(self, received: int) -> DownloadInterrupted:
        return DownloadInterrupted(
            f"The file's download from Tallyfy stalled after {received} bytes: fewer than "
            f"{self._min_window_bytes} bytes in {self._stall_window:g} s."
        )


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
