"""Where a scan stands: its phases in order, and its position within the phase's list.

A step moves the position on in memory; the scan's life saves it once the step succeeded."""

from __future__ import annotations

import tallyfy_api
from catalog.models import Scan, ScanPhase

PER_PAGE = tallyfy_api.MAX_PER_PAGE
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
