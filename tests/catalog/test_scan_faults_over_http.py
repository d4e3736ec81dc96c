"""Scans of a sandbox whose lists break, over a real socket: no live file is ever marked
gone, and no scan loops for ever."""

from __future__ import annotations

from typing import Any

import pytest

import tallyfy_api
from catalog import process_run_scans, scans
from catalog.models import AttachedTo, IndexedFile, Scan, ScanState
from organizations.models import Organization
from sandbox import listing
from sandbox.places import generate_organization
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire


@pytest.fixture
def bounded(settings: Any) -> None:
    settings.CATALOG_SCAN_MAX_FAILURES = 3
    settings.CATALOG_SCAN_RETRY_SECONDS = 0


@pytest.fixture
def generated(sandbox: Sandbox, db: None) -> Organization:
    """An organization of 130 runs: its active runs fill two pages."""
    org_id, token = generate_organization(sandbox.server.store, runs=130, files=260)
    return make_organization(base_url=sandbox.base_url, org_id=org_id, token=token, name="Gen")


def scan_until_it_ends(organization: Organization, *, attempts: int = 10) -> Scan:
    started = scans.scan_start(organization=organization)
    for _ in range(attempts):
        try:
            return scans.scan_advance(scan_id=started.pk)
        except tallyfy_api.TallyfyError:
            continue
    raise AssertionError("the scan did not end")


def present(organization: Organization) -> set[str]:
    rows = IndexedFile.objects.filter(organization=organization, gone_at__isnull=True)
    return set(rows.values_list("key", flat=True))


def active_runs(sandbox: Sandbox, organization: Organization) -> list[str]:
    rows = sandbox.server.store.query(
        "SELECT r.run_id FROM runs r JOIN run_details d ON d.run_id = r.run_id "
        "WHERE r.org_id = ? AND d.archived_at IS NULL ORDER BY r.rowid",
        (organization.org_id,),
    )
    return [row["run_id"] for row in rows]


@pytest.mark.usefixtures("bounded")
def test_an_empty_page_before_the_total_marks_no_file_gone(
    sandbox: Sandbox, generated: Organization
) -> None:
    assert scan_until_it_ends(generated).state == ScanState.DONE
    before = present(generated)
    sandbox.faults(empty_page_at=2, listing_faults_path="/runs")
    again = scan_until_it_ends(generated)
    assert again.state == ScanState.FAILED
    assert "empty after 100 of" in again.last_error
    assert present(generated) == before


def test_a_run_archived_between_two_pages_marks_no_file_gone(
    sandbox: Sandbox, generated: Organization
) -> None:
    runs = active_runs(sandbox, generated)
    kickoff = sandbox.server.store.add_asset(
        org_id=generated.org_id,
        filename="kickoff.pdf",
        content_type="application/pdf",
        content=b"%PDF-",
        subject_type="Checklist",
        subject_id="71" * 16,
    )
    listing.field_value_add(
        sandbox.server.store, owner_id=runs[100], field_id="ko", asset_id=kickoff.asset_id
    )
    scan_until_it_ends(generated)
    before = present(generated)
    started = scans.scan_start(organization=generated)
    scans.scan_advance(scan_id=started.pk, max_steps=1)  # the first page of runs
    sandbox.server.store.query(
        "UPDATE run_details SET archived_at = '2025-06-01T00:00:00Z' WHERE run_id = ?",
        (runs[2],),
    )
    done = scans.scan_advance(scan_id=started.pk)
    # The run that moved to the page already read is missed by the runs' list: its own files
    # are checked one by one and kept; its tasks' files come with the task listing.
    shifted = IndexedFile.objects.filter(organization=generated, run_id=runs[100])
    own, on_tasks = (
        shifted.filter(attached_to=AttachedTo.RUN),
        shifted.exclude(attached_to=AttachedTo.RUN),
    )
    assert own.exists()
    assert on_tasks.exists()
    assert present(generated) == before
    assert (done.state, done.files_gone) == (ScanState.DONE, 0)
    assert {row.missed_by_scan_id for row in own} == {done.pk}
    assert {(row.missed_by_scan_id, row.last_seen_scan_id) for row in on_tasks} == {(None, done.pk)}
    assert done.files_missed == own.count()


@pytest.mark.usefixtures("bounded")
def test_a_list_that_ignores_the_page_and_has_no_total_ends_the_scan_failed(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(ignore_page=True, omit_total=True, listing_faults_path="/runs")
    done = scan_until_it_ends(sandbox_org)
    runs_asked = [r for r in sandbox.requests() if r["path"].endswith("/runs")]
    assert done.state == ScanState.FAILED
    assert "ignores the page asked for" in done.last_error
    assert len(runs_asked) == 1 + 3  # page 1, then page 2 once an attempt


@pytest.mark.usefixtures("bounded")
def test_an_html_answer_fails_the_scan_and_a_new_scan_can_start(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(html_answer_next=3)
    failed = scan_until_it_ends(sandbox_org)
    assert failed.state == ScanState.FAILED
    assert "not JSON" in failed.last_error
    assert scan_until_it_ends(sandbox_org).state == ScanState.DONE


@pytest.mark.usefixtures("queued_tasks")
def test_a_run_whose_tasks_list_never_ends_is_read_once_from_a_page(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(ignore_page=True, total_override=10**9, listing_faults_path="/tasks")
    run_id = sandbox.server.store.query(
        "SELECT run_id FROM tasks WHERE org_id = ? AND run_id IS NOT NULL LIMIT 1",
        (sandbox.org_id,),
    )[0]["run_id"]
    scan = process_run_scans.process_run_scan_now(organization=sandbox_org, run_id=run_id)
    tasks_asked = [r for r in sandbox.requests() if r["path"].endswith(f"{run_id}/tasks")]
    assert len(tasks_asked) == 1  # a short page that claims 10^9 tasks: the list is broken
    assert (scan.state, scan.failures) == (ScanState.RUNNING, 1)
    assert "before 1000000000 items were read" in scan.last_error
