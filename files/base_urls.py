"""Where an organization's API token may be sent."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


class DisallowedBaseURL(ValueError):
    pass


def check_api_base_url(
    url: str, *, allowed_hosts: Iterable[str], insecure_hosts: Iterable[str] = ()
) -> str:
    """Return `url` without a trailing slash if a token may go there, else raise.

    `https` to a host in `allowed_hosts`; plain `http` only to a host in `insecure_hosts` (the
    local sandbox). No credentials, query or fragment in the URL.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in allowed_hosts}
    insecure = {h.lower() for h in insecure_hosts}
    if parts.username or parts.password or parts.query or parts.fragment:
        raise DisallowedBaseURL(
            "The API base URL must not carry credentials, a query or a fragment."
        )
    if parts.scheme == "https" and host in allowed | insecure:
        return url.strip().rstrip("/")
    if parts.scheme == "http" and host in insecure:
        return url.strip().rstrip("/")
    if parts.scheme == "http" and host in allowed:
        raise DisallowedBaseURL(f"The API base URL must use https (host {host}).")
    raise DisallowedBaseURL(
        f"The host {host or '(none)'!s} is not an allowed Tallyfy API host "
        f"({', '.join(sorted(allowed)) or 'none configured'}); see TALLYFY_ALLOWED_API_HOSTS."
    )
