"""A scan's steps, one per call: each reads one page of one list (with the calls that page
needs), or one batch of the files the lists did not show, and writes what it found under the
step's lease (catalog.leases); it moves the scan's position on in memory
(catalog.scan_position), which the scan's life saves once the step succeeded.

A scan of the organization reads, in order, its process runs (active, then archived), its
tasks (catalog.task_steps), templates, the activity feed (catalog.feed_steps), and then checks
the files it did not find; a scan of one process run reads that run and its tasks, asks the
feed about its files, then checks its files.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.db.models.functions import Now

import tallyfy_api
from catalog.conf import conf
from catalog.feed_steps import step_uploaders, step_uploads
from catalog.index_writes import Found, found_write
from catalog.leases import LeasedStep
from catalog.models import (
    AttachedTo,
    IndexedFile,
    Scan,
    ScanPhase,
    ScanState,
    ScanTarget,
    TargetKind,
)
from catalog.refresh_steps import (
    step_changed_files,
    step_changed_runs,
    step_changes,
    step_new_runs,
)
from catalog.scan_position import following_call, next_phase, page_accept, page_call
from catalog.task_steps import (
    process_run_place,
    process_run_tasks_read,
    process_runs_remember,
    step_oneoff_tasks,
    step_run_tasks,
    step_tasks,
)
from tallyfy_api import finding
from tallyfy_api.ids import InvalidId

# Errors after which the scan cannot go on until someone changes something.
FATAL = (
    tallyfy_api.AuthenticationFailed,
    tallyfy_api.PermissionDenied,
    tallyfy_api.EndpointNotFound,
)


class ProcessRunMissing(Exception):
    """Tallyfy says the process run a scan of one run is for does not exist."""


def _read_process_runs(
    scan: Scan, step: LeasedStep, page: tallyfy_api.Page, *, by_status: bool
) -> None:
    """A page of runs: their own files and their kick-off forms' (their tasks' come with the
    task listing), and each run's place remembered."""
    found, places = Found(scan), []
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
        place = process_run_place(run, archived=archived)
        places.append(place)
        for item in finding.files_of_run(run):
            found.add(item, attached_to=AttachedTo.RUN, **place)
        scan.runs_read += 1

    def write() -> None:
        process_runs_remember(scan, places)
        found_write(found)

    step.write(write)


def _step_process_runs(scan: Scan, step: LeasedStep) -> None:
    page = step.read(page_call(scan, ScanPhase.RUNS, scan.page))
    last = page_accept(scan, page)
    step.ask_ahead(following_call(scan, last=last))
    _read_process_runs(scan, step, page, by_status=False)
    if last:
        next_phase(scan)


def _step_archived_process_runs(scan: Scan, step: LeasedStep) -> None:
    page, by_status = step.read(page_call(scan, ScanPhase.ARCHIVED_RUNS, scan.page))
    if by_status and not scan.archived_by_status:
        step.api.calls += 1  # the page was asked twice
    scan.archived_by_status = by_status
    last = page_accept(scan, page)
    step.ask_ahead(following_call(scan, last=last))
    _read_process_runs(scan, step, page, by_status=by_status)
    if last:
        next_phase(scan)


def _step_process_run(scan: Scan, step: LeasedStep) -> None:
    """A scan of one run: the run as `GET /runs/{id}` gives it, and its tasks' listing."""
    try:
        run = step.api.get_run(scan.run_id)
    except tallyfy_api.NotFound as exc:
        raise ProcessRunMissing(f"Tallyfy has no process run {scan.run_id} (HTTP 404).") from exc
    run = {"id": scan.run_id, **run}
    place = process_run_place(run, archived=bool(run.get("archived_at")))
    found = Found(scan)
    scan.runs_total = 1
    for item in finding.files_of_run(run):
        found.add(item, attached_to=AttachedTo.RUN, **place)
    step.write(lambda: process_runs_remember(scan, [place]))
    process_run_tasks_read(found, step, place, each_page=True)
    step.write(lambda: found_write(found))
    scan.runs_read = 1
    next_phase(scan)


