"""A deletion job deletes nothing once its creator or its approver no longer reaches the job's
organization: the worker pauses it, as it does for a lost permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from jobs import services, work
from jobs.models import JobState
from organizations.models import Organization, OrganizationAccess
from tests.fixtures.jobs import confirmed, deletes_sent, previewed
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("who", ["creator", "approver"])
def test_a_job_whose_creator_or_approver_lost_the_organization_deletes_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, bob: User, settings: Any, who: str
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 0
    files = [sandbox.add_file(filename=f"f{n}.txt") for n in range(2)]
    job = confirmed(previewed(sandbox_org, alice, [f.asset_id for f in files]), alice)
    services.job_approve(job=job, user=bob)
    sandbox.control("reset", {})
    elsewhere = make_organization(name="Elsewhere", org_id="org-elsewhere")
    row = OrganizationAccess.objects.get(user=alice if who == "creator" else bob)
    row.all_organizations = False  # only another organization now
    row.save()
    row.organizations.set([elsewhere])
    work.job_work(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    assert "no longer has access to its organization" in job.pause_reason
    assert deletes_sent(sandbox) == []
