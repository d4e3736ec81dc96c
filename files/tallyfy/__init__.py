"""Tallyfy's API: the only package that speaks HTTP. No database access.

Every call goes through `transport.Transport`: the contract's headers, connect and read
timeouts, a total deadline, capped bodies, no redirects, URL-quoted ids, retries under a wait
budget and a throttle, and one mapping from status codes to exceptions.
"""

from __future__ import annotations

from files.tallyfy.assets import DOWNLOAD_CHUNK_BYTES, Asset, Deleted, Download
from files.tallyfy.client import TallyfyClient
from files.tallyfy.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    DeadlineExceeded,
    DownloadInterrupted,
    EndpointNotFound,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    ServerError,
    TallyfyError,
    UnexpectedResponse,
)
from files.tallyfy.finding import FoundFile, Upload
from files.tallyfy.listing import (
    MAX_PER_PAGE,
    ListCursor,
    ListingBroken,
    Page,
    pages,
)
from files.tallyfy.throttle import LocalThrottle, Throttle
from files.tallyfy.transport import MAX_RETRIES, call_time_limit

__all__ = [
    "DOWNLOAD_CHUNK_BYTES",
    "MAX_PER_PAGE",
    "MAX_RETRIES",
    "Asset",
    "AuthenticationFailed",
    "ConnectionFailed",
    "DeadlineExceeded",
    "Deleted",
    "Download",
    "DownloadInterrupted",
    "EndpointNotFound",
    "FoundFile",
    "ListCursor",
    "ListingBroken",
    "LocalThrottle",
    "NotFound",
    "Page",
    "PermissionDenied",
    "RateLimited",
    "RequestRejected",
    "ResponseTooLarge",
    "ServerError",
    "TallyfyClient",
    "TallyfyError",
    "Throttle",
    "UnexpectedResponse",
    "Upload",
    "call_time_limit",
    "pages",
]
