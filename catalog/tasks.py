"""Background entry points: parse the arguments, call the service. The scan's row is the
state, so a task delivered twice, or after another worker took the scan over, does no harm."""

from __future__ import annotations

import logging

from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from catalog import services
from catalog.models import Scan

logger = logging.getLogger(__name__)


@task
def scan_organization(scan_id: int) -> None:
    try:
        services.scan_run(scan_id=int(scan_id))
    except services.ScanBusy:
        logger.info("scan %s is being run by another worker", scan_id)


def scans_wake_stalled() -> list[int]:
    """Hand every unfinished scan that nobody has stepped for a lease's length back to the
    workers: its worker died, or its wake-up was lost. Run every few seconds by run_worker."""
    quiet = timezone.now() - services.LEASE
    stalled = list(
        services.scans_unfinished()
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()))
        .filter(updated_at__lt=quiet)
        .values_list("pk", flat=True)
    )
    for scan_id in stalled:
        Scan.objects.filter(pk=scan_id).update(updated_at=timezone.now())
        scan_organization.enqueue(scan_id)
    return stalled
