"""A scan's steps. Each reads one page of one list (with the calls that page needs), or one
batch of the files the lists did not show, and writes what it found under the step's lease;
it moves the scan's position on in memory, which the scan's life saves once the step succeeded.

A scan of the organization reads, in order, its process runs (active, then archived), one-off
tasks, templates, the activity feed's uploads, and then checks the files it did not find; a
scan of one process run (`Scan.run_id`) reads that run and its tasks, then checks its files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Now

import tallyfy_api
from catalog.conf import conf
from catalog.index_writes import Found, found_write
from catalog.leases import LeasedStep
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from catalog.uploaders import uploads_apply
from tallyfy_api import finding
from tallyfy_api.ids import InvalidId

PER_PAGE = tallyfy_api.MAX_PER_PAGE
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
_PROCESS_RUN_PHASES = [ScanPhase.RUN, ScanPhase.FINISHING]
# Errors after which the scan cannot go on until someone changes something.
FATAL = (
    tallyfy_api.AuthenticationFailed,
    tallyfy_api.PermissionDenied,
    tallyfy_api.EndpointNotFound,
)


class ProcessRunMissing(Exception):
    """Tallyfy says the process run a scan of one run is for does not exist."""


def next_phase(scan: Scan) -> None:
    phases = _PROCESS_RUN_PHASES if scan.run_id else _PHASES
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
    if _reading_process_runs(scan) and scan.page == 1 and page.total is not None:
        scan.runs_total = (scan.runs_total or 0) + page.total
    scan.page, scan.phase_read = cursor.number, cursor.read
    scan.page_size, scan.page_fingerprint = cursor.page_size, cursor.fingerprint
    scan.page_budget = cursor.max_pages
    return last


def _reading_process_runs(scan: Scan) -> bool:
    return scan.phase in (ScanPhase.RUNS, ScanPhase.ARCHIVED_RUNS)


def _process_run_place(run: dict[str, Any], *, archived: bool) -> dict[str, str]:
    status = "archived" if archived else str(run.get("status") or "")
    return {
        "run_id": str(run.get("id") or ""),
        "run_name": str(run.get("name") or run.get("title") or ""),
        "run_status": status[:30],
        "template_id": str(run.get("checklist_id") or ""),
        "template_name": str(run.get("checklist_title") or ""),
    }


def _read_process_runs(
    scan: Scan, step: LeasedStep, page: tallyfy_api.Page, *, by_status: bool
) -> None:
    found = Found(scan)
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
        _read_process_run(found, step, run, archived=archived)
    step.write(lambda: found_write(found))


def _read_process_run(
    found: Found, step: LeasedStep, run: dict[str, Any], *, archived: bool, each_page: bool = False
) -> None:
    """The files of one run (its own and its kick-off form's) and of its tasks, whose pages
    are read through `tallyfy_api.pages` (so under its guards, and at most CATALOG_RUN_TASK_PAGES
    of them). With `each_page`, what each page found is written before the next is asked for,
    so no more than one page is held."""
    run_id = str(run.get("id") or "")
    place = _process_run_place(run, archived=archived)
    for item in finding.files_of_run(run):
        found.add(item, attached_to=AttachedTo.RUN, **place)
    try:
        for tasks in tallyfy_api.pages(
            lambda n: step.api.list_run_tasks(run_id, page=n, per_page=PER_PAGE),
            hard_cap=conf.CATALOG_RUN_TASK_PAGES,
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
                step.write(lambda: found_write(found))
                found.rows = {}
    except tallyfy_api.NotFound:
        pass  # the run was deleted since the list was read
    found.scan.runs_read += 1


def _step_process_runs(scan: Scan, step: LeasedStep) -> None:
    page = step.api.list_runs(page=scan.page, per_page=PER_PAGE, include=("assets",))
    last = _accept(scan, page)
    _read_process_runs(scan, step, page, by_status=False)
    if last:
        next_phase(scan)


def _step_archived_process_runs(scan: Scan, step: LeasedStep) -> None:
    page, by_status = step.api.list_archived_runs(
        page=scan.page, per_page=PER_PAGE, include=("assets",), by_status=scan.archived_by_status
    )
    if by_status and not scan.archived_by_status:
        step.api.calls += 1  # the page was asked twice
    scan.archived_by_status = by_status
    last = _accept(scan, page)
    _read_process_runs(scan, step, page, by_status=by_status)
    if last:
        next_phase(scan)


def _step_process_run(scan: Scan, step: LeasedStep) -> None:
    """A scan of one run: the run as `GET /runs/{id}` gives it, read as a list's run is."""
    try:
        run = step.api.get_run(scan.run_id)
    except tallyfy_api.NotFound as exc:
        raise ProcessRunMissing(f"Tallyfy has no process run {scan.run_id} (HTTP 404).") from exc
    found = Found(scan)
    scan.runs_total = 1
    run = {"id": scan.run_id, **run}
    _read_process_run(found, step, run, archived=bool(run.get("archived_at")), each_page=True)
    step.write(lambda: found_write(found))
    next_phase(scan)


def _step_oneoff_tasks(scan: Scan, step: LeasedStep) -> None:
    archived_only = scan.phase == ScanPhase.ARCHIVED_ONEOFF_TASKS
    page = step.api.list_oneoff_tasks(
        page=scan.page, per_page=PER_PAGE, archived="only" if archived_only else ""
    )
    last = _accept(scan, page)
    found = Found(scan)
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
    step.write(lambda: found_write(found))
    if last:
        next_phase(scan)


def _step_templates(scan: Scan, step: LeasedStep) -> None:
    archived_only = scan.phase == ScanPhase.ARCHIVED_TEMPLATES
    page = step.api.list_templates(
        page=scan.page, per_page=PER_PAGE, archived="only" if archived_only else ""
    )
    last = _accept(scan, page)
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


def _step_uploads(scan: Scan, step: LeasedStep) -> None:
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
    step.write(lambda: uploads_apply(scan, uploads))
    if last or reached_older:
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


_STEPS: dict[ScanPhase, Callable[[Scan, LeasedStep], None]] = {
    ScanPhase.RUNS: _step_process_runs,
    ScanPhase.ARCHIVED_RUNS: _step_archived_process_runs,
    ScanPhase.RUN: _step_process_run,
    ScanPhase.ONEOFF_TASKS: _step_oneoff_tasks,
    ScanPhase.ARCHIVED_ONEOFF_TASKS: _step_oneoff_tasks,
    ScanPhase.TEMPLATES: _step_templates,
    ScanPhase.ARCHIVED_TEMPLATES: _step_templates,
    ScanPhase.UPLOADS: _step_uploads,
    ScanPhase.FINISHING: _step_finishing,
}


def step_take(scan: Scan, step: LeasedStep) -> None:
    """The scan's next step, from its phase and position."""
    _STEPS[ScanPhase(scan.phase)](scan, step)
