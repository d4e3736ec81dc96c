"""The file index: scans that find an organization's files through their parents, and the
indexed files as the panel lists them.

A scan advances one step at a time (one page of one list, with the calls that page needs),
and writes its position and counts to its row after each step. Any worker, or the
`scan_files` command, can carry a scan on from its row: a lease on the row keeps two of them
from stepping the same scan at once, and expires when its holder dies.

A scan of one run (`Scan.run_id`) reads that run and its tasks as a whole scan does, and marks
gone only files of that run.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

import tallyfy_api
from catalog.clients import scan_client
from catalog.folding import fold
from catalog.models import (
    UNFINISHED_SCAN_STATES,
    AttachedTo,
    IndexedFile,
    Scan,
    ScanPhase,
    ScanState,
)
from files.models import GONE_STATES, FileDeletion
from jobs.lines import ParsedFiles
from jobs.models import DeletionJob
from jobs.services import JobRefused, job_create
from organizations.models import Organization
from tallyfy_api import finding
from tallyfy_api.ids import InvalidId

logger = logging.getLogger(__name__)

PER_PAGE = tallyfy_api.MAX_PER_PAGE
LEASE = timedelta(minutes=5)
_LONGEST_BACKOFF = 3600  # seconds between two attempts of a failing step, at most
_PHASES = [
    ScanPhase.RUNS,
    ScanPhase.ARCHIVED_RUNS,
    ScanPhase.ONEOFF_TASKS,
    ScanPhase.ARCHIVED_ONEOFF_TASKS,
    ScanPhase.TEMPLATES,
    ScanPhase.ARCHIVED_TEMPLATES,
    ScanPhase.UPLOADS,
    ScanPhase.FINISHING,
]
_RUN_PHASES = [ScanPhase.RUN, ScanPhase.FINISHING]
# A file found in several places is shown where it says most: a task before its run, a run
# (its kick-off form) before the template the upload was recorded against.
_PRIORITY = {
    AttachedTo.TEMPLATE: 1,
    AttachedTo.RUN: 2,
    AttachedTo.TASK: 3,
    AttachedTo.ONEOFF_TASK: 3,
}
# Errors after which the scan cannot go on until someone changes something.
_FATAL = (
    tallyfy_api.AuthenticationFailed,
    tallyfy_api.PermissionDenied,
    tallyfy_api.EndpointNotFound,
)


class ScanBusy(Exception):
    """Another worker holds this scan's lease."""


class LeaseLost(ScanBusy):
    """Another worker took this scan's lease over (or the scan ended) while this one worked:
    it stopped before its next call to Tallyfy, and its step wrote nothing."""


class ScanWaiting(ScanBusy):
    """The scan's last step failed: it is tried again from `next_attempt_at`."""


class _RunMissing(Exception):
    """Tallyfy says the run a scan of one run is for does not exist."""


# --- the index as the panel lists it ---


def indexed_files(*, organization: Organization | None = None) -> QuerySet[IndexedFile]:
    """Indexed files with `deleted_here`: whether the deletion log has the file as deleted
    (or already gone), so a file deleted through the panel is gone in the index at once."""
    deleted = FileDeletion.objects.filter(
        organization_id=OuterRef("organization_id"),
        asset_id=OuterRef("asset_id"),
        state__in=GONE_STATES,
    )
    queryset = IndexedFile.objects.annotate(deleted_here=Exists(deleted))
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    return queryset


def gone_q() -> Q:
    return Q(gone_at__isnull=False) | Q(deleted_here=True)


# --- starting, cancelling ---


def scan_start(
    *, organization: Organization, user: AbstractBaseUser | None = None, run_id: str = ""
) -> Scan:
    """A new scan of the organization (or of its run `run_id` only), or the one of the same
    not yet finished (which is carried on)."""
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
    try:
        with transaction.atomic():
            return Scan.objects.create(
                organization=organization,
                run_id=run_id,
                phase=ScanPhase.RUN if run_id else ScanPhase.RUNS,
                started_by=user if user is not None and user.pk else None,
                uploads_since=since,
            )
    except IntegrityError:  # started by someone else a moment ago
        return unfinished.get()


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


