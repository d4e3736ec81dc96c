"""Background entry points: parse the arguments, call the service. The scan's row is the
state, so a task delivered twice, or after another worker took the scan over, does no harm."""

from __future__ import annotations

import logging

from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now
from django.tasks import task

import tallyfy_api
from catalog.leases import LEASE, ScanBusy
from catalog.models import Scan
from catalog.scans import scan_advance
from catalog.selectors import scans_unfinished

logger = logging.getLogger(__name__)


@task
def scan_organization(scan_id: int) -> None:
    try:
        scan_advance(scan_id=int(scan_id))
    except ScanBusy as exc:
        logger.info("scan %s not stepped: %s", scan_id, exc)
    except tallyfy_api.TallyfyError as exc:
        logger.warning("scan %s: a step failed, to be tried again: %s", scan_id, exc)


def scans_wake_stalled() -> list[int]:
    """Hand back to the workers every unfinished scan nobody holds that is due: its next
    attempt after a failed step has come, or nobody has stepped it for a lease's length (its
    worker died, or its wake-up was lost). Times are the database's. Run every few seconds by
    run_worker."""
    quiet = ExpressionWrapper(Now() - LEASE, output_field=DateTimeField())
    not_waiting = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now())
    stalled = Q(updated_at__lt=quiet) & not_waiting
    due = Q(next_attempt_at__lte=Now(), updated_at__lt=F("next_attempt_at"))
    woken = list(
        scans_unfinished()
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=Now()))
        .filter(stalled | due)
        .values_list("pk", flat=True)
    )
    for scan_id in woken:
        Scan.objects.filter(pk=scan_id).update(updated_at=Now())
        scan_organization.enqueue(scan_id)
    return woken
