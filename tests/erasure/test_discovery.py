from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from catalog.models import Scan, ScanState
from erasure.discovery import discoveries_resume, erasure_request_discover
from erasure.models import (
    Discovery,
    ErasureRequest,
    Finding,
    RequestEvent,
    RequestState,
    Rule,
    RuleSearch,
)
from organizations.models import Organization
from tests.erasure.conftest import SUBJECT_EMAIL, make_request
from tests.fixtures.accounts import signed_in
from tests.fixtures.catalog import index_file


@pytest.fixture
def indexed(organization: Organization) -> None:
    index_file(
        organization,
        "passport.pdf",
        uploader_email=SUBJECT_EMAIL,
        run_id="r1",
        run_name="Onboarding",
    )
    index_file(
        organization,
        "cv.pdf",
        uploader_email="Jane.Guest@example.com",
        uploader_inferred=True,
        task_id="t1",
    )
    index_file(organization, f"notes about {SUBJECT_EMAIL}.txt", uploader_email="staff@acme.com")
    index_file(organization, "Jane Guest contract.docx", uploader_email="staff@acme.com")
    index_file(organization, "unknown.png", run_id="r1")
    index_file(organization, "video link", run_id="r1", uploader_email=SUBJECT_EMAIL, is_link=True)
    index_file(organization, "old.pdf", uploader_email=SUBJECT_EMAIL, gone_at=timezone.now())
    index_file(organization, "someone else.pdf", uploader_email="other@example.com", run_id="r2")


def found(discovery_findings: object) -> dict[str, set[str]]:
    by_rule: dict[str, set[str]] = {}
    for finding in Finding.objects.all():
        by_rule.setdefault(finding.rule, set()).add(finding.file_name)
    return by_rule


@pytest.mark.usefixtures("fresh_index", "no_guest_tasks")
def test_each_rule_finds_its_files_and_says_what_it_searched(
    organization: Organization, handler: User, indexed: None
) -> None:
    request = make_request(organization=organization, by=handler)
    discovery = erasure_request_discover(request=request, by=handler)
    assert found(discovery) == {
        Rule.UPLOADED_BY_SUBJECT: {"passport.pdf", "video link"},
        Rule.UPLOADED_BY_SUBJECT_INFERRED: {"cv.pdf"},
        Rule.NAME_HOLDS_EMAIL: {f"notes about {SUBJECT_EMAIL}.txt"},
        Rule.NAME_HOLDS_NAME: {"Jane Guest contract.docx"},
        Rule.UNKNOWN_UPLOADER_NEARBY: {"unknown.png"},
    }
    assert Finding.objects.get(file_name="video link").is_link
    assert Finding.objects.get(file_name="unknown.png").is_candidate
    assert not Finding.objects.get(file_name="passport.pdf").is_candidate
    counts = dict(RuleSearch.objects.values_list("rule", "found"))
    assert counts[Rule.UPLOADED_BY_SUBJECT] == 2
    assert "j***@example.com" in set(RuleSearch.objects.values_list("searched_for", flat=True))
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW
    moves = list(RequestEvent.objects.filter(request=request).values_list("to_state", flat=True))
    assert moves == [RequestState.RECEIVED, RequestState.DISCOVERING, RequestState.REVIEW]


@pytest.mark.usefixtures("no_guest_tasks")
def test_none_found_is_recorded_per_rule_with_what_the_index_lacks(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler, emails=["nobody@example.com"])
    assert erasure_request_discover(request=request, by=handler) is None  # never indexed
    Scan.objects.filter(organization=organization).update(
        state=ScanState.FAILED, finished_at=timezone.now(), last_error="Tallyfy answered 503."
    )
    (made,) = discoveries_resume()
    discovery = Discovery.objects.get(pk=made)
    assert set(RuleSearch.objects.values_list("found", flat=True)) == {0}
    assert RuleSearch.objects.count() == 8
    assert "never completed" in discovery.index_note
    assert "failed: Tallyfy answered 503" in discovery.index_note
    Scan.objects.create(organization=organization, state=ScanState.DONE, finished_at=timezone.now())
    request.refresh_from_db()
    again = erasure_request_discover(request=request, by=handler)
    assert again is not None
    assert again.index_note == ""
    assert again.index_completed_at is not None
    url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    assert "searched, none found" in signed_in(handler).get(url).content.decode()


def test_discovery_is_refused_once_approval_is_asked(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    request.state = RequestState.AWAITING_APPROVAL
    request.save(update_fields=["state"])
    with pytest.raises(ValidationError):
        erasure_request_discover(request=request, by=handler)
    assert not RuleSearch.objects.exists()


@pytest.mark.usefixtures("fresh_index", "no_guest_tasks")
def test_findings_on_the_page_for_handlers_only(
    organization: Organization, handler: User, onlooker: User, indexed: None
) -> None:
    request = make_request(organization=organization, by=handler)
    changelist = reverse("admin:erasure_erasurerequest_changelist")
    response = signed_in(handler).post(
        changelist, {"action": "discover", "_selected_action": [str(request.pk)]}
    )
    assert response.status_code == 302
    url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    page = signed_in(handler).get(url).content.decode()
    assert "passport.pdf" in page
    assert "candidate: may not be the subject" in page
    assert "a link: nothing to delete" in page
    onlooker_page = signed_in(onlooker).get(url).content.decode()
    assert "passport.pdf" not in onlooker_page
    assert SUBJECT_EMAIL not in onlooker_page


def test_a_subject_the_keys_cannot_read_is_a_clear_error(
    organization: Organization, handler: User, settings: object
) -> None:
    request = make_request(organization=organization, by=handler)
    ErasureRequest.objects.filter(pk=request.pk).update(subject_ciphertext="gAAAAA-not-ours")
    request.refresh_from_db()
    with pytest.raises(ValidationError, match="cannot be decrypted"):
        erasure_request_discover(request=request, by=handler)
    request.refresh_from_db()
    assert request.state == RequestState.RECEIVED
    url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    assert "cannot be decrypted" in signed_in(handler).get(url).content.decode()
