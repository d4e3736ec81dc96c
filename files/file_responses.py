"""Proxied file bodies that cannot attack the panel: streamed, typed, and fenced off."""

from __future__ import annotations

import re

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

from tallyfy_api import Download
from tallyfy_api.names import display_name

# Shown inline; everything else is an attachment. SVG and HTML can carry script, so never.
INLINE_SAFE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]+")


def safe_filename(name: str, *, fallback: str) -> str:
    cleaned = _UNSAFE_NAME_CHARS.sub("_", display_name(name)).strip(" .")
    return cleaned[:200] or fallback


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def file_response(download: Download, *, filename: str, inline: bool) -> StreamingHttpResponse:
    """Stream `download`; inline only for safe types, otherwise as an attachment."""
    kind = media_type(download.content_type)
    show_inline = inline and kind in INLINE_SAFE_TYPES
    if show_inline:
        content_type = "text/plain; charset=utf-8" if kind == "text/plain" else kind
    else:
        content_type = "application/octet-stream"
    response = StreamingHttpResponse(download, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=not show_inline, filename=filename
    )
    if download.content_length is not None:
        response["Content-Length"] = str(download.content_length)
    response["X-Content-Type-Options"] = "nosniff"
    # A sandboxed document with no script; the browser's own image and text viewers style
    # themselves inline, which is harmless there.
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    )
    response["Cache-Control"] = "private, no-store"
    return response
