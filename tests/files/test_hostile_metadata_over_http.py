"""Metadata Tallyfy may send that no column can hold as it is: a NUL in a name, a name over
1,000 characters, a subject type over 50. PostgreSQL refused them (a 500 on the confirm page
and the delete, a job's preview retried for ever); now they are stored cleaned, and said so."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from files import services
from files.models import FileDeletion
from jobs.models import PreviewState
from organizations.models import Organization
from tests.fixtures.files import confirm_page
from tests.fixtures.jobs import previewed
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]
HOSTILE_NAME = "payroll\x00" + "n" * 1200 + ".pdf"


@pytest.fixture
def hostile(sandbox: Sandbox) -> str:
    asset = sandbox.add_file(filename=HOSTILE_NAME, subject_type="S" * 60)
    return asset.asset_id


def test_the_confirm_page_shows_it_cleaned(
    sandbox: Sandbox, sandbox_org: Organization, hostile: str, admin_user: User
) -> None:
    client = Client()
    client.force_login(admin_user)
    url = reverse("admin:files_delete", args=[sandbox_org.pk, hostile])
    page = client.get(url)
    assert page.status_code == 200
    assert "could not be stored as Tallyfy sent" in page.content.decode()


def test_it_is_deleted_and_logged_cleaned(
    sandbox: Sandbox, sandbox_org: Organization, hostile: str, admin_user: User
) -> None:
    stored = sandbox.server.store.asset(org_id=sandbox_org.org_id, asset_id=hostile)
    assert stored is not None
    ticket = confirm_page(user=admin_user, organization=sandbox_org, asset=stored.to_json())
    deletion = services.file_delete(
        organization=sandbox_org,
        asset_id=hostile,
        user=admin_user,
        reason="ticket-9",
        confirmation=hostile,
        ticket=ticket,
    )
    row = FileDeletion.objects.get(pk=deletion.pk)
    assert (len(row.file_name), "\x00" in row.file_name) == (1000, False)
    assert row.file_name.startswith("payroll" + "n" * 10)
    assert (len(row.subject_type), "\x00" in str(row.metadata)) == (50, False)
    assert row.metadata["filename"].startswith("payroll\ufffd")


def test_a_jobs_preview_finds_it(
    sandbox: Sandbox, sandbox_org: Organization, hostile: str, alice: User
) -> None:
    job = previewed(sandbox_org, alice, [hostile])
    (only,) = job.files.all()
    assert (only.preview, len(only.file_name), len(only.subject_type)) == (
        PreviewState.FOUND,
        1000,
        50,
    )
