"""Issue 20's scan rules under exact answers: where tasks are read from, when the listing is
not trusted, and what a refused feed leaves."""

from __future__ import annotations

from typing import Any

import responses
from responses import matchers

from catalog import scans
from catalog.models import AttachedTo, IndexedFile, ProcessRun, Scan, ScanPhase, ScanState
from catalog.uploaders import UNKNOWN_SAME_NAME
from organizations.models import Organization
from tests.fixtures.catalog import index_file
from tests.fixtures.organizations import BASE_URL, ORG_ID

ROOT = f"{BASE_URL}/organizations/{ORG_ID}"
RUN_ID = "a1" * 16
TASK_ID = "a3" * 16
ONEOFF_ID = "a5" * 16
FILE_ON_TASK = "c0" * 16
FILE_ON_ONEOFF = "c1" * 16


def listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "meta": {"pagination": {"total": len(items), "links": []}}}


def at_phase(organization: Organization, phase: ScanPhase, **fields: Any) -> Scan:
    return Scan.objects.create(
        organization=organization, state=ScanState.RUNNING, phase=phase, **fields
    )


def run_task() -> dict[str, Any]:
    value = {"id": FILE_ON_TASK, "filename": "passport.png", "url": "x"}
    return {
        "id": TASK_ID,
        "title": "Collect ID",
        "run_id": RUN_ID,
        "is_oneoff_task": False,
        "status": "completed",
        "assets": [],
        "taskdata": {"f": [value]},
    }


def oneoff_task() -> dict[str, Any]:
    value = {"id": FILE_ON_ONEOFF, "filename": "nda.pdf", "url": "x"}
    return {
        "id": ONEOFF_ID,
        "title": "Send NDA",
        "is_oneoff_task": True,
        "taskdata": {"f": [value]},
    }


def with_params(**params: str) -> list[Any]:
    return [matchers.query_param_matcher(params, strict_match=False)]


