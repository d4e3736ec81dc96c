from __future__ import annotations

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

import tallyfy_api
from files import services
from organizations.models import Organization
from organizations.services import organization_create

ORG_ID = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
ASSET_ID = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
TOKEN = "secret-token-abcd"
BASE_URL = "https://go.tallyfy.com/api"
ASSET_URL = f"{BASE_URL}/organizations/{ORG_ID}/assets/{ASSET_ID}"
FILE_URL = f"{BASE_URL}/organizations/{ORG_ID}/file/{ASSET_ID}"
ASSET = {
    "id": ASSET_ID,
    "filename": "report_q1.pdf",
    "version": 1,
    "uploaded_at": "2024-03-15T10:30:00Z",
    "subject": {"id": "run-1", "type": "Run"},
}


def mock_file_probe(
    http: responses.RequestsMock,
    *,
    content_type: str = "application/pdf",
    body: bytes = b"%PDF-1.7",
) -> None:
    """The detail page reads the file's type and size from its inline download's headers."""
    http.get(
        FILE_URL,
        body=body,
        content_type=content_type,
        headers={"Content-Length": str(len(body))},
    )


def make_organization(
    *, base_url: str = BASE_URL, org_id: str = ORG_ID, token: str = TOKEN, name: str = "Acme"
) -> Organization:
    return organization_create(name=name, org_id=org_id, api_base_url=base_url, token=token)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def file_page_url(name: str, org: Organization, asset_id: str = ASSET_ID) -> str:
    """The URL of one of a file's pages (`admin:files_detail`, `admin:files_delete`, …)."""
    return reverse(f"admin:files_{name}", kwargs={"org_pk": org.pk, "asset_id": asset_id})


def make_staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["files", "organizations"], codename__in=codenames
        )
    )
    return user


def confirm_page(*, user: User, organization: Organization, asset: dict | None = None) -> str:
    """The one-time ticket that a confirm page showing `asset` carries."""
    shown = tallyfy_api.Asset.from_payload({"data": asset or ASSET})
    return services.deletion_ticket_issue(user=user, organization=organization, asset=shown)


@pytest.fixture
def organization(db: None) -> Organization:
    return make_organization()


@pytest.fixture
def viewer(db: None) -> User:
    return make_staff("viewer", "lookup_file", "view_filedeletion")


@pytest.fixture
def deleter(db: None) -> User:
    return make_staff("deleter", "lookup_file", "delete_file", "view_filedeletion")
