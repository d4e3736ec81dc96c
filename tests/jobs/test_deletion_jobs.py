"""Deletion jobs against the sandbox over a real socket: preview, confirm, approval, the run,
and what a stopped worker leaves behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from files.models import DeletionState, FileDeletion
from jobs import services, work
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState, Worker
from jobs.tasks import jobs_wake_stalled
from organizations.models import Organization
from tallyfy_api.transport import MAX_RETRIES
from tests.fixtures.jobs import confirmed, dead_worker, deletes_sent, new_job, previewed
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


def test_preview_sorts_every_file_and_deletes_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    present = sandbox.add_file(filename="present.pdf")
    logo = sandbox.add_file(filename="logo.png", subject_type="Organization")
    other_org = f"https://go.tallyfy.com/api/organizations/{'e' * 32}/file/{'f' * 32}"
    job = previewed(sandbox_org, alice, [present.asset_id, "9" * 32, logo.asset_id, other_org])
    by_id = {f.asset_id: f for f in job.files.all()}
    assert by_id[present.asset_id].preview == PreviewState.FOUND
    assert by_id[present.asset_id].file_name == "present.pdf"
    assert by_id["9" * 32].preview == PreviewState.NOT_FOUND
    assert by_id[logo.asset_id].preview == PreviewState.NOT_DELETABLE
    assert by_id["f" * 32].preview == PreviewState.WRONG_ORGANIZATION
    assert deletes_sent(sandbox) == []
    assert FileDeletion.objects.count() == 0
    # One metadata call a file; none for the other organization's.
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in sandbox.requests()) == sorted(
        [present.asset_id, "9" * 32, logo.asset_id]
    ), sandbox.requests()


def test_a_link_kept_under_an_id_is_not_deletable_at_preview(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    link = sandbox.add_link()
    try:
        job = previewed(sandbox_org, alice, [link.asset_id])
    finally:  # the sandbox's store lives for the whole session: leave run a1 as it was
        sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=link.asset_id)
    (only,) = job.files.all()
    assert (only.preview, only.state) == (PreviewState.NOT_DELETABLE, FileState.LEFT_OUT)
    assert only.note.startswith("Not deletable: a link, not a file.")
    assert deletes_sent(sandbox) == []


def test_a_job_deletes_each_file_once_with_one_log_row_each(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    files = [sandbox.add_file(filename=f"f{n}.txt") for n in range(6)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    assert job.state == JobState.SCHEDULED
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED
    rows = FileDeletion.objects.filter(job_id=job.pk)
    assert sorted(r.asset_id for r in rows) == sorted(f.asset_id for f in files)
    assert {r.state for r in rows} == {DeletionState.DELETED}
    assert {r.reason for r in rows} == {"GDPR-77"}
    assert sorted(deletes_sent(sandbox)) == sorted(f.asset_id for f in files)
    assert len(sandbox.requests()) == len(files)  # a DELETE each: the preview's read stands
    assert all(f.deletion_id for f in job.files.all())
    assert not any(sandbox.exists(f.asset_id) for f in files)


def test_a_task_delivered_twice_does_no_harm(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    files = [sandbox.add_file() for _ in range(3)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    work.job_work(job_id=job.pk)
    sent = len(sandbox.requests())
    work.job_work(job_id=job.pk)
    assert len(sandbox.requests()) == sent
    assert FileDeletion.objects.filter(job_id=job.pk).count() == 3


def test_confirmation_needs_the_reason_and_the_count(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = previewed(sandbox_org, alice, [sandbox.add_file().asset_id, sandbox.add_file().asset_id])
    with pytest.raises(services.JobRefused, match="reason"):
        services.job_confirm(job=job, user=alice, reason="  ", typed_count=2)
    with pytest.raises(services.JobRefused, match="Type the number of files to delete, 2"):
        services.job_confirm(job=job, user=alice, reason="r", typed_count=3)
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED


def test_only_the_creator_confirms(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User
) -> None:
    job = previewed(sandbox_org, alice, [sandbox.add_file().asset_id])
    with pytest.raises(services.JobRefused, match="Only the user who started"):
        services.job_confirm(job=job, user=bob, reason="r", typed_count=1)


def test_a_big_job_waits_for_a_second_users_approval(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 1  # type: ignore[attr-defined]
    job = confirmed(
        previewed(
            sandbox_org, alice, [sandbox.add_file().asset_id] * 1 + [sandbox.add_file().asset_id]
        ),
        alice,
    )
    assert job.state == JobState.AWAITING_APPROVAL
    work.job_work(job_id=job.pk)
    assert deletes_sent(sandbox) == []
    with pytest.raises(services.JobRefused, match="Nobody approves their own job"):
        services.job_approve(job=job, user=alice)
    job = services.job_approve(job=job, user=bob)
    assert (job.state, job.approved_by) == (JobState.SCHEDULED, bob)
    work.job_work(job_id=job.pk)
    assert len(deletes_sent(sandbox)) == 2


def test_a_scheduled_job_waits_for_its_time(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = previewed(sandbox_org, alice, [sandbox.add_file().asset_id])
    job = confirmed(job, alice, start_after=timezone.now() + timedelta(hours=1))
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SCHEDULED
    assert deletes_sent(sandbox) == []
    DeletionJob.objects.filter(pk=job.pk).update(start_after=timezone.now())
    work.job_work(job_id=job.pk)
    assert len(deletes_sent(sandbox)) == 1


def test_a_job_cancelled_before_it_starts_sends_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    files = [sandbox.add_file() for _ in range(3)]
    job = previewed(sandbox_org, alice, [f.asset_id for f in files])
    job = confirmed(job, alice, start_after=timezone.now() + timedelta(hours=1))
    services.job_cancel(job=job)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert job.finished_at is not None
    assert set(job.files.values_list("state", flat=True)) == {FileState.NOT_ATTEMPTED}
    assert deletes_sent(sandbox) == []


def test_a_paused_job_deletes_nothing_until_resumed(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    services.job_pause(job=job)
    work.job_work(job_id=job.pk)
    assert deletes_sent(sandbox) == []
    services.job_resume(job=job)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, len(deletes_sent(sandbox))) == (JobState.FINISHED, 1)


def test_a_file_already_deleted_elsewhere_is_refused_without_a_row(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    asset = sandbox.add_file()
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id=asset.asset_id,
        username="carol",
        reason="earlier",
        state=DeletionState.DELETED,
    )
    work.job_work(job_id=job.pk)
    job_file = job.files.get()
    assert job_file.state == FileState.REFUSED
    assert "carol deleted this file" in job_file.note
    assert FileDeletion.objects.filter(job_id=job.pk).count() == 0


def test_a_stopped_workers_pending_row_is_settled_by_asking_tallyfy_first(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    """The worker committed the row, sent the DELETE (applied) and died: no second DELETE."""
    asset = sandbox.add_file()
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    stopped = dead_worker()
    JobFile.objects.filter(job=job).update(claimed_by=stopped.pk)
    row = FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id=asset.asset_id,
        username="alice",
        reason="GDPR-77",
        job_id=job.pk,
        state=DeletionState.PENDING,
    )
    JobFile.objects.filter(job=job).update(deletion=row)
    sandbox.server.store.delete_asset(org_id=sandbox_org.org_id, asset_id=asset.asset_id)
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    row = FileDeletion.objects.get(job_id=job.pk)
    assert row.state == DeletionState.DELETED
    assert "stopped" in row.outcome
    assert deletes_sent(sandbox) == []
    job.refresh_from_db()
    assert job.state == JobState.FINISHED


def test_a_stopped_workers_unsent_row_is_sent_after_the_check(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    """The worker committed the row and died before the DELETE: the check finds the file,
    then the same row's DELETE is sent; the job still has one row for the file."""
    asset = sandbox.add_file()
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    JobFile.objects.filter(job=job).update(claimed_by=dead_worker().pk)
    row = FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id=asset.asset_id,
        username="alice",
        reason="GDPR-77",
        job_id=job.pk,
        state=DeletionState.PENDING,
    )
    JobFile.objects.filter(job=job).update(deletion=row)
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    row = FileDeletion.objects.get(job_id=job.pk)
    assert row.state == DeletionState.DELETED
    assert [r["method"] for r in sandbox.requests()] == ["GET", "DELETE"]
    assert not sandbox.exists(asset.asset_id)


