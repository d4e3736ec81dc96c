"""The workers' sweep settles the single-file deletions reconcile_deletions would, so an
`unknown` row after a refused connection does not wait for a cron that `make run` never runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.conf import settings
from django.utils import timezone

from files.models import DeletionState, FileDeletion
from files.tasks import deletions_reconcile_due
from organizations.models import Organization
from tests.fixtures.organizations import BASE_URL, ORG_ID

ASSET_ID = "c0" * 16


def unknown_row(organization: Organization, *, age: timedelta) -> FileDeletion:
    return FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id=ASSET_ID,
        username="ops",
        reason="r",
        state=DeletionState.UNKNOWN,
        started_at=timezone.now() - age,
    )


def test_the_sweep_settles_an_old_unknown_row(
    http: responses.RequestsMock, organization: Organization
) -> None:
    row = unknown_row(organization, age=timedelta(hours=1))
    http.get(f"{BASE_URL}/organizations/{ORG_ID}/assets/{ASSET_ID}", status=404, json={})
    assert deletions_reconcile_due() == [row.pk]
    row.refresh_from_db()
    assert row.state == DeletionState.DELETED


def test_the_sweep_leaves_a_recent_unknown_row(organization: Organization) -> None:
    row = unknown_row(organization, age=timedelta(seconds=5))
    assert deletions_reconcile_due() == []
    row.refresh_from_db()
    assert row.state == DeletionState.UNKNOWN


def test_the_workers_run_it() -> None:
    assert "files.tasks.deletions_reconcile_due" in settings.BACKGROUND_SWEEPS


def test_a_worker_whose_clock_runs_ahead_leaves_a_recent_row(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = unknown_row(organization, age=timedelta(seconds=5))
    ahead = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: ahead)
    assert deletions_reconcile_due() == []
    row.refresh_from_db()
    assert row.state == DeletionState.UNKNOWN
