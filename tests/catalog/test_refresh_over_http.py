"""A refresh reads only what changed since the last scan: the feed's entries since the day
before it, the runs they name, runs started since, the files they name outside any run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog import scans
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from organizations.models import Organization
from sandbox import listing
from sandbox.places import generate_organization
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire
NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def generated(sandbox: Sandbox, db: None) -> Organization:
    org_id, token = generate_organization(sandbox.server.store, runs=30, files=90)
    return make_organization(base_url=sandbox.base_url, org_id=org_id, token=token, name="Gen")


def scan(organization: Organization, *, refresh: bool = False) -> Scan:
    started = scans.scan_start(organization=organization, refresh=refresh)
    return scans.scan_advance(scan_id=started.pk)


def runs_of(sandbox: Sandbox, organization: Organization) -> list[str]:
    rows = sandbox.server.store.query(
        "SELECT r.run_id FROM runs r JOIN run_details d ON d.run_id = r.run_id "
        "WHERE r.org_id = ? AND d.archived_at IS NULL ORDER BY r.rowid",
        (organization.org_id,),
    )
    return [row["run_id"] for row in rows]


def test_a_refresh_finds_an_upload_a_deletion_an_archived_run_and_a_new_run(
    sandbox: Sandbox, generated: Organization
) -> None:
    store, org_id = sandbox.server.store, generated.org_id
    assert scan(generated).state == ScanState.DONE
    runs = runs_of(sandbox, generated)
    # An upload to a run's kick-off form, recorded in the feed today.
    upload = store.add_asset(
        org_id=org_id,
        filename="late_upload.pdf",
        content_type="application/pdf",
        content=b"%PDF-",
        subject_type="Checklist",
        subject_id="71" * 16,
    )
    listing.field_value_add(store, owner_id=runs[0], field_id="late", asset_id=upload.asset_id)
    listing.feed_add(
        store,
        org_id=org_id,
        actor_email="guest9@example.com",
        actor_type="guest",
        asset_id=upload.asset_id,
        run_id=runs[0],
        filename="late_upload.pdf",
        created_at=NOW,
        shape="auditable",
    )
    # A file of another run deleted in Tallyfy, and that run's entry.
    deleted = IndexedFile.objects.filter(organization=generated, run_id=runs[1]).first()
    assert deleted is not None
    store.delete_asset(org_id=org_id, asset_id=deleted.asset_id)
    listing.feed_add(
        store,
        org_id=org_id,
        verb="deleted",
        actor_email="olivia.ops@example.com",
        actor_type="member",
        asset_id=deleted.asset_id,
        run_id=runs[1],
        filename=deleted.file_name,
        created_at=NOW,
    )
    # A run archived.
    store.query("UPDATE run_details SET archived_at = ? WHERE run_id = ?", (NOW, runs[2]))
    listing.feed_add(
        store,
        org_id=org_id,
        verb="archived",
        actor_email="olivia.ops@example.com",
        actor_type="member",
        asset_id=None,
        run_id=runs[2],
        filename="",
        created_at=NOW,
    )
    # A run started today, with a kick-off file (its upload entry is not in the feed).
    new_run = store.add_run(org_id=org_id, name="Started today")
    listing.run_details_set(store, run_id=new_run, status="active", created_at=NOW)
    kickoff = store.add_asset(
        org_id=org_id,
        filename="new_kickoff.pdf",
        content_type="application/pdf",
        content=b"%PDF-",
        subject_type="Checklist",
        subject_id="71" * 16,
    )
    listing.field_value_add(store, owner_id=new_run, field_id="ko", asset_id=kickoff.asset_id)
    sandbox.control("reset", {})

    refreshed = scan(generated, refresh=True)

    assert (refreshed.refresh, refreshed.state, refreshed.phase) == (
        True,
        ScanState.DONE,
        ScanPhase.DONE,
    )
    late = IndexedFile.objects.get(key=upload.asset_id)
    assert (late.attached_to, late.run_id, late.uploader_email) == (
        AttachedTo.RUN,
        runs[0],
        "guest9@example.com",
    )
    deleted.refresh_from_db()
    assert deleted.gone_at is not None
    archived = IndexedFile.objects.filter(organization=generated, run_id=runs[2])
    assert {row.run_status for row in archived} <= {"archived"}
    assert IndexedFile.objects.get(key=kickoff.asset_id).run_id == new_run
    # Nothing the feed did not name was read: no page of tasks or templates, no list of runs
    # but the newest first.
    asked = [(r["path"].split(f"{generated.org_id}/")[1], r["query"]) for r in sandbox.requests()]
    assert not [path for path, _ in asked if path in ("tasks", "checklists")]
    assert {query for path, query in asked if path == "runs"} <= {
        query for path, query in asked if path == "runs" and "sort=-created_at" in query
    }
    assert {path for path, _ in asked if path.startswith("runs/")} <= {
        f"runs/{run}" for run in (runs[0], runs[1], runs[2], new_run)
    } | {f"runs/{run}/tasks" for run in (runs[0], runs[1], runs[2], new_run)}


def test_a_refresh_without_an_earlier_scan_is_a_full_scan(generated: Organization) -> None:
    assert scans.scan_start(organization=generated, refresh=True).refresh is False


def test_a_full_scan_is_due_a_week_after_the_last(generated: Organization) -> None:
    assert scans.full_scan_due(organization=generated)
    scan(generated)
    assert not scans.full_scan_due(organization=generated)
