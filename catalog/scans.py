"""A scan's life: started, stepped until it ends (by any worker, or the `scan_files` command,
from its row), cancelled. Its row is its state: after each step its position and counts are
saved, so whoever holds its lease next carries it on where it stands."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now
from django.utils import timezone

import tallyfy_api
from catalog.clients import scan_client, scan_page_ahead
from catalog.conf import conf
from catalog.leases import LeasedStep, lease_release, lease_renew, lease_take
from catalog.models import UNFINISHED_SCAN_STATES, IndexedFile, Scan, ScanPhase, ScanState
from catalog.page_ahead import PageAhead
from catalog.scan_steps import FATAL, ProcessRunMissing, step_take
from organizations.models import Organization

_LONGEST_BACKOFF = 3600  # seconds between two attempts of a failing step, at most


def scan_start(
    *,
    organization: Organization,
    user: AbstractBaseUser | None = None,
    run_id: str = "",
    refresh: bool = False,
) -> Scan:
    """A new scan of the organization (or of its run `run_id` only), or the one of the same
    not yet finished (which is carried on). With `refresh`, it reads only what changed since
    the last scan of the organization; the first scan of an organization is always full."""
    unfinished = Scan.objects.filter(
        organization=organization, run_id=run_id, state__in=UNFINISHED_SCAN_STATES
    )
    if scan := unfinished.first():
        return scan
    since = None
    if not run_id:
        last_done = (
            Scan.objects.filter(organization=organization, run_id="", state=ScanState.DONE)
            .order_by("-started_at")
            .first()
        )
        if last_done is not None and last_done.started_at is not None:
            # A day's margin: the feed's filter is by day and clocks differ.
            since = (last_done.started_at - timedelta(days=1)).date()
    refresh = refresh and since is not None
    phase = ScanPhase.RUN if run_id else ScanPhase.CHANGES if refresh else ScanPhase.RUNS
    try:
        with transaction.atomic():
            return Scan.objects.create(
                organization=organization,
                run_id=run_id,
                refresh=refresh,
                phase=phase,
                started_by=user if user is not None and user.pk else None,
                uploads_since=since,
            )
    except IntegrityError:  # started by someone else a moment ago
        return unfinished.get()


def full_scan_due(*, organization: Organization, now: datetime | None = None) -> bool:
    """Whether the organization's last full scan is older than CATALOG_FULL_SCAN_DAYS (or it
    has none): a refresh finds what the feed names, a full scan everything."""
    last_full = (
        Scan.objects.filter(
            organization=organization, run_id="", refresh=False, state=ScanState.DONE
        )
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    age = conf.CATALOG_FULL_SCAN_DAYS
    return last_full is None or last_full < (now or timezone.now()) - timedelta(days=age)


def scan_cancel(*, scan: Scan) -> Scan:
    """Stop the scan before its next step. Files already indexed stay; none is marked gone."""
    Scan.objects.filter(pk=scan.pk, state__in=UNFINISHED_SCAN_STATES).update(
        cancel_requested=True, updated_at=Now()
    )
    # One nobody is working on is cancelled now; a running one at its next step.
    Scan.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=Now()),
        pk=scan.pk,
        state__in=UNFINISHED_SCAN_STATES,
    ).update(state=ScanState.CANCELLED, finished_at=Now(), lease_owner="")
    scan.refresh_from_db()
    return scan


def scan_time_left(*, scan: Scan, now: datetime | None = None) -> timedelta | None:
    """From the pace so far over the runs, once Tallyfy has said how many there are."""
    if not scan.is_unfinished or not scan.runs_total or not scan.runs_read or not scan.started_at:
        return None
    elapsed = ((now or timezone.now()) - scan.started_at).total_seconds()
    left = max(scan.runs_total - scan.runs_read, 0)
    return timedelta(seconds=round(elapsed / scan.runs_read * left))


def scan_advance(
    *,
    scan_id: int,
    max_steps: int | None = None,
    on_step: Callable[[Scan], None] | None = None,
    client: tallyfy_api.TallyfyClient | None = None,
) -> Scan:
    """Step the scan until it ends (or `max_steps` are done). Returns the scan as it stands.

    Raises ScanBusy when another worker holds the scan (LeaseLost when one took it over
    meanwhile), ScanWaiting while it waits after a failed step, and Tallyfy's errors when a
    step fails (the scan stays where it was, to be tried again after a backoff; fatal ones,
    and the CATALOG_SCAN_MAX_FAILURES-th failure in a row, fail it)."""
    owner = uuid.uuid4().hex
    steps = 0
    ahead: PageAhead | None = None
    try:
        while max_steps is None or steps < max_steps:
            scan = lease_take(scan_id=scan_id, owner=owner)
            if not scan.is_unfinished:
                return scan
            if scan.cancel_requested:
                return _end(scan, ScanState.CANCELLED)
            if client is None and ahead is None:
                ahead = scan_page_ahead(organization=scan.organization)
            step = LeasedStep(scan, client or scan_client(organization=scan.organization), ahead)
            try:
                step_take(scan, step)
            except (*FATAL, ProcessRunMissing) as exc:
                scan.last_error = str(exc)
                _save(scan, step)
                return _end(scan, ScanState.FAILED)
            except tallyfy_api.TallyfyError as exc:
                failed = _failed(scan, step, exc)
                if failed.state == ScanState.FAILED:
                    return failed
                raise
            _save(scan, step)
            steps += 1
            if on_step is not None:
                on_step(scan)
        return Scan.objects.get(pk=scan_id)
    finally:
        if ahead is not None:
            ahead.close()
        lease_release(scan_id=scan_id, owner=owner)


def _save(scan: Scan, step: LeasedStep) -> None:
    """The step's position and counts, written only while this worker holds the lease."""
    values: dict[str, Any] = {name: getattr(scan, name) for name in _SAVED_FIELDS}
    if scan.state == ScanState.DONE:
        values["finished_at"] = Now()
    with transaction.atomic():
        lease_renew(scan)
        values["files_found"] = scan.files_found = IndexedFile.objects.filter(
            organization_id=scan.organization_id, last_seen_scan=scan
        ).count()
        Scan.objects.filter(pk=scan.pk, lease_owner=scan.lease_owner).update(
            calls_made=F("calls_made") + step.calls,
            failures=0,
            next_attempt_at=None,
            updated_at=Now(),
            **values,
        )
    scan.calls_made += step.calls
    scan.failures = 0


