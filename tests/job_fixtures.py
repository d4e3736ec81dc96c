"""Deletion jobs as tests make them: users, jobs in each step, and what the sandbox was sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from jobs import services, work
from jobs.lines import files_from_text
from jobs.models import DeletionJob, JobState, PreviewState, Worker
from organizations.models import Organization
from tests.conftest import make_staff
from tests.sandbox_fixtures import Sandbox


@pytest.fixture
def alice() -> User:
    return make_staff("alice", "lookup_file", "delete_file", "view_filedeletion")


@pytest.fixture
def bob() -> User:
    user = make_staff("bob", "lookup_file", "delete_file")
    user.user_permissions.add(*Permission.objects.filter(codename="approve_deletionjob"))
    return user


def new_job(org: Organization, user: User, ids: list[str]) -> DeletionJob:
    return services.job_create(organization=org, user=user, wanted=files_from_text("\n".join(ids)))


def previewed(org: Organization, user: User, ids: list[str]) -> DeletionJob:
    job = new_job(org, user, ids)
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED
    return job


def confirmed(job: DeletionJob, user: User, **extra: object) -> DeletionJob:
    count = job.files.filter(preview=PreviewState.FOUND).count()
    return services.job_confirm(job=job, user=user, reason="GDPR-77", typed_count=count, **extra)


def deletes_sent(sandbox: Sandbox) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sandbox.requests() if r["method"] == "DELETE"]


def dead_worker(worker_id: str = "dead") -> Worker:
    return Worker.objects.create(
        id=worker_id, host="gone", pid=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
