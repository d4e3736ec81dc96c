"""Tallyfy ids and file URLs, validated before anything is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

ID_PATTERN = r"[A-Za-z0-9_-]{1,255}"
_ID_RE = re.compile(rf"\A{ID_PATTERN}\Z")
_FILE_PATH_RE = re.compile(
    rf"/organizations/(?P<org_id>{ID_PATTERN})/(?:file|assets)/(?P<asset_id>{ID_PATTERN})(?:/dl)?/?\Z"
)


class InvalidId(ValueError):
    pass


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def validate_id(value: str, *, what: str = "id") -> str:
    if not is_valid_id(value):
        raise InvalidId(
            f"{value!r} is not a valid Tallyfy {what}: use 1 to 255 letters, digits, '-' or '_'."
        )
    return value


@dataclass(frozen=True)
class FileReference:
    asset_id: str
    org_id: str | None = None


def parse_file_reference(text: str) -> FileReference:
    """An asset id, or a pasted Tallyfy file URL (`…/organizations/{org}/file/{id}[/dl]`)."""
    text = text.strip()
    if is_valid_id(text):
        return FileReference(asset_id=text)
    if "/" not in text:
        raise InvalidId(
            "Enter a file id (1 to 255 letters, digits, '-' or '_') or paste a Tallyfy file URL."
        )
    path = unquote(urlsplit(text if "://" in text else f"//x/{text.lstrip('/')}").path)
    match = _FILE_PATH_RE.search(path)
    if not match:
        raise InvalidId(
            "This link is not one the panel understands: paste a file's link "
            "(…/organizations/<org id>/file/<file id>), or the page of a process, task or "
            "template in Tallyfy."
        )
    return FileReference(asset_id=match["asset_id"], org_id=match["org_id"])
