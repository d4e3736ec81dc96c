"""Discovery over the sandbox: an index never completed is scanned first, then the sweep
searches it, the guest's tasks read from the sandbox's task lists."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from catalog import scans
from catalog.models import Scan, ScanState
from erasure.discovery import discoveries_resume, erasure_request_discover
from erasure.models import Finding, RequestState, Rule, RuleSearch, SearchOutcome
from organizations.models import Organization
from sandbox import places
from tests.erasure.conftest import make_request
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("queued_tasks")
def test_the_demo_guest_s_tasks_are_searched_after_the_index_is_refreshed(
    sandbox: Sandbox, sandbox_org: Organization, handler: User
) -> None:
    request = make_request(organization=sandbox_org, by=handler, emails=[places.GUEST_EMAIL])
    assert erasure_request_discover(request=request, by=handler) is None
    scan = Scan.objects.get(organization=sandbox_org)
    assert discoveries_resume() == []
    assert scans.scan_advance(scan_id=scan.pk).state == ScanState.DONE
    (made,) = discoveries_resume()
    on_tasks = Finding.objects.filter(discovery_id=made, rule=Rule.ON_GUEST_TASK)
    assert {finding.asset_id for finding in on_tasks} == {
        places.TASK_FILE,
        places.COMMENT_FILE,
        places.ONEOFF_FILE,  # uploaded by a member to the guest's one-off task
    }
    search = RuleSearch.objects.get(discovery_id=made, rule=Rule.ON_GUEST_TASK)
    assert (search.found, search.outcome) == (3, SearchOutcome.SEARCHED)
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW


@pytest.mark.usefixtures("queued_tasks")
def test_a_guest_tasks_call_the_sandbox_fails_is_reported(
    sandbox: Sandbox, sandbox_org: Organization, handler: User
) -> None:
    request = make_request(organization=sandbox_org, by=handler, emails=[places.GUEST_EMAIL])
    erasure_request_discover(request=request, by=handler)
    scans.scan_advance(scan_id=Scan.objects.get(organization=sandbox_org).pk)
    sandbox.faults(unavailable_share=1.0)
    (made,) = discoveries_resume()
    search = RuleSearch.objects.get(discovery_id=made, rule=Rule.ON_GUEST_TASK)
    assert search.outcome == SearchOutcome.INCOMPLETE
    assert places.GUEST_EMAIL not in search.note
    assert not Finding.objects.filter(discovery_id=made, rule=Rule.ON_GUEST_TASK).exists()
    assert Finding.objects.filter(discovery_id=made, rule=Rule.UPLOADED_BY_SUBJECT).exists()
