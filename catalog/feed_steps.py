"""A scan's steps in the activity feed: who uploaded each file.

The organization-wide feed is read newest first, back to the day before the last scan began
(all of it the first time). Files still without an uploader whose upload that read did not
reach are asked about once more, narrowly (the feed of their process run, or of their one-off
task), within CATALOG_UPLOADER_LOOKUPS calls. Every file left without an uploader is then
given the reason.

Only organization administrators may read the feed: a refusal is a note on the scan and the
reason given to every file, not a failed scan.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

import tallyfy_api
from catalog.conf import conf
from catalog.leases import LeasedStep
from catalog.models import IndexedFile, Scan, ScanPhase
from catalog.scan_position import PER_PAGE, following_call, next_phase, note, page_accept, page_call
from catalog.uploaders import unknown_uploaders_explain, uploads_apply, without_uploader
from tallyfy_api import finding

_FILES_A_STEP = 200


def step_uploads(scan: Scan, step: LeasedStep) -> None:
    try:
        page = step.read(page_call(scan, ScanPhase.UPLOADS, scan.page))
    except tallyfy_api.PermissionDenied as exc:
        scan.feed_error = f"Tallyfy refused it (HTTP 403: only administrators may read it): {exc}"
        note(scan, f"Uploaders unknown: the activity feed could not be read. {scan.feed_error}")
        next_phase(scan)
        return
    last = page_accept(scan, page)
    reached_older = False
    uploads = []
    for entry in page.items:
        upload = finding.upload_of_entry(entry)
        if scan.uploads_since and upload.at and upload.at.date() < scan.uploads_since:
            reached_older = True  # newest first: the rest was read by an earlier scan
            break
        if upload.actor_email:
            uploads.append((upload, entry))
    step.ask_ahead(following_call(scan, last=last or reached_older))
    step.write(lambda: uploads_apply(scan, uploads))
    if last or reached_older:
        next_phase(scan)


def step_uploaders(scan: Scan, step: LeasedStep) -> None:
    """Ask the feed of the next parents of files the feed read did not reach; at the end,
    give every file still without an uploader the reason."""
    batch = list(_not_reached(scan).values_list("pk", "task_id", "run_id")[:_FILES_A_STEP])
    parents: dict[tuple[str, str], None] = {}
    for _pk, task_id, run_id in batch:
        parents[("run", run_id) if run_id else ("task", task_id)] = None
    asked = 0
    for kind, parent_id in parents:
        if scan.uploader_lookups + asked >= conf.CATALOG_UPLOADER_LOOKUPS:
            note(
                scan,
                f"Uploaders: {conf.CATALOG_UPLOADER_LOOKUPS} narrower look-ups in the feed "
                "made (CATALOG_UPLOADER_LOOKUPS); files not asked about stay unknown.",
            )
            break
        page = step.api.list_uploads(
            page=1, per_page=PER_PAGE, entity_type=kind, entity_id=parent_id
        )
        asked += 1
        uploads: list[tuple[tallyfy_api.Upload, dict[str, Any]]] = []
        for entry in page.items:
            upload = finding.upload_of_entry(entry)
            if upload.actor_email:
                uploads.append((upload, entry))
        step.write(lambda uploads=uploads: uploads_apply(scan, uploads))
    scan.uploader_lookups += asked
    if batch:
        scan.checked_up_to = batch[-1][0]
    if len(batch) < _FILES_A_STEP or asked < len(parents):
        step.write(lambda: unknown_uploaders_explain(scan))
        next_phase(scan)


def _not_reached(scan: Scan) -> QuerySet[IndexedFile]:
    """Files without an uploader whose upload the organization-wide read did not reach:
    none when the whole feed was read, or it could not be read at all."""
    if scan.feed_error or (scan.uploads_since is None and not scan.run_id):
        return without_uploader(scan).none()
    older = Q(uploaded_at__isnull=True)
    if scan.uploads_since is not None:
        older |= Q(uploaded_at__date__lt=scan.uploads_since)
    if scan.run_id:
        older = Q()  # a scan of one run reads no organization-wide feed
    # A file an earlier scan asked about and explained is not asked about again.
    return (
        without_uploader(scan)
        .filter(older, uploader_note="", pk__gt=scan.checked_up_to)
        .filter(Q(task_id__gt="") | Q(run_id__gt=""))
        .order_by("pk")
    )