# --- running ---


def scan_run(
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
    try:
        while max_steps is None or steps < max_steps:
            scan = _claim(scan_id=scan_id, owner=owner)
            if not scan.is_unfinished:
                return scan
            if scan.cancel_requested:
                return _end(scan, ScanState.CANCELLED)
            step = _Step(scan, client or scan_client(organization=scan.organization))
            try:
                _STEPS[ScanPhase(scan.phase)](scan, step)
            except (*_FATAL, _RunMissing) as exc:
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
        Scan.objects.filter(pk=scan_id, lease_owner=owner).update(lease_owner="", lease_until=None)


def _lease_end() -> ExpressionWrapper:
    return ExpressionWrapper(Now() + LEASE, output_field=DateTimeField())


def _claim(*, scan_id: int, owner: str) -> Scan:
    """Take (or renew) the scan's lease, timed by the database's clock; not while another
    worker holds it, nor before its next attempt is due."""
    taken = Scan.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=Now()) | Q(lease_owner=owner),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()),
        pk=scan_id,
        state__in=UNFINISHED_SCAN_STATES,
    ).update(
        lease_owner=owner,
        lease_until=_lease_end(),
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


def _fence(scan: Scan) -> None:
    """Renew this worker's lease; raises LeaseLost when another worker holds it now (or the
    scan ended meanwhile). Inside a transaction, the row stays locked until it commits."""
    kept = Scan.objects.filter(
        pk=scan.pk, lease_owner=scan.lease_owner, state__in=UNFINISHED_SCAN_STATES
    ).update(lease_until=_lease_end())
    if not kept:
        raise LeaseLost(f"Scan {scan.pk} was taken over by another worker, or ended: stopped.")


class _Step:
    """One step's way to Tallyfy and to the index. Every call to Tallyfy first renews the
    lease, so a worker whose lease was taken (while it waited on the rate limit, say) makes
    no further call; every write is made in one transaction with the lease renewed, so its
    writes do nothing once another worker holds the scan."""

    def __init__(self, scan: Scan, client: tallyfy_api.TallyfyClient) -> None:
        self.scan = scan
        self.api = _Fenced(scan, client)

    @property
    def calls(self) -> int:
        return self.api.calls

    def write(self, writes: Callable[[], object]) -> None:
        with transaction.atomic():
            _fence(self.scan)
            writes()


class _Fenced:
    """The client, renewing the lease before each call and counting the calls (retries
    inside one call count once)."""

    def __init__(self, scan: Scan, client: tallyfy_api.TallyfyClient) -> None:
        self._scan, self._client = scan, client
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def fenced(*args: Any, **kwargs: Any) -> Any:
            _fence(self._scan)
            self.calls += 1
            return method(*args, **kwargs)

        return fenced


def _save(scan: Scan, step: _Step) -> None:
    """The step's position and counts, written only while this worker holds the lease."""
    values: dict[str, Any] = {name: getattr(scan, name) for name in _SAVED_FIELDS}
    if scan.state == ScanState.DONE:
        values["finished_at"] = Now()
    with transaction.atomic():
        _fence(scan)
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
    "last_error",
]


def _failed(scan: Scan, step: _Step, exc: tallyfy_api.TallyfyError) -> Scan:
    """A step failed: nothing of its position is kept. The scan is tried again after a
    backoff (on the database's clock), or, at CATALOG_SCAN_MAX_FAILURES in a row, fails."""
    failures = scan.failures + 1
    limit = settings.CATALOG_SCAN_MAX_FAILURES
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
        wait = settings.CATALOG_SCAN_RETRY_SECONDS * 2 ** (failures - 1)
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


