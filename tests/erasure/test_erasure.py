"""From review to receipt over the sandbox: sent for approval, approved by a second person,
erased by a deletion job decided in advance, followed to its end, and a signed receipt that
the standalone script verifies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from erasure import approval, following, receipts
from erasure.discovery import erasure_request_discover
from erasure.models import Decision, ErasureRequest, Finding, RequestEvent, RequestState
from erasure.outcomes import Outcome, file_outcomes
from erasure.review import finding_decide
from evidence.checkpoints import signer_new
from evidence.models import Event
from jobs import work
from jobs.models import DeletionJob, JobState
from organizations.models import Organization, OrganizationAccess
from tests.accounts.conftest import signed_in_with_app
from tests.accounts.test_sudo import age_second_factor
from tests.erasure.conftest import (
    HANDLING,
    SUBJECT_EMAIL,
    index_completed,
    make_erasure_staff,
    make_request,
    with_perms,
)
from tests.fixtures.accounts import signed_in
from tests.fixtures.catalog import index_file
from tests.fixtures.jobs import deletes_sent
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def in_review(sandbox: Sandbox, org: Organization, by: User, names: list[str]) -> ErasureRequest:
    """A request whose discovery found one sandbox file per name, uploaded by the subject."""
    for name in names:
        asset = sandbox.add_file(filename=name)
        index_file(
            org, name, key=asset.asset_id, asset_id=asset.asset_id, uploader_email=SUBJECT_EMAIL
        )
    index_completed(org)
    request = make_request(organization=org, by=by)
    erasure_request_discover(request=request, by=by)
    request.refresh_from_db()
    return request


def keep_all(request: ErasureRequest, by: User) -> None:
    for finding in Finding.objects.filter(discovery__request=request):
        finding_decide(finding=finding, decision=Decision.KEEP, by=by)


def run_jobs(request: ErasureRequest) -> None:
    for erasure_job in request.jobs.all():
        while work.job_work(job_id=erasure_job.job_id):
            pass


def approved(sandbox: Sandbox, org: Organization, sender: User, checker: User, names: list[str]):
    request = in_review(sandbox, org, sender, names)
    keep_all(request, sender)
    approval.erasure_request_send(request=request, by=sender)
    job = approval.erasure_request_approve(request=request, by=checker)
    request.refresh_from_db()
    return request, job


def test_a_request_goes_from_review_to_completed_with_every_file_deleted(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request, job = approved(sandbox, sandbox_org, sender, checker, ["a.pdf", "b.pdf"])
    assert request.state == RequestState.ERASING
    assert (request.sent_by, request.approved_by) == (sender, checker)
    assert (job.created_by, job.approved_by, job.state) == (sender, checker, JobState.PREVIEWING)
    assert job.reason.startswith("Erasure request TICKET-1")
    run_jobs(request)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED
    assert sorted(deletes_sent(sandbox)) == sorted(o.asset_id for o in file_outcomes(request))
    assert following.erasure_requests_follow() == [request.pk]
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED
    assert request.ended_at is not None
    last = RequestEvent.objects.filter(request=request).last()
    assert (last.to_state, last.by) == (RequestState.COMPLETED, None)
    decided = Event.objects.filter(object_type="deletion_job", object_id=str(job.pk))
    assert sorted(decided.values_list("action", flat=True)) == ["job_approved", "job_confirmed"]


def test_the_approval_is_a_second_persons(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf"])
    keep_all(request, sender)
    approval.erasure_request_send(request=request, by=sender)
    both = with_perms(sender, "jobs.approve_deletionjob")
    with pytest.raises(ValidationError, match="Nobody approves a request they sent"):
        approval.erasure_request_approve(request=request, by=both)
    onlooker = make_erasure_staff("onlooker2", *HANDLING, "handle_erasurerequest")
    with pytest.raises(ValidationError, match="may approve deletion jobs"):
        approval.erasure_request_approve(request=request, by=onlooker)
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_APPROVAL
    assert not DeletionJob.objects.exists()


def test_an_undecided_file_keeps_the_request_in_review(
    sandbox: Sandbox, sandbox_org: Organization, sender: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf", "b.pdf"])
    first = Finding.objects.filter(discovery__request=request).first()
    finding_decide(finding=first, decision=Decision.KEEP, by=sender)
    with pytest.raises(ValidationError, match="1 file"):
        approval.erasure_request_send(request=request, by=sender)
    request.refresh_from_db()
    assert request.state == RequestState.REVIEW


def test_a_failed_file_keeps_the_request_open_until_retried(
    sandbox: Sandbox,
    sandbox_org: Organization,
    sender: User,
    checker: User,
    settings: SettingsWrapper,
) -> None:
    settings.JOBS_PREVIEW_ATTEMPTS = 1
    request, job = approved(sandbox, sandbox_org, sender, checker, ["a.pdf"])
    sandbox.faults(unavailable_next=1000)  # the preview cannot read the file
    run_jobs(request)
    sandbox.faults(unavailable_next=0)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert following.erasure_requests_follow() == []
    request.refresh_from_db()
    assert request.state == RequestState.ERASING
    (outcome,) = file_outcomes(request)
    assert outcome.outcome == Outcome.FAILED
    flaky = outcome.asset_id
    running = following.jobs_running(request)
    assert following.retry_problems(request, outcomes=file_outcomes(request), running=running) == []
    with pytest.raises(ValidationError, match="approver cannot start"):
        following.erasure_request_retry_failed(
            request=request, by=with_perms(checker, "files.lookup_file", "files.delete_file")
        )
    retry = following.erasure_request_retry_failed(request=request, by=sender)
    assert list(retry.files.values_list("asset_id", flat=True)) == [flaky]
    run_jobs(request)
    assert following.erasure_requests_follow() == [request.pk]
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED
    assert {o.outcome for o in file_outcomes(request)} == {Outcome.DELETED}


def test_the_signed_receipt_verifies_and_an_edited_one_does_not(
    sandbox: Sandbox,
    sandbox_org: Organization,
    sender: User,
    checker: User,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    key = signer_new("panel-test")
    settings.EVIDENCE_SIGNING_KEY = key.text()
    request, _ = approved(sandbox, sandbox_org, sender, checker, ["a.pdf"])
    run_jobs(request)
    following.erasure_requests_follow()
    response = signed_in(sender).get(
        reverse("admin:erasure_request_receipt_json", args=[request.pk])
    )
    assert response.status_code == 200
    document = json.loads(response.content)
    receipt = document["receipt"]
    assert receipt["request"]["subject"] == "j***@example.com"
    assert SUBJECT_EMAIL not in response.content.decode()
    assert [f["outcome"] for f in receipt["files"]] == [Outcome.DELETED.label]
    assert receipt["files"][0]["tallyfy_request_id"]
    assert "35 days" in receipt["notice"]
    searched = {rule["rule"]: rule["searched"] for rule in receipt["searched"]["rules"]}
    assert searched["uploaded by the subject"] == "searched"
    assert searched["in a kick-off form the subject submitted"] == "not searchable"
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document))
    script = [sys.executable, str(ROOT / "scripts/verify_receipt.py"), str(path)]
    ok = subprocess.run([*script, "--key", key.verifier.text()], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    assert "intact" in ok.stdout
    document["receipt"]["files"][0]["outcome"] = "deleted "
    path.write_text(json.dumps(document))
    edited = subprocess.run([*script, "--key", key.verifier.text()], capture_output=True, text=True)
    assert edited.returncode == 1
    assert "changed after it was signed" in edited.stdout
    other = signer_new("someone-else").verifier.text()
    request.refresh_from_db()
    path.write_text(json.dumps(receipts.receipt_file(request)))
    wrong_key = subprocess.run([*script, "--key", other], capture_output=True, text=True)
    assert wrong_key.returncode == 1


def test_the_page_walks_a_handler_and_an_approver_through_it(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf"])
    keep_all(request, sender)
    page = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    as_sender, as_checker = signed_in(sender), signed_in(checker)
    assert "Send for approval" in as_sender.get(page).content.decode()
    send = reverse("admin:erasure_request_send", args=[request.pk])
    assert as_sender.get(send).status_code == 405
    as_sender.post(send)
    content = as_sender.get(page).content.decode()
    assert "not you, who sent it" in content
    assert "Approve and delete" not in content
    assert "Approve and delete 1 file" in as_checker.get(page).content.decode()
    as_checker.post(reverse("admin:erasure_request_approve", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == RequestState.ERASING
    run_jobs(request)
    following.erasure_requests_follow()
    content = as_sender.get(page).content.decode()
    assert "1 of 1 file gone" in content
    receipt = as_sender.get(reverse("admin:erasure_request_receipt", args=[request.pk]))
    assert receipt.status_code == 200
    assert "a.pdf" in receipt.content.decode()
    assert "35 days" in receipt.content.decode()


def test_the_subject_email_is_in_no_log_line_from_intake_to_receipt(
    sandbox: Sandbox,
    sandbox_org: Organization,
    sender: User,
    checker: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    request, _ = approved(sandbox, sandbox_org, sender, checker, ["a.pdf"])
    run_jobs(request)
    following.erasure_requests_follow()
    request.refresh_from_db()
    signed_in(sender).get(reverse("admin:erasure_request_receipt", args=[request.pk]))
    assert caplog.records
    assert not [r for r in caplog.records if SUBJECT_EMAIL in r.getMessage()]


def test_a_user_who_does_not_reach_the_organization_cannot_approve_or_read_the_receipt(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf"])
    keep_all(request, sender)
    approval.erasure_request_send(request=request, by=sender)
    OrganizationAccess.objects.filter(user=checker).update(all_organizations=False)
    client = signed_in(checker)
    for name in ("approve", "send_back"):
        response = client.post(reverse(f"admin:erasure_request_{name}", args=[request.pk]))
        assert response.status_code == 404
    assert (
        client.get(reverse("admin:erasure_request_receipt", args=[request.pk])).status_code == 404
    )
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_APPROVAL


def test_the_admin_index_lists_requests_awaiting_approval_to_approvers_only(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf"])
    keep_all(request, sender)
    approval.erasure_request_send(request=request, by=sender)
    listed = signed_in(checker).get(reverse("admin:index")).content.decode()
    assert "Erasure requests awaiting your approval" in listed
    assert "sent by sender" in listed
    own = signed_in(sender).get(reverse("admin:index")).content.decode()
    assert "awaiting your approval" not in own


def test_approving_with_a_stale_second_factor_asks_for_it_again_first(
    sandbox: Sandbox, sandbox_org: Organization, sender: User, checker: User
) -> None:
    request = in_review(sandbox, sandbox_org, sender, ["a.pdf"])
    keep_all(request, sender)
    approval.erasure_request_send(request=request, by=sender)
    client, _ = signed_in_with_app(checker)
    age_second_factor(client, 16 * 60)
    asked = client.post(reverse("admin:erasure_request_approve", args=[request.pk]))
    assert asked["Location"].startswith(reverse("admin:accounts_sudo"))
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_APPROVAL
    assert not request.jobs.exists()
