"""Scans of the sandbox over a real socket: every place a file can be, refreshes, resuming."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog import leases, scans, tasks
from catalog.clients import scan_client
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from organizations.models import Organization
from sandbox import places
from sandbox.places import generate_organization
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire


def scan(organization: Organization, **options: Any) -> Scan:
    started = scans.scan_start(organization=organization)
    return scans.scan_advance(scan_id=started.pk, **options)


def row(key: str) -> IndexedFile:
    return IndexedFile.objects.get(key=key)


@pytest.fixture
def scanned(sandbox_org: Organization) -> Scan:
    return scan(sandbox_org)


def test_a_scan_ends_done(scanned: Scan) -> None:
    assert (scanned.state, scanned.files_gone) == (ScanState.DONE, 0)


@pytest.mark.usefixtures("scanned")
def test_a_kickoff_file_is_attached_to_its_run() -> None:
    found = row(places.KICKOFF_FILE)
    assert (found.attached_to, found.run_id, found.template_name) == (
        AttachedTo.RUN,
        places.ONBOARDING_RUN,
        "Employee onboarding",
    )


@pytest.mark.usefixtures("scanned")
def test_a_task_field_file_is_attached_to_its_task() -> None:
    found = row(places.TASK_FILE)
    assert (found.attached_to, found.task_name, found.run_name) == (
        AttachedTo.TASK,
        "Collect ID",
        "Onboarding: Jane Doe",
    )


@pytest.mark.usefixtures("scanned")
def test_a_comment_file_is_found_through_its_task() -> None:
    assert row(places.COMMENT_FILE).attached_to == AttachedTo.TASK


@pytest.mark.usefixtures("scanned")
def test_a_run_file_is_found() -> None:
    assert row("c0" * 16).run_id == places.AUDIT_RUN


@pytest.mark.usefixtures("scanned")
def test_a_template_file_is_found() -> None:
    found = row(places.TEMPLATE_FILE)
    assert (found.attached_to, found.template_name) == (AttachedTo.TEMPLATE, "Employee onboarding")


@pytest.mark.usefixtures("scanned")
def test_a_oneoff_task_file_is_found() -> None:
    found = row(places.ONEOFF_FILE)
    assert (found.attached_to, found.task_name) == (AttachedTo.ONEOFF_TASK, "Send NDA")


@pytest.mark.usefixtures("scanned")
def test_archived_runs_are_scanned() -> None:
    assert row(places.ARCHIVED_FILE).run_status == "archived"


def test_archived_runs_are_found_when_archived_only_is_ignored(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(ignore_archived_only=True)
    done = scan(sandbox_org)
    assert (done.archived_by_status, row(places.ARCHIVED_FILE).run_status) == (True, "archived")


@pytest.mark.usefixtures("scanned")
def test_an_archived_templates_file_is_found() -> None:
    found = row(places.ARCHIVED_TEMPLATE_FILE)
    assert (found.attached_to, found.template_id, found.template_name) == (
        AttachedTo.TEMPLATE,
        places.ARCHIVED_TEMPLATE_ID,
        "Onboarding (2023 edition)",
    )


@pytest.mark.usefixtures("scanned")
def test_an_archived_oneoff_tasks_file_is_found() -> None:
    found = row(places.ARCHIVED_ONEOFF_FILE)
    assert found.attached_to == AttachedTo.ONEOFF_TASK
    assert found.task_id == places.ARCHIVED_ONEOFF_TASK


def test_templates_and_tasks_are_read_once_when_archived_only_is_ignored(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    sandbox.faults(ignore_archived_only=True)
    done = scan(sandbox_org)
    lists = ("/checklists", "/tasks")
    asked = [r["query"] for r in sandbox.requests() if r["path"].endswith(lists)]
    # Archived templates, archived tasks, archived completed tasks.
    assert sum("archived=only" in query for query in asked) == 3
    assert not IndexedFile.objects.filter(
        key__in=[places.ARCHIVED_TEMPLATE_FILE, places.ARCHIVED_ONEOFF_FILE]
    ).exists()
    assert (row(places.TEMPLATE_FILE).template_name, row(places.ONEOFF_FILE).task_name) == (
        "Employee onboarding",
        "Send NDA",
    )
    assert done.files_found == IndexedFile.objects.count()


@pytest.mark.usefixtures("scanned")
def test_a_url_source_entry_is_indexed_as_a_link() -> None:
    link = IndexedFile.objects.get(is_link=True)
    assert (link.link_url, link.asset_id) == (places.LINK_URL, "")


@pytest.mark.usefixtures("scanned")
def test_the_uploader_comes_from_the_feed_entry_naming_the_file() -> None:
    found = row(places.TASK_FILE)
    assert (found.uploader_email, found.uploader_type, found.uploader_inferred) == (
        places.GUEST_EMAIL,
        "guest",
        False,
    )


@pytest.mark.usefixtures("scanned")
def test_without_a_file_id_the_uploader_is_matched_by_run_and_name() -> None:
    found = row(places.COMMENT_FILE)
    assert (found.uploader_email, found.uploader_inferred) == (places.GUEST_EMAIL, True)


def test_a_rescan_marks_a_file_no_longer_found_as_gone(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    scan(sandbox_org)
    sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=places.ARCHIVED_FILE)
    again = scan(sandbox_org)
    assert again.files_gone == 1
    assert row(places.ARCHIVED_FILE).gone_at is not None
    assert row(places.TASK_FILE).gone_at is None


def test_a_rescan_adds_new_files(sandbox: Sandbox, sandbox_org: Organization) -> None:
    scan(sandbox_org)
    added = sandbox.add_file(filename="new_upload.txt")
    scan(sandbox_org)
    assert row(added.asset_id).first_seen > row(places.TASK_FILE).first_seen


def test_a_rescan_reads_the_feed_only_since_the_last_scan(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    first = scan(sandbox_org)
    sandbox.control("reset", {})
    second = scan(sandbox_org)
    feed_calls = [r for r in sandbox.requests() if r["path"].endswith("/activity-feeds")]
    since = (first.started_at - timedelta(days=1)).date().isoformat()
    assert [f"created_after={since}" in call["query"] for call in feed_calls] == [True]
    assert second.uploads_since is not None


def test_a_rescan_keeps_the_uploaders_found_before(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    scan(sandbox_org)
    scan(sandbox_org)
    assert row(places.TASK_FILE).uploader_email == places.GUEST_EMAIL


def test_a_failing_page_is_asked_again(sandbox: Sandbox, sandbox_org: Organization) -> None:
    sandbox.faults(unavailable_next=1)
    assert scan(sandbox_org).state == ScanState.DONE
    assert row(places.TASK_FILE)


class Killed(BaseException):
    """A worker's death half-way through a step (SIGKILL runs no cleanup)."""


