"""The rules that ask Tallyfy (a guest's tasks) or read kick-off forms, and the index refreshed
before a search; Tallyfy is mocked (tests/erasure/test_discovery_sandbox.py has the real
sandbox)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import AttachedTo, Scan, ScanState
from erasure.discovery import KICKOFF_NOT_SEARCHABLE, discoveries_resume, erasure_request_discover
from erasure.models import (
    Discovery,
    Finding,
    RequestEvent,
    RequestState,
    Rule,
    RuleSearch,
    SearchOutcome,
)
from organizations.models import Organization
from tests.erasure.conftest import (
    SUBJECT_EMAIL,
    TASK_LISTS,
    index_completed,
    make_request,
)
from tests.fixtures.accounts import signed_in
from tests.fixtures.catalog import index_file

TASK_ID = "7a" * 16
RUN_ID = "7b" * 16


def task_page(*tasks: dict[str, object]) -> dict[str, object]:
    return {"data": list(tasks), "meta": {"pagination": {"total": len(tasks), "links": {}}}}


def guest_task(task_id: str, *guests: str, run_id: str = RUN_ID) -> dict[str, object]:
    return {
        "id": task_id,
        "run_id": run_id,
        "is_oneoff_task": False,
        "owners": {"users": [], "groups": [], "guests": list(guests)},
    }


def by_rule(rule: Rule) -> set[str]:
    return set(Finding.objects.filter(rule=rule).values_list("file_name", flat=True))


def search_of(rule: Rule) -> RuleSearch:
    return RuleSearch.objects.get(rule=rule)


@pytest.mark.usefixtures("fresh_index")
def test_files_on_the_subject_s_guest_tasks_are_found(
    organization: Organization, handler: User, http: responses.RequestsMock
) -> None:
    index_file(organization, "brief.pdf", task_id=TASK_ID, uploader_email="staff@acme.com")
    index_file(organization, "other task.pdf", task_id="7c" * 16, uploader_email="staff@acme.com")
    tasks = http.add(responses.GET, TASK_LISTS, json=task_page(guest_task(TASK_ID, SUBJECT_EMAIL)))
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    assert by_rule(Rule.ON_GUEST_TASK) == {"brief.pdf"}
    assert search_of(Rule.ON_GUEST_TASK).outcome == SearchOutcome.SEARCHED
    assert search_of(Rule.ON_GUEST_TASK).found == 1
    asked = [call.request.url for call in http.calls]
    # The organization's lists (open, completed, archived), then the task's run's own list.
    assert sum("/tasks?" in url and "/runs/" not in url for url in asked) == 4
    assert any(f"/runs/{RUN_ID}/tasks?" in url for url in asked)
    assert all("guests=jane.guest%40example.com" in url for url in asked)
    assert tasks.call_count == len(asked)


@pytest.mark.usefixtures("fresh_index", "no_guest_tasks")
def test_no_guest_task_is_searched_none_found(organization: Organization, handler: User) -> None:
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    search = search_of(Rule.ON_GUEST_TASK)
    assert (search.found, search.outcome, search.note) == (0, SearchOutcome.SEARCHED, "")


@pytest.mark.usefixtures("fresh_index")
def test_a_failing_tasks_call_is_reported_not_hidden(
    organization: Organization, handler: User, http: responses.RequestsMock
) -> None:
    index_file(organization, "brief.pdf", task_id=TASK_ID, uploader_email="staff@acme.com")
    http.add(responses.GET, TASK_LISTS, status=503, json={"error": "unavailable"})
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    search = search_of(Rule.ON_GUEST_TASK)
    assert search.outcome == SearchOutcome.INCOMPLETE
    assert search.found == 0
    assert search.note.startswith("Could not be completed")
    assert SUBJECT_EMAIL not in search.note
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW  # the other rules' findings are there to review
    url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    page = signed_in(handler).get(url).content.decode()
    row = page[page.index(Rule.ON_GUEST_TASK.label) :].split("</tr>")[0]
    assert "Could not be completed" in row
    assert "none found" not in row


@pytest.mark.usefixtures("fresh_index")
def test_a_list_that_ignores_the_guest_filter_is_not_taken_for_the_guest_s(
    organization: Organization, handler: User, http: responses.RequestsMock
) -> None:
    index_file(organization, "brief.pdf", task_id=TASK_ID, uploader_email="staff@acme.com")
    everyone = task_page(guest_task(TASK_ID, SUBJECT_EMAIL), guest_task("7d" * 16, "x@y.example"))
    http.add(responses.GET, TASK_LISTS, json=everyone)
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    search = search_of(Rule.ON_GUEST_TASK)
    assert search.outcome == SearchOutcome.INCOMPLETE
    assert "ignored the guests filter" in search.note
    assert not by_rule(Rule.ON_GUEST_TASK)


@pytest.mark.usefixtures("fresh_index", "no_guest_tasks")
def test_files_of_a_kick_off_form_the_subject_uploaded_to(
    organization: Organization, handler: User
) -> None:
    form = {"attached_to": AttachedTo.RUN, "run_id": "k1"}
    index_file(organization, "form id.pdf", uploader_email=SUBJECT_EMAIL, **form)
    index_file(organization, "form cv.pdf", uploader_email="staff@acme.com", **form)
    index_file(organization, "form photo.png", **form)  # unknown uploader: a candidate
    index_file(
        organization, "task file.pdf", uploader_email="staff@acme.com", run_id="k1", task_id="t"
    )
    index_file(organization, "elsewhere.pdf", uploader_email="staff@acme.com", run_id="k2")
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    assert by_rule(Rule.KICKOFF_WITH_SUBJECT_UPLOAD) == {"form cv.pdf"}
    assert by_rule(Rule.UNKNOWN_UPLOADER_NEARBY) == {"form photo.png"}
    submitted = search_of(Rule.KICKOFF_SUBMITTED)
    assert (submitted.outcome, submitted.note) == (
        SearchOutcome.NOT_SEARCHABLE,
        KICKOFF_NOT_SEARCHABLE,
    )
    url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    page = signed_in(handler).get(url).content.decode()
    row = page[page.index(Rule.KICKOFF_SUBMITTED.label) :].split("</tr>")[0]
    assert "Not searchable" in row
    assert "none found" not in row


@pytest.mark.usefixtures("fresh_index", "no_guest_tasks")
def test_no_kick_off_form_of_the_subject_is_searched_none_found(
    organization: Organization, handler: User
) -> None:
    index_file(organization, "form cv.pdf", uploader_email="staff@acme.com", run_id="k1")
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    search = search_of(Rule.KICKOFF_WITH_SUBJECT_UPLOAD)
    assert (search.found, search.outcome) == (0, SearchOutcome.SEARCHED)


@pytest.mark.usefixtures("no_guest_tasks")
def test_an_old_index_is_refreshed_first_and_the_sweep_searches_after(
    organization: Organization, handler: User, settings: object
) -> None:
    settings.ERASURE_INDEX_MAX_AGE_SECONDS = 3600
    old = index_completed(organization, ago=timedelta(hours=2))
    index_file(organization, "passport.pdf", uploader_email=SUBJECT_EMAIL)
    request = make_request(organization=organization, by=handler)
    assert erasure_request_discover(request=request, by=handler) is None
    request.refresh_from_db()
    assert request.state == RequestState.DISCOVERING
    scan = Scan.objects.exclude(pk=old.pk).get(organization=organization, run_id="")
    assert scan.state == ScanState.QUEUED
    assert "being refreshed" in RequestEvent.objects.filter(request=request).last().note
    history = RequestEvent.objects.filter(request=request).count()
    assert discoveries_resume() == []  # waits while the scan runs, quietly
    assert not Discovery.objects.exists()
    assert RequestEvent.objects.filter(request=request).count() == history
    assert Scan.objects.filter(organization=organization).count() == 2
    Scan.objects.filter(pk=scan.pk).update(state=ScanState.DONE, finished_at=scan.created_at)
    (made,) = discoveries_resume()
    discovery = Discovery.objects.get(pk=made)
    assert discovery.index_note == ""
    assert discovery.by == handler
    assert by_rule(Rule.UPLOADED_BY_SUBJECT) == {"passport.pdf"}
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW
    assert discoveries_resume() == []


@pytest.mark.usefixtures("no_guest_tasks")
def test_a_recent_index_is_searched_at_once(
    organization: Organization, handler: User, settings: object
) -> None:
    settings.ERASURE_INDEX_MAX_AGE_SECONDS = 3600
    index_completed(organization, ago=timedelta(minutes=30))
    request = make_request(organization=organization, by=handler)
    assert erasure_request_discover(request=request, by=handler) is not None
    assert Scan.objects.filter(organization=organization).count() == 1


def test_a_lost_refresh_is_started_again_by_the_sweep(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    assert erasure_request_discover(request=request, by=handler) is None
    Scan.objects.all().delete()  # as if the scan's start was lost
    assert discoveries_resume() == []
    assert Scan.objects.filter(organization=organization, state=ScanState.QUEUED).count() == 1
