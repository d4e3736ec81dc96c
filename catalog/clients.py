"""The Tallyfy clients a scan uses: the one seam where the pacing comes in."""

from __future__ import annotations

import tallyfy_api
from organizations.clients import tallyfy_client
from organizations.models import Organization


def scan_client(*, organization: Organization) -> tallyfy_api.TallyfyClient:
    """The client for one organization's scan: it shares the organization's rate limit with
    deletion jobs and pages, and, being background work, waits as long as the limit needs."""
    return tallyfy_client(organization=organization, background=True)


def interactive_scan_client(*, organization: Organization) -> tallyfy_api.TallyfyClient:
    """The client for a scan run within a request (one run): it shares the organization's rate
    limit too, but each call waits only as long as a page may (TALLYFY_INTERACTIVE_WAIT_LIMIT)."""
    return tallyfy_client(organization=organization)
