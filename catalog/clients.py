"""The Tallyfy client a scan uses: the one seam where the background's pacing comes in."""

from __future__ import annotations

from files import tallyfy
from files.clients import tallyfy_client
from files.models import Organization


def scan_client(*, organization: Organization) -> tallyfy.TallyfyClient:
    """The client for one organization's scan.

    Scans must share the organization's rate limit with deletion jobs and pages, and may wait
    longer than a page may. Until the shared throttle and the background wait budget exist,
    this is the pages' client (in-process hold-off after a 429, the interactive wait limit);
    they are to be handed to `TallyfyClient(throttle=..., wait_budget=...)` here and nowhere
    else.
    """
    return tallyfy_client(organization=organization)