def _next_phase(scan: Scan) -> None:
    phases = _RUN_PHASES if scan.run_id else _PHASES
    scan.phase = phases[phases.index(ScanPhase(scan.phase)) + 1]
    scan.page = 1
    scan.phase_read = 0
    scan.page_size = None
    scan.page_budget = None
    scan.page_fingerprint = ""


def _accept(scan: Scan, page: tallyfy_api.Page) -> bool:
    """Check `page` as the phase's next page, as `tallyfy_api.pages` checks every page (raises
    ListingBroken when it cannot be), and move the position on; whether the phase's list is
    read whole. Nothing is written until the step succeeds."""
    cursor = tallyfy_api.ListCursor(
        number=scan.page,
        read=scan.phase_read,
        page_size=scan.page_size,
        fingerprint=scan.page_fingerprint,
        max_pages=scan.page_budget,
    )
    last = cursor.accept(page)
    if _reading_runs(scan) and scan.page == 1 and page.total is not None:
        scan.runs_total = (scan.runs_total or 0) + page.total
    scan.page, scan.phase_read = cursor.number, cursor.read
    scan.page_size, scan.page_fingerprint = cursor.page_size, cursor.fingerprint
    scan.page_budget = cursor.max_pages
    return last


def _reading_runs(scan: Scan) -> bool:
    return scan.phase in (ScanPhase.RUNS, ScanPhase.ARCHIVED_RUNS)


# --- the steps ---


@dataclass
class _Found:
    """What one step found, keyed like the index, before it is written."""

    scan: Scan
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, found: tallyfy_api.FoundFile, *, attached_to: AttachedTo, **place: str) -> None:
        row = {
            "asset_id": found.asset_id,
            "file_name": found.filename,
            "is_link": found.is_link,
            "link_url": found.url if found.is_link else "",
            "attached_to": attached_to,
            "uploaded_at": found.uploaded_at,
            **place,
        }
        earlier = self.rows.get(found.key)
        if earlier is None or _PRIORITY[attached_to] > _PRIORITY[earlier["attached_to"]]:
            if earlier is not None:
                row["uploaded_at"] = row["uploaded_at"] or earlier["uploaded_at"]
                row["file_name"] = row["file_name"] or earlier["file_name"]
            self.rows[found.key] = row
        elif earlier["uploaded_at"] is None:
            earlier["uploaded_at"] = found.uploaded_at


def _run_place(run: dict[str, Any], *, archived: bool) -> dict[str, str]:
    status = "archived" if archived else str(run.get("status") or "")
    return {
        "run_id": str(run.get("id") or ""),
        "run_name": str(run.get("name") or run.get("title") or ""),
        "run_status": status[:30],
        "template_id": str(run.get("checklist_id") or ""),
        "template_name": str(run.get("checklist_title") or ""),
    }


def _read_runs(scan: Scan, step: _Step, page: tallyfy_api.Page, *, by_status: bool) -> None:
    found = _Found(scan)
    for run in page.items:
        run_id = str(run.get("id") or "")
        if not run_id:
            continue
        archived = bool(run.get("archived_at")) or (by_status and "archived_at" not in run)
        if scan.phase == ScanPhase.ARCHIVED_RUNS and not archived:
            continue  # both filters ignored: an active run, read in the first phase
        if "prerun" not in run:  # the list left kick-off values out: ask the run itself
            try:
                run = {**run, **step.api.get_run(run_id)}
            except tallyfy_api.NotFound:
                continue
        _read_run(found, step, run, archived=archived)
    step.write(lambda: _write(found))


