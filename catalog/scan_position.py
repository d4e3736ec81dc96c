"""Where a scan stands: its phases in order, and its position within the phase's list.

A step moves the position on in memory; the scan's life saves it once the step succeeded."""

from __future__ import annotations

from typing import Any

import tallyfy_api
from catalog.models import Scan, ScanPhase
from catalog.page_ahead import PageCall

PER_PAGE = tallyfy_api.MAX_PER_PAGE
# A task listing phase: (archived, status) asked for.
TASK_FILTERS = {
    ScanPhase.TASKS: ("", ""),
    ScanPhase.COMPLETED_TASKS: ("", "completed"),
    ScanPhase.ARCHIVED_TASKS: ("only", ""),
    ScanPhase.ARCHIVED_COMPLETED_TASKS: ("only", "completed"),
    ScanPhase.ONEOFF_TASKS: ("", ""),
    ScanPhase.COMPLETED_ONEOFF_TASKS: ("", "completed"),
    ScanPhase.ARCHIVED_ONEOFF_TASKS: ("only", ""),
    ScanPhase.ARCHIVED_COMPLETED_ONEOFF_TASKS: ("only", "completed"),
}
_ORGANIZATION_TASKS = [
    ScanPhase.TASKS,
    ScanPhase.COMPLETED_TASKS,
    ScanPhase.ARCHIVED_TASKS,
    ScanPhase.ARCHIVED_COMPLETED_TASKS,
]
_TASKS_RUN_BY_RUN = [
    ScanPhase.RUN_TASKS,
    ScanPhase.ONEOFF_TASKS,
    ScanPhase.COMPLETED_ONEOFF_TASKS,
    ScanPhase.ARCHIVED_ONEOFF_TASKS,
    ScanPhase.ARCHIVED_COMPLETED_ONEOFF_TASKS,
]
_AFTER_TASKS = [
    ScanPhase.TEMPLATES,
    ScanPhase.ARCHIVED_TEMPLATES,
    ScanPhase.UPLOADS,
    ScanPhase.UPLOADERS,
    ScanPhase.FINISHING,
    ScanPhase.DONE,
]
_RUNS = [ScanPhase.RUNS, ScanPhase.ARCHIVED_RUNS]
_ONE_PROCESS_RUN = [ScanPhase.RUN, ScanPhase.UPLOADERS, ScanPhase.FINISHING, ScanPhase.DONE]
_REFRESH = [
    ScanPhase.CHANGES,
    ScanPhase.NEW_RUNS,
    ScanPhase.CHANGED_RUNS,
    ScanPhase.CHANGED_FILES,
    ScanPhase.UPLOADS,
    ScanPhase.UPLOADERS,
    ScanPhase.FINISHING,
    ScanPhase.DONE,
]


def phases_of(scan: Scan) -> list[ScanPhase]:
    if scan.run_id:
        return _ONE_PROCESS_RUN
    if scan.refresh:
        return _REFRESH
    tasks = _TASKS_RUN_BY_RUN if scan.per_run_tasks else _ORGANIZATION_TASKS
    return [*_RUNS, *tasks, *_AFTER_TASKS]


def next_phase(scan: Scan) -> None:
    phases = phases_of(scan)
    phase_start(scan, phases[phases.index(ScanPhase(scan.phase)) + 1])


def phase_start(scan: Scan, phase: ScanPhase) -> None:
    scan.phase = phase
    scan.page = 1
    scan.phase_read = 0
    scan.page_size = None
    scan.page_budget = None
    scan.page_fingerprint = ""
    scan.checked_up_to = 0


def page_call(scan: Scan, phase: ScanPhase, page: int) -> PageCall | None:
    """The client's method and arguments that read `page` of `phase`'s list, or None for a
    phase that reads no list. The steps read their pages with it, and ask ahead with it, so
    a page asked ahead is the very call the next step makes."""
    listing: dict[str, Any] = {"page": page, "per_page": PER_PAGE}
    since = scan.uploads_since.isoformat() if scan.uploads_since else ""
    if phase == ScanPhase.RUNS:
        return "list_runs", {**listing, "include": ("assets",)}
    if phase == ScanPhase.ARCHIVED_RUNS:
        by_status = scan.archived_by_status
        return "list_archived_runs", {**listing, "include": ("assets",), "by_status": by_status}
    if phase in TASK_FILTERS:
        archived, status = TASK_FILTERS[phase]
        oneoff = {} if phase in _ORGANIZATION_TASKS else {"oneoff": True}
        return "list_tasks", {**listing, **oneoff, "archived": archived, "status": status}
    if phase in (ScanPhase.TEMPLATES, ScanPhase.ARCHIVED_TEMPLATES):
        archived = "only" if phase == ScanPhase.ARCHIVED_TEMPLATES else ""
        return "list_templates", {**listing, "archived": archived}
    if phase == ScanPhase.UPLOADS:
        return "list_uploads", {**listing, "created_after": since}
    if phase == ScanPhase.CHANGES:
        return "list_activity", {**listing, "created_after": since}
    if phase == ScanPhase.NEW_RUNS:
        return "list_runs", {**listing, "newest_first": True}
    return None


def following_call(scan: Scan, *, last: bool) -> PageCall | None:
    """The call the next step will make, when it reads a list: after a page accepted
    (`page_accept`), the list's next page, or when that was the list's last, the first page
    of the next phase's list."""
    phase = ScanPhase(scan.phase)
    if not last:
        return page_call(scan, phase, scan.page)
    phases = phases_of(scan)
    following = phases.index(phase) + 1
    return page_call(scan, phases[following], 1) if following < len(phases) else None


def page_accept(scan: Scan, page: tallyfy_api.Page) -> bool:
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
    if scan.phase in _RUNS and scan.page == 1 and page.total is not None:
        scan.runs_total = (scan.runs_total or 0) + page.total
    scan.page, scan.phase_read = cursor.number, cursor.read
    scan.page_size, scan.page_fingerprint = cursor.page_size, cursor.fingerprint
    scan.page_budget = cursor.max_pages
    return last


def note(scan: Scan, text: str) -> None:
    """Something the scan noticed about Tallyfy's answers, shown on its page (once)."""
    if text not in scan.notes:
        scan.notes = [*scan.notes, text]
