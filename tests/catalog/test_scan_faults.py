"""Scans under a Tallyfy that misbehaves: lists that break, answers that cannot be read,
workers that lose their lease. A scan never marks a file gone for missing from a list, and
never loops for ever. Tallyfy's answers are mocked."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.contrib.auth.models import User
from django.db.models.functions import Now
from django.utils import timezone

import tallyfy_api
from catalog import deletion_jobs, index_writes, leases, process_run_scans, scans, selectors
from catalog.models import AttachedTo, IndexedFile, ProcessRun, Scan, ScanPhase, ScanState
from catalog.tasks import scans_wake_stalled
from jobs.services import JobRefused
from organizations.models import Organization
from tests.fixtures.catalog import index_file
from tests.fixtures.organizations import BASE_URL, ORG_ID, make_organization

ROOT = f"{BASE_URL}/organizations/{ORG_ID}"
RUN_ID = "a1" * 16
OTHER_RUN = "b2" * 16
KICKOFF_FILE = "c0" * 16
OTHER_FILE = "c1" * 16


def listing(items: list[dict[str, Any]], *, total: int | None) -> dict[str, Any]:
    pagination: dict[str, Any] = {"links": []}
    if total is not None:
        pagination["total"] = total
    return {"data": items, "meta": {"pagination": pagination}}


def tasks(*ids: str) -> list[dict[str, Any]]:
    return [{"id": task_id, "title": task_id, "is_oneoff_task": True} for task_id in ids]


def at_phase(organization: Organization, phase: ScanPhase, **fields: Any) -> Scan:
    return Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        phase=phase,
        started_at=timezone.now() - timedelta(minutes=1),
        **fields,
    )


def step(scan: Scan) -> Scan:
    return scans.scan_advance(scan_id=scan.pk, max_steps=1)


def failed_step(scan: Scan) -> tallyfy_api.TallyfyError:
    with pytest.raises(tallyfy_api.TallyfyError) as failure:
        step(scan)
    scan.refresh_from_db()
    return failure.value


# --- lists that break: the step fails, the position stays ---


def test_an_empty_page_before_the_total_fails_the_step(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing([], total=150))
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS, page=2, phase_read=100, page_size=100)
    assert isinstance(failed_step(scan), tallyfy_api.ListingBroken)
    assert (scan.phase, scan.page, scan.failures) == (ScanPhase.ONEOFF_TASKS, 2, 1)


def test_a_short_page_before_the_total_fails_the_step(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing(tasks("t101", "t102"), total=150))
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS, page=2, phase_read=100, page_size=100)
    assert isinstance(failed_step(scan), tallyfy_api.ListingBroken)
    assert (scan.phase, scan.page) == (ScanPhase.ONEOFF_TASKS, 2)


def test_a_page_repeating_the_one_before_fails_the_step(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing(tasks("t1", "t2"), total=None))  # `page` ignored
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS)
    step(scan)
    assert "same items" in str(failed_step(scan))
    assert (scan.phase, scan.page) == (ScanPhase.ONEOFF_TASKS, 2)


def test_a_list_past_its_page_budget_fails_the_step(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing(tasks("t7", "t8"), total=10**9))
    scan = at_phase(
        organization, ScanPhase.ONEOFF_TASKS, page=4, phase_read=6, page_size=2, page_budget=3
    )
    assert "past 3 pages" in str(failed_step(scan))


# --- failures in a row: backoff, then the scan fails with the reason ---


@pytest.mark.parametrize("answer", ["html", "oversize"])
def test_an_answer_that_cannot_be_read_fails_the_scan_after_the_bound(
    http: responses.RequestsMock, organization: Organization, settings: Any, answer: str
) -> None:
    settings.CATALOG_SCAN_MAX_FAILURES = 3
    settings.CATALOG_SCAN_RETRY_SECONDS = 0
    if answer == "html":
        http.get(f"{ROOT}/runs", body="<html><body>Maintenance</body></html>")
    else:
        settings.TALLYFY_MAX_LIST_BODY_BYTES = 64
        http.get(f"{ROOT}/runs", json=listing(tasks(*(f"r{n}" for n in range(50))), total=50))
    scan = at_phase(organization, ScanPhase.RUNS)
    failed_step(scan)
    failed_step(scan)
    done = step(scan)
    assert done.state == ScanState.FAILED
    assert done.last_error.startswith("Stopped after 3 failed attempts in a row: ")
    assert len(http.calls) == 3


def test_a_failed_step_waits_before_it_is_tried_again(
    http: responses.RequestsMock, organization: Organization, settings: Any
) -> None:
    settings.CATALOG_SCAN_RETRY_SECONDS = 30
    http.get(f"{ROOT}/tasks", json=listing([], total=150))
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS, page=2, phase_read=100, page_size=100)
    failed_step(scan)
    with pytest.raises(leases.ScanWaiting):
        step(scan)
    assert len(http.calls) == 1
    waiting = Scan.objects.filter(pk=scan.pk)
    assert waiting.filter(next_attempt_at__gt=Now() + timedelta(seconds=25)).exists()
    assert waiting.filter(next_attempt_at__lt=Now() + timedelta(seconds=35)).exists()


def test_a_step_that_succeeds_clears_the_failures(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/tasks", json=listing(tasks("t1"), total=1))
    scan = at_phase(organization, ScanPhase.ONEOFF_TASKS, failures=2, per_run_tasks=True)
    done = step(scan)
    assert (done.phase, done.failures, done.next_attempt_at) == (
        ScanPhase.COMPLETED_ONEOFF_TASKS,
        0,
        None,
    )


def test_a_failed_scan_does_not_block_a_new_one(organization: Organization) -> None:
    failed = Scan.objects.create(organization=organization, state=ScanState.FAILED)
    started = scans.scan_start(organization=organization)
    assert started.pk != failed.pk
    assert started.state == ScanState.QUEUED


def test_a_scan_whose_next_attempt_is_due_is_handed_back_to_the_workers(
    organization: Organization,
    queued_tasks: None,
) -> None:
    due = Scan.objects.create(organization=organization, state=ScanState.RUNNING)
    waiting = Scan.objects.create(organization=organization, run_id=RUN_ID)
    Scan.objects.filter(pk=due.pk).update(
        updated_at=timezone.now() - timedelta(minutes=1),
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    Scan.objects.filter(pk=waiting.pk).update(
        updated_at=timezone.now() - timedelta(hours=1),
        next_attempt_at=timezone.now() + timedelta(minutes=10),
    )
    assert scans_wake_stalled() == [due.pk]
    assert scans_wake_stalled() == []


# --- the end of a scan: gone only on a 404 ---


def finishing(organization: Organization) -> Scan:
    return at_phase(organization, ScanPhase.FINISHING)


def missed(organization: Organization, name: str, **fields: Any) -> IndexedFile:
    """A file of the index that the scan did not find (last seen before it began)."""
    return index_file(organization, name, last_seen=timezone.now() - timedelta(hours=1), **fields)


def test_a_missed_file_tallyfy_still_has_stays_present(
    http: responses.RequestsMock, organization: Organization
) -> None:
    missed_file = missed(organization, "kept.pdf", key=KICKOFF_FILE)
    http.get(f"{ROOT}/assets/{KICKOFF_FILE}", json={"data": {"id": KICKOFF_FILE}})
    done = scans.scan_advance(scan_id=finishing(organization).pk)
    missed_file.refresh_from_db()
    assert (missed_file.gone_at, missed_file.missed_by_scan_id) == (None, done.pk)
    assert (done.state, done.files_gone, done.files_missed) == (ScanState.DONE, 0, 1)


def test_a_missed_file_tallyfy_answers_404_for_is_gone(
    http: responses.RequestsMock, organization: Organization
) -> None:
    missed_file = missed(organization, "deleted.pdf", key=KICKOFF_FILE)
    http.get(f"{ROOT}/assets/{KICKOFF_FILE}", status=404, json={"code": "RESOURCE_NOT_FOUND"})
    done = scans.scan_advance(scan_id=finishing(organization).pk)
    missed_file.refresh_from_db()
    assert (missed_file.gone_at is not None, done.files_gone) == (True, 1)


def test_a_missed_file_that_cannot_be_checked_stays_present_and_is_counted(
    http: responses.RequestsMock, organization: Organization
) -> None:
    missed_file = missed(organization, "unknown.pdf", key=KICKOFF_FILE)
    http.get(f"{ROOT}/assets/{KICKOFF_FILE}", status=503, body="<html>down</html>")
    done = scans.scan_advance(scan_id=finishing(organization).pk)
    missed_file.refresh_from_db()
    assert (missed_file.gone_at, done.state, done.files_unchecked) == (None, ScanState.DONE, 1)
    assert "1 file not in Tallyfy's lists could not be checked" in done.last_error


def test_missed_files_are_checked_a_batch_a_step(
    http: responses.RequestsMock, organization: Organization, settings: Any
) -> None:
    settings.CATALOG_SCAN_CHECK_BATCH = 2
    for number in range(3):
        missed(organization, f"{number}.pdf", key=f"{number}" * 32)
    http.get(re.compile(f"{ROOT}/assets/.*"), status=404, json={})
    scan = finishing(organization)
    first = step(scan)
    assert (first.phase, first.files_gone, len(http.calls)) == (ScanPhase.FINISHING, 2, 2)
    assert step(scan).state == ScanState.DONE
    assert len(http.calls) == 3


def test_a_missed_link_is_no_longer_found_without_a_call(organization: Organization) -> None:
    link = missed(organization, "form link", is_link=True, asset_id="", link_url="https://x")
    done = scans.scan_advance(scan_id=finishing(organization).pk)
    link.refresh_from_db()
    assert (link.gone_at is not None, done.files_gone) == (True, 1)


def test_a_file_seen_again_is_no_longer_marked_missed(organization: Organization) -> None:
    earlier = Scan.objects.create(organization=organization, state=ScanState.DONE)
    index_file(organization, "back.pdf", key=KICKOFF_FILE, missed_by_scan=earlier)
    scan = at_phase(organization, ScanPhase.TEMPLATES)
    row = {"asset_id": KICKOFF_FILE, "file_name": "back.pdf", "is_link": False}
    row |= {"link_url": "", "attached_to": AttachedTo.TEMPLATE, "uploaded_at": None}
    index_writes.found_write(index_writes.Found(scan, rows={KICKOFF_FILE: row}))
    assert IndexedFile.objects.get(key=KICKOFF_FILE).missed_by_scan is None


# --- leases: the database's clock, fenced writes ---


def test_the_lease_is_timed_by_the_databases_clock(
    http: responses.RequestsMock, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    http.get(f"{ROOT}/tasks", json=listing([], total=0))
    scan = at_phase(organization, ScanPhase.TASKS)
    behind = timezone.now() - timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: behind)  # this machine's clock is an hour slow
    leases: list[bool] = []

    def held(scan: Scan) -> None:
        lease = Scan.objects.filter(pk=scan.pk, lease_until__gt=Now() + timedelta(minutes=4))
        leases.append(lease.exists())

    scans.scan_advance(scan_id=scan.pk, max_steps=1, on_step=held)
    assert leases == [True]


def test_a_worker_whose_lease_was_taken_stops_and_writes_nothing(
    http: responses.RequestsMock, organization: Organization
) -> None:
    value = {"id": KICKOFF_FILE, "filename": "contract.pdf", "url": "x"}
    # The list leaves kick-off values out: each run is asked for.
    runs = [{"id": RUN_ID, "name": "First"}, {"id": OTHER_RUN, "name": "Second"}]
    http.get(f"{ROOT}/runs", json=listing(runs, total=2))
    scan = at_phase(organization, ScanPhase.RUNS)

    def taken_meanwhile(request: Any) -> tuple[int, dict[str, str], str]:
        # This worker waited on the rate limit past its lease, and another took the scan.
        Scan.objects.filter(pk=scan.pk).update(
            lease_owner="another-worker", lease_until=timezone.now() + timedelta(minutes=5)
        )
        return 200, {}, json.dumps({"data": {"id": RUN_ID, "prerun": {"f": [value]}}})

    http.add_callback(responses.GET, f"{ROOT}/runs/{RUN_ID}", callback=taken_meanwhile)
    with pytest.raises(leases.LeaseLost):
        step(scan)
    # No call for the second run (strict mocks), nothing written.
    assert not IndexedFile.objects.exists()
    assert not ProcessRun.objects.exists()
    scan.refresh_from_db()
    assert (scan.lease_owner, scan.page, scan.runs_read) == ("another-worker", 1, 0)


# --- one run, read from a page ---


def endless_tasks(http: responses.RequestsMock) -> list[int]:
    """A run whose tasks list never ends: new tasks on every page, a total of 10^9."""
    asked: list[int] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        number = int(request.params["page"])
        asked.append(number)
        page = [{"id": f"{number:016x}{n:016x}", "title": "t"} for n in range(100)]
        return 200, {}, json.dumps(listing(page, total=10**9))

    http.get(f"{ROOT}/runs/{RUN_ID}", json={"data": {"id": RUN_ID, "prerun": {}}})
    http.add_callback(responses.GET, f"{ROOT}/runs/{RUN_ID}/tasks", callback=answer)
    return asked


@pytest.mark.usefixtures("queued_tasks")
def test_a_run_scanned_from_a_page_reads_its_tasks_no_further_than_the_budget(
    http: responses.RequestsMock, organization: Organization, settings: Any
) -> None:
    settings.CATALOG_RUN_TASK_PAGES = 3
    asked = endless_tasks(http)
    scan = process_run_scans.process_run_scan_now(organization=organization, run_id=RUN_ID)
    assert asked == [1, 2, 3, 4]
    assert (scan.state, scan.failures) == (ScanState.RUNNING, 1)
    assert "past 3 pages" in scan.last_error


def test_a_run_scan_writes_each_page_of_tasks_before_asking_for_the_next(
    http: responses.RequestsMock, organization: Organization
) -> None:
    def task(number: int) -> dict[str, Any]:
        value = {"id": f"{number}" * 32, "filename": f"{number}.pdf", "url": "x"}
        return {"id": f"t{number}", "title": "t", "taskdata": {"f": [value]}}

    written_before_page_2: list[bool] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        if request.params["page"] == "1":
            return 200, {}, json.dumps(listing([task(n) for n in range(100)], total=101))
        written_before_page_2.append(IndexedFile.objects.filter(key="1" * 32).exists())
        return 200, {}, json.dumps(listing([task(100)], total=101))

    http.get(f"{ROOT}/runs/{RUN_ID}", json={"data": {"id": RUN_ID, "prerun": {}}})
    http.add_callback(responses.GET, f"{ROOT}/runs/{RUN_ID}/tasks", callback=answer)
    http.get(f"{ROOT}/activity-feeds", json=listing([], total=0))  # who uploaded them
    done = scans.scan_advance(scan_id=scans.scan_start(organization=organization, run_id=RUN_ID).pk)
    assert written_before_page_2 == [True]
    assert (done.state, done.files_found) == (ScanState.DONE, 101)


# --- deletion jobs from the index ---


def test_a_job_from_the_index_refuses_files_of_two_organizations(
    organization: Organization, django_user_model: type[User]
) -> None:
    other = make_organization(org_id="f" * 32, name="Other")
    now = timezone.now()
    index_file(organization, "newest.pdf", uploaded_at=now)
    index_file(organization, "newer.pdf", uploaded_at=now - timedelta(days=1))
    index_file(other, "older.pdf", uploaded_at=now - timedelta(days=2))
    user = django_user_model.objects.create_user(username="ops", is_staff=True)
    with pytest.raises(JobRefused, match="one organization"):
        deletion_jobs.deletion_job_from_index(files=selectors.indexed_files(), user=user)