_SAVED_FIELDS = [
    "state",
    "phase",
    "page",
    "phase_read",
    "page_size",
    "page_budget",
    "page_fingerprint",
    "archived_by_status",
    "runs_total",
    "runs_read",
    "files_gone",
    "files_missed",
    "files_unchecked",
    "checked_up_to",
    "run_tasks_read",
    "per_run_tasks",
    "uploader_lookups",
    "feed_error",
    "notes",
    "last_error",
]


def _failed(scan: Scan, step: LeasedStep, exc: tallyfy_api.TallyfyError) -> Scan:
    """A step failed: nothing of its position is kept. The scan is tried again after a
    backoff (on the database's clock), or, at CATALOG_SCAN_MAX_FAILURES in a row, fails."""
    failures = scan.failures + 1
    limit = conf.CATALOG_SCAN_MAX_FAILURES
    message = str(exc) or type(exc).__name__
    values: dict[str, Any] = {
        "state": ScanState.RUNNING,
        "calls_made": F("calls_made") + step.calls,
        "failures": failures,
        "updated_at": Now(),
        "lease_owner": "",
        "lease_until": None,
    }
    if failures >= limit:
        values.update(
            state=ScanState.FAILED,
            finished_at=Now(),
            next_attempt_at=None,
            last_error=f"Stopped after {failures} failed attempts in a row: {message}",
        )
    else:
        wait = conf.CATALOG_SCAN_RETRY_SECONDS * 2 ** (failures - 1)
        if isinstance(exc, tallyfy_api.RateLimited) and exc.retry_after:
            wait = max(wait, exc.retry_after)
        values.update(
            next_attempt_at=ExpressionWrapper(
                Now() + timedelta(seconds=min(wait, _LONGEST_BACKOFF)),
                output_field=DateTimeField(),
            ),
            last_error=f"Attempt {failures} of {limit} failed: {message}",
        )
    Scan.objects.filter(
        pk=scan.pk, lease_owner=scan.lease_owner, state__in=UNFINISHED_SCAN_STATES
    ).update(**values)
    scan.refresh_from_db()
    return scan


def _end(scan: Scan, state: ScanState) -> Scan:
    Scan.objects.filter(
        pk=scan.pk, lease_owner=scan.lease_owner, state__in=UNFINISHED_SCAN_STATES
    ).update(state=state, finished_at=Now(), lease_owner="", lease_until=None)
    scan.refresh_from_db()
    return scan
