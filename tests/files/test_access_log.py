"""Viewing a file's details, viewing it inline and downloading it are recorded, sealed, in the
evidence app's event record: who, when, which file and organization, from which address."""

from __future__ import annotations

import pytest
import responses
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings as SettingsWrapper

from evidence.models import Event, Seal
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.evidence import verify
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, mock_file_probe
from tests.fixtures.files import file_page_url as url
from tests.fixtures.organizations import ORG_ID

pytestmark = pytest.mark.django_db


def test_viewing_the_details_is_recorded_and_sealed(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    assert (
        signed_in(viewer).get(url("detail", organization), REMOTE_ADDR="192.0.2.7").status_code
        == 200
    )
    event = Event.objects.get()
    assert (event.action, event.username, event.user_id) == ("file_viewed", "viewer", viewer.pk)
    assert (event.object_type, event.object_id) == ("file", ASSET_ID)
    assert (event.organization_id, event.org_id, event.address) == (
        organization.pk,
        ORG_ID,
        "192.0.2.7",
    )
    assert Seal.objects.filter(kind="event", object_id=event.pk).exists()
    assert verify()[0] == 0


@pytest.mark.parametrize(
    ("name", "action"), [("inline", "file_inline"), ("download", "file_downloaded")]
)
def test_the_file_itself_is_recorded(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    name: str,
    action: str,
) -> None:
    http.get(
        FILE_URL if name == "inline" else f"{FILE_URL}/dl",
        body=b"%PDF-1.7",
        content_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="r.pdf"'},
    )
    response = signed_in(viewer).get(url(name, organization))
    assert response.status_code == 200
    assert list(Event.objects.values_list("action", "object_id", "username")) == [
        (action, ASSET_ID, "viewer")
    ]


def test_a_file_not_shown_is_not_recorded_as_seen(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(f"{FILE_URL}/dl", status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    signed_in(viewer).get(url("download", organization), follow=True)
    assert not Event.objects.exists()


def test_no_permission_no_record(organization: Organization) -> None:
    assert signed_in(make_staff("nobody")).get(url("download", organization)).status_code == 403
    assert not Event.objects.exists()


def test_the_access_log_can_be_turned_off(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    settings: SettingsWrapper,
) -> None:
    settings.EVIDENCE_ACCESS_LOG = False
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    assert signed_in(viewer).get(url("detail", organization)).status_code == 200
    assert not Event.objects.exists()
