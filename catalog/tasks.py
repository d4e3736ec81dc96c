"""Background entry points: parse the arguments, call the service. The scan's row is the
state, so a task delivered twice, or after another worker took the scan over, does no harm."""

from __future__ import annotations

import logging

from django.tasks import task

from catalog import services

logger = logging.getLogger(__name__)


@task
def scan_organization(scan_id: int) -> None:
    try:
        services.scan_run(scan_id=int(scan_id))
    except services.ScanBusy:
        logger.info("scan %s is being run by another worker", scan_id)
