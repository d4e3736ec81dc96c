"""The pages as staff meet them: look-up, detail, confirm, after a deletion, the log, errors."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import responses
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from files import services
from files.conf import conf
from files.models import DeletionState, FileDeletion
from organizations.errors import describe_failure, tallyfy_said
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, confirm_page, mock_file_probe
from tests.fixtures.files import file_page_url as url
from tests.fixtures.organizations import ORG_ID, make_organization


def messages_of(response: object) -> list[str]:
    return [html.unescape(str(m)) for m in response.context["messages"]]  # type: ignore[attr-defined]


def a_row(org: Organization, user: User, **fields: object) -> FileDeletion:
    values: dict[str, object] = {
        "organization": org,
        "org_id": org.org_id,
        "asset_id": ASSET_ID,
        "file_name": "report_q1.pdf",
        "user": user,
        "username": user.username,
        "reason": "GDPR-7",
        "state": DeletionState.FAILED,
        **fields,
    }
    return FileDeletion.objects.create(**values)


# --- Look-up ---


def test_a_pasted_url_selects_its_organization(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    make_organization(org_id="otherorg", name="Other")
    http.get(ASSET_URL, json={"data": ASSET})
    pasted = f"https://go.tallyfy.com/api/organizations/{ORG_ID}/file/{ASSET_ID}/dl"
    response = signed_in(viewer).get(reverse("admin:files_lookup"), {"file": pasted})
    assert response["Location"] == url("detail", organization)


def test_an_id_without_an_organization_asks_for_one(
    organization: Organization, viewer: User
) -> None:
    make_organization(org_id="otherorg", name="Other")
    response = signed_in(viewer).get(reverse("admin:files_lookup"), {"file": ASSET_ID})
    assert response.context["form"].errors["organization"]


def test_the_last_organization_used_is_preselected(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    other = make_organization(org_id="otherorg", name="Other")
    http.get(ASSET_URL.replace(ORG_ID, "otherorg"), json={"data": ASSET})
    client = signed_in(viewer)
    client.get(reverse("admin:files_lookup"), {"organization": other.pk, "file": ASSET_ID})
    form = client.get(reverse("admin:files_lookup")).context["form"]
    assert form["organization"].value() == other.pk


def test_a_404_is_shown_on_the_form_with_what_was_typed(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    response = signed_in(viewer).get(
        reverse("admin:files_lookup"), {"organization": organization.pk, "file": ASSET_ID}
    )
    assert response.status_code == 200
    assert "does not exist or was deleted" in " ".join(response.context["form"].errors["file"])
    assert f'value="{ASSET_ID}"' in response.content.decode()


def test_the_file_field_has_focus_when_the_page_opens(
    viewer: User, organization: Organization
) -> None:
    body = signed_in(viewer).get(reverse("admin:files_lookup")).content.decode()
    assert 'id="id_file"' in body
    assert "autofocus" in body.split('id="id_file"')[0].rsplit("<input", 1)[1]


@pytest.mark.parametrize(
    ("pasted", "what"),
    [
        (f"https://go.tallyfy.com/api/organizations/{ORG_ID}/runs/{'r' * 32}", "process run"),
        (f"https://go.tallyfy.com/api/organizations/{ORG_ID}/tasks/{'t' * 32}", "task"),
        (
            f"https://api.tallyfy.com/organizations/{ORG_ID}/runs/{'r' * 32}/tasks/{'t' * 32}",
            "task",
        ),
        (f"https://go.tallyfy.com/api/organizations/{ORG_ID}/checklists/{'c' * 32}", "template"),
        # Pages of Tallyfy's web app.
        (f"https://go.tallyfy.com/{ORG_ID}/process/{'ab' * 16}", "process run"),
        (f"https://go.tallyfy.com/{ORG_ID}/process/{'ab' * 16}/tasks/{'cd' * 16}?x=1", "task"),
        (f"go.tallyfy.com/{ORG_ID}/tasks/{'cd' * 16}/", "task"),
        (f"https://go.tallyfy.com/{ORG_ID}/blueprint/{'ef' * 16}/edit", "template"),
    ],
)
def test_a_run_task_or_template_url_says_what_it_is(
    organization: Organization, viewer: User, pasted: str, what: str
) -> None:
    response = signed_in(viewer).get(reverse("admin:files_lookup"), {"file": pasted})
    errors = " ".join(response.context["form"].errors["file"])
    assert f"This is the URL of a {what}" in errors
    assert "in Acme" in errors


def test_a_web_app_page_of_a_run_leads_a_scanner_to_its_files(
    organization: Organization, admin_client: Client
) -> None:
    pasted = f"https://go.tallyfy.com/{ORG_ID}/process/{'ab' * 16}"
    response = admin_client.get(reverse("admin:files_lookup"), {"file": pasted})
    assert response["Location"] == (
        f"{reverse('admin:catalog_scan_process_run')}?organization={organization.pk}"
        f"&run_id={'ab' * 16}"
    )


def test_a_link_that_names_no_file_or_place_is_said_not_understood(
    viewer: User, organization: Organization
) -> None:
    pasted = f"https://go.tallyfy.com/{ORG_ID}/dashboard"
    response = signed_in(viewer).get(reverse("admin:files_lookup"), {"file": pasted})
    errors = " ".join(response.context["form"].errors["file"])
    assert errors.startswith("This link is not one the panel understands")


def test_help_texts_are_linked_to_their_fields(viewer: User, organization: Organization) -> None:
    body = signed_in(viewer).get(reverse("admin:files_lookup")).content.decode()
    assert 'aria-describedby="id_file_helptext"' in body
    assert 'id="id_file_helptext"' in body


def test_a_page_with_form_errors_says_error_in_its_title(
    viewer: User, organization: Organization
) -> None:
    body = signed_in(viewer).get(reverse("admin:files_lookup"), {"file": "a b"}).content.decode()
    assert "<title>Error: Look up a file" in body


def test_breadcrumbs_are_the_admins_list(viewer: User, organization: Organization) -> None:
    body = signed_in(viewer).get(reverse("admin:files_lookup")).content.decode()
    assert '<ol class="breadcrumbs">' in body
    assert '<li aria-current="page">Look up a file</li>' in body


# --- Detail ---


def test_detail_shows_type_and_size_from_the_download_headers(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http, content_type="application/pdf", body=b"x" * 2048)
    body = signed_in(viewer).get(url("detail", organization)).content.decode()
    assert 'id="file-type">application/pdf<' in body
    assert 'id="file-size">2.0\xa0KB<' in body


def test_detail_shows_a_thumbnail_of_an_image(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "scan.png"}})
    mock_file_probe(http, content_type="image/png", body=b"\x89PNG")
    body = signed_in(viewer).get(url("detail", organization)).content.decode()
    assert f'<img src="{url("inline", organization)}"' in body


def test_detail_offers_view_only_for_types_shown_inline(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "data.csv"}})
    mock_file_probe(http, content_type="text/csv", body=b"a,b\n")
    body = signed_in(viewer).get(url("detail", organization)).content.decode()
    assert url("inline", organization) not in body
    assert url("download", organization) in body


def test_detail_delete_link_looks_destructive(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    body = signed_in(deleter).get(url("detail", organization)).content.decode()
    assert f'<a href="{url("delete", organization)}" class="deletelink">' in body


# --- Confirm page ---


def test_the_confirm_label_says_exactly_what_to_type(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    body = html.unescape(signed_in(deleter).get(url("delete", organization)).content.decode())
    assert 'To confirm, type "report_q1.pdf"' in body
    assert "Delete report_q1.pdf permanently</button>" in body


def test_the_confirm_script_carries_the_pages_nonce(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(deleter).get(url("delete", organization))
    nonce = response["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'files/confirm_delete.js" defer nonce="{nonce}"' in response.content.decode()


def test_try_again_keeps_the_reason_of_the_users_own_attempt(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    row = a_row(organization, deleter, reason="GDPR-2024-117")
    response = signed_in(deleter).get(f"{url('delete', organization)}?from={row.pk}")
    assert response.context["form"]["reason"].value() == "GDPR-2024-117"


def test_try_again_does_not_show_another_users_reason(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    row = a_row(organization, make_staff("someone"), reason="secret-case-9")
    response = signed_in(deleter).get(f"{url('delete', organization)}?from={row.pk}")
    assert response.context["form"]["reason"].value() in ("", None)


@pytest.mark.django_db(transaction=True)
def test_a_deletion_appears_under_recent_actions(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=204)
    ticket = confirm_page(user=deleter, organization=organization)
    signed_in(deleter).post(
        url("delete", organization),
        {"reason": "r", "confirmation": ASSET_ID, "ticket": ticket},
    )
    entry = LogEntry.objects.get()
    assert (entry.action_flag, entry.object_id) == (ADDITION, str(FileDeletion.objects.get().pk))
    assert entry.get_change_message() == "Deletion of report_q1.pdf from Tallyfy: deleted."


@pytest.mark.django_db(transaction=True)
def test_a_deleted_message_keeps_the_file_names_case_and_gives_the_request_id_its_own_line(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=204, headers={"X-Request-Id": "req-42"})
    ticket = confirm_page(user=deleter, organization=organization)
    response = signed_in(deleter).post(
        url("delete", organization),
        {"reason": "r", "confirmation": ASSET_ID, "ticket": ticket},
        follow=True,
    )
    body = response.content.decode()
    assert (
        '<li class="success">report_q1.pdf was deleted from Tallyfy.'
        '<span class="message-details">Request id: req-42</span></li>'
    ) in body


# --- After a failed or unknown deletion ---


def test_a_failed_row_says_nothing_was_deleted_and_offers_try_again(
    organization: Organization, deleter: User
) -> None:
    row = a_row(organization, deleter, http_status=401, error_message="Unauthenticated.")
    body = (
        signed_in(deleter)
        .get(reverse("admin:files_filedeletion_change", args=[row.pk]))
        .content.decode()
    )
    assert "Nothing was deleted" in body
    assert f'href="{url("delete", organization)}?from={row.pk}"' in body


def test_an_unknown_row_offers_check_again_now(organization: Organization, deleter: User) -> None:
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    body = (
        signed_in(deleter)
        .get(reverse("admin:files_filedeletion_change", args=[row.pk]))
        .content.decode()
    )
    assert "We could not tell whether it was deleted" in body
    assert f'action="{reverse("admin:files_deletion_check", args=[row.pk])}"' in body


def test_a_viewer_is_offered_neither_try_again_nor_check(
    organization: Organization, viewer: User, deleter: User
) -> None:
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    body = (
        signed_in(viewer)
        .get(reverse("admin:files_filedeletion_change", args=[row.pk]))
        .content.decode()
    )
    assert "check-now" not in body


def test_check_now_settles_a_404_as_deleted_and_records_it(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    signed_in(deleter).post(reverse("admin:files_deletion_check", args=[row.pk]))
    row.refresh_from_db()
    assert row.state == DeletionState.DELETED
    assert LogEntry.objects.get().action_flag == CHANGE


def test_check_now_leaves_a_recent_row_unknown_while_the_file_is_there(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    response = signed_in(deleter).post(
        reverse("admin:files_deletion_check", args=[row.pk]), follow=True
    )
    row.refresh_from_db()
    assert row.state == DeletionState.UNKNOWN
    assert "may still be applied" in " ".join(messages_of(response))


def test_check_now_settles_an_old_row_as_failed_while_the_file_is_there(
    http: responses.RequestsMock, organization: Organization, deleter: User, settings: object
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    started = timezone.now() - timedelta(seconds=conf.TALLYFY_RECONCILE_AFTER_SECONDS + 1)
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN, started_at=started)
    assert services.deletion_check_now(deletion=row).state == DeletionState.FAILED


def test_check_now_needs_the_delete_permission(
    organization: Organization, viewer: User, deleter: User
) -> None:
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    response = signed_in(viewer).post(reverse("admin:files_deletion_check", args=[row.pk]))
    assert response.status_code == 403


def test_check_now_is_a_post(organization: Organization, deleter: User) -> None:
    row = a_row(organization, deleter, state=DeletionState.UNKNOWN)
    response = signed_in(deleter).get(reverse("admin:files_deletion_check", args=[row.pk]))
    assert response.status_code == 405


def test_check_now_leaves_a_settled_row_as_it_is(organization: Organization, deleter: User) -> None:
    row = a_row(organization, deleter, state=DeletionState.FAILED)
    assert services.deletion_check_now(deletion=row).state == DeletionState.FAILED


def test_a_history_page_without_actions_does_not_blame_the_admin_site(
    organization: Organization, deleter: User
) -> None:
    row = a_row(organization, deleter)
    body = (
        signed_in(deleter)
        .get(reverse("admin:files_filedeletion_history", args=[row.pk]))
        .content.decode()
    )
    assert "probably" not in body
    assert "settled by reconcile_deletions" in body


# --- The log list ---


def test_the_log_shows_state_as_a_badge_with_its_text(
    organization: Organization, deleter: User
) -> None:
    a_row(organization, deleter)
    body = signed_in(deleter).get(reverse("admin:files_filedeletion_changelist")).content.decode()
    assert '<span class="state-badge state-failed">Failed</span>' in body


def test_the_log_shows_short_ids_with_the_full_id_on_hover(
    organization: Organization, deleter: User
) -> None:
    a_row(organization, deleter)
    body = signed_in(deleter).get(reverse("admin:files_filedeletion_changelist")).content.decode()
    assert f'<abbr class="short-id" title="{ASSET_ID}"><code>{ASSET_ID[:8]}…</code></abbr>' in body


def test_the_log_filters_by_state_organization_and_user(
    organization: Organization, deleter: User
) -> None:
    make_organization(org_id="otherorg", name="Other")
    body = signed_in(deleter).get(reverse("admin:files_filedeletion_changelist")).content.decode()
    assert all(f"By {what}" in body for what in ("state", "organization", "user"))


def test_the_logs_date_hierarchy_never_reads_distinct_dates(
    organization: Organization, deleter: User
) -> None:
    a_row(organization, deleter, started_at=timezone.now() - timedelta(days=400))
    a_row(organization, deleter, state=DeletionState.DELETED)
    with CaptureQueriesContext(connection) as queries:
        body = (
            signed_in(deleter).get(reverse("admin:files_filedeletion_changelist")).content.decode()
        )
    assert 'class="toplinks"' in body
    this_year = timezone.localtime().year
    assert f"started_at__year={this_year}" in body
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"].upper()]


# --- Navigation, errors ---


def test_look_up_is_in_the_files_app_of_the_sidebar_and_index(
    organization: Organization, viewer: User
) -> None:
    body = signed_in(viewer).get(reverse("admin:index")).content.decode()
    assert body.count('id="files-lookup"') == 1
    assert body.count("<caption>") == body.count('class="section"')  # one caption per app


def test_the_sidebar_lists_look_up_a_file(organization: Organization, viewer: User) -> None:
    body = signed_in(viewer).get(reverse("admin:files_filedeletion_changelist")).content.decode()
    sidebar = body.split('id="nav-sidebar"')[1].split("</nav>")[0]
    assert reverse("admin:files_lookup") in sidebar


def test_a_403_renders_in_the_admin_with_a_way_back(
    organization: Organization, viewer: User
) -> None:
    response = signed_in(viewer).get(url("delete", organization))
    body = response.content.decode()
    assert response.status_code == 403
    assert 'id="site-name"' in body
    assert f'href="{reverse("admin:index")}" class="button">Back to the admin home' in body


def test_a_404_renders_in_the_admin(viewer: User) -> None:
    response = signed_in(viewer).get("/admin/tallyfy-files/99999/nothing/")
    assert response.status_code == 404
    assert "Page not found (404)" in response.content.decode()


def test_messages_are_not_capitalised(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(
        ASSET_URL.replace(ASSET_ID, "lower_case_id"),
        status=404,
        json={"message": "Resource not found"},
    )
    body = signed_in(viewer).get(url("detail", organization, "lower_case_id")).content.decode()
    assert "Tallyfy has no file lower_case_id" in body


# --- Messages ---


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("Unauthenticated.", " Tallyfy said: “Unauthenticated.”"),
        ("No permission", " Tallyfy said: “No permission”."),
        ("", ""),
    ],
)
def test_tallyfy_is_quoted_without_doubled_punctuation(said: str, shown: str) -> None:
    assert tallyfy_said(said) == shown


def test_a_request_id_is_on_a_details_line(organization: Organization) -> None:
    import tallyfy_api

    error = tallyfy_api.AuthenticationFailed("Unauthenticated.", status=401, request_id="req-9")
    text = describe_failure(error, organization=organization)
    assert text.endswith('<span class="message-details">Request id: req-9</span>')
    assert text.count("Request id") == 1