def _read_run(
    found: _Found, step: _Step, run: dict[str, Any], *, archived: bool, each_page: bool = False
) -> None:
    """The files of one run (its own and its kick-off form's) and of its tasks, whose pages
    are read through `tallyfy_api.pages` (so under its guards, and at most CATALOG_RUN_TASK_PAGES
    of them). With `each_page`, what each page found is written before the next is asked for,
    so no more than one page is held."""
    run_id = str(run.get("id") or "")
    place = _run_place(run, archived=archived)
    for item in finding.files_of_run(run):
        found.add(item, attached_to=AttachedTo.RUN, **place)
    try:
        for tasks in tallyfy_api.pages(
            lambda n: step.api.list_run_tasks(run_id, page=n, per_page=PER_PAGE),
            hard_cap=settings.CATALOG_RUN_TASK_PAGES,
        ):
            for task in tasks.items:
                task_place = {
                    **place,
                    "task_id": str(task.get("id") or ""),
                    "task_name": str(task.get("title") or task.get("name") or ""),
                }
                for item in finding.files_of_task(task):
                    found.add(item, attached_to=AttachedTo.TASK, **task_place)
            if each_page:
                step.write(lambda: _write(found))
                found.rows = {}
    except tallyfy_api.NotFound:
        pass  # the run was deleted since the list was read
    found.scan.runs_read += 1


def _step_runs(scan: Scan, step: _Step) -> None:
    page = step.api.list_runs(page=scan.page, per_page=PER_PAGE, include=("assets",))
    last = _accept(scan, page)
    _read_runs(scan, step, page, by_status=False)
    if last:
        _next_phase(scan)


def _step_archived_runs(scan: Scan, step: _Step) -> None:
    page, by_status = step.api.list_archived_runs(
        page=scan.page, per_page=PER_PAGE, include=("assets",), by_status=scan.archived_by_status
    )
    if by_status and not scan.archived_by_status:
        step.api.calls += 1  # the page was asked twice
    scan.archived_by_status = by_status
    last = _accept(scan, page)
    _read_runs(scan, step, page, by_status=by_status)
    if last:
        _next_phase(scan)


def _step_run(scan: Scan, step: _Step) -> None:
    """A scan of one run: the run as `GET /runs/{id}` gives it, read as a list's run is."""
    try:
        run = step.api.get_run(scan.run_id)
    except tallyfy_api.NotFound as exc:
        raise _RunMissing(f"Tallyfy has no process run {scan.run_id} (HTTP 404).") from exc
    found = _Found(scan)
    scan.runs_total = 1
    run = {"id": scan.run_id, **run}
    _read_run(found, step, run, archived=bool(run.get("archived_at")), each_page=True)
    step.write(lambda: _write(found))
    _next_phase(scan)


def _step_oneoff_tasks(scan: Scan, step: _Step) -> None:
    archived_only = scan.phase == ScanPhase.ARCHIVED_ONEOFF_TASKS
    page = step.api.list_oneoff_tasks(
        page=scan.page, per_page=PER_PAGE, archived="only" if archived_only else ""
    )
    last = _accept(scan, page)
    found = _Found(scan)
    for task in page.items:
        if task.get("is_oneoff_task") is False:
            continue  # the filter was ignored: a run's task, read with its run
        if archived_only and not task.get("archived_at"):
            continue  # archived=only was ignored: an active task, read in the phase before
        place = {
            "task_id": str(task.get("id") or ""),
            "task_name": str(task.get("title") or task.get("name") or ""),
        }
        for item in finding.files_of_task(task):
            found.add(item, attached_to=AttachedTo.ONEOFF_TASK, **place)
    step.write(lambda: _write(found))
    if last:
        _next_phase(scan)


def _step_templates(scan: Scan, step: _Step) -> None:
    archived_only = scan.phase == ScanPhase.ARCHIVED_TEMPLATES
    page = step.api.list_templates(
        page=scan.page, per_page=PER_PAGE, archived="only" if archived_only else ""
    )
    last = _accept(scan, page)
    found = _Found(scan)
    for template in page.items:
        if archived_only and not template.get("archived_at"):
            continue  # archived=only was ignored: an active template, read in the phase before
        place = {
            "template_id": str(template.get("id") or ""),
            "template_name": str(template.get("title") or template.get("name") or ""),
        }
        for item in finding.files_of_template(template):
            found.add(item, attached_to=AttachedTo.TEMPLATE, **place)
    step.write(lambda: _write(found))
    if last:
        _next_phase(scan)


