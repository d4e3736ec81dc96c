"""Deletion jobs under faults, against the sandbox over a real socket: each fault a review
reproduced (a cancelled job's row pending for ever, two DELETEs for one file, a job stuck
stopping, ...) must stay impossible."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from files import services as file_services
from files.models import DeletionState, FileDeletion
from jobs import machine, services, tasks, work
from jobs.conf import conf
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState, Worker
from organizations.clients import calls_guarded_by, tallyfy_client
from organizations.models import Organization
from tests.fixtures.jobs import (
    confirmed,
    deleted_elsewhere_meanwhile,
    deletes_sent,
    new_job,
    previewed,
)
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_backoff(settings: Any) -> None:
    settings.JOBS_RETRY_BACKOFF_SECONDS = 0
    settings.JOBS_FILES_IN_FLIGHT = 1


def running_job(sandbox: Sandbox, org: Organization, user: User, count: int) -> DeletionJob:
    files = [sandbox.add_file(filename=f"f{n}.txt") for n in range(count)]
    job = confirmed(previewed(org, user, [f.asset_id for f in files]), user)
    sandbox.control("reset", {})
    return job


def states(job: DeletionJob) -> dict[str, str]:
    return dict(job.files.values_list("asset_id", "state"))


# --- 1, 2: a file with a log row is never "not attempted"; its row never stays pending ---


def test_a_job_cancelled_while_its_delete_is_rate_limited_ends_with_the_row_settled(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 1)
    send = file_services.deletion_send

    def cancelled_during_429s(**kwargs: Any) -> Any:
        sandbox.faults(rate_limit_next=50, retry_after="0")
        services.job_cancel(job=DeletionJob.objects.get(pk=job.pk))
        return send(**kwargs)

    monkeypatch.setattr(file_services, "deletion_send", cancelled_during_429s)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.finished_at) == (JobState.CANCELLED, None)  # stopping: one in flight
    assert list(job.files.values_list("state", flat=True)) == [FileState.WAITING]
    monkeypatch.setattr(file_services, "deletion_send", send)
    sandbox.faults(rate_limit_next=0)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    row = FileDeletion.objects.get(job_id=job.pk)
    assert row.state == DeletionState.DELETED
    assert list(job.files.values_list("state", flat=True)) == [FileState.DONE]
    assert job.state == JobState.CANCELLED
    assert job.finished_at is not None


def test_a_database_error_settling_a_sent_delete_then_a_cancel_keeps_the_file_in_flight(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 1)
    asset_id = job.files.get().asset_id

    def database_down(**kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(file_services, "deletion_settle", database_down)
    work.job_work(job_id=job.pk)
    assert not sandbox.exists(asset_id)  # Tallyfy applied the DELETE
    services.job_cancel(job=DeletionJob.objects.get(pk=job.pk))
    assert states(job) == {asset_id: FileState.WAITING}  # never "not attempted"
    monkeypatch.undo()
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert FileDeletion.objects.get(job_id=job.pk).state == DeletionState.DELETED
    assert states(job) == {asset_id: FileState.DONE}
    assert job.finished_at is not None
    assert deletes_sent(sandbox) == [asset_id]


def test_reconcile_deletions_finishes_a_file_its_worker_left_in_flight(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management import call_command

    job = running_job(sandbox, sandbox_org, alice, 1)
    services.job_pause(job=job)
    asset_id = job.files.get().asset_id
    row = FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id=asset_id,
        username="alice",
        reason="GDPR-77",
        job_id=job.pk,
        state=DeletionState.PENDING,
    )
    JobFile.objects.filter(job=job).update(deletion=row, claimed_by="gone-worker")
    sandbox.server.store.delete_asset(org_id=sandbox_org.org_id, asset_id=asset_id)
    call_command("reconcile_deletions", stdout=open("/dev/null", "w"))  # noqa: SIM115
    row.refresh_from_db()
    assert row.state == DeletionState.DELETED
    assert states(job) == {asset_id: FileState.DONE}


# --- 3: one DELETE per file: fenced claims, a heartbeat that fails stops the work ---


def test_a_worker_whose_claim_was_taken_sends_nothing_more_and_writes_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 1)
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    first = Worker.objects.create(id="first", host="a", pid=1)
    claim = machine.file_claim(job_id=job.pk, worker_id=first.pk, files=machine.to_delete())
    assert claim is not None
    asset = tallyfy_client(organization=sandbox_org, background=True).get_asset(
        claim.job_file.asset_id
    )
    deletion = machine.file_begin_deletion(
        claim,
        record=lambda: file_services.deletion_record_pending(
            organization=sandbox_org,
            asset=asset,
            user=alice,
            username="alice",
            reason="GDPR-77",
            job_id=job.pk,
        ),
    )
    assert deletion is not None
    # The first worker's heartbeat stops; a second worker takes the file over.
    Worker.objects.filter(pk="first").update(heartbeat_at=timezone.now() - timedelta(hours=1))
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    assert [r["method"] for r in sandbox.requests()] == ["GET", "DELETE"]  # a check first
    # The first worker wakes up: its DELETE is not sent, its result not written.
    Worker.objects.filter(pk="first").update(heartbeat_at=timezone.now())
    session = work.Session(worker=first, lost=__import__("threading").Event())
    client = tallyfy_client(organization=sandbox_org, background=True)
    with (
        pytest.raises(machine.ClaimLost),
        calls_guarded_by(work._guard(session, claim)),
    ):
        file_services.deletion_send(client=client, deletion=deletion)
    failed = file_services.DeletionOutcome(DeletionState.FAILED, "refused")
    with pytest.raises(machine.ClaimLost):
        machine.file_settle(
            claim,
            settle=lambda: file_services.deletion_settle(
                deletion=deletion, attempts=1, result=failed
            ),
        )
    assert len(deletes_sent(sandbox)) == 1
    assert FileDeletion.objects.get(pk=deletion.pk).state == DeletionState.DELETED


def test_a_worker_whose_heartbeat_cannot_be_written_stops_before_its_next_call(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.JOBS_HEARTBEAT_SECONDS = 0.01
    job = running_job(sandbox, sandbox_org, alice, 3)

    def database_down(*, worker_id: str) -> bool:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(machine, "worker_beat", database_down)
    claim_file = machine.file_claim

    def slow_claim(**kwargs: Any) -> Any:
        __import__("time").sleep(0.1)  # the heartbeat fails meanwhile
        return claim_file(**kwargs)

    monkeypatch.setattr(machine, "file_claim", slow_claim)
    work.job_work(job_id=job.pk)
    assert sandbox.requests() == []
    assert FileDeletion.objects.count() == 0
    assert set(states(job).values()) == {FileState.WAITING}


def test_a_worker_whose_clock_runs_ahead_does_not_take_a_live_workers_file(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 1)
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    Worker.objects.create(id="alive", host="a", pid=1)  # heartbeat: the database's now
    JobFile.objects.filter(job=job).update(claimed_by="alive")
    ahead = timezone.now() + timedelta(seconds=3 * conf.JOBS_WORKER_TIMEOUT_SECONDS)
    monkeypatch.setattr(timezone, "now", lambda: ahead)
    work.job_work(job_id=job.pk)
    assert sandbox.requests() == []
    assert JobFile.objects.get(job=job).claimed_by == "alive"


# --- 4, 5: every pause, resume and cancel ends in a state a user can read ---


def test_a_job_cancelled_during_its_preview_ends_at_once(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = new_job(sandbox_org, alice, [sandbox.add_file().asset_id for _ in range(3)])
    Worker.objects.create(id="previewing", host="a", pid=1)
    first = job.files.order_by("id").first()
    JobFile.objects.filter(pk=first.pk).update(claimed_by="previewing")
    services.job_cancel(job=job)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert job.finished_at is not None
    assert set(states(job).values()) == {FileState.NOT_ATTEMPTED}


def test_pause_then_resume_keeps_a_scheduled_jobs_start_time(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    later = timezone.now() + timedelta(hours=2)
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    DeletionJob.objects.filter(pk=job.pk).update(start_after=later)
    job.refresh_from_db()
    services.job_pause(job=job)
    job = services.job_resume(job=DeletionJob.objects.get(pk=job.pk))
    assert job.state == JobState.SCHEDULED
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SCHEDULED
    assert deletes_sent(sandbox) == []


# --- 6: failure policy ---


def test_a_token_refused_mid_job_pauses_it_and_records_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # the file's metadata is read again: refused
    job = running_job(sandbox, sandbox_org, alice, 3)
    sandbox.faults(expired_tokens=True)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "401" in job.pause_reason
    assert FileDeletion.objects.count() == 0
    assert set(states(job).values()) == {FileState.WAITING}
    assert len(sandbox.requests()) == 1  # the job stopped at the first refusal
    assert services.jobs_ended_untold(user=alice) == [job]  # the creator is told


def test_a_token_refused_at_the_delete_after_a_reused_preview_pauses_the_job(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    """No metadata read comes first: the first file's row records the refused DELETE
    (failed: Tallyfy certainly did nothing), and no other file is tried."""
    job = running_job(sandbox, sandbox_org, alice, 3)
    sandbox.faults(expired_tokens=True)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "401" in job.pause_reason
    (row,) = FileDeletion.objects.all()
    assert (row.state, row.http_status) == (DeletionState.FAILED, 401)
    assert [r["method"] for r in sandbox.requests()] == ["DELETE"]
    assert all(sandbox.exists(f.asset_id) for f in job.files.all())


def test_unreachable_tallyfy_leaves_files_for_a_later_pass(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # the metadata read before the DELETE fails
    settings.JOBS_RETRY_BACKOFF_SECONDS = 60
    job = running_job(sandbox, sandbox_org, alice, 2)
    sandbox.faults(unavailable_next=1000)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    assert FileDeletion.objects.count() == 0
    assert set(job.files.values_list("failures", flat=True)) == {1}
    assert all(job.files.values_list("retry_at", flat=True))
    sandbox.faults(unavailable_next=0)
    JobFile.objects.update(retry_at=None)  # the backoff has passed
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED
    assert {r.state for r in FileDeletion.objects.all()} == {DeletionState.DELETED}


def test_a_job_whose_files_keep_failing_pauses_itself_saying_why(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW = 3
    settings.JOBS_RETRY_BACKOFF_SECONDS = 60
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # the metadata read before the DELETE fails
    job = running_job(sandbox, sandbox_org, alice, 6)
    sandbox.faults(unavailable_next=1000)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "3 files in a row" in job.pause_reason
    assert job.files.filter(failures=1).count() == 3


def test_a_job_with_a_refused_file_finishes_with_failures(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 2)
    deleted_elsewhere_meanwhile(job.files.order_by("id").last())
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED_WITH_FAILURES


def test_retry_failed_files_makes_a_linked_job_of_them(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 2)
    refused = job.files.order_by("id").last()
    deleted_elsewhere_meanwhile(refused)
    work.job_work(job_id=job.pk)
    retry = services.job_retry_failed(job=DeletionJob.objects.get(pk=job.pk), user=alice)
    assert retry.retry_of_id == job.pk
    assert retry.reason == "GDPR-77"
    assert retry.state == JobState.PREVIEWING
    assert list(retry.files.values_list("asset_id", flat=True)) == [refused.asset_id]


# --- 8: pause and cancel stop a file whose metadata read is in flight ---


@pytest.mark.parametrize("action", ["job_pause", "job_cancel"])
def test_no_delete_is_sent_after_a_pause_or_cancel_during_the_metadata_read(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    settings: Any,
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # the metadata is read again before the DELETE
    job = running_job(sandbox, sandbox_org, alice, 2)
    real = tallyfy_client

    class StoppedDuringRead:
        def __init__(self, client: Any) -> None:
            self.client = client

        def get_asset(self, asset_id: str) -> Any:
            asset = self.client.get_asset(asset_id)
            getattr(services, action)(job=DeletionJob.objects.get(pk=job.pk))
            return asset

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

    monkeypatch.setattr(work, "tallyfy_client", lambda **kw: StoppedDuringRead(real(**kw)))
    work.job_work(job_id=job.pk)
    assert deletes_sent(sandbox) == []
    assert FileDeletion.objects.count() == 0


# --- 9, 12: authority is checked when the work happens ---


def test_deleting_the_creators_account_pauses_the_job_instead_of_wedging_it(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 1)
    alice.delete()
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "alice" in job.pause_reason
    assert deletes_sent(sandbox) == []


@pytest.mark.parametrize("change", ["deactivated", "not_staff", "no_permission"])
def test_a_creator_who_lost_access_deletes_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, change: str
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 3)
    if change == "deactivated":
        User.objects.filter(pk=alice.pk).update(is_active=False)
    elif change == "not_staff":
        User.objects.filter(pk=alice.pk).update(is_staff=False)
    else:
        alice.user_permissions.remove(Permission.objects.get(codename="delete_file"))
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert deletes_sent(sandbox) == []


def test_an_approvers_name_outlives_their_account(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User, settings: Any
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 0
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    services.job_approve(job=job, user=bob)
    bob.delete()
    job.refresh_from_db()
    assert (job.approved_by_id, job.approved_by_name) == (None, "bob")
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "bob" in job.pause_reason


def test_small_jobs_in_a_row_need_approval_once_they_add_up(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 3
    first = confirmed(
        previewed(sandbox_org, alice, [sandbox.add_file().asset_id for _ in "ab"]), alice
    )
    second = confirmed(
        previewed(sandbox_org, alice, [sandbox.add_file().asset_id for _ in "ab"]), alice
    )
    assert first.state == JobState.SCHEDULED
    assert second.state == JobState.AWAITING_APPROVAL


# --- 13: jobs take turns ---


def test_a_long_preview_hands_the_worker_back_after_its_slice(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_SLICE_SECONDS = 0.2
    big = new_job(sandbox_org, alice, [sandbox.add_file().asset_id for _ in range(40)])
    sandbox.faults(latency_ms=30)
    queued = DBTaskResult.objects.filter(status="READY", task_path="jobs.tasks.run_job")
    before = queued.count()
    tasks.run_job.call(big.pk)
    big.refresh_from_db()
    assert big.state == JobState.PREVIEWING
    left = big.files.filter(preview=PreviewState.UNRESOLVED).count()
    assert 0 < left < 40
    assert Worker.objects.count() == 0  # the worker is free for the next task
    assert queued.count() == before + 1  # back in the queue, behind the tasks already there
    assert queued.order_by("-enqueued_at").first().args_kwargs["args"] == [big.pk]


def test_the_sweep_takes_back_the_claims_of_a_worker_that_died(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = running_job(sandbox, sandbox_org, alice, 2)
    services.job_pause(job=job)
    Worker.objects.create(id="died", host="a", pid=1)
    Worker.objects.filter(pk="died").update(heartbeat_at=timezone.now() - timedelta(hours=1))
    JobFile.objects.filter(job=job).update(claimed_by="died")
    tasks.jobs_wake_stalled()
    assert set(job.files.values_list("claimed_by", flat=True)) == {""}
    assert not Worker.objects.filter(pk="died").exists()


def test_reconcile_deletions_asks_now_about_a_file_waiting_after_429s(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    from django.core.management import call_command

    settings.JOBS_RETRY_BACKOFF_SECONDS = 600
    job = running_job(sandbox, sandbox_org, alice, 1)
    send = file_services.deletion_send

    def rate_limited(**kwargs: Any) -> Any:
        sandbox.faults(rate_limit_next=50, retry_after="0")
        return send(**kwargs)

    file_services.deletion_send = rate_limited  # type: ignore[assignment]
    try:
        work.job_work(job_id=job.pk)
    finally:
        file_services.deletion_send = send  # type: ignore[assignment]
    sandbox.faults(rate_limit_next=0)
    services.job_pause(job=DeletionJob.objects.get(pk=job.pk))
    assert job.files.get().retry_at is not None  # waits ten minutes for its next try
    call_command("reconcile_deletions", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert FileDeletion.objects.get(job_id=job.pk).state == DeletionState.DELETED
    assert states(job) == {job.files.get().asset_id: FileState.DONE}


def test_a_file_whose_answer_cannot_be_read_is_left_out_after_its_attempts(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    # An answer that is not JSON, or nests too deeply, is retried a few times, not for ever.
    asset = sandbox.add_file()
    job = new_job(sandbox_org, alice, [asset.asset_id])
    sandbox.faults(html_answer_next=conf.JOBS_PREVIEW_ATTEMPTS)
    for _ in range(conf.JOBS_PREVIEW_ATTEMPTS):
        work.job_work(job_id=job.pk)
    job.refresh_from_db()
    (only,) = job.files.all()
    assert (job.state, only.preview, only.state) == (
        JobState.PREVIEWED,
        PreviewState.UNREADABLE,
        FileState.LEFT_OUT,
    )
    assert "not what its API promises" in only.note
