from __future__ import annotations

import threading

import pytest

from files import clients
from files.models import Organization
from files.organizations import organization_update
from tests.conftest import BASE_URL, ORG_ID

pytestmark = pytest.mark.django_db


def test_clients_are_reused_per_thread_and_renewed_on_change(
    organization: Organization, settings: object
) -> None:
    first = clients.tallyfy_client(organization=organization)
    assert clients.tallyfy_client(organization=organization) is first
    settings.TALLYFY_READ_TIMEOUT = 1.5  # type: ignore[attr-defined]
    renewed = clients.tallyfy_client(organization=organization)
    assert renewed is not first
    assert renewed.transport.read_timeout == 1.5
    organization_update(
        organization=organization,
        name=organization.name,
        org_id=ORG_ID,
        api_base_url=BASE_URL,
        token="new-token",
    )
    assert (
        clients.tallyfy_client(organization=organization).transport.session.headers["Authorization"]
        == "Bearer new-token"
    )


def test_each_thread_has_its_own_client(organization: Organization) -> None:
    mine = clients.tallyfy_client(organization=organization)
    theirs: list[object] = []
    thread = threading.Thread(
        target=lambda: theirs.append(clients.tallyfy_client(organization=organization))
    )
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_pages_get_the_interactive_wait_budget(
    organization: Organization, settings: object
) -> None:
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 7.5  # type: ignore[attr-defined]
    assert clients.tallyfy_client(organization=organization).transport.wait_budget == 7.5


def test_the_call_deadline_comes_from_the_settings(
    organization: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 4.0  # type: ignore[attr-defined]
    assert clients.tallyfy_client(organization=organization).transport.call_deadline == 4.0
