"""A job's file costs one metadata read and one DELETE: the read its preview made stands as the
log row's snapshot while it is recent enough (JOBS_SNAPSHOT_MAX_AGE_SECONDS), on the
database's clock; older, or for a file in flight, the file is read again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from files.models import DeletionState, FileDeletion
from jobs import services, work
from jobs.models import DeletionJob, FileState, JobFile, JobState
from organizations.models import Organization
from tests.fixtures.jobs import confirmed, deleted_elsewhere_meanwhile, deletes_sent, previewed
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


def methods(sandbox: Sandbox) -> list[str]:
    return sorted(r["method"] for r in sandbox.requests())


def rename(sandbox: Sandbox, asset_id: str, filename: str) -> None:
    """Tallyfy's copy of the file changes after the preview read it."""
    sandbox.server.store.query(
        "UPDATE assets SET filename = ? WHERE asset_id = ?", (filename, asset_id)
    )


def test_a_job_reads_each_file_once_and_deletes_it_once(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    files = [sandbox.add_file(filename=f"s{n}.txt") for n in range(5)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED
    # From the preview on: one read (the preview's) and one DELETE a file, not two reads.
    assert methods(sandbox) == ["DELETE"] * 5 + ["GET"] * 5
    assert sorted(deletes_sent(sandbox)) == sorted(f.asset_id for f in files)
    rows = FileDeletion.objects.filter(job_id=job.pk)
    assert {r.state for r in rows} == {DeletionState.DELETED}
    assert {r.file_name for r in rows} == {f"s{n}.txt" for n in range(5)}


def test_the_log_rows_snapshot_is_what_the_preview_read(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    asset = sandbox.add_file(filename="contract.pdf")
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    read = JobFile.objects.get(job=job).preview_snapshot
    assert read["id"] == asset.asset_id
    assert read["filename"] == "contract.pdf"
    rename(sandbox, asset.asset_id, "renamed-after-the-preview.pdf")
    work.job_work(job_id=job.pk)
    (row,) = FileDeletion.objects.filter(job_id=job.pk)
    assert row.state == DeletionState.DELETED
    assert row.metadata == read
    assert row.file_name == "contract.pdf"
    assert (row.subject_type, row.subject_id) == (read["subject"]["type"], read["subject"]["id"])
    assert row.uploaded_at is not None
    assert row.uploaded_at.isoformat().startswith(read["uploaded_at"][:19])


def test_with_reuse_turned_off_each_file_is_read_again(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0
    files = [sandbox.add_file() for _ in range(3)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    rename(sandbox, files[0].asset_id, "read-again.txt")
    work.job_work(job_id=job.pk)
    assert methods(sandbox) == ["DELETE"] * 3 + ["GET"] * 6
    row = FileDeletion.objects.get(job_id=job.pk, asset_id=files[0].asset_id)
    assert (row.state, row.file_name) == (DeletionState.DELETED, "read-again.txt")
    assert row.metadata["filename"] == "read-again.txt"


def test_a_preview_older_than_the_max_age_is_read_again(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 600
    fresh, stale = sandbox.add_file(), sandbox.add_file()
    job = confirmed(previewed(sandbox_org, alice, [fresh.asset_id, stale.asset_id]), alice)
    JobFile.objects.filter(job=job, asset_id=stale.asset_id).update(
        previewed_at=timezone.now() - timedelta(seconds=601)
    )
    rename(sandbox, stale.asset_id, "renamed.txt")
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    gets = [r["path"].rsplit("/", 1)[-1] for r in sandbox.requests() if r["method"] == "GET"]
    assert gets == [stale.asset_id]
    assert sorted(deletes_sent(sandbox)) == sorted([fresh.asset_id, stale.asset_id])
    row = FileDeletion.objects.get(job_id=job.pk, asset_id=stale.asset_id)
    assert row.file_name == "renamed.txt"


def test_a_file_deleted_in_tallyfy_after_the_preview_settles_already_gone(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    """No read comes before the DELETE: its 404 confirms the file gone, and the row says it
    was gone already (nothing this job sent removed it), with the name the preview read."""
    asset = sandbox.add_file(filename="passport-scan.pdf")
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=asset.asset_id)
    sandbox.control("reset", {})
    work.job_work(job_id=job.pk)
    (row,) = FileDeletion.objects.filter(job_id=job.pk)
    assert (row.state, row.http_status, row.attempts) == (DeletionState.ALREADY_GONE, 404, 1)
    assert "already gone" in row.outcome
    assert row.finished_at is not None
    assert row.file_name == "passport-scan.pdf"
    assert [r["method"] for r in sandbox.requests()] == ["DELETE"]
    job_file = JobFile.objects.get(job=job)
    assert (job_file.state, job_file.deletion_id) == (FileState.DONE, row.pk)
    job.refresh_from_db()
    assert job.state == JobState.FINISHED


def test_unreachable_tallyfy_at_the_delete_leaves_the_row_uncertain(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, settings: Any
) -> None:
    """With no read first, an outage meets the DELETE itself: the row is unknown (it may have
    been applied), never failed or deleted, and the file is still in Tallyfy."""
    settings.TALLYFY_RETRY_BACKOFF = 0
    asset = sandbox.add_file()
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    sandbox.faults(unavailable_next=1000)
    work.job_work(job_id=job.pk)
    (row,) = FileDeletion.objects.filter(job_id=job.pk)
    assert row.state == DeletionState.UNKNOWN
    assert sandbox.exists(asset.asset_id)


def test_a_retry_job_reads_its_files_again(
    sandbox: Sandbox, sandbox_org: Organization, alice: User
) -> None:
    asset = sandbox.add_file(filename="first.txt")
    job = confirmed(previewed(sandbox_org, alice, [asset.asset_id]), alice)
    deleted_elsewhere_meanwhile(JobFile.objects.get(job=job))
    work.job_work(job_id=job.pk)
    assert JobFile.objects.get(job=job).state == FileState.REFUSED
    FileDeletion.objects.filter(job_id__isnull=True).update(state=DeletionState.FAILED)
    retry = services.job_retry_failed(job=DeletionJob.objects.get(pk=job.pk), user=alice)
    assert JobFile.objects.get(job=retry).preview_snapshot is None
    rename(sandbox, asset.asset_id, "second.txt")
    sandbox.control("reset", {})
    work.job_work(job_id=retry.pk)  # its own preview
    retry = confirmed(DeletionJob.objects.get(pk=retry.pk), alice)
    work.job_work(job_id=retry.pk)
    assert [r["method"] for r in sandbox.requests()] == ["GET", "DELETE"]
    (row,) = FileDeletion.objects.filter(job_id=retry.pk)
    assert (row.state, row.file_name) == (DeletionState.DELETED, "second.txt")
