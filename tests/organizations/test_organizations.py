from __future__ import annotations

import html

import pytest
import responses
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from responses import matchers

import tallyfy_api
from organizations.checks import token_keys_check
from organizations.models import Organization
from organizations.services import (
    organization_check_connection,
    organization_create,
    organization_update,
)
from tests.fixtures.accounts import make_staff
from tests.fixtures.organizations import BASE_URL, ORG_ID, TOKEN, make_organization

TOKEN_VALUE_PREFIX = "tok-"

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
        reverse("admin:organizations_organization_changelist"),
        {"action": "test_connection", "_selected_action": [organization.pk]},
        follow=True,
    )
    return [html.unescape(str(m)) for m in response.context["messages"]]


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
    [([], "organizations.E001"), (["not-a-fernet-key"], "organizations.E002")],
)
def test_token_keys_are_checked_at_start(settings: object, keys: list[str], error_id: str) -> None:
    settings.TALLYFY_TOKEN_KEYS = keys  # type: ignore[attr-defined]
    assert [error.id for error in token_keys_check()] == [error_id]


def test_valid_token_keys_pass_the_check() -> None:
    assert token_keys_check() == []


def test_migrations_match_the_models(db: None) -> None:
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


# --- the organization service ---


def test_create_encrypts_the_token_and_keeps_its_last_four(db: None) -> None:
    organization = organization_create(
        name="Beta", org_id=ORG_ID, api_base_url=f"{BASE_URL}/", token=" tok-9876 "
    )
    organization.refresh_from_db()
    assert TOKEN_VALUE_PREFIX not in organization.token_ciphertext
    assert organization.access_token() == "tok-9876"
    assert organization.token_last4 == "9876"
    assert organization.api_base_url == BASE_URL


def test_create_without_a_token_is_refused(db: None) -> None:
    with pytest.raises(ValidationError) as raised:
        organization_create(name="Beta", org_id=ORG_ID, api_base_url=BASE_URL, token="")
    assert raised.value.message_dict == {
        "token": ["Enter the organization's Tallyfy access token."]
    }
    assert not Organization.objects.exists()


def test_create_reports_every_bad_field_by_name(db: None) -> None:
    with pytest.raises(ValidationError) as raised:
        organization_create(
            name="Beta", org_id="no spaces", api_base_url="https://evil.example/api", token="t"
        )
    assert set(raised.value.message_dict) == {"org_id", "api_base_url"}


def test_update_with_no_token_keeps_the_stored_one(organization: Organization) -> None:
    organization_update(
        organization=organization, name="Renamed", org_id=ORG_ID, api_base_url=BASE_URL, token=None
    )
    organization.refresh_from_db()
    assert organization.name == "Renamed"
    assert organization.access_token() == TOKEN


@pytest.mark.parametrize(
    "moved",
    [
        {"api_base_url": "https://api.tallyfy.com"},
        {"org_id": "f" * 32},
    ],
)
def test_moving_the_token_requires_it_again(
    organization: Organization, moved: dict[str, str]
) -> None:
    fields = {"name": "Acme", "org_id": ORG_ID, "api_base_url": BASE_URL, **moved}
    with pytest.raises(ValidationError) as raised:
        organization_update(organization=organization, token="", **fields)
    assert "Enter the access token again" in raised.value.message_dict["token"][0]
    organization.refresh_from_db()
    assert (organization.org_id, organization.api_base_url) == (ORG_ID, BASE_URL)


def test_moving_with_the_token_entered_again_saves(organization: Organization) -> None:
    organization_update(
        organization=organization,
        name="Acme",
        org_id=ORG_ID,
        api_base_url="https://api.tallyfy.com",
        token="token-for-api-host",
    )
    organization.refresh_from_db()
    assert organization.api_base_url == "https://api.tallyfy.com"
    assert organization.access_token() == "token-for-api-host"


def test_a_trailing_slash_is_not_a_move(organization: Organization) -> None:
    organization_update(
        organization=organization,
        name="Acme",
        org_id=ORG_ID,
        api_base_url=f"{BASE_URL}/",
        token=None,
    )
    organization.refresh_from_db()
    assert organization.access_token() == TOKEN


