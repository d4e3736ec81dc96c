"""Issue 20 against the sandbox, whose GET /tasks leaves completed tasks out unless asked and
whose feed names files in every shape the API notes list."""

from __future__ import annotations

import pytest

from catalog import scans, selectors
from catalog.models import IndexedFile, Scan, ScanState
from organizations.models import Organization
from sandbox import listing, places
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire


def scan(organization: Organization) -> Scan:
    return scans.scan_advance(scan_id=scans.scan_start(organization=organization).pk)


def test_files_on_completed_tasks_are_found(sandbox: Sandbox, sandbox_org: Organization) -> None:
    done = scan(sandbox_org)
    asked = [r["query"] for r in sandbox.requests() if r["path"].endswith("/tasks")]
    assert done.state == ScanState.DONE
    assert sum("status=completed" in query for query in asked) == 2
    # Both tasks are completed: the listing leaves them out unless asked.
    assert IndexedFile.objects.get(key=places.ONEOFF_FILE).task_name == "Send NDA"
    assert IndexedFile.objects.get(key=places.TASK_FILE).task_name == "Collect ID"


def test_every_file_with_a_feed_entry_gets_its_uploader(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    scan(sandbox_org)
    recorded = sandbox.server.store.query(
        "SELECT asset_id, actor_email FROM feed WHERE org_id = ? AND verb = 'uploaded'",
        (sandbox.org_id,),
    )
    uploader_of = dict(IndexedFile.objects.values_list("key", "uploader_email"))
    # Every file of sandbox.places still there (another test may have deleted one).
    indexed = [row for row in recorded if row["asset_id"] in uploader_of]
    assert len(indexed) >= 7
    assert {row["asset_id"]: uploader_of[row["asset_id"]] for row in indexed} == {
        row["asset_id"]: row["actor_email"] for row in indexed
    }
    assert IndexedFile.objects.get(key=places.COMMENT_FILE).uploader_inferred


def test_a_file_no_feed_entry_names_is_unknown_and_a_candidate_for_the_guest(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    unrecorded = sandbox.server.store.add_asset(
        org_id=sandbox.org_id,
        filename="selfie.jpg",
        content_type="image/jpeg",
        content=b"\xff\xd8",
        subject_type="Run",
        subject_id=places.ONBOARDING_RUN,
        step_id=places.COLLECT_ID_STEP,
    )
    listing.field_value_add(
        sandbox.server.store,
        owner_id=places.COLLECT_ID_TASK,
        field_id="selfie",
        asset_id=unrecorded.asset_id,
    )
    try:
        scan(sandbox_org)
    finally:  # the sandbox's store lives for the whole session: leave run a1 as it was
        sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=unrecorded.asset_id)
    found = IndexedFile.objects.get(key=unrecorded.asset_id)
    assert (found.uploader_email, found.uploader_note) == (
        "",
        "Unknown: no entry of the activity feed names this file, nor its task or process run "
        "with its name.",
    )
    # The guest uploaded to that run: its files without an uploader may be hers.
    candidates = selectors.unknown_uploader_candidates(email=places.GUEST_EMAIL)
    unknown_in_her_run = IndexedFile.objects.filter(
        run_id=places.ONBOARDING_RUN, uploader_email="", is_link=False
    )
    assert unrecorded.asset_id in set(candidates.values_list("key", flat=True))
    assert set(candidates.values_list("pk", flat=True)) == set(
        unknown_in_her_run.values_list("pk", flat=True)
    )
