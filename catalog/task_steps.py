"""A scan's task steps: the organization's tasks (those of its process runs and one-off tasks)
from the organization-wide listing, 100 a page; or, when that listing fails or leaves tasks
out, each process run's tasks and the one-off tasks apart.

Whether `GET /tasks` leaves completed tasks out when no `status` is given is undocumented, so
every listing is read twice over: without a status, then with `status=completed`; and again
with `archived=only`. A file met twice is written once, where it says most.
"""

from __future__ import annotations

from typing import Any

import tallyfy_api
from catalog.conf import conf
from catalog.index_writes import Found, found_write
from catalog.leases import LeasedStep
from catalog.models import AttachedTo, ProcessRun, Scan, ScanPhase
from catalog.scan_position import (
    PER_PAGE,
    TASK_FILTERS,
    following_call,
    next_phase,
    note,
    page_accept,
    page_call,
    phase_start,
)
from tallyfy_api import finding
from tallyfy_api.names import bounded

# Answers after which the organization-wide listing is not trusted: each run's is read instead.
_LISTING_FAILED = (
    tallyfy_api.EndpointNotFound,
    tallyfy_api.UnexpectedResponse,
    tallyfy_api.ListingBroken,
    tallyfy_api.RequestRejected,
)
_RUNS_A_STEP = 10


def process_run_place(run: dict[str, Any], *, archived: bool) -> dict[str, str]:
    """Where a run's files sit, each value as its column (here and in the index) holds it."""
    status = "archived" if archived else str(run.get("status") or "")
    return {
        "run_id": bounded(str(run.get("id") or ""), 255),
        "run_name": bounded(str(run.get("name") or run.get("title") or ""), 1000),
        "run_status": bounded(status, 30),
        "template_id": bounded(str(run.get("checklist_id") or ""), 255),
        "template_name": bounded(str(run.get("checklist_title") or ""), 1000),
    }


def process_runs_remember(scan: Scan, places: list[dict[str, str]]) -> None:
    """The runs a page listed, so that their tasks' files, met later, are placed by name."""
    ProcessRun.objects.bulk_create(
        [
            ProcessRun(
                organization_id=scan.organization_id,
                run_id=place["run_id"],
                name=place["run_name"],
                status=place["run_status"],
                template_id=place["template_id"],
                template_name=place["template_name"],
                last_seen_scan=scan,
            )
            for place in places
        ],
        update_conflicts=True,
        unique_fields=["organization", "run_id"],
        update_fields=["name", "status", "template_id", "template_name", "last_seen_scan"],
        batch_size=500,
    )


def _task_place(task: dict[str, Any]) -> dict[str, str]:
    return {
        "task_id": str(task.get("id") or ""),
        "task_name": str(task.get("title") or task.get("name") or ""),
    }


def process_run_tasks_read(
    found: Found, step: LeasedStep, place: dict[str, str], *, each_page: bool = False
) -> None:
    """One run's tasks and their files, read through `tallyfy_api.pages` (so under its guards,
    and at most CATALOG_RUN_TASK_PAGES pages). With `each_page`, what each page found is
    written before the next is asked for, so no more than one page is held."""
    run_id = place["run_id"]
    try:
        for tasks in tallyfy_api.pages(
            lambda n: step.api.list_run_tasks(run_id, page=n, per_page=PER_PAGE),
            hard_cap=conf.CATALOG_RUN_TASK_PAGES,
        ):
            for task in tasks.items:
                for item in finding.files_of_task(task):
                    found.add(item, attached_to=AttachedTo.TASK, **place, **_task_place(task))
            if each_page:
                step.write(lambda: found_write(found))
                found.rows = {}
    except tallyfy_api.NotFound:
        pass  # the run was deleted since it was listed