def _step_uploads(scan: Scan, step: _Step) -> None:
    since = scan.uploads_since.isoformat() if scan.uploads_since else ""
    page = step.api.list_uploads(page=scan.page, per_page=PER_PAGE, created_after=since)
    last = _accept(scan, page)
    reached_older = False
    uploads = []
    for entry in page.items:
        upload = finding.upload_of_entry(entry)
        if scan.uploads_since and upload.at and upload.at.date() < scan.uploads_since:
            reached_older = True  # newest first: the rest was read by an earlier scan
            break
        if upload.actor_email:
            uploads.append((upload, entry))
    step.write(lambda: _apply_uploads(scan, uploads))
    if last or reached_older:
        _next_phase(scan)


def _apply_uploads(scan: Scan, uploads: list[tuple[tallyfy_api.Upload, dict[str, Any]]]) -> None:
    """A page of the feed's uploads, newest first, in one read and one update per uploader,
    ending as writing them one entry at a time would: an entry naming a file gives it its
    uploader (for a file uploaded twice the earlier upload, read later, wins); an entry naming
    none gives the file of its run whose name it mentions, when exactly one file of that run
    still without an uploader does."""
    files = IndexedFile.objects.filter(organization_id=scan.organization_id, is_link=False)
    without_uploader: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    runs = {upload.run_id for upload, _entry in uploads if upload.run_id and not upload.asset_id}
    unclaimed = files.filter(run_id__in=runs, uploader_email="").exclude(file_name="")
    for pk, asset_id, run_id, name in unclaimed.values_list(
        "pk", "asset_id", "run_id", "file_name"
    ):
        without_uploader[run_id].append((pk, asset_id, name))
    named: dict[str, tuple[str, str]] = {}
    inferred: dict[int, tuple[str, str]] = {}
    for upload, entry in uploads:
        if upload.asset_id:
            named[upload.asset_id] = _uploader(upload)
            for run_files in without_uploader.values():
                run_files[:] = [file for file in run_files if file[1] != upload.asset_id]
        elif upload.run_id:
            text = _entry_text(upload, entry)
            candidates = [file for file in without_uploader[upload.run_id] if file[2] in text]
            if len(candidates) == 1:
                without_uploader[upload.run_id].remove(candidates[0])
                inferred[candidates[0][0]] = _uploader(upload)
    # Inferred first: an entry naming the file, wherever it sits on the page, has the last word.
    for (email, kind), pks in _grouped(inferred).items():
        files.filter(pk__in=pks).update(
            uploader_email=email, uploader_type=kind, uploader_inferred=True
        )
    for (email, kind), asset_ids in _grouped(named).items():
        files.filter(asset_id__in=asset_ids).update(
            uploader_email=email, uploader_type=kind, uploader_inferred=False
        )


def _grouped[K](uploader_of: dict[K, tuple[str, str]]) -> dict[tuple[str, str], list[K]]:
    keys_of: dict[tuple[str, str], list[K]] = defaultdict(list)
    for key, uploader in uploader_of.items():
        keys_of[uploader].append(key)
    return keys_of


def _entry_text(upload: tallyfy_api.Upload, entry: dict[str, Any]) -> str:
    return " ".join(
        str(value[0] if isinstance(value, list) and value else value)
        for value in (entry.get("description"), entry.get("text"), upload.filename)
        if value
    )


def _uploader(upload: tallyfy_api.Upload) -> tuple[str, str]:
    return upload.actor_email[:254], upload.actor_type[:20]


