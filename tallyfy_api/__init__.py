"""Tallyfy's API: the only package that speaks HTTP. No database access.

Every call goes through `transport.Transport`: the contract's headers, connect and read
timeouts, a total deadline, capped bodies, no redirects, URL-quoted ids, retries under a wait
budget and a throttle, and one mapping from status codes to exceptions.
"""

from __future__ import annotations

from tallyfy_api.assets import DOWNLOAD_CHUNK_BYTES, Asset, Deleted, Download
from tallyfy_api.client import TallyfyClient
from tallyfy_api.config import ClientConfig
from tallyfy_api.errors import (
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
from tallyfy_api.finding import FoundFile, Upload
from tallyfy_api.listing import (
    MAX_PER_PAGE,
    ListCursor,
    ListingBroken,
    Page,
    pages,
)
from tallyfy_api.throttle import LocalThrottle, Throttle
from tallyfy_api.transport import MAX_RETRIES, call_time_limit

__all__ = [
    "DOWNLOAD_CHUNK_BYTES",
    "MAX_PER_PAGE",
    "MAX_RETRIES",
    "Asset",
    "AuthenticationFailed",
    "ClientConfig",
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
