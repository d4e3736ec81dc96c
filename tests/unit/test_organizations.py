from __future__ import annotations

import pytest
import responses
from django.test import Client
from django.urls import reverse
from responses import matchers

from files.checks import token_keys_check
from files.models import Organization
from tests.conftest import BASE_URL, ORG_ID, make_organization

PROBE_URL = f"{BASE_URL}/organizations/{ORG_ID}/runs"
RUNS_PAGE = {
    "data": [{"id": "r" * 32, "name": "Onboarding"}],
    "meta": {
        "pagination": {
            "total": 1,
            "count": 1,
            "per_page": 1,
            "current_page": 1,
            "total_pages": 1,
            "links": [],
        }
    },
}


def run_test_connection(client: Client, organization: Organization) -> list[str]:
    response = client.post(
        reverse("admin:files_organization_changelist"),
        {"action": "test_connection", "_selected_action": [organization.pk]},
        follow=True,
    )
    return [str(m) for m in response.context["messages"]]


def test_test_connection_asks_for_one_run(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(
        PROBE_URL,
        json=RUNS_PAGE,
        match=[matchers.query_param_matcher({"per_page": "1"}, strict_match=False)],
    )
    run_test_connection(admin_client, organization)


def test_test_connection_reports_a_working_token(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, json=RUNS_PAGE)
    assert run_test_connection(admin_client, organization) == [
        "Acme: The token works: Tallyfy accepted it for this organization."
    ]


def test_test_connection_reports_a_rejected_token(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, status=401, json={"message": "Unauthenticated."})
    (message,) = run_test_connection(admin_client, organization)
    assert message.startswith("Acme: Tallyfy rejected the access token")


def test_test_connection_reports_no_access_to_the_organization(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    said = "You don't have application's permissions for this organization!"
    http.get(PROBE_URL, status=403, json={"message": said})
    (message,) = run_test_connection(admin_client, organization)
    assert "has no permission for this in Acme" in message
    assert "another organization" in message
    assert said in message


def test_test_connection_reports_endpoint_not_found_as_a_wrong_base_url(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(
        PROBE_URL,
        status=404,
        json={"error": True, "message": "Endpoint not found", "code": "ENDPOINT_NOT_FOUND"},
    )
    (message,) = run_test_connection(admin_client, organization)
    assert "API base URL of Acme" in message
    assert "works" not in message


@pytest.mark.parametrize(
    "answer",
    [
        {"body": "<html><body>Page not found</body></html>", "content_type": "text/html"},
        {"json": {"error": True, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"}},
    ],
)
def test_test_connection_reports_any_404_without_api_in_the_base_url_as_a_wrong_base_url(
    http: responses.RequestsMock, admin_client: Client, answer: dict[str, object]
) -> None:
    organization = make_organization(base_url="https://go.tallyfy.com")
    http.get(f"https://go.tallyfy.com/organizations/{ORG_ID}/runs", status=404, **answer)
    (message,) = run_test_connection(admin_client, organization)
    assert "API base URL of Acme" in message


def test_test_connection_reports_an_html_404_as_a_wrong_base_url(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, status=404, body="<html>Not found</html>", content_type="text/html")
    (message,) = run_test_connection(admin_client, organization)
    assert "API base URL of Acme" in message


def test_test_connection_reports_another_404_without_blaming_a_file(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, status=404, json={"message": "No query results for model [Organization]."})
    (message,) = run_test_connection(admin_client, organization)
    assert "check the organization id" in message
    assert "file" not in message


def test_test_connection_reports_tallyfy_unavailable(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    for _ in range(4):
        http.get(PROBE_URL, status=503, body="")
    (message,) = run_test_connection(admin_client, organization)
    assert "Tallyfy is unavailable" in message


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