def _step_finishing(scan: Scan, step: _Step) -> None:
    """The files of the scan's scope that it did not find (nor did any scan since it began)
    are asked for one by one, CATALOG_SCAN_CHECK_BATCH a step: a file is gone only when
    Tallyfy answers 404 for it, never for missing from a list. One Tallyfy still has is kept
    and marked missed by this scan; one it could not be asked about is kept and counted.
    Links, which Tallyfy cannot be asked about, are no longer found once missed."""
    missing = _missing(scan)
    first_batch = not scan.checked_up_to
    batch = list(
        missing.filter(is_link=False, pk__gt=scan.checked_up_to)
        .order_by("pk")
        .values_list("pk", "asset_id")[: settings.CATALOG_SCAN_CHECK_BATCH]
    )
    gone, present, problem = [], [], ""
    for pk, asset_id in batch:
        try:
            step.api.get_asset(asset_id)
        except tallyfy_api.NotFound:
            gone.append(pk)
        except _FATAL:
            raise
        except (tallyfy_api.TallyfyError, InvalidId) as exc:
            scan.files_unchecked += 1
            problem = str(exc)
        else:
            present.append(pk)

    def record() -> None:
        if first_batch:
            scan.files_gone += missing.filter(is_link=True).update(gone_at=Now())
        scan.files_gone += IndexedFile.objects.filter(pk__in=gone, gone_at__isnull=True).update(
            gone_at=Now()
        )
        IndexedFile.objects.filter(pk__in=present).update(missed_by_scan=scan)

    step.write(record)
    scan.files_missed += len(present)
    if batch:
        scan.checked_up_to = batch[-1][0]
    if problem:
        scan.last_error = (
            f"{scan.files_unchecked} file{'' if scan.files_unchecked == 1 else 's'} not in "
            f"Tallyfy's lists could not be checked (kept as present); the last: {problem}"
        )
    if len(batch) < settings.CATALOG_SCAN_CHECK_BATCH:
        scan.state = ScanState.DONE


def _missing(scan: Scan) -> QuerySet[IndexedFile]:
    missing = IndexedFile.objects.filter(
        organization_id=scan.organization_id, gone_at__isnull=True
    ).exclude(last_seen_scan=scan)
    if scan.run_id:
        missing = missing.filter(run_id=scan.run_id)
    if scan.started_at is not None:
        # Seen meanwhile by another scan (of one run, or of the organization): still there.
        missing = missing.exclude(last_seen__gte=scan.started_at)
    return missing


_STEPS: dict[ScanPhase, Callable[[Scan, _Step], None]] = {
    ScanPhase.RUNS: _step_runs,
    ScanPhase.ARCHIVED_RUNS: _step_archived_runs,
    ScanPhase.RUN: _step_run,
    ScanPhase.ONEOFF_TASKS: _step_oneoff_tasks,
    ScanPhase.ARCHIVED_ONEOFF_TASKS: _step_oneoff_tasks,
    ScanPhase.TEMPLATES: _step_templates,
    ScanPhase.ARCHIVED_TEMPLATES: _step_templates,
    ScanPhase.UPLOADS: _step_uploads,
    ScanPhase.FINISHING: _step_finishing,
}


# --- writing what a step found ---

_PLACE_FIELDS = ["run_id", "run_name", "run_status", "template_id", "template_name"]
_PLACE_FIELDS += ["task_id", "task_name"]


_WRITTEN_FIELDS = [
    "asset_id",
    "is_link",
    "link_url",
    "attached_to",
    *_PLACE_FIELDS,
    "file_name",
    "file_name_folded",
    "uploaded_at",
    "last_seen_scan",
    "missed_by_scan",
    "gone_at",
]


# The same as attributes of a row: the scan's id, not the scan (comparing it runs no query).
_WRITTEN_ATTRIBUTES = [
    f"{name}_id" if name in ("last_seen_scan", "missed_by_scan") else name
    for name in _WRITTEN_FIELDS
]