def test_tasks_come_from_the_organization_wide_listing_placed_in_their_runs(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(
        f"{ROOT}/tasks",
        match=with_params(status="completed"),
        json=listing([run_task()]),
    )
    # The pass after this one, asked ahead while the page is written.
    http.get(f"{ROOT}/tasks", match=with_params(archived="only"), json=listing([]))
    scan = at_phase(organization, ScanPhase.COMPLETED_TASKS, runs_read=1)
    ProcessRun.objects.create(
        organization=organization, run_id=RUN_ID, name="Onboarding", last_seen_scan=scan
    )
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    found = IndexedFile.objects.get(key=FILE_ON_TASK)
    assert (found.attached_to, found.run_name, found.task_name) == (
        AttachedTo.TASK,
        "Onboarding",
        "Collect ID",
    )
    assert (done.phase, done.run_tasks_read, done.calls_made) == (ScanPhase.ARCHIVED_TASKS, 1, 2)
    assert not any("/runs/" in call.request.url for call in http.calls)


def test_a_oneoff_task_in_the_listing_is_indexed_as_one(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing([oneoff_task()]))
    scans.scan_advance(scan_id=at_phase(organization, ScanPhase.TASKS).pk, max_steps=1)
    found = IndexedFile.objects.get(key=FILE_ON_ONEOFF)
    assert (found.attached_to, found.task_name) == (AttachedTo.ONEOFF_TASK, "Send NDA")


def test_a_failing_task_listing_turns_to_each_runs_tasks(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", status=422, json={"message": "Unknown parameter status"})
    scan = at_phase(organization, ScanPhase.COMPLETED_TASKS)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert (done.state, done.phase, done.per_run_tasks) == (
        ScanState.RUNNING,
        ScanPhase.RUN_TASKS,
        True,
    )
    assert "task listing failed" in done.notes[0]


def test_a_task_listing_without_files_turns_to_each_runs_tasks(
    http: responses.RequestsMock, organization: Organization
) -> None:
    bare = {"id": TASK_ID, "title": "Collect ID", "run_id": RUN_ID}  # with=assets ignored
    http.get(f"{ROOT}/tasks", json=listing([bare]))
    done = scans.scan_advance(scan_id=at_phase(organization, ScanPhase.TASKS).pk, max_steps=1)
    assert (done.phase, done.notes) == (
        ScanPhase.RUN_TASKS,
        [
            "Tasks read run by run, and one-off tasks apart: the organization-wide task listing "
            "came without files."
        ],
    )


def test_a_task_listing_with_no_task_of_any_run_turns_to_each_runs_tasks(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing([oneoff_task()]))
    scan = at_phase(organization, ScanPhase.ARCHIVED_COMPLETED_TASKS, runs_read=3)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    assert done.phase == ScanPhase.RUN_TASKS
    assert "no task of any of the 3 process runs" in done.notes[0]


def test_runs_are_read_one_by_one_for_their_tasks_when_the_listing_is_not_trusted(
    http: responses.RequestsMock, organization: Organization
) -> None:
    scan = at_phase(organization, ScanPhase.RUN_TASKS, per_run_tasks=True)
    ProcessRun.objects.create(
        organization=organization, run_id=RUN_ID, name="Onboarding", last_seen_scan=scan
    )
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", json=listing([run_task()]))
    done = scans.scan_advance(scan_id=scan.pk, max_steps=1)
    found = IndexedFile.objects.get(key=FILE_ON_TASK)
    assert (found.run_name, found.task_id, done.phase) == (
        "Onboarding",
        TASK_ID,
        ScanPhase.ONEOFF_TASKS,
    )


def test_a_feed_refused_leaves_the_scan_going_and_says_why_uploaders_are_unknown(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/activity-feeds", status=403, json={"message": "Only admins"})
    index_file(organization, "scan.pdf", run_id=RUN_ID)
    scan = at_phase(organization, ScanPhase.UPLOADS)
    done = scans.scan_advance(scan_id=scan.pk, max_steps=2)
    assert (done.state, done.phase) == (ScanState.RUNNING, ScanPhase.FINISHING)
    assert "could not be read" in done.notes[0]
    assert IndexedFile.objects.get().uploader_note.startswith(
        "Unknown: the activity feed could not be read"
    )


def test_files_of_one_task_with_the_same_name_are_unknown_for_that_reason(
    http: responses.RequestsMock, organization: Organization
) -> None:
    for key in ("d0" * 16, "d1" * 16):
        index_file(organization, "photo.jpg", key=key, run_id=RUN_ID, task_id=TASK_ID)
    index_file(organization, "other.pdf", key="d2" * 16, run_id=RUN_ID, task_id=TASK_ID)
    entry = {
        "actor_email": "jane@example.com",
        "description": "uploaded photo.jpg",
        "auditable_type": "App\\Models\\Task",
        "auditable_id": TASK_ID,
    }
    http.get(f"{ROOT}/activity-feeds", json=listing([entry]))
    scan = at_phase(organization, ScanPhase.UPLOADS)
    scans.scan_advance(scan_id=scan.pk, max_steps=2)
    notes = dict(IndexedFile.objects.values_list("key", "uploader_note"))
    assert notes["d0" * 16] == notes["d1" * 16] == UNKNOWN_SAME_NAME.format(parent="task")
    assert notes["d2" * 16].startswith("Unknown: no entry")


def test_an_entry_naming_the_task_and_a_name_gives_that_file_its_uploader_as_inferred(
    http: responses.RequestsMock, organization: Organization
) -> None:
    index_file(organization, "photo.jpg", key="d0" * 16, run_id=RUN_ID, task_id=TASK_ID)
    index_file(organization, "other.pdf", key="d1" * 16, run_id=RUN_ID, task_id=TASK_ID)
    entry = {
        "actor_email": "jane@example.com",
        "description": ["uploaded photo.jpg"],
        "auditable_type": "App\\Models\\Task",
        "auditable_id": TASK_ID,
    }
    http.get(f"{ROOT}/activity-feeds", json=listing([entry]))
    scans.scan_advance(scan_id=at_phase(organization, ScanPhase.UPLOADS).pk, max_steps=1)
    found = IndexedFile.objects.get(key="d0" * 16)
    assert (found.uploader_email, found.uploader_inferred) == ("jane@example.com", True)
    assert "names its task" in found.uploader_note


def test_names_no_column_can_hold_as_sent_are_indexed_cleaned(
    http: responses.RequestsMock, organization: Organization
) -> None:
    value = {"id": FILE_ON_TASK, "filename": "scan\x00" + "n" * 1200, "url": "x"}
    task = {**run_task(), "title": "t\x00" * 600, "taskdata": {"f": [value]}}
    http.get(f"{ROOT}/tasks", json=listing([task]))
    scan = at_phase(organization, ScanPhase.TASKS)
    ProcessRun.objects.create(organization=organization, run_id=RUN_ID, last_seen_scan=scan)
    scans.scan_advance(scan_id=scan.pk, max_steps=1)
    found = IndexedFile.objects.get(key=FILE_ON_TASK)
    assert (len(found.file_name), "\x00" in found.file_name + found.task_name) == (1000, False)
    assert found.task_name == "t" * 600
