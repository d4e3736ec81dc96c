from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import Organization
from throttling.models import RateLimit


def post_rate(client: Client, organization: Organization, per_minute: str) -> object:
    return client.post(
        reverse("admin:organizations_organization_change", args=[organization.pk]),
        {
            "name": organization.name,
            "org_id": organization.org_id,
            "api_base_url": organization.api_base_url,
            "token": "",
            "rate_limit-TOTAL_FORMS": "1",
            "rate_limit-INITIAL_FORMS": "1",
            "rate_limit-MIN_NUM_FORMS": "0",
            "rate_limit-MAX_NUM_FORMS": "1",
            "rate_limit-0-organization": str(organization.pk),
            "rate_limit-0-per_minute": per_minute,
        },
    )


def test_the_organization_page_shows_its_rate(
    admin_client: Client, organization: Organization
) -> None:
    RateLimit.objects.get_or_create(organization=organization)
    RateLimit.objects.filter(organization=organization).update(per_minute=120)
    page = admin_client.get(
        reverse("admin:organizations_organization_change", args=[organization.pk])
    )
    assert b"Requests per minute" in page.content
    assert b'value="120"' in page.content


def test_the_rate_is_changed_on_the_organization_page(
    admin_client: Client, organization: Organization
) -> None:
    RateLimit.objects.get_or_create(organization=organization)
    response = post_rate(admin_client, organization, "90")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert RateLimit.objects.get(organization=organization).per_minute == 90


@pytest.mark.parametrize("per_minute", ["0", "-5", "100000"])
def test_a_rate_out_of_bounds_is_refused(
    admin_client: Client, organization: Organization, per_minute: str
) -> None:
    RateLimit.objects.get_or_create(organization=organization)
    response = post_rate(admin_client, organization, per_minute)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert RateLimit.objects.get(organization=organization).per_minute is None


@pytest.mark.django_db
def test_a_new_organization_is_saved_with_the_rate_filled_in_on_its_add_page(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin:organizations_organization_add"),
        {
            "name": "Beta",
            "org_id": "b" * 32,
            "api_base_url": "https://go.tallyfy.com/api",
            "token": "tok-beta",
            "rate_limit-TOTAL_FORMS": "1",
            "rate_limit-INITIAL_FORMS": "0",
            "rate_limit-MIN_NUM_FORMS": "0",
            "rate_limit-MAX_NUM_FORMS": "1",
            "rate_limit-0-per_minute": "90",
        },
    )
    assert response.status_code == 302
    organization = Organization.objects.get(name="Beta")
    assert organization.access_token() == "tok-beta"
    assert RateLimit.objects.get(organization=organization).per_minute == 90