def _written(row: IndexedFile) -> tuple[Any, ...]:
    return tuple(getattr(row, attribute) for attribute in _WRITTEN_ATTRIBUTES)


def _write(found: _Found) -> None:
    """New files are added; files seen again are refreshed (and no longer gone). A file seen
    earlier in this scan keeps the more telling place of the two."""
    if not found.rows:
        return
    scan, now = found.scan, timezone.now()
    existing = {
        row.key: row
        for row in IndexedFile.objects.filter(
            organization_id=scan.organization_id, key__in=list(found.rows)
        )
    }
    new, changed, seen_again = [], [], []
    for key, row in found.rows.items():
        current = existing.get(key)
        if current is None:
            new.append(_new_row(scan, key, row, now))
            continue
        seen_here = current.last_seen_scan_id == scan.pk
        before = _written(current)
        if not seen_here or _PRIORITY[row["attached_to"]] >= _PRIORITY[current.attached_to]:
            for name in ("asset_id", "is_link", "link_url", "attached_to", *_PLACE_FIELDS):
                setattr(current, name, row.get(name, ""))
        elif not current.template_id and row.get("template_id"):
            current.template_id, current.template_name = row["template_id"], row["template_name"]
        if row["file_name"]:
            current.file_name = row["file_name"]
            current.file_name_folded = fold(row["file_name"])
        current.uploaded_at = row["uploaded_at"] or current.uploaded_at
        current.last_seen, current.last_seen_scan, current.gone_at = now, scan, None
        current.missed_by_scan = None
        if seen_here and _written(current) == before:
            seen_again.append(current.pk)  # (a template's file, say) with nothing to add
        else:
            changed.append(current)
    IndexedFile.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    # Still marked seen now: a scan of one run counts a file seen since it began as present.
    IndexedFile.objects.filter(pk__in=seen_again).update(last_seen=now)
    IndexedFile.objects.bulk_update(
        changed,
        [*_WRITTEN_FIELDS, "last_seen"],
        batch_size=500,
    )


def _new_row(scan: Scan, key: str, row: dict[str, Any], now: datetime) -> IndexedFile:
    return IndexedFile(
        organization_id=scan.organization_id,
        key=key,
        file_name_folded=fold(row["file_name"]),
        first_seen=now,
        last_seen=now,
        last_seen_scan=scan,
        **{name: row.get(name, "") for name in _PLACE_FIELDS},
        **{
            name: row[name]
            for name in (
                "asset_id",
                "file_name",
                "is_link",
                "link_url",
                "attached_to",
                "uploaded_at",
            )
        },
    )


def scans_unfinished(*, organizations: Iterable[Organization] | None = None) -> QuerySet[Scan]:
    queryset = Scan.objects.filter(state__in=UNFINISHED_SCAN_STATES)
    if organizations is not None:
        queryset = queryset.filter(organization__in=list(organizations))
    return queryset


def deletion_job_from_index(*, files: QuerySet[IndexedFile], user: AbstractBaseUser) -> DeletionJob:
    """A deletion job (jobs) for the selected indexed files: preview, confirmation, approval and
    the log as for any job. Links and files already gone are left out; the files must all be of
    one organization. Raises JobRefused with nothing created."""
    chosen = files.filter(is_link=False).exclude(asset_id="").exclude(gone_q())
    # No ordering: the model's would put its columns into the DISTINCT.
    organizations = set(chosen.order_by().values_list("organization", flat=True).distinct()[:2])
    if not organizations:
        raise JobRefused("None of the selected rows is a Tallyfy file still there to delete.")
    if len(organizations) > 1:
        raise JobRefused("Select files of one organization: a deletion job has one.")
    organization = Organization.objects.get(pk=organizations.pop())
    wanted = ParsedFiles()
    for line, asset_id in enumerate(chosen.order_by("pk").values_list("asset_id", flat=True), 1):
        wanted.add(line, asset_id)
    return job_create(organization=organization, user=user, wanted=wanted)
