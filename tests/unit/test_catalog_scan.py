"""Scan rules that the sandbox does not exercise, with Tallyfy's answers mocked."""

from __future__ import annotations

from datetime import date
from typing import Any

import responses
from responses import matchers

from catalog import services
from catalog.models import IndexedFile, Scan, ScanPhase, ScanState
from files.models import Organization
from tests.conftest import BASE_URL, ORG_ID

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
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", json=listing([]))
    scan = at_phase(organization, ScanPhase.RUNS)
    services.scan_run(scan_id=scan.pk, max_steps=1)
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
    services.scan_run(scan_id=scan.pk, max_steps=1)
    scan.refresh_from_db()
    assert scan.phase == ScanPhase.FINISHING


def test_a_refused_token_fails_the_scan(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs", status=401, json={"message": "Unauthenticated."})
    scan = at_phase(organization, ScanPhase.RUNS)
    assert services.scan_run(scan_id=scan.pk).state == ScanState.FAILED


def test_a_run_deleted_while_scanning_is_skipped(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs", json=listing([{"id": RUN_ID, "name": "Gone", "prerun": {}}]))
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", status=404, json={"message": "not found"})
    scan = at_phase(organization, ScanPhase.RUNS)
    done = services.scan_run(scan_id=scan.pk, max_steps=1)
    assert (done.phase, done.runs_read) == (ScanPhase.ARCHIVED_RUNS, 1)
