"""`manage.py erase_subject` against the sandbox: a generated organization of its own per test
(the sandbox's store lives for the whole session), its index scanned by the command, the
request taken by one user and approved by another, the job run in this process."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog import scans
from catalog.models import IndexedFile, Scan, ScanState
from erasure.management.commands.erase_subject import request_admin_path
from erasure.models import (
    Decision,
    Discovery,
    ErasureRequest,
    Finding,
    LeaveOutReason,
    RequestEvent,
    RequestState,
)
from erasure.outcomes import Outcome, file_outcomes
from evidence.models import Event
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from sandbox.places import generate_organization
from tests.erasure.conftest import with_perms
from tests.fixtures.jobs import deletes_sent
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def generated(sandbox: Sandbox) -> Organization:
    org_id, token = generate_organization(sandbox.server.store, runs=12, files=60)
    return make_organization(
        base_url=sandbox.base_url, org_id=org_id, token=token, name=f"Generated {org_id[:6]}"
    )


def guest_files(sandbox: Sandbox, organization: Organization) -> dict[str, list[str]]:
    """Each guest's files still in the sandbox, by the feed's uploads."""
    rows = sandbox.server.store.query(
        "SELECT f.actor_email AS email, f.asset_id AS asset_id FROM feed f JOIN assets a "
        "ON a.asset_id = f.asset_id WHERE f.org_id = ? AND f.verb = 'uploaded' "
        "AND f.actor_type = 'guest' AND a.deleted_at IS NULL",
        (organization.org_id,),
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["email"], []).append(row["asset_id"])
    return found


def busiest_guest(sandbox: Sandbox, organization: Organization) -> tuple[str, list[str]]:
    return max(guest_files(sandbox, organization).items(), key=lambda item: len(item[1]))


def run(*args: str, typed: str | None = None, **kwargs: object) -> tuple[int, str, str]:
    """The command's exit status, stdout and stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("erase_subject", *args, stdout=out, stderr=err, **kwargs)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def intake(organization: Organization, email: str, *extra: str) -> tuple[int, str, str]:
    return run(
        "--organization",
        organization.name,
        "--email",
        email,
        "--reference",
        "DSR-7",
        "--user",
        "sender",
        *extra,
    )


def approve(request: ErasureRequest, *extra: str, user: str = "checker") -> tuple[int, str, str]:
    return run("--approve", str(request.pk), "--user", user, "--worker-wait", "0", *extra)


def indexed_as(organization: Organization, email: str) -> list[str]:
    """The ids of the files the index has as uploaded by `email` (the feed may name only the
    place of an upload, and then not always its file)."""
    found = IndexedFile.objects.filter(organization=organization, uploader_email=email)
    return list(found.values_list("asset_id", flat=True))


def scanned(organization: Organization) -> Scan:
    return scans.scan_advance(scan_id=scans.scan_start(organization=organization).pk)


