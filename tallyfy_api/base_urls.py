"""Where an organization's API token may be sent."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class DisallowedBaseURL(ValueError):
    pass


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """`host` or `host:port` (IPv6 as `[::1]:8001`) from a host list, as (host, port or None).

    Raises ValueError for an entry that is not one of those.
    """
    parts = urlsplit(f"//{entry.strip()}")
    if not parts.hostname or parts.username or parts.password or parts.path:
        raise ValueError(f"{entry!r} is not a host or host:port.")
    return parts.hostname.lower(), parts.port


def _origin_listed(host: str, port: int, entries: Iterable[str], *, scheme: str) -> bool:
    """Whether `host:port` is in `entries`; an entry without a port means the scheme's default."""
    for entry in entries:
        try:
            listed_host, listed_port = parse_host_entry(entry)
        except ValueError:
            continue  # organizations.checks reports it; an entry that cannot be read allows nothing
        if listed_host == host and (listed_port or DEFAULT_PORTS[scheme]) == port:
            return True
    return False


def check_api_base_url(
    url: str, *, allowed_hosts: Iterable[str], insecure_hosts: Iterable[str] = ()
) -> str:
    """Return `url` without a trailing slash if a token may go there, else raise.

    `https` to a host in `allowed_hosts`; plain `http` only to a host in `insecure_hosts` (the
    local sandbox). Entries are `host` or `host:port`; a bare host matches the scheme's default
    port only, so `127.0.0.1:8001` allows the sandbox and no other port of that host. No
    credentials, query or fragment in the URL. Anything `urlsplit` cannot read is refused.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DisallowedBaseURL(f"The API base URL cannot be read as a URL ({exc}).") from exc
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.query or parts.fragment:
        raise DisallowedBaseURL(
            "The API base URL must not carry credentials, a query or a fragment."
        )
    if parts.scheme not in DEFAULT_PORTS:
        raise DisallowedBaseURL("The API base URL must start with https://.")
    allowed_hosts, insecure_hosts = list(allowed_hosts), list(insecure_hosts)
    origin = (host, port or DEFAULT_PORTS[parts.scheme])
    allowed = _origin_listed(*origin, allowed_hosts, scheme=parts.scheme)
    insecure = _origin_listed(*origin, insecure_hosts, scheme=parts.scheme)
    if insecure or (allowed and parts.scheme == "https"):
        return url.rstrip("/")
    if allowed:
        raise DisallowedBaseURL(f"The API base URL must use https (host {host}).")
    where = f"{host}:{port}" if port else host or "(none)"
    listed = ", ".join(sorted(allowed_hosts)) or "none configured"
    raise DisallowedBaseURL(
        f"The host {where} is not an allowed Tallyfy API host ({listed}). Use one of those, or "
        "ask whoever runs this panel to allow the host."
    )
