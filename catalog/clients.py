"""The Tallyfy clients a scan uses: the one seam where the pacing comes in."""

from __future__ import annotations

import tallyfy_api
from catalog.page_ahead import PageAhead
from organizations.clients import tallyfy_client, tallyfy_client_paced_by
from organizations.models import Organization
from throttling.services import throttle_for


def scan_client(*, organization: Organization) -> tallyfy_api.TallyfyClient:
    """The client for one organization's scan: it shares the organization's rate limit with
    deletion jobs and pages, and, being background work, waits as long as the limit needs."""
    return tallyfy_client(organization=organization, background=True)


def interactive_scan_client(*, organization: Organization) -> tallyfy_api.TallyfyClient:
    """The client for a scan run within a request (one run): it shares the organization's rate
    limit too, but each call waits only as long as a page may (TALLYFY_INTERACTIVE_WAIT_LIMIT)."""
    return tallyfy_client(organization=organization)


def scan_page_ahead(*, organization: Organization) -> PageAhead:
    """Pages asked ahead for a scan in the background (catalog.page_ahead), each taking its
    slot of the organization's shared rate limit in the jobs' lane."""
    shared = throttle_for(organization, background=True)
    return PageAhead(
        take_slot=lambda: shared.acquire(max_wait=None),
        client_paced_by=lambda throttle: tallyfy_client_paced_by(
            organization=organization, throttle=throttle
        ),
    )
