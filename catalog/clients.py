"""The Tallyfy client a scan uses: the one seam where the background's pacing comes in."""

from __future__ import annotations

from files import tallyfy
from files.clients import tallyfy_client
from files.models import Organization


def scan_client(*, organization: Organization) -> tallyfy.TallyfyClient:
    """The client for one organization's scan: it shares the organization's rate limit with
    deletion jobs and pages, and, being background work, waits as long as the limit needs."""
    return tallyfy_client(organization=organization, background=True)