def test_a_file_held_by_a_live_worker_is_left_to_it(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    job = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    Worker.objects.create(id="alive", host="here", pid=2)
    JobFile.objects.filter(job=job).update(claimed_by="alive")
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    assert deletes_sent(sandbox) == []
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_stalled_jobs_are_woken_and_busy_ones_left_alone(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    stalled = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    busy = confirmed(previewed(sandbox_org, alice, [sandbox.add_file().asset_id]), alice)
    long_ago = timezone.now() - timedelta(hours=1)
    DeletionJob.objects.update(state=JobState.RUNNING, woken_at=long_ago)
    JobFile.objects.filter(job=stalled).update(claimed_by=dead_worker().pk)
    Worker.objects.create(id="alive", host="here", pid=2)
    JobFile.objects.filter(job=busy).update(claimed_by="alive")
    assert jobs_wake_stalled() == [stalled.pk]


def test_progress_counts_files_by_state(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    present = [sandbox.add_file() for _ in range(2)]
    job = confirmed(
        previewed(sandbox_org, alice, [*(f.asset_id for f in present), "9" * 32]), alice
    )
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    progress = services.job_progress(job=job)
    assert (progress.total, progress.to_delete, progress.done, progress.percent) == (3, 2, 2, 100)
    assert progress.log[DeletionState.DELETED] == 2
    assert progress.preview[PreviewState.NOT_FOUND] == 1


def test_a_429_storm_slows_the_job_and_loses_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: object
) -> None:
    settings.JOBS_FILES_IN_FLIGHT = 1  # type: ignore[attr-defined]  # who meets the 429s is known
    files = [sandbox.add_file() for _ in range(5)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    # Enough 429s to use up the first file's retries, and two of the second file's.
    sandbox.faults(rate_limit_next=MAX_RETRIES + 3, retry_after="0")
    work.job_work(job_id=job.pk)
    rows = FileDeletion.objects.filter(job_id=job.pk).order_by("pk")
    assert [r.state for r in rows] == [DeletionState.PENDING] + [DeletionState.DELETED] * 4
    first = JobFile.objects.get(job=job, asset_id=files[0].asset_id)
    assert (first.state, first.failures) == (FileState.WAITING, 0)
    assert first.retry_at is not None
    assert first.retry_at > timezone.now()
    assert sandbox.exists(files[0].asset_id)

    first.retry_at = timezone.now() - timedelta(seconds=1)
    first.save(update_fields=["retry_at"])
    work.job_work(job_id=job.pk)
    assert [r.state for r in rows.all()] == [DeletionState.DELETED] * 5
    assert not any(sandbox.exists(f.asset_id) for f in files)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED


def test_a_job_cancelled_during_its_preview_reads_no_more_files(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.JOBS_FILES_IN_FLIGHT = 1  # type: ignore[attr-defined]
    job = new_job(sandbox_org, alice, [sandbox.add_file().asset_id for _ in range(3)])
    preview_one = work._preview_one

    def read_then_cancel(job_: DeletionJob, claim: object) -> None:
        preview_one(job_, claim)
        running = DeletionJob.objects.get(pk=job_.pk)
        if running.state == JobState.PREVIEWING:
            services.job_cancel(job=running)  # while the preview runs

    monkeypatch.setattr(work, "_preview_one", read_then_cancel)
    work.job_work(job_id=job.pk)
    assert len(sandbox.requests()) == 1
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED


def test_a_file_gone_before_its_turn_keeps_the_name_the_preview_read_in_its_log_row(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: object
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # type: ignore[attr-defined]  # read again: 404
    asset = sandbox.add_file(filename="passport-scan.pdf")
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=asset.asset_id)
    work.job_work(job_id=job.pk)
    (row,) = FileDeletion.objects.filter(job_id=job.pk)
    assert row.state == DeletionState.ALREADY_GONE
    assert row.file_name == "passport-scan.pdf"
    assert deletes_sent(sandbox) == []