# --- the admin form over the service ---


# The organization page's inline (its request rate), empty, as the admin renders it.
RATE_INLINE = {
    "rate_limit-TOTAL_FORMS": "0",
    "rate_limit-INITIAL_FORMS": "0",
    "rate_limit-MIN_NUM_FORMS": "0",
    "rate_limit-MAX_NUM_FORMS": "1",
}


def change_organization(client: Client, organization: Organization, **data: str) -> HttpResponse:
    fields = {
        "name": "Acme",
        "org_id": ORG_ID,
        "api_base_url": BASE_URL,
        "token": "",
        **RATE_INLINE,
        **data,
    }
    return client.post(
        reverse("admin:organizations_organization_change", args=[organization.pk]), fields
    )


def test_admin_change_of_the_base_url_without_the_token_is_a_form_error(
    admin_client: Client, organization: Organization
) -> None:
    response = change_organization(
        admin_client, organization, api_base_url="https://api.tallyfy.com"
    )
    assert response.status_code == 200
    assert "Enter the access token again" in str(response.context["adminform"].form.errors["token"])
    organization.refresh_from_db()
    assert organization.api_base_url == BASE_URL


def test_admin_change_with_the_token_saves_and_logs_the_change(
    admin_client: Client, organization: Organization
) -> None:
    response = change_organization(
        admin_client, organization, api_base_url="https://api.tallyfy.com", token="fresh-0001"
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.access_token() == "fresh-0001"
    assert LogEntry.objects.get().get_change_message() == "Changed API base URL and Access token."


def test_admin_add_creates_through_the_service(admin_client: Client, db: None) -> None:
    response = admin_client.post(
        reverse("admin:organizations_organization_add"),
        {
            "name": "Beta",
            "org_id": ORG_ID,
            "api_base_url": BASE_URL,
            "token": "added-4321",
            **RATE_INLINE,
        },
    )
    assert response.status_code == 302
    assert Organization.objects.get(name="Beta").access_token() == "added-4321"


@pytest.mark.parametrize(
    "url", ["https://[::1", "http://[127.0.0.1]:1/api", "https://go.tallyfy.com\uff03/api"]
)
def test_an_unreadable_base_url_is_a_form_error(admin_client: Client, db: None, url: str) -> None:
    response = admin_client.post(
        reverse("admin:organizations_organization_add"),
        {"name": "Beta", "org_id": ORG_ID, "api_base_url": url, "token": "t", **RATE_INLINE},
    )
    assert response.status_code == 200
    assert "cannot be read as a URL" in str(
        response.context["adminform"].form.errors["api_base_url"]
    )


def test_the_token_is_left_out_of_error_reports(
    admin_user: User, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Organization, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Organization, "save", broken)
    settings.DEBUG = True  # type: ignore[attr-defined]  # the page that lists POST data
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:organizations_organization_add"),
        {
            "name": "Beta",
            "org_id": ORG_ID,
            "api_base_url": BASE_URL,
            "token": "leak-me-7777",
            "rate_limit-TOTAL_FORMS": "0",  # the rate limit inline's (empty) management form
            "rate_limit-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 500
    assert "the database went away" in response.content.decode()
    assert "leak-me-7777" not in response.content.decode()


@pytest.mark.parametrize(
    ("changelist", "lookup"),
    [
        ("organizations_organization", "token_ciphertext__regex=^g"),
        ("organizations_organization", "token_last4__startswith=a"),
        ("organizations_organization", "token_ciphertext=x"),
        ("files_filedeletion", "organization__token_ciphertext__regex=^g"),
        ("files_filedeletion", "user__password__startswith=md5"),
        ("files_filedeletion", "organization__token_last4=abcd"),
    ],
)
def test_no_list_filters_on_a_token_or_a_password(
    admin_client: Client, organization: Organization, changelist: str, lookup: str
) -> None:
    url = reverse(f"admin:{changelist}_changelist")
    response = admin_client.get(f"{url}?{lookup}", follow=True)
    # Left out, said so, and the list shown unfiltered.
    assert response.redirect_chain == [(url, 302)]
    name = lookup.split("=")[0]
    assert [str(m) for m in response.context["messages"]] == [
        f"The list offers no filter “{name}”: it was left out."
    ]
    if changelist == "organizations_organization":
        assert list(response.context["cl"].queryset) == [organization]


def test_the_organization_list_still_searches_on_other_fields(
    admin_client: Client, organization: Organization
) -> None:
    url = reverse("admin:organizations_organization_changelist")
    response = admin_client.get(url, {"q": organization.org_id})
    assert (response.status_code, list(response.context["cl"].queryset)) == (200, [organization])


def test_a_duplicate_tallyfy_organization_id_is_refused(organization: Organization) -> None:
    with pytest.raises(ValidationError) as refused:
        organization_create(name="Again", org_id=ORG_ID, api_base_url=BASE_URL, token="t-1234")
    assert refused.value.message_dict["org_id"] == [
        f"Acme already uses Tallyfy organization id {ORG_ID}: change that organization "
        "instead of adding it twice."
    ]


def test_an_organization_keeps_its_own_tallyfy_id_when_updated(organization: Organization) -> None:
    organization_update(
        organization=organization, name="Acme 2", org_id=ORG_ID, api_base_url=BASE_URL, token=None
    )
    assert Organization.objects.get().name == "Acme 2"


def test_the_token_shows_as_set_with_its_last_characters(
    admin_client: Client, organization: Organization
) -> None:
    body = admin_client.get(reverse("admin:organizations_organization_changelist")).content.decode()
    assert "set, ending …abcd" in body


def test_a_missing_token_shows_as_not_set(admin_client: Client, organization: Organization) -> None:
    Organization.objects.update(token_last4="")
    body = admin_client.get(reverse("admin:organizations_organization_changelist")).content.decode()
    assert "not set" in body
    assert "None" not in body.split("result_list")[1]


def test_a_successful_connection_check_records_when(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(PROBE_URL, json=RUNS_PAGE)
    organization_check_connection(organization=organization)
    assert Organization.objects.get().last_connected_at is not None


def test_a_failed_connection_check_records_nothing(
    http: responses.RequestsMock, organization: Organization
) -> None:
    http.get(PROBE_URL, status=401, json={"message": "Unauthenticated."})
    with pytest.raises(tallyfy_api.AuthenticationFailed):
        organization_check_connection(organization=organization)
    assert Organization.objects.get().last_connected_at is None


def test_the_change_page_has_a_test_connection_button(
    admin_client: Client, organization: Organization
) -> None:
    body = admin_client.get(
        reverse("admin:organizations_organization_change", args=[organization.pk])
    ).content.decode()
    action = reverse("admin:organizations_organization_test_connection", args=[organization.pk])
    assert f'<form method="post" action="{action}">' in body


def test_the_test_connection_button_checks_and_says_so(
    http: responses.RequestsMock, admin_client: Client, organization: Organization
) -> None:
    http.get(PROBE_URL, json=RUNS_PAGE)
    response = admin_client.post(
        reverse("admin:organizations_organization_test_connection", args=[organization.pk]),
        follow=True,
    )
    assert "Acme: The token works" in " ".join(str(m) for m in response.context["messages"])


def test_the_test_connection_button_is_a_post(
    admin_client: Client, organization: Organization
) -> None:
    url = reverse("admin:organizations_organization_test_connection", args=[organization.pk])
    assert admin_client.get(url).status_code == 405


def test_the_test_connection_button_needs_permission_to_view_the_organization(
    organization: Organization,
) -> None:
    client = Client()
    client.force_login(make_staff("nobody"))
    url = reverse("admin:organizations_organization_test_connection", args=[organization.pk])
    assert client.post(url).status_code == 403


def test_the_form_cannot_set_the_last_connection(
    admin_client: Client, organization: Organization
) -> None:
    admin_client.post(
        reverse("admin:organizations_organization_change", args=[organization.pk]),
        {
            "name": "Acme",
            "org_id": ORG_ID,
            "api_base_url": BASE_URL,
            "last_connected_at": "2020-01-01 00:00:00",
        },
    )
    assert Organization.objects.get().last_connected_at is None
