"""A scan's lease: which worker may step a scan now, timed by the database's clock.

A worker takes the lease before a step and renews it before each call to Tallyfy and with
each write, so a worker whose lease another took over (after waiting on the rate limit too
long, say) makes no further call and writes nothing. The lease expires when its holder dies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Coalesce, Now

import tallyfy_api
from catalog.models import UNFINISHED_SCAN_STATES, Scan, ScanState
from catalog.page_ahead import PageAhead, PageCall

LEASE = timedelta(minutes=5)


class ScanBusy(Exception):
    """Another worker holds this scan's lease."""


class LeaseLost(ScanBusy):
    """Another worker took this scan's lease over (or the scan ended) while this one worked:
    it stopped before its next call to Tallyfy, and its step wrote nothing."""


class ScanWaiting(ScanBusy):
    """The scan's last step failed: it is tried again from `next_attempt_at`."""


def lease_end() -> ExpressionWrapper:
    return ExpressionWrapper(Now() + LEASE, output_field=DateTimeField())


def lease_take(*, scan_id: int, owner: str) -> Scan:
    """Take (or renew) the scan's lease; not while another worker holds it, nor before its
    next attempt is due. Raises ScanWaiting or ScanBusy when it cannot."""
    taken = Scan.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=Now()) | Q(lease_owner=owner),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()),
        pk=scan_id,
        state__in=UNFINISHED_SCAN_STATES,
    ).update(
        lease_owner=owner,
        lease_until=lease_end(),
        updated_at=Now(),
        started_at=Coalesce("started_at", Now()),
    )
    scan = Scan.objects.select_related("organization").get(pk=scan_id)
    if not taken and scan.is_unfinished:
        if Scan.objects.filter(pk=scan_id, next_attempt_at__gt=Now()).exists():
            raise ScanWaiting(
                f"Scan {scan_id} waits until {scan.next_attempt_at:%Y-%m-%d %H:%M:%S %Z} after "
                f"{scan.failures} failed attempt{'' if scan.failures == 1 else 's'}: "
                f"{scan.last_error}"
            )
        raise ScanBusy(f"Scan {scan_id} is being run by another worker.")
    if scan.state == ScanState.QUEUED:
        scan.state = ScanState.RUNNING
    return scan


def lease_release(*, scan_id: int, owner: str) -> None:
    Scan.objects.filter(pk=scan_id, lease_owner=owner).update(lease_owner="", lease_until=None)


def lease_renew(scan: Scan) -> None:
    """Renew this worker's lease; raises LeaseLost when another worker holds it now (or the
    scan ended meanwhile). Inside a transaction, the row stays locked until it commits."""
    kept = Scan.objects.filter(
        pk=scan.pk, lease_owner=scan.lease_owner, state__in=UNFINISHED_SCAN_STATES
    ).update(lease_until=lease_end())
    if not kept:
        raise LeaseLost(f"Scan {scan.pk} was taken over by another worker, or ended: stopped.")


class LeasedStep:
    """One step's way to Tallyfy and to the index, under the lease: every call to Tallyfy
    first renews it, and every write is made in one transaction with it renewed."""

    def __init__(
        self, scan: Scan, client: tallyfy_api.TallyfyClient, ahead: PageAhead | None = None
    ) -> None:
        self.scan = scan
        self.api = _Fenced(scan, client, ahead)
        self._ahead = ahead

    @property
    def calls(self) -> int:
        return self.api.calls

    def read(self, call: PageCall) -> Any:
        """A page of a list, by the call `catalog.scan_position.page_call` names."""
        name, kwargs = call
        return getattr(self.api, name)(**kwargs)

    def ask_ahead(self, call: PageCall | None) -> None:
        """Ask for the page the next step will read while this one is written (catalog.
        page_ahead): under the renewed lease, taking its rate slot now."""
        if self._ahead is None or call is None:
            return
        name, kwargs = call
        lease_renew(self.scan)
        self._ahead.ask(name, **kwargs)
        self.api.calls += 1

    def write(self, writes: Callable[[], object]) -> None:
        with transaction.atomic():
            lease_renew(self.scan)
            writes()


class _Fenced:
    """The client, renewing the lease before each call and counting the calls (retries
    inside one call count once)."""

    def __init__(
        self, scan: Scan, client: tallyfy_api.TallyfyClient, ahead: PageAhead | None
    ) -> None:
        self._scan, self._client, self._ahead = scan, client, ahead
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def fenced(*args: Any, **kwargs: Any) -> Any:
            lease_renew(self._scan)
            if self._ahead is not None and not args:
                answered, page = self._ahead.answer(name, kwargs)
                if answered:
                    return page  # asked ahead, and counted then
            self.calls += 1
            return method(*args, **kwargs)

        return fenced