def test_intake_scans_finds_keeps_and_sends_then_another_user_approves_and_it_completes(
    sandbox: Sandbox, generated: Organization, sender: User, checker: User
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    status, out, err = intake(generated, email, "--candidates", "leave-out")
    assert status == 3, err
    theirs = list(indexed_as(generated, email))
    assert theirs
    assert "was never completed: scan" in out
    assert "done:" in out
    assert "uploaded by the subject (" in out
    assert "searched, none found" in out
    assert email not in err
    request = ErasureRequest.objects.get()
    assert request.state == RequestState.AWAITING_APPROVAL
    assert request.sent_by == sender
    assert request.verification_method == "Attested by sender on the command line (erase_subject)."
    assert f"--approve {request.pk}" in out
    assert f"/erasure/erasurerequest/{request.pk}/" in out
    assert not Finding.objects.filter(decision=Decision.UNDECIDED).exists()

    status, out, err = approve(request, "--yes")
    assert status == 0, err
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED
    assert request.approved_by == checker
    deleted = sorted(deletes_sent(sandbox))
    assert set(theirs) <= set(deleted)
    assert deleted == sorted(o.asset_id for o in file_outcomes(request))
    assert {o.outcome for o in file_outcomes(request)} == {Outcome.DELETED}
    assert FileDeletion.objects.filter(state=DeletionState.DELETED).count() == len(deleted)
    assert f"{len(deleted)} of {len(deleted)} file(s) gone" in out
    assert f"Receipt: /admin/erasure/erasurerequest/{request.pk}/receipt/" in out


def test_candidates_without_a_choice_leave_the_request_in_review(
    sandbox: Sandbox, generated: Organization, sender: User
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    scanned(generated)
    theirs = IndexedFile.objects.filter(organization=generated, uploader_email=email)
    beside = (
        IndexedFile.objects.filter(organization=generated, run_id=theirs.first().run_id)
        .exclude(uploader_email=email)
        .first()
    )
    IndexedFile.objects.filter(pk=beside.pk).update(uploader_email="")
    status, out, err = intake(generated, email)
    assert status == 6
    assert "last completed at" in out  # a fresh index: no scan
    assert "candidate" in err
    assert beside.asset_id in out
    request = ErasureRequest.objects.get()
    assert request.state == RequestState.REVIEW
    undecided = Finding.objects.filter(decision=Decision.UNDECIDED)
    assert list(undecided.values_list("indexed_file", flat=True).distinct()) == [beside.pk]
    assert not Finding.objects.filter(is_candidate=False, decision=Decision.UNDECIDED).exists()


def test_candidates_left_out_are_not_about_the_subject(
    sandbox: Sandbox, generated: Organization, sender: User
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    scanned(generated)
    theirs = IndexedFile.objects.filter(organization=generated, uploader_email=email)
    IndexedFile.objects.filter(organization=generated, run_id=theirs.first().run_id).exclude(
        uploader_email=email
    ).update(uploader_email="")
    status, _, err = intake(generated, email, "--candidates", "leave-out")
    assert status == 3, err
    about_subject = Finding.objects.filter(is_candidate=False).values("indexed_file")
    only_candidates = Finding.objects.filter(is_candidate=True).exclude(
        indexed_file__in=about_subject
    )
    assert only_candidates.exists()
    assert set(only_candidates.values_list("decision", "leave_out_reason")) == {
        (Decision.LEAVE_OUT, LeaveOutReason.NOT_ABOUT_SUBJECT)
    }
    # A candidate another rule found too is the subject's: kept.
    both = Finding.objects.filter(is_candidate=True, indexed_file__in=about_subject)
    assert set(both.values_list("decision", flat=True)) <= {Decision.KEEP}


def test_dry_run_prints_the_findings_and_keeps_nothing(
    sandbox: Sandbox, generated: Organization, sender: User
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    scanned(generated)
    theirs = list(indexed_as(generated, email))
    assert theirs
    events = Event.objects.count()
    status, out, err = intake(generated, email, "--dry-run")
    assert status == 0, err
    assert "Dry run: nothing was recorded" in out
    assert all(asset_id in out for asset_id in theirs)
    assert not ErasureRequest.objects.exists()
    assert not Discovery.objects.exists()
    assert not RequestEvent.objects.exists()
    assert Event.objects.count() == events
    assert not [r for r in sandbox.requests() if r["method"] == "DELETE"]


def test_the_index_is_not_scanned_again_while_fresh_and_is_when_older(
    sandbox: Sandbox, generated: Organization, sender: User, settings: SettingsWrapper
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    done = scanned(generated)
    Scan.objects.filter(pk=done.pk).update(finished_at=timezone.now() - timedelta(hours=30))
    settings.ERASURE_INDEX_MAX_AGE_SECONDS = 48 * 3600
    status, out, _ = intake(generated, email, "--candidates", "keep")
    assert status == 3
    assert Scan.objects.count() == 1
    assert "last completed at" in out
    settings.ERASURE_INDEX_MAX_AGE_SECONDS = 24 * 3600
    status, out, _ = intake(generated, email, "--candidates", "keep")
    assert status == 3
    assert "is older than 24 hour(s): scan" in out
    newest = Scan.objects.order_by("-pk").first()
    assert (Scan.objects.count(), newest.state, newest.refresh) == (2, ScanState.DONE, True)


def test_a_request_whose_index_is_due_again_after_the_commands_scan_waits_for_the_workers(
    sandbox: Sandbox, generated: Organization, sender: User, settings: SettingsWrapper
) -> None:
    """With no age the index may have, the command's own scan is already too old when the
    search begins: the request waits in discovering for the next scan, says where to carry it
    on, and exits 5 without a search, a review or a DELETE."""
    email, _ = busiest_guest(sandbox, generated)
    settings.ERASURE_INDEX_MAX_AGE_SECONDS = 0
    status, out, err = intake(generated, email, "--candidates", "keep")
    assert status == 5
    assert "runs in this process first" in out
    assert "waits in discovering for the index to be refreshed" in err
    request = ErasureRequest.objects.get()
    assert request.state == RequestState.DISCOVERING
    assert request_admin_path(request) in err
    assert not Discovery.objects.exists()
    done, waiting = Scan.objects.order_by("pk")
    assert (done.state, waiting.state) == (ScanState.DONE, ScanState.QUEUED)
    assert not [r for r in sandbox.requests() if r["method"] == "DELETE"]


def test_a_scan_that_cannot_finish_creates_nothing(
    sandbox: Sandbox, generated: Organization, sender: User
) -> None:
    email, _ = busiest_guest(sandbox, generated)
    sandbox.faults(unavailable_next=1000)
    status, _, err = intake(generated, email)
    assert status == 5
    assert "Nothing was created" in err
    assert not ErasureRequest.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "No user is named 'nobody'"),
        (["--user", "checker"], "checker may not do this"),
        (["--email", "not-an-email"], "is not an email address"),
        (["--organization", "Elsewhere"], "No organization is named 'Elsewhere'"),
        (["--received-at", "2026-13-40"], "is not a date"),
        (["--received-at", "2999-01-01"], "cannot have been received in the future"),
        (["--reference", " "], "Give the requester's reference"),
    ],
)
def test_bad_intake_input_exits_2_and_creates_nothing(
    generated: Organization, sender: User, checker: User, args: list[str], message: str
) -> None:
    base = {
        "--organization": generated.name,
        "--email": "guest1@client1.example",
        "--reference": "DSR-7",
        "--user": "sender",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [part for pair in base.items() for part in pair]
    status, _, err = run(*argv)
    assert status == 2
    assert message in err
    assert not ErasureRequest.objects.exists()
    assert not Scan.objects.exists()


def test_an_unknown_legal_basis_is_refused_before_anything(
    generated: Organization, sender: User
) -> None:
    status, _, err = intake(generated, "guest1@client1.example", "--legal-basis", "because")
    assert status == 1  # argparse's refusal through call_command; a shell gets argparse's 2
    assert "invalid choice: 'because'" in err
    assert not ErasureRequest.objects.exists()


def awaiting(sandbox: Sandbox, organization: Organization) -> ErasureRequest:
    email, _ = busiest_guest(sandbox, organization)
    status, _, err = intake(organization, email, "--candidates", "keep")
    assert status == 3, err
    return ErasureRequest.objects.get()


def test_the_sender_cannot_approve_and_nothing_changes(
    sandbox: Sandbox, generated: Organization, sender: User
) -> None:
    request = awaiting(sandbox, generated)
    with_perms(sender, "jobs.approve_deletionjob")
    status, _, err = approve(request, "--yes", user="sender")
    assert status == 2
    assert "Nobody approves a request they sent" in err
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_APPROVAL


def test_approve_refuses_intake_options_and_a_request_not_awaiting_approval(
    sandbox: Sandbox, generated: Organization, sender: User, checker: User
) -> None:
    request = awaiting(sandbox, generated)
    status, _, err = approve(request, "--email", "x@example.com")
    assert (status, "are for the intake" in err) == (2, True)
    status, _, err = run("--approve", "999", "--user", "checker")
    assert (status, "No erasure request 999" in err) == (2, True)
    status, _, err = intake(generated, "guest1@client1.example", "--yes")
    assert (status, "--yes is for --approve" in err) == (2, True)
    assert approve(request, "--yes")[0] == 0
    status, _, err = approve(request, "--yes")
    assert (status, "not awaiting approval" in err) == (2, True)


def test_a_wrong_number_typed_approves_nothing(
    sandbox: Sandbox,
    generated: Organization,
    sender: User,
    checker: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = awaiting(sandbox, generated)
    monkeypatch.setattr("builtins.input", lambda prompt: "1000")
    status, out, err = approve(request)
    assert status == 4
    assert "Not confirmed" in err
    assert "file(s) to delete." in out
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_APPROVAL
    assert not deletes_sent(sandbox)


def test_a_file_not_deleted_exits_1_and_keeps_the_request_open(
    sandbox: Sandbox,
    generated: Organization,
    sender: User,
    checker: User,
    settings: SettingsWrapper,
) -> None:
    settings.JOBS_PREVIEW_ATTEMPTS = 1
    request = awaiting(sandbox, generated)
    sandbox.faults(unavailable_next=1000)
    status, out, err = approve(request, "--yes")
    sandbox.faults(unavailable_next=0)
    assert status == 1, err
    assert "Approved: deletion job" in out
    request.refresh_from_db()
    assert request.state == RequestState.ERASING
    assert "failed: Tallyfy did not delete it:" in err
    assert "Retry" in err or "retry" in err


def test_the_subject_email_is_in_no_log_line(
    sandbox: Sandbox,
    generated: Organization,
    sender: User,
    checker: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    email, _ = busiest_guest(sandbox, generated)
    status, out, _ = intake(generated, email, "--candidates", "keep")
    assert status == 3
    assert f"Erasure of {email[:1]}***@{email.split('@')[1]} from" in out
    assert approve(ErasureRequest.objects.get(), "--yes")[0] == 0
    assert caplog.records
    assert not [r for r in caplog.records if email in r.getMessage()]
