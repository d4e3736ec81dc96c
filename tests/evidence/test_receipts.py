"""Each deletion's printable receipt: the file's snapshot, who, why, when, Tallyfy's answer,
the row's seal and the latest signed checkpoint covering it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from evidence.checkpoints import signer_new
from evidence.models import CheckpointRecord, Seal
from files.models import FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.evidence import settled

pytestmark = pytest.mark.django_db


def receipt(deletion: FileDeletion) -> str:
    reader = User.objects.filter(username="reader").first()
    client = signed_in(reader or make_staff("reader", "view_filedeletion"))
    response = client.get(reverse("admin:files_filedeletion_receipt", args=[deletion.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_receipt_names_the_deletion_its_seal_and_the_latest_covering_checkpoint(
    organization: Organization, settings: SettingsWrapper
) -> None:
    settings.EVIDENCE_SIGNING_KEY = signer_new("panel-2026").text()
    deletion = settled(organization, asset_id="a1")
    seal = Seal.objects.get(object_id=deletion.pk, kind="file_deletion")
    page = receipt(deletion)
    for fact in ["a1.pdf", "GDPR-1", "alice", "rq-1", "200", seal.seal, seal.prev_seal]:
        assert fact in page
    assert "&quot;size&quot;: 1.5" in page  # the metadata snapshot
    assert "No checkpoint covers this seal yet" in page
    assert "evidence/receipt.css" in page
    assert "style=" not in page

    call_command("seal_deletion_log", stdout=StringIO())
    call_command("seal_deletion_log", stdout=StringIO())
    settled(organization, asset_id="a2")
    call_command("seal_deletion_log", stdout=StringIO())
    latest = CheckpointRecord.objects.order_by("-id").first()
    assert latest.size == 2
    page = receipt(deletion)
    assert latest.note.splitlines()[-1].split()[-1] in page  # its signature


def test_an_unsettled_row_has_no_seal_yet(organization: Organization) -> None:
    pending = FileDeletion.objects.create(
        organization=organization, org_id="o", asset_id="p", username="u", reason="r"
    )
    assert "Not sealed: this deletion has not settled yet" in receipt(pending)


def test_the_receipt_needs_the_permission_to_view_the_log(organization: Organization) -> None:
    deletion = settled(organization)
    url = reverse("admin:files_filedeletion_receipt", args=[deletion.pk])
    assert signed_in(make_staff("nobody")).get(url).status_code == 403
    viewer = signed_in(make_staff("reader", "view_filedeletion"))
    assert viewer.get(url.replace(str(deletion.pk), "999999")).status_code == 404
    change = viewer.get(reverse("admin:files_filedeletion_change", args=[deletion.pk]))
    assert f'href="{url}"' in change.content.decode()