def step_tasks(scan: Scan, step: LeasedStep) -> None:
    """A page of the organization-wide task listing, one of its four passes."""
    phase = ScanPhase(scan.phase)
    archived, status = TASK_FILTERS[phase]
    try:
        page = step.read(page_call(scan, phase, scan.page))
        last = page_accept(scan, page)
    except _LISTING_FAILED as exc:
        _read_run_by_run(scan, f"the organization-wide task listing failed ({exc})")
        return
    if page.items and not any(_has_files_key(task) for task in page.items):
        _read_run_by_run(scan, "the organization-wide task listing came without files")
        return
    if status and any(str(task.get("status") or "completed") != "completed" for task in page.items):
        note(scan, "Tallyfy ignored status=completed on GET /tasks: tasks read again, kept once.")
    runs = _places_of_runs(scan, {str(task.get("run_id") or "") for task in page.items})
    found = Found(scan)
    for task in page.items:
        run_id = str(task.get("run_id") or "")
        run_archived = runs.get(run_id, {}).get("run_status") == "archived"
        if archived and not task.get("archived_at") and not run_archived:
            continue  # archived=only was ignored: an active task, read in a pass before
        if task.get("is_oneoff_task") is True or not run_id:
            for item in finding.files_of_task(task):
                found.add(item, attached_to=AttachedTo.ONEOFF_TASK, **_task_place(task))
            continue
        scan.run_tasks_read += 1
        place = runs.get(run_id) or {"run_id": run_id}
        for item in finding.files_of_task(task):
            found.add(item, attached_to=AttachedTo.TASK, **place, **_task_place(task))
    none_of_the_runs = (
        last
        and phase == ScanPhase.ARCHIVED_COMPLETED_TASKS
        and scan.runs_read
        and not scan.run_tasks_read
    )
    if not none_of_the_runs:
        step.ask_ahead(following_call(scan, last=last))
    step.write(lambda: found_write(found))
    if not last:
        return
    if none_of_the_runs:
        _read_run_by_run(
            scan,
            f"the organization-wide task listing gave no task of any of the {scan.runs_read} "
            "process runs read",
        )
        return
    next_phase(scan)


def _has_files_key(task: dict[str, Any]) -> bool:
    return any(key in task for key in ("assets", "taskdata", "form_fields"))


def _places_of_runs(scan: Scan, run_ids: set[str]) -> dict[str, dict[str, str]]:
    rows = ProcessRun.objects.filter(
        organization_id=scan.organization_id, run_id__in=run_ids - {""}
    )
    return {row.run_id: _place_of(row) for row in rows}


def _place_of(run: ProcessRun) -> dict[str, str]:
    return {
        "run_id": run.run_id,
        "run_name": run.name,
        "run_status": run.status,
        "template_id": run.template_id,
        "template_name": run.template_name,
    }


def _read_run_by_run(scan: Scan, why: str) -> None:
    note(scan, f"Tasks read run by run, and one-off tasks apart: {why}.")
    scan.per_run_tasks = True
    phase_start(scan, ScanPhase.RUN_TASKS)


def step_run_tasks(scan: Scan, step: LeasedStep) -> None:
    """The tasks of the next few runs this scan listed, one run's listing each."""
    runs = list(
        ProcessRun.objects.filter(
            organization_id=scan.organization_id, last_seen_scan=scan, pk__gt=scan.checked_up_to
        ).order_by("pk")[:_RUNS_A_STEP]
    )
    found = Found(scan)
    for run in runs:
        process_run_tasks_read(found, step, _place_of(run))
    step.write(lambda: found_write(found))
    if runs:
        scan.checked_up_to = runs[-1].pk
    if len(runs) < _RUNS_A_STEP:
        next_phase(scan)


def step_oneoff_tasks(scan: Scan, step: LeasedStep) -> None:
    """A page of one-off tasks (`is_oneoff=true`), when tasks are read run by run."""
    phase = ScanPhase(scan.phase)
    archived, _status = TASK_FILTERS[phase]
    page = step.read(page_call(scan, phase, scan.page))
    last = page_accept(scan, page)
    step.ask_ahead(following_call(scan, last=last))
    found = Found(scan)
    for task in page.items:
        if task.get("is_oneoff_task") is False:
            continue  # the filter was ignored: a run's task, read with its run
        if archived and not task.get("archived_at"):
            continue  # archived=only was ignored: an active task, read in a pass before
        for item in finding.files_of_task(task):
            found.add(item, attached_to=AttachedTo.ONEOFF_TASK, **_task_place(task))
    step.write(lambda: found_write(found))
    if last:
        next_phase(scan)
