"""A refresh's steps: only what changed since the last scan.

The activity feed is read back to the day before the last scan began, every verb (uploads,
deletions, archivals, …): each process run an entry names is read again whole (the run, its
kick-off form, its tasks), and each file it names outside any run is asked for
(`GET /assets/{id}`). Runs started since are found by reading the runs newest first. Then
the uploads of the period give their uploaders, and the files of the runs and the files read
again that this refresh did not find are checked one by one, as a full scan checks its own.
"""

from __future__ import annotations

from django.db.models.functions import Now

import tallyfy_api
from catalog.index_writes import Found, found_write
from catalog.leases import LeasedStep
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanTarget, TargetKind
from catalog.scan_position import following_call, next_phase, page_accept, page_call
from catalog.task_steps import process_run_place, process_run_tasks_read, process_runs_remember
from tallyfy_api import finding

_RUNS_A_STEP = 10
_FILES_A_STEP = 25
# Where a file was uploaded, by its asset's `subject.type`, and the place column it names.
_SUBJECTS = {
    "run": (AttachedTo.RUN, "run_id"),
    "checklist": (AttachedTo.TEMPLATE, "template_id"),
    "task": (AttachedTo.ONEOFF_TASK, "task_id"),
}


def _targets_add(scan: Scan, kind: TargetKind, ids: set[str]) -> None:
    ScanTarget.objects.bulk_create(
        [ScanTarget(scan=scan, kind=kind, target_id=target) for target in sorted(ids)],
        ignore_conflicts=True,
    )


def step_changes(scan: Scan, step: LeasedStep) -> None:
    """A page of the feed since the last scan: the runs and files its entries name."""
    since = scan.uploads_since
    page = step.read(page_call(scan, ScanPhase.CHANGES, scan.page))
    last = page_accept(scan, page)
    runs, files, reached_older = set(), set(), False
    for entry in page.items:
        named = finding.upload_of_entry(entry)
        if since and named.at and named.at.date() < since:
            reached_older = True  # newest first: the rest is older than the last scan
            break
        if named.run_id:
            runs.add(named.run_id)
        elif named.asset_id:
            files.add(named.asset_id)

    step.ask_ahead(following_call(scan, last=last or reached_older))

    def record() -> None:
        _targets_add(scan, TargetKind.RUN, runs)
        _targets_add(scan, TargetKind.FILE, files)

    step.write(record)
    if last or reached_older:
        next_phase(scan)


def step_new_runs(scan: Scan, step: LeasedStep) -> None:
    """A page of the runs, newest first, until they are older than the last scan."""
    page = step.read(page_call(scan, ScanPhase.NEW_RUNS, scan.page))
    last = page_accept(scan, page)
    started_since, reached_older = set(), False
    for run in page.items:
        created = finding.parse_timestamp(run.get("created_at"))
        if scan.uploads_since and created and created.date() < scan.uploads_since:
            reached_older = True
            break
        if run_id := str(run.get("id") or ""):
            started_since.add(run_id)
    step.ask_ahead(following_call(scan, last=last or reached_older))
    step.write(lambda: _targets_add(scan, TargetKind.RUN, started_since))
    if last or reached_older:
        next_phase(scan)


def step_changed_runs(scan: Scan, step: LeasedStep) -> None:
    """The next few runs to read again: each as `GET /runs/{id}` gives it, and its tasks."""
    targets = list(
        ScanTarget.objects.filter(scan=scan, kind=TargetKind.RUN, pk__gt=scan.checked_up_to)
        .order_by("pk")
        .values_list("pk", "target_id")[:_RUNS_A_STEP]
    )
    found, places = Found(scan), []
    for _pk, run_id in targets:
        try:
            run = {"id": run_id, **step.api.get_run(run_id)}
        except tallyfy_api.NotFound:
            continue  # deleted: its files are checked at the end
        place = process_run_place(run, archived=bool(run.get("archived_at")))
        places.append(place)
        for item in finding.files_of_run(run):
            found.add(item, attached_to=AttachedTo.RUN, **place)
        process_run_tasks_read(found, step, place)
        scan.runs_read += 1

    def write() -> None:
        process_runs_remember(scan, places)
        found_write(found)

    step.write(write)
    if targets:
        scan.checked_up_to = targets[-1][0]
    if len(targets) < _RUNS_A_STEP:
        next_phase(scan)


def step_changed_files(scan: Scan, step: LeasedStep) -> None:
    """The next files the feed names outside any run, not found yet by this refresh: asked
    for one by one; one Tallyfy no longer has is gone, a new one indexed by its subject."""
    targets = list(
        ScanTarget.objects.filter(scan=scan, kind=TargetKind.FILE, pk__gt=scan.checked_up_to)
        .order_by("pk")
        .values_list("pk", "target_id")[:_FILES_A_STEP]
    )
    indexed = IndexedFile.objects.filter(
        organization_id=scan.organization_id, key__in=[target for _pk, target in targets]
    )
    seen_here = dict(indexed.values_list("key", "last_seen_scan_id"))
    found, present, gone = Found(scan), [], []
    for _pk, asset_id in targets:
        if seen_here.get(asset_id) == scan.pk:
            continue
        try:
            asset = step.api.get_asset(asset_id)
        except tallyfy_api.NotFound:
            gone.append(asset_id)
            continue
        if asset_id in seen_here:
            present.append(asset_id)  # indexed with its place: still there
            continue
        item = finding.found_file(asset.raw)
        attached_to, column = _SUBJECTS.get(asset.subject_type.lower(), (AttachedTo.RUN, ""))
        if item is not None:
            place = {column: asset.subject_id} if column else {}
            found.add(item, attached_to=attached_to, **place)

    def write() -> None:
        found_write(found)
        indexed.filter(key__in=present).update(
            last_seen=Now(), last_seen_scan=scan, gone_at=None, missed_by_scan=None
        )
        scan.files_gone += indexed.filter(key__in=gone, gone_at__isnull=True).update(gone_at=Now())

    step.write(write)
    if targets:
        scan.checked_up_to = targets[-1][0]
    if len(targets) < _FILES_A_STEP:
        next_phase(scan)
