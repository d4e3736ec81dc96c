"""Scan rules that the sandbox does not exercise, with Tallyfy's answers mocked."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from responses import matchers

from catalog import index_writes, scans, uploaders
from catalog.models import IndexedFile, ProcessRun, Scan, ScanPhase, ScanState
from organizations.models import Organization
from tallyfy_api import Upload
from tests.fixtures.catalog import index_file
from tests.fixtures.organizations import BASE_URL, ORG_ID

ROOT = f"{BASE_URL}/organizations/{ORG_ID}"
RUN_ID = "a1" * 16
KICKOFF_FILE = "c0" * 16


def listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "meta": {"pagination": {"total": len(items), "links": []}}}


def at_phase(organization: Organization, phase: ScanPhase, **fields: Any) -> Scan:
    return Scan.objects.create(
        organization=organization, state=ScanState.RUNNING, phase=phase, **fields
    )


def test_kickoff_values_missing_from_the_list_are_read_from_the_run(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs", json=listing([{"id": RUN_ID, "name": "Onboarding"}]))
    value = {"id": KICKOFF_FILE, "filename": "contract.pdf", "url": "x"}
    http.get(f"{ROOT}/runs/{RUN_ID}", json={"data": {"id": RUN_ID, "prerun": {"f": [value]}}})
    scan = at_phase(organization, ScanPhase.RUNS)
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert IndexedFile.objects.get(key=KICKOFF_FILE).run_name == "Onboarding"


def test_the_feed_is_read_no_further_back_than_the_last_scan(
    http: responses.RequestsMock, organization: Organization
) -> None:
    old = {"actor_email": "a@example.com", "created_at": "2024-01-01T00:00:00Z"}
    page = {"data": [old], "meta": {"pagination": {"total": 500, "links": []}}}
    # The server ignores created_after here: the scan stops at the first older entry anyway.
    http.get(
        f"{ROOT}/activity-feeds",
        match=[matchers.query_param_matcher({"created_after": "2025-01-01"}, strict_match=False)],
        json=page,
    )
    scan = at_phase(organization, ScanPhase.UPLOADS, uploads_since=date(2025, 1, 1))
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    scan.refresh_from_db()
    assert scan.phase == ScanPhase.UPLOADERS


def test_a_refused_token_fails_the_scan(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs", status=401, json={"message": "Unauthenticated."})
    scan = at_phase(organization, ScanPhase.RUNS)
    assert scans.scan_advance(scan_id=scan.pk).state == ScanState.FAILED


def test_a_run_deleted_while_its_tasks_are_read_run_by_run_is_skipped(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", status=404, json={"message": "not found"})
    scan = at_phase(organization, ScanPhase.RUN_TASKS, per_run_tasks=True)
    ProcessRun.objects.create(organization=organization, run_id=RUN_ID, last_seen_scan=scan)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert (done.state, done.phase) == (ScanState.RUNNING, ScanPhase.ONEOFF_TASKS)


TEMPLATE_ID = "71" * 16
TASK_ID = "a5" * 16
ARCHIVED_ONLY = matchers.query_param_matcher({"archived": "only"}, strict_match=False)


def file_of(asset_id: str, name: str) -> dict[str, Any]:
    return {"id": asset_id, "filename": name, "subject": {"type": "Checklist"}}


def test_archived_templates_are_read_with_archived_only(
    http: responses.RequestsMock, organization: Organization
) -> None:
    template = {
        "id": TEMPLATE_ID,
        "title": "Old onboarding",
        "archived_at": "2024-01-01T00:00:00Z",
        "assets": {"data": [file_of(KICKOFF_FILE, "handbook_2023.pdf")]},
    }
    http.get(f"{ROOT}/checklists", match=[ARCHIVED_ONLY], json=listing([template]))
    http.get(f"{ROOT}/activity-feeds", json=listing([]))  # the next list, asked ahead
    scan = at_phase(organization, ScanPhase.ARCHIVED_TEMPLATES)
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert IndexedFile.objects.get(key=KICKOFF_FILE).template_name == "Old onboarding"


def test_a_template_without_archived_at_is_not_read_again_as_archived(
    http: responses.RequestsMock, organization: Organization
) -> None:
    active = {"id": TEMPLATE_ID, "title": "Onboarding", "assets": [file_of(KICKOFF_FILE, "x.pdf")]}
    http.get(f"{ROOT}/checklists", match=[ARCHIVED_ONLY], json=listing([active]))
    http.get(f"{ROOT}/activity-feeds", json=listing([]))  # the next list, asked ahead
    scan = at_phase(organization, ScanPhase.ARCHIVED_TEMPLATES)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert (done.phase, IndexedFile.objects.count()) == (ScanPhase.UPLOADS, 0)


def oneoff_task() -> dict[str, Any]:
    value = {"id": KICKOFF_FILE, "filename": "w9.pdf", "url": "x"}
    return {"id": TASK_ID, "title": "Old W-9", "is_oneoff_task": True, "taskdata": {"f": [value]}}


def test_archived_oneoff_tasks_are_read_with_archived_only(
    http: responses.RequestsMock, organization: Organization
) -> None:
    task = {**oneoff_task(), "archived_at": "2024-01-01T00:00:00Z"}
    matcher = matchers.query_param_matcher(
        {"archived": "only", "is_oneoff": "true"}, strict_match=False
    )
    http.get(f"{ROOT}/tasks", match=[matcher], json=listing([task]))
    scan = at_phase(organization, ScanPhase.ARCHIVED_ONEOFF_TASKS, per_run_tasks=True)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    found = IndexedFile.objects.get(key=KICKOFF_FILE)
    assert (found.attached_to, found.task_name) == ("oneoff_task", "Old W-9")
    assert done.phase == ScanPhase.ARCHIVED_COMPLETED_ONEOFF_TASKS


def test_a_oneoff_task_without_archived_at_is_not_read_again_as_archived(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", match=[ARCHIVED_ONLY], json=listing([oneoff_task()]))
    scan = at_phase(organization, ScanPhase.ARCHIVED_ONEOFF_TASKS, per_run_tasks=True)
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert not IndexedFile.objects.exists()


def test_active_oneoff_tasks_are_asked_for_without_archived(
    http: responses.RequestsMock, organization: Organization
) -> None:
    active = matchers.query_param_matcher({"is_oneoff": "true"}, strict_match=False)
    http.get(f"{ROOT}/tasks", match=[active], json=listing([oneoff_task()]))
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS, per_run_tasks=True)
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert "archived" not in http.calls[0].request.url
    assert IndexedFile.objects.get(key=KICKOFF_FILE).task_id == TASK_ID


def test_a_page_of_uploads_is_written_in_one_update(organization: Organization) -> None:
    scan = at_phase(organization, ScanPhase.UPLOADS)
    for key in ("a1", "a2", "a3"):
        index_file(organization, f"{key}.pdf", key=key)

    def upload(asset_id: str, email: str) -> tuple[Upload, dict[str, Any]]:
        return Upload(asset_id, email, "member", None, "", ""), {}

    uploads = [  # newest first, as the feed gives them
        upload("a1", "bob@example.com"),
        upload("a1", "alice@example.com"),
        upload("a2", "alice@example.com"),
        upload("a3", "carol@example.com"),
    ]
    with CaptureQueriesContext(connection) as queries:
        uploaders.uploads_apply(scan, uploads)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1  # three uploaders, one statement
    uploader_of = dict(IndexedFile.objects.values_list("key", "uploader_email"))
    # A file uploaded twice keeps its first uploader (the older entry, read later).
    assert uploader_of == {
        "a1": "alice@example.com",
        "a2": "alice@example.com",
        "a3": "carol@example.com",
    }


def test_a_file_seen_again_in_the_same_scan_with_nothing_new_is_not_written_again(
    organization: Organization,
) -> None:
    scan = at_phase(organization, ScanPhase.TEMPLATES)
    row = {
        "asset_id": "k1",
        "file_name": "handbook.pdf",
        "is_link": False,
        "link_url": "",
        "attached_to": "task",
        "uploaded_at": None,
        "run_id": "r1",
        "template_id": "t1",
        "template_name": "Onboarding",
    }
    index_writes.found_write(index_writes.Found(scan, rows={"k1": row}))
    again = {**row, "attached_to": "template", "run_id": ""}
    with CaptureQueriesContext(connection) as queries:
        index_writes.found_write(index_writes.Found(scan, rows={"k1": again}))
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert 'SET "last_seen" =' in updates[0]  # only marked seen again
    renamed = {**again, "file_name": "handbook v2.pdf"}
    index_writes.found_write(index_writes.Found(scan, rows={"k1": renamed}))
    stored = IndexedFile.objects.get(key="k1")
    assert (stored.file_name, stored.attached_to, stored.run_id) == (
        "handbook v2.pdf",
        "task",
        "r1",
    )


def test_uploads_naming_no_file_are_matched_by_run_and_name_in_one_read(
    organization: Organization,
) -> None:
    scan = at_phase(organization, ScanPhase.UPLOADS)
    for key, name, run in [
        ("b1", "contract.pdf", "r1"),
        ("b2", "id.png", "r1"),
        ("b3", "scan.pdf", "r2"),
        ("b4", "scan.pdf.bak", "r2"),
    ]:
        index_file(organization, name, key=key, run_id=run)

    def unnamed(email: str, run_id: str, text: str) -> tuple[Upload, dict[str, Any]]:
        return Upload("", email, "guest", None, run_id, ""), {"description": [text]}

    uploads = [
        unnamed("ann@example.com", "r1", "uploaded contract.pdf"),
        unnamed("ann@example.com", "r1", "uploaded id.png"),
        unnamed("ben@example.com", "r1", "uploaded contract.pdf"),  # already matched above
        unnamed("ben@example.com", "r2", "uploaded scan.pdf.bak"),  # two names fit: neither
    ]
    with CaptureQueriesContext(connection) as queries:
        uploaders.uploads_apply(scan, uploads)
    assert len(queries.captured_queries) == 2  # one read, one update for ann
    stored = {
        row.key: (row.uploader_email, row.uploader_inferred) for row in IndexedFile.objects.all()
    }
    assert stored == {
        "b1": ("ann@example.com", True),
        "b2": ("ann@example.com", True),
        "b3": ("", False),
        "b4": ("", False),
    }


def handbook(**fields: Any) -> dict[str, Any]:
    return {
        "asset_id": "k1",
        "file_name": "handbook.pdf",
        "is_link": False,
        "link_url": "",
        "attached_to": "run",
        "uploaded_at": None,
        "run_id": "r1",
        "template_id": "t1",
        "template_name": "Onboarding",
        **fields,
    }


def test_a_file_a_run_scan_marked_gone_is_present_again_when_this_scan_sees_it_again(
    organization: Organization,
) -> None:
    whole = at_phase(organization, ScanPhase.RUNS, started_at=timezone.now() - timedelta(hours=1))
    index_writes.found_write(index_writes.Found(whole, rows={"k1": handbook()}))
    IndexedFile.objects.filter(key="k1").update(gone_at=timezone.now())  # by a scan of r1
    again = handbook(attached_to="template", run_id="")
    index_writes.found_write(index_writes.Found(whole, rows={"k1": again}))
    assert IndexedFile.objects.get(key="k1").gone_at is None


def test_a_file_seen_again_after_a_run_scan_began_is_not_marked_gone_by_it(
    organization: Organization,
) -> None:
    an_hour_ago = timezone.now() - timedelta(hours=1)
    whole = at_phase(organization, ScanPhase.RUNS, started_at=an_hour_ago)
    index_writes.found_write(index_writes.Found(whole, rows={"k1": handbook()}))
    IndexedFile.objects.filter(key="k1").update(last_seen=an_hour_ago)
    one_run = Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        phase=ScanPhase.FINISHING,
        run_id="r1",
        started_at=timezone.now() - timedelta(minutes=1),
    )
    again = handbook(attached_to="template", run_id="")
    index_writes.found_write(index_writes.Found(whole, rows={"k1": again}))
    scans.scan_advance(scan_id=one_run.pk)  # nothing to ask Tallyfy about: no call
    assert IndexedFile.objects.get(key="k1").gone_at is None


def test_an_entry_naming_no_file_is_matched_as_the_feed_orders_them(
    organization: Organization,
) -> None:
    """The newest entry mentions "ba.pdf", which holds "a.pdf" too: two candidates, so
    nobody is credited; the older entry names ba.pdf by id."""
    scan = at_phase(organization, ScanPhase.UPLOADS)
    index_file(organization, "a.pdf", key="f1", run_id="r1")
    index_file(organization, "ba.pdf", key="f2", run_id="r1")
    uploads = [
        (Upload("", "ann@example.com", "member", None, "r1", ""), {"description": ["ba.pdf"]}),
        (Upload("f2", "ann@example.com", "member", None, "r1", ""), {}),
    ]
    uploaders.uploads_apply(scan, uploads)
    stored = dict(IndexedFile.objects.values_list("key", "uploader_email"))
    assert stored == {"f1": "", "f2": "ann@example.com"}


def test_an_entry_naming_a_file_outranks_one_matched_by_name_before_it(
    organization: Organization,
) -> None:
    scan = at_phase(organization, ScanPhase.UPLOADS)
    index_file(organization, "id.png", key="f1", run_id="r1")
    uploads = [
        (Upload("", "guest@example.com", "guest", None, "r1", ""), {"description": ["id.png"]}),
        (Upload("f1", "ann@example.com", "member", None, "r1", ""), {}),
    ]
    uploaders.uploads_apply(scan, uploads)
    stored = IndexedFile.objects.get(key="f1")
    assert (stored.uploader_email, stored.uploader_inferred) == ("ann@example.com", False)