def _step_templates(scan: Scan, step: LeasedStep) -> None:
    archived_only = scan.phase == ScanPhase.ARCHIVED_TEMPLATES
    page = step.read(page_call(scan, ScanPhase(scan.phase), scan.page))
    last = page_accept(scan, page)
    step.ask_ahead(following_call(scan, last=last))
    found = Found(scan)
    for template in page.items:
        if archived_only and not template.get("archived_at"):
            continue  # archived=only was ignored: an active template, read in the phase before
        place = {
            "template_id": str(template.get("id") or ""),
            "template_name": str(template.get("title") or template.get("name") or ""),
        }
        for item in finding.files_of_template(template):
            found.add(item, attached_to=AttachedTo.TEMPLATE, **place)
    step.write(lambda: found_write(found))
    if last:
        next_phase(scan)


def _step_finishing(scan: Scan, step: LeasedStep) -> None:
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
        .values_list("pk", "asset_id")[: conf.CATALOG_SCAN_CHECK_BATCH]
    )
    gone, present, problem = [], [], ""
    for pk, asset_id in batch:
        try:
            step.api.get_asset(asset_id)
        except tallyfy_api.NotFound:
            gone.append(pk)
        except FATAL:
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
    if len(batch) < conf.CATALOG_SCAN_CHECK_BATCH:
        scan.state = ScanState.DONE
        next_phase(scan)


def _missing(scan: Scan) -> QuerySet[IndexedFile]:
    missing = IndexedFile.objects.filter(
        organization_id=scan.organization_id, gone_at__isnull=True
    ).exclude(last_seen_scan=scan)
    if scan.run_id:
        missing = missing.filter(run_id=scan.run_id)
    elif scan.refresh:  # only the runs and files it read again
        targets = ScanTarget.objects.filter(scan=scan)
        runs = targets.filter(kind=TargetKind.RUN).values("target_id")
        files = targets.filter(kind=TargetKind.FILE).values("target_id")
        missing = missing.filter(Q(run_id__in=runs) | Q(key__in=files))
    if scan.started_at is not None:
        # Seen meanwhile by another scan (of one run, or of the organization): still there.
        missing = missing.exclude(last_seen__gte=scan.started_at)
    return missing


_STEPS: dict[ScanPhase, Callable[[Scan, LeasedStep], None]] = {
    ScanPhase.RUNS: _step_process_runs,
    ScanPhase.ARCHIVED_RUNS: _step_archived_process_runs,
    ScanPhase.RUN: _step_process_run,
    ScanPhase.TASKS: step_tasks,
    ScanPhase.COMPLETED_TASKS: step_tasks,
    ScanPhase.ARCHIVED_TASKS: step_tasks,
    ScanPhase.ARCHIVED_COMPLETED_TASKS: step_tasks,
    ScanPhase.RUN_TASKS: step_run_tasks,
    ScanPhase.ONEOFF_TASKS: step_oneoff_tasks,
    ScanPhase.COMPLETED_ONEOFF_TASKS: step_oneoff_tasks,
    ScanPhase.ARCHIVED_ONEOFF_TASKS: step_oneoff_tasks,
    ScanPhase.ARCHIVED_COMPLETED_ONEOFF_TASKS: step_oneoff_tasks,
    ScanPhase.TEMPLATES: _step_templates,
    ScanPhase.ARCHIVED_TEMPLATES: _step_templates,
    ScanPhase.CHANGES: step_changes,
    ScanPhase.NEW_RUNS: step_new_runs,
    ScanPhase.CHANGED_RUNS: step_changed_runs,
    ScanPhase.CHANGED_FILES: step_changed_files,
    ScanPhase.UPLOADS: step_uploads,
    ScanPhase.UPLOADERS: step_uploaders,
    ScanPhase.FINISHING: _step_finishing,
}


def step_take(scan: Scan, step: LeasedStep) -> None:
    """The scan's next step, from its phase and position."""
    _STEPS[ScanPhase(scan.phase)](scan, step)
