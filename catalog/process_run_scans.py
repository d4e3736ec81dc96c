"""Scanning one process run on demand, when a run or task URL pasted in the look-up names a
run the index has nothing of yet.

One run is a handful of calls (the run, a page or two of its tasks), so it is scanned within
the request by the pages' client, whose every call waits a bounded time for the
organization's rate limit. When Tallyfy is slow, rate limiting or unavailable, the scan is
handed to the workers instead, which wait as long as the limit needs.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

import tallyfy_api
from catalog import tasks
from catalog.clients import interactive_scan_client
from catalog.leases import ScanBusy
from catalog.models import Scan
from catalog.scans import scan_advance, scan_start
from organizations.models import Organization
from tallyfy_api.ids import validate_id

# Failures that waiting cures: the workers' client waits, the request's does not.
_HAND_OVER = (tallyfy_api.RateLimited, tallyfy_api.ServerError, tallyfy_api.ConnectionFailed)


class ProcessRunNotFound(Exception):
    """Tallyfy has no such run in the organization. Nothing was written."""


def process_run_scan_now(
    *, organization: Organization, run_id: str, user: AbstractBaseUser | None = None
) -> Scan:
    """Scan the run here and now; the scan as it ended, or, handed to the workers, unfinished.

    Raises ProcessRunNotFound (with nothing written) when Tallyfy says the run does not exist, and
    Tallyfy's other errors (a refused token, …) when the first call fails for good."""
    validate_id(run_id, what="run id")
    client = interactive_scan_client(organization=organization)
    try:
        run: dict[str, Any] | None = client.get_run(run_id)
    except tallyfy_api.NotFound as exc:
        raise ProcessRunNotFound(
            f"Tallyfy has no process run {run_id} in {organization.name} (HTTP 404): it does "
            "not exist, was deleted, or belongs to another organization."
        ) from exc
    except _HAND_OVER:
        run = None
    scan = scan_start(organization=organization, user=user, run_id=run_id)
    if run is None:
        return _hand_over(scan)
    try:
        return scan_advance(scan_id=scan.pk, client=_ProcessRunRead(client, run))  # type: ignore[arg-type]
    except ScanBusy:
        return scan  # a worker is scanning it already: its page follows it
    except tallyfy_api.TallyfyError:
        return _hand_over(scan)  # the scan's page says what failed, and when it is done


def _hand_over(scan: Scan) -> Scan:
    transaction.on_commit(lambda: tasks.scan_organization.enqueue(scan.pk))
    return Scan.objects.get(pk=scan.pk)


class _ProcessRunRead:
    """The client, answering the first `get_run` of the run with the answer already read."""

    def __init__(self, client: tallyfy_api.TallyfyClient, run: dict[str, Any]) -> None:
        self._client = client
        self._run: dict[str, Any] | None = run

    def get_run(self, run_id: str) -> dict[str, Any]:
        run, self._run = self._run, None
        return run if run is not None else self._client.get_run(run_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
