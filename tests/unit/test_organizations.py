from __future__ import annotations

import pytest
import responses
from django.test import Client
from django.urls import reverse

from files.checks import token_keys_check
from files.models import Organization
from tests.conftest import BASE_URL, ORG_ID

PROBE_URL = f"{BASE_URL}/organizations/{ORG_ID}/assets/{'0' * 32}"


def run_test_connection(client: Client, organization: Organization) -> list[str]:
    response = client.post(
        reverse("admin:files_organization_changelist"),
        {"action": "test_connection", "_selected_action": [organization.pk]},
        follow=True,
    )
    return [str(m) for m in response.context["messages"]]


def test_test_connection_reports_a_working_token(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, status=404, json={"message": "Resource not found"})
    assert run_test_connection(admin_client, organization) == [
        "Acme: The token works: Tallyfy accepted it for this organization."
    ]


def test_test_connection_reports_a_rejected_token(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, status=401, json={"message": "Unauthenticated."})
    (message,) = run_test_connection(admin_client, organization)
    assert message.startswith("Acme: Tallyfy rejected the access token")


@pytest.mark.parametrize(
    ("keys", "error_id"),
    [([], "files.E001"), (["not-a-fernet-key"], "files.E002")],
)
def test_token_keys_are_checked_at_start(settings: object, keys: list[str], error_id: str) -> None:
    settings.TALLYFY_TOKEN_KEYS = keys  # type: ignore[attr-defined]
    assert [error.id for error in token_keys_check()] == [error_id]


def test_valid_token_keys_pass_the_check() -> None:
    assert token_keys_check() == []


def test_migrations_match_the_models(db: None) -> None:
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