class DyingClient:
    def __init__(self, client: Any, *, calls: int) -> None:
        self._client, self._left = client, calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left < 0:
                raise Killed
            return method(*args, **kwargs)

        return call


def kill_mid_scan(organization: Organization, *, after_calls: int) -> Scan:
    started = scans.scan_start(organization=organization)
    client = DyingClient(scan_client(organization=organization), calls=after_calls)
    with pytest.raises(Killed):
        scans.scan_advance(scan_id=started.pk, client=client)  # type: ignore[arg-type]
    # What a killed worker leaves: its lease, still running.
    Scan.objects.filter(pk=started.pk).update(
        lease_owner="dead-worker", lease_until=timezone.now() + leases.LEASE
    )
    return Scan.objects.get(pk=started.pk)


def test_a_scan_whose_worker_died_waits_for_the_lease(sandbox_org: Organization) -> None:
    dead = kill_mid_scan(sandbox_org, after_calls=5)
    with pytest.raises(leases.ScanBusy):
        scans.scan_advance(scan_id=dead.pk)


def test_a_scan_whose_worker_died_carries_on_from_its_row(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    dead = kill_mid_scan(sandbox_org, after_calls=5)  # in the last pass over the tasks
    assert dead.phase == ScanPhase.ARCHIVED_COMPLETED_TASKS
    Scan.objects.filter(pk=dead.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    sandbox.control("reset", {})
    done = scans.scan_advance(scan_id=dead.pk)
    assert done.state == ScanState.DONE
    assert not any(r["path"].endswith("/runs") for r in sandbox.requests())
    assert {places.TASK_FILE, places.ONEOFF_FILE, places.TEMPLATE_FILE} <= set(
        IndexedFile.objects.filter(gone_at__isnull=True).values_list("key", flat=True)
    )


@pytest.mark.usefixtures("immediate_tasks")
def test_a_task_delivered_twice_scans_once(sandbox: Sandbox, sandbox_org: Organization) -> None:
    started = scans.scan_start(organization=sandbox_org)
    tasks.scan_organization.enqueue(started.pk)
    calls = Scan.objects.get(pk=started.pk).calls_made
    tasks.scan_organization.enqueue(started.pk)
    done = Scan.objects.get(pk=started.pk)
    assert (done.state, done.calls_made) == (ScanState.DONE, calls)


def test_a_generated_organization_is_indexed_whole(sandbox: Sandbox, db: None) -> None:
    org_id, token = generate_organization(sandbox.server.store, runs=120, files=360)
    organization = make_organization(
        base_url=sandbox.base_url, org_id=org_id, token=token, name="Generated"
    )
    done = scan(organization)
    stored = sandbox.server.store.query(
        "SELECT COUNT(*) AS n FROM assets WHERE org_id = ? AND deleted_at IS NULL", (org_id,)
    )[0]["n"]
    assert IndexedFile.objects.filter(organization=organization, is_link=False).count() == stored
    assert (done.runs_read, done.runs_total) == (120, 120)


def test_the_command_scans_and_prints_progress(
    sandbox_org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("scan_files", organization=sandbox_org.name)
    out = capsys.readouterr().out
    assert "files found" in out
    assert "done" in out


@pytest.mark.usefixtures("immediate_tasks")
def test_the_command_hands_the_scan_to_the_workers(
    sandbox_org: Organization,
    capsys: pytest.CaptureFixture[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        call_command("scan_files", organization=sandbox_org.org_id, background=True)
    assert Scan.objects.get().state == ScanState.DONE
