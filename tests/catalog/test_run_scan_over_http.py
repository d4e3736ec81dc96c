"""Scanning one run of the sandbox on demand, over a real socket."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from catalog import process_run_scans, scans
from catalog.models import IndexedFile, Scan, ScanState
from organizations.models import Organization
from sandbox import places
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire

SAME_IN_BOTH = [
    "key",
    "asset_id",
    "file_name",
    "is_link",
    "link_url",
    "attached_to",
    "run_id",
    "run_name",
    "run_status",
    "template_id",
    "template_name",
    "task_id",
    "task_name",
]


def scan_now(organization: Organization, run_id: str = places.ONBOARDING_RUN) -> Scan:
    return process_run_scans.process_run_scan_now(organization=organization, run_id=run_id)


def rows() -> dict[str, dict[str, Any]]:
    return {values["key"]: values for values in IndexedFile.objects.values(*SAME_IN_BOTH)}


def add_file(sandbox: Sandbox, run_id: str) -> str:
    return sandbox.server.store.add_asset(
        org_id=sandbox.org_id,
        filename="added.txt",
        content_type="text/plain",
        content=b"x",
        subject_type="Run",
        subject_id=run_id,
    ).asset_id


def test_a_run_scanned_alone_is_indexed_as_a_whole_scan_indexes_it(
    sandbox_org: Organization,
) -> None:
    """Upload times aside: a kick-off file's is in its template's file list, not the run's."""
    assert scan_now(sandbox_org).state == ScanState.DONE
    alone = rows()
    scans.scan_advance(scan_id=scans.scan_start(organization=sandbox_org).pk)
    whole = rows()
    assert {places.KICKOFF_FILE, places.TASK_FILE, places.COMMENT_FILE} < set(alone)
    assert {run["run_id"] for run in alone.values()} == {places.ONBOARDING_RUN}
    assert alone == {key: whole[key] for key in alone}


def test_a_run_is_scanned_in_two_calls(sandbox: Sandbox, sandbox_org: Organization) -> None:
    done = scan_now(sandbox_org)
    paths = [r["path"].split(f"/organizations/{sandbox.org_id}/")[1] for r in sandbox.requests()]
    run = places.ONBOARDING_RUN
    # The run, its tasks, and who uploaded its files (the run's entries in the feed).
    assert (paths, done.calls_made) == ([f"runs/{run}", f"runs/{run}/tasks", "activity-feeds"], 3)


def test_a_run_scan_leaves_other_runs_files_alone(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    in_run, in_other_run = (
        add_file(sandbox, places.ONBOARDING_RUN),
        add_file(sandbox, places.AUDIT_RUN),
    )
    scans.scan_advance(scan_id=scans.scan_start(organization=sandbox_org).pk)
    for asset_id in (in_run, in_other_run):
        sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=asset_id)
    done = scan_now(sandbox_org)
    gone = set(IndexedFile.objects.filter(gone_at__isnull=False).values_list("key", flat=True))
    assert (done.files_gone, gone) == (1, {in_run})


def test_a_run_the_sandbox_does_not_have_writes_nothing(sandbox_org: Organization) -> None:
    with pytest.raises(process_run_scans.ProcessRunNotFound):
        scan_now(sandbox_org, run_id="9f" * 16)
    assert (Scan.objects.count(), IndexedFile.objects.count()) == (0, 0)


@pytest.mark.usefixtures("immediate_tasks")
def test_a_rate_limited_run_is_scanned_by_the_workers(
    sandbox: Sandbox,
    sandbox_org: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 0.1
    sandbox.faults(rate_limit_next=1, retry_after="1")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        handed = scan_now(sandbox_org)
    assert (handed.state, len(callbacks)) == (ScanState.QUEUED, 1)
    assert Scan.objects.get(pk=handed.pk).state == ScanState.DONE
    assert IndexedFile.objects.filter(run_id=places.ONBOARDING_RUN).exists()


def test_the_command_scans_one_run(
    sandbox_org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("scan_files", organization=sandbox_org.name, run=places.ONBOARDING_RUN)
    assert f"run {places.ONBOARDING_RUN} of" in capsys.readouterr().out
    scan = Scan.objects.get()
    assert (scan.run_id, scan.state) == (places.ONBOARDING_RUN, ScanState.DONE)
    run_ids = set(IndexedFile.objects.values_list("run_id", flat=True))
    assert run_ids == {places.ONBOARDING_RUN}


def test_the_command_refuses_a_bad_run_id_and_says_when_tallyfy_has_no_such_run(
    sandbox_org: Organization,
) -> None:
    with pytest.raises(CommandError, match="not a valid Tallyfy process run id"):
        call_command("scan_files", organization=sandbox_org.name, run="../runs")
    assert not Scan.objects.exists()
    with pytest.raises(CommandError, match="no process run"):
        call_command("scan_files", organization=sandbox_org.name, run="f" * 32)
    assert not IndexedFile.objects.exists()
