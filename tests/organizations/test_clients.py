from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

import tallyfy_api
from organizations import clients
from organizations.models import Organization
from organizations.services import organization_update
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL
from tests.fixtures.organizations import BASE_URL, ORG_ID, make_organization
from throttling.models import RateLimit

pytestmark = pytest.mark.django_db


def test_clients_are_reused_per_thread_and_renewed_on_change(
    organization: Organization, settings: object
) -> None:
    first = clients.tallyfy_client(organization=organization)
    assert clients.tallyfy_client(organization=organization) is first
    settings.TALLYFY_READ_TIMEOUT = 1.5  # type: ignore[attr-defined]
    renewed = clients.tallyfy_client(organization=organization)
    assert renewed is not first
    assert renewed.config.read_timeout == 1.5
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
    assert clients.tallyfy_client(organization=organization).config.wait_budget == 7.5


def test_the_call_deadline_comes_from_the_settings(
    organization: Organization, settings: object
) -> None:
    settings.TALLYFY_CALL_DEADLINE = 4.0  # type: ignore[attr-defined]
    assert clients.tallyfy_client(organization=organization).config.call_deadline == 4.0


def test_background_calls_wait_as_long_as_the_rate_limit_needs(organization: Organization) -> None:
    client = clients.tallyfy_client(organization=organization, background=True)
    assert client.config.wait_budget is None


def test_background_clients_take_the_jobs_lane_of_the_rate_limit(
    organization: Organization,
) -> None:
    client = clients.tallyfy_client(organization=organization, background=True)
    assert client.transport.throttle.inner.background  # type: ignore[attr-defined]


def test_page_clients_take_the_pages_lane_of_the_rate_limit(organization: Organization) -> None:
    client = clients.tallyfy_client(organization=organization)
    assert not client.transport.throttle.inner.background  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_every_call_takes_a_slot_of_the_organizations_shared_rate_limit(
    http: responses.RequestsMock,
) -> None:
    organization = make_organization()
    RateLimit.objects.create(organization=organization, per_minute=1)
    http.get(ASSET_URL, json={"data": ASSET})
    clients.tallyfy_client(organization=organization).get_asset(ASSET_ID)
    next_slot = RateLimit.objects.get(organization=organization).next_slot_at
    assert next_slot is not None
    assert next_slot > timezone.now() + timedelta(seconds=50)  # one interval of 60 s ahead


@pytest.mark.django_db(transaction=True)
def test_a_page_does_not_wait_past_its_budget_for_a_slot_and_sends_nothing(
    http: responses.RequestsMock, settings: object
) -> None:
    settings.TALLYFY_INTERACTIVE_WAIT_LIMIT = 0.5  # type: ignore[attr-defined]
    organization = make_organization()
    RateLimit.objects.create(
        organization=organization, next_slot_at=timezone.now() + timedelta(seconds=60)
    )
    with pytest.raises(tallyfy_api.RateLimited) as limited:
        clients.tallyfy_client(organization=organization).get_asset(ASSET_ID)
    assert 55 < (limited.value.retry_after or 0) <= 60
    assert len(http.calls) == 0
