from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse

from erasure.discovery import erasure_request_discover
from erasure.models import Decision, ErasureRequest, Finding, LeaveOutReason, RequestEvent
from erasure.review import finding_decide
from erasure.services import erasure_request_cancel
from organizations.models import Organization
from tests.erasure.conftest import SUBJECT_EMAIL, make_request
from tests.fixtures.accounts import signed_in
from tests.fixtures.catalog import index_file


@pytest.fixture
def in_review(
    organization: Organization, handler: User, fresh_index: object, no_guest_tasks: object
) -> ErasureRequest:
    index_file(organization, "passport.pdf", uploader_email=SUBJECT_EMAIL, run_id="r1")
    index_file(organization, "unknown.png", run_id="r1")
    index_file(organization, "video", uploader_email=SUBJECT_EMAIL, is_link=True)
    request = make_request(organization=organization, by=handler)
    erasure_request_discover(request=request, by=handler)
    request.refresh_from_db()
    return request


def decide_url(request: ErasureRequest, finding: Finding) -> str:
    return reverse("admin:erasure_finding_decide", args=[request.pk, finding.pk])


def test_links_start_left_out_and_cannot_be_kept(in_review: ErasureRequest, handler: User) -> None:
    link = Finding.objects.get(file_name="video")
    assert (link.decision, link.leave_out_reason) == (Decision.LEAVE_OUT, LeaveOutReason.LINK)
    with pytest.raises(ValidationError, match="never deleted"):
        finding_decide(finding=link, decision=Decision.KEEP, by=handler)
    link.refresh_from_db()
    assert link.decision == Decision.LEAVE_OUT


def test_keep_and_leave_out_on_post_are_recorded(in_review: ErasureRequest, handler: User) -> None:
    client = signed_in(handler)
    kept = Finding.objects.get(file_name="passport.pdf")
    left = Finding.objects.get(file_name="unknown.png")
    page = client.get(reverse("admin:erasure_erasurerequest_change", args=[in_review.pk]))
    assert decide_url(in_review, kept) in page.content.decode()
    assert client.get(decide_url(in_review, kept)).status_code == 405
    client.post(decide_url(in_review, kept), {"decision": "keep"})
    client.post(decide_url(in_review, left), {"decision": "leave_out", "reason": ""})
    left.refresh_from_db()
    assert left.decision == Decision.UNDECIDED  # no reason, no change
    client.post(decide_url(in_review, left), {"decision": "leave_out", "reason": "legal_hold"})
    kept.refresh_from_db()
    left.refresh_from_db()
    assert (kept.decision, kept.decided_by) == (Decision.KEEP, handler)
    assert (left.decision, left.leave_out_reason) == (Decision.LEAVE_OUT, "legal_hold")
    assert RequestEvent.objects.filter(request=in_review, note__contains="legal hold").exists()


def test_no_decision_once_the_request_left_review(in_review: ErasureRequest, handler: User) -> None:
    erasure_request_cancel(request=in_review, reason="Withdrawn.", by=handler)
    finding = Finding.objects.get(file_name="passport.pdf")
    with pytest.raises(ValidationError, match="no longer in review"):
        finding_decide(finding=finding, decision=Decision.KEEP, by=handler)
    finding.refresh_from_db()
    assert finding.decision == Decision.UNDECIDED


def test_old_findings_cannot_be_decided_after_a_new_search(
    in_review: ErasureRequest, handler: User
) -> None:
    old = Finding.objects.get(file_name="passport.pdf")
    erasure_request_discover(request=in_review, by=handler)
    with pytest.raises(ValidationError, match="searched again"):
        finding_decide(finding=old, decision=Decision.KEEP, by=handler)


def test_onlooker_cannot_decide(in_review: ErasureRequest, handler: User, onlooker: User) -> None:
    finding = Finding.objects.get(file_name="passport.pdf")
    response = signed_in(onlooker).post(decide_url(in_review, finding), {"decision": "keep"})
    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.decision == Decision.UNDECIDED
