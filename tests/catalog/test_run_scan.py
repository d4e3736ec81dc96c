"""Scans of one process run: the engine's rules, the in-request scan and the pages that lead
to it from a pasted run or task URL, with Tallyfy's answers mocked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from catalog import process_run_scans, scans
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from catalog.uploaders import NAMED, UNKNOWN_NOT_NAMED
from organizations.models import Organization
from tests.fixtures.accounts import reach_all
from tests.fixtures.catalog import index_file
from tests.fixtures.organizations import BASE_URL, ORG_ID

ROOT = f"{BASE_URL}/organizations/{ORG_ID}"
RUN_ID = "a1" * 16
OTHER_RUN = "b2" * 16
TASK_ID = "a3" * 16
KICKOFF_FILE = "c0" * 16
TASK_FILE = "c1" * 16
CHANGELIST = reverse("admin:catalog_indexedfile_changelist")
RUN_PAGE = reverse("admin:catalog_scan_process_run")


def listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "meta": {"pagination": {"total": len(items), "links": []}}}


def mock_run(http: responses.RequestsMock, *, archived: bool = False) -> None:
    value = {"id": KICKOFF_FILE, "filename": "contract.pdf", "url": "x"}
    run = {
        "id": RUN_ID,
        "name": "Onboarding: Jane Doe",
        "status": "active",
        "archived_at": "2025-01-01T00:00:00Z" if archived else None,
        "prerun": {"contract": [value]},
    }
    task = {
        "id": TASK_ID,
        "title": "Collect ID",
        "taskdata": {"id_scan": [{"id": TASK_FILE, "filename": "id.jpg", "url": "x"}]},
    }
    http.get(f"{ROOT}/runs/{RUN_ID}", json={"data": run})
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", json=listing([task]))
    upload = {
        "verb": "uploaded",
        "actor_email": "jane@example.com",
        "actor_type": "guest",
        "auditable_type": "App\\Models\\Asset",
        "auditable_id": TASK_FILE,
    }
    feed = [
        matchers.query_param_matcher(
            {"entity_type": "run", "entity_id": RUN_ID}, strict_match=False
        )
    ]
    http.get(f"{ROOT}/activity-feeds", match=feed, json=listing([upload]))


def run_scan(organization: Organization, run_id: str = RUN_ID) -> Scan:
    return scans.scan_start(organization=organization, run_id=run_id)


# --- the engine ---


def test_a_run_scan_indexes_the_runs_files_and_its_tasks(
    http: responses.RequestsMock, organization: Organization
) -> None:
    mock_run(http)
    done = scans.scan_advance(scan_id=run_scan(organization).pk)
    kickoff = IndexedFile.objects.get(key=KICKOFF_FILE)
    task_file = IndexedFile.objects.get(key=TASK_FILE)
    assert (done.state, done.runs_read, done.runs_total, done.files_found) == (
        ScanState.DONE,
        1,
        1,
        2,
    )
    assert (kickoff.attached_to, kickoff.run_name) == (AttachedTo.RUN, "Onboarding: Jane Doe")
    assert (task_file.attached_to, task_file.task_id) == (AttachedTo.TASK, TASK_ID)
    # The run's feed, asked once, names the task's file and not the kick-off's.
    assert (task_file.uploader_email, task_file.uploader_note) == ("jane@example.com", NAMED)
    assert (kickoff.uploader_email, kickoff.uploader_note) == ("", UNKNOWN_NOT_NAMED)
    assert done.uploader_lookups == 1


def test_a_run_scan_knows_an_archived_run(
    http: responses.RequestsMock, organization: Organization
) -> None:
    mock_run(http, archived=True)
    scans.scan_advance(scan_id=run_scan(organization).pk)
    assert IndexedFile.objects.get(key=KICKOFF_FILE).run_status == "archived"


def test_a_run_scan_marks_gone_only_files_of_its_run(
    http: responses.RequestsMock, organization: Organization
) -> None:
    mock_run(http)
    removed = index_file(organization, "removed.pdf", run_id=RUN_ID)
    elsewhere = index_file(organization, "elsewhere.pdf", run_id=OTHER_RUN)
    template = index_file(organization, "handbook.pdf", attached_to=AttachedTo.TEMPLATE)
    http.get(f"{ROOT}/assets/{removed.asset_id}", status=404, json={"message": "Not found"})
    done = scans.scan_advance(scan_id=run_scan(organization).pk)
    removed.refresh_from_db()
    assert (done.files_gone, removed.gone_at is not None) == (1, True)
    assert not IndexedFile.objects.filter(pk__in=[elsewhere.pk, template.pk], gone_at__isnull=False)


def test_a_whole_scan_keeps_files_another_scan_saw_while_it_ran(
    http: responses.RequestsMock, organization: Organization
) -> None:
    started = timezone.now() - timedelta(minutes=10)
    seen_meanwhile = index_file(organization, "seen.pdf", last_seen=timezone.now())
    unseen = index_file(organization, "unseen.pdf", last_seen=started - timedelta(days=1))
    http.get(f"{ROOT}/assets/{unseen.asset_id}", status=404, json={"message": "Not found"})
    scan = Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        phase=ScanPhase.FINISHING,
        started_at=started,
    )
    scans.scan_advance(scan_id=scan.pk)
    gone = set(IndexedFile.objects.filter(gone_at__isnull=False).values_list("pk", flat=True))
    assert gone == {unseen.pk}
    assert seen_meanwhile.pk not in gone


def test_a_run_scan_of_a_run_tallyfy_does_not_have_fails(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}", status=404, json={"message": "Resource not found"})
    kept = index_file(organization, "kept.pdf", run_id=RUN_ID)
    done = scans.scan_advance(scan_id=run_scan(organization).pk)
    kept.refresh_from_db()
    assert (done.state, kept.gone_at) == (ScanState.FAILED, None)
    assert RUN_ID in done.last_error


def test_a_run_scan_does_not_read_the_feed_since_the_last_whole_scan(
    organization: Organization,
) -> None:
    Scan.objects.create(
        organization=organization,
        run_id=OTHER_RUN,
        state=ScanState.DONE,
        started_at=timezone.now(),
    )
    assert scans.scan_start(organization=organization).uploads_since is None


# --- one unfinished scan per organization, and per run ---


def unfinished(organization: Organization, run_id: str = "") -> Scan:
    return Scan.objects.create(organization=organization, run_id=run_id, state=ScanState.RUNNING)


def test_two_unfinished_scans_of_one_run_are_refused(organization: Organization) -> None:
    unfinished(organization, RUN_ID)
    with pytest.raises(IntegrityError), transaction.atomic():
        unfinished(organization, RUN_ID)


def test_two_unfinished_whole_scans_are_refused(organization: Organization) -> None:
    unfinished(organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        unfinished(organization)


def test_a_run_scan_and_a_whole_scan_run_side_by_side(organization: Organization) -> None:
    unfinished(organization)
    unfinished(organization, RUN_ID)
    unfinished(organization, OTHER_RUN)
    assert Scan.objects.filter(state=ScanState.RUNNING).count() == 3


def test_starting_a_run_scan_carries_on_that_runs_scan_only(organization: Organization) -> None:
    whole = scans.scan_start(organization=organization)
    first = run_scan(organization)
    assert (run_scan(organization).pk, first.phase) == (first.pk, ScanPhase.RUN)
    assert scans.scan_start(organization=organization).pk == whole.pk != first.pk


# --- scanning a run in the request ---


def test_scanning_a_run_now_reads_it_once(
    http: responses.RequestsMock, organization: Organization
) -> None:
    mock_run(http)
    done = process_run_scans.process_run_scan_now(organization=organization, run_id=RUN_ID)
    run_calls = [c for c in http.calls if c.request.path_url.split("?")[0].endswith(RUN_ID)]
    # The run, its tasks, and the run's uploads in the feed.
    assert (done.state, done.calls_made, len(run_calls)) == (ScanState.DONE, 3, 1)


def test_scanning_a_run_tallyfy_does_not_have_writes_nothing(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}", status=404, json={"message": "Resource not found"})
    with pytest.raises(process_run_scans.ProcessRunNotFound, match="no process run"):
        process_run_scans.process_run_scan_now(organization=organization, run_id=RUN_ID)
    assert (Scan.objects.count(), IndexedFile.objects.count()) == (0, 0)


@pytest.mark.usefixtures("queued_tasks")
def test_a_rate_limited_run_is_handed_to_the_workers(
    http: responses.RequestsMock,
    organization: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 0.1
    http.get(f"{ROOT}/runs/{RUN_ID}", status=429, headers={"Retry-After": "20"}, json={})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan = process_run_scans.process_run_scan_now(organization=organization, run_id=RUN_ID)
    assert (scan.state, scan.run_id, len(callbacks)) == (ScanState.QUEUED, RUN_ID, 1)


@pytest.mark.usefixtures("queued_tasks")
def test_a_run_whose_tasks_fail_is_handed_to_the_workers(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}", json={"data": {"id": RUN_ID, "prerun": {}}})
    http.get(f"{ROOT}/runs/{RUN_ID}/tasks", status=503, json={})
    scan = process_run_scans.process_run_scan_now(organization=organization, run_id=RUN_ID)
    assert (scan.state, scan.phase, scan.lease_owner) == (ScanState.RUNNING, ScanPhase.RUN, "")
    assert scan.last_error


# --- the pages ---


def staff(*codenames: str) -> Client:
    user = User.objects.create_user(username="ops", password="pw-for-tests-only", is_staff=True)
    reach_all(user)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scanner(db: None) -> Client:
    return staff("lookup_file", "view_indexedfile", "view_scan", "add_scan")


def pasted(kind: str = "runs", run_id: str = RUN_ID, tail: str = "") -> dict[str, str]:
    return {"file": f"https://go.tallyfy.com/api/organizations/{ORG_ID}/{kind}/{run_id}{tail}"}


def run_page(organization: Organization, **params: str) -> str:
    return f"{RUN_PAGE}?{urlencode({'organization': organization.pk, **params})}"


def message_texts(response: HttpResponse) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_pasted_run_url_opens_its_files_page(scanner: Client, organization: Organization) -> None:
    response = scanner.get(reverse("admin:files_lookup"), pasted())
    assert response["Location"] == run_page(organization, run_id=RUN_ID)


def test_a_pasted_task_url_keeps_the_run_it_names(
    scanner: Client, organization: Organization
) -> None:
    response = scanner.get(reverse("admin:files_lookup"), pasted(tail=f"/tasks/{TASK_ID}"))
    assert response["Location"] == run_page(organization, task_id=TASK_ID, run_id=RUN_ID)


def test_an_indexed_run_opens_in_the_index_at_once(
    scanner: Client, organization: Organization
) -> None:
    index_file(organization, "in-run.pdf", run_id=RUN_ID)
    index_file(organization, "elsewhere.pdf", run_id=OTHER_RUN)
    response = scanner.get(reverse("admin:files_lookup"), pasted(), follow=True)
    assert [f.file_name for f in response.context["cl"].result_list] == ["in-run.pdf"]
    assert not Scan.objects.exists()


def test_an_indexed_task_opens_filtered_to_the_task(
    scanner: Client, organization: Organization
) -> None:
    index_file(organization, "of-task.pdf", run_id=RUN_ID, task_id=TASK_ID)
    index_file(organization, "of-run.pdf", run_id=RUN_ID)
    response = scanner.get(run_page(organization, task_id=TASK_ID), follow=True)
    assert [f.file_name for f in response.context["cl"].result_list] == ["of-task.pdf"]


def test_a_run_not_indexed_asks_before_scanning(
    scanner: Client, organization: Organization
) -> None:
    page = scanner.get(run_page(organization, run_id=RUN_ID))
    body = page.content.decode()
    assert 'method="post"' in body
    assert "Scan this run and show its files" in body
    assert not Scan.objects.exists()


def test_scanning_the_run_lands_on_its_files(
    http: responses.RequestsMock, scanner: Client, organization: Organization
) -> None:
    mock_run(http)
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID})
    assert (
        response["Location"]
        == f"{CHANGELIST}?organization__id__exact={organization.pk}&run_id={RUN_ID}"
    )
    assert message_texts(response) == [f"Process run {RUN_ID} scanned: 2 files found."]
    assert Scan.objects.get().run_id == RUN_ID


def test_scanning_for_a_task_lands_on_the_tasks_files(
    http: responses.RequestsMock, scanner: Client, organization: Organization
) -> None:
    mock_run(http)
    response = scanner.post(
        RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID, "task_id": TASK_ID}
    )
    listed = scanner.get(response["Location"])
    assert [f.key for f in listed.context["cl"].result_list] == [TASK_FILE]


def test_a_run_tallyfy_does_not_have_is_said_on_the_lookup_page(
    http: responses.RequestsMock, scanner: Client, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}", status=404, json={"message": "Resource not found"})
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID})
    assert response["Location"] == f"{reverse('admin:files_lookup')}?organization={organization.pk}"
    assert "Tallyfy has no process run" in message_texts(response)[0]
    assert (Scan.objects.count(), IndexedFile.objects.count()) == (0, 0)


@pytest.mark.usefixtures("queued_tasks")
def test_a_slow_tallyfy_sends_the_user_to_the_scans_page(
    http: responses.RequestsMock, scanner: Client, organization: Organization, settings: Any
) -> None:
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 0.1
    http.get(f"{ROOT}/runs/{RUN_ID}", status=429, headers={"Retry-After": "20"}, json={})
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID})
    scan = Scan.objects.get()
    assert response["Location"] == reverse("admin:catalog_scan_change", args=[scan.pk])
    page = scanner.get(response["Location"]).content.decode()
    assert "window.location.reload" in page
    assert f"{CHANGELIST}?organization__id__exact={organization.pk}&amp;run_id={RUN_ID}" in page
    assert "Files of this run" in page


def test_a_refused_token_is_said_and_nothing_is_written(
    http: responses.RequestsMock, scanner: Client, organization: Organization
) -> None:
    http.get(f"{ROOT}/runs/{RUN_ID}", status=401, json={"message": "Unauthenticated."})
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID})
    assert "rejected the access token" in message_texts(response)[0]
    assert not Scan.objects.exists()


def test_without_the_add_scan_permission_nothing_is_scanned(organization: Organization) -> None:
    browser = staff("lookup_file", "view_indexedfile", "view_scan")
    response = browser.post(RUN_PAGE, {"organization": organization.pk, "run_id": RUN_ID})
    assert response.status_code == 403
    assert not Scan.objects.exists()


def test_a_run_of_an_organization_not_configured_says_so(scanner: Client, db: None) -> None:
    page = scanner.get(reverse("admin:files_lookup"), pasted())
    assert page.status_code == 200
    assert "not configured here" in page.context["hint"].message


def test_a_task_whose_run_is_unknown_is_not_scanned(
    scanner: Client, organization: Organization
) -> None:
    page = scanner.get(
        reverse("admin:files_lookup"), pasted(kind="tasks", run_id=TASK_ID), follow=True
    )
    assert 'id="task-run-unknown"' in page.content.decode()
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "task_id": TASK_ID})
    assert response.status_code == 200
    assert not Scan.objects.exists()


@pytest.mark.parametrize("bad", ["a b", "../x", "x" * 256])
def test_an_invalid_run_id_is_refused_before_any_call(
    scanner: Client, organization: Organization, bad: str
) -> None:
    response = scanner.post(RUN_PAGE, {"organization": organization.pk, "run_id": bad})
    assert message_texts(response) == ["That is not a valid Tallyfy run or task id."]
    assert not Scan.objects.exists()


def test_the_scans_list_says_which_run(scanner: Client, organization: Organization) -> None:
    run_scan(organization)
    scans.scan_start(organization=organization)
    page = scanner.get(reverse("admin:catalog_scan_changelist")).content.decode()
    assert f"Run {RUN_ID}" in page
    assert "Whole organization" in page
