from __future__ import annotations

import io

import pytest
import responses
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from files.models import DeletionState, DeletionTicket, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, confirm_page, mock_file_probe
from tests.fixtures.files import file_page_url as url
from tests.fixtures.organizations import ORG_ID


def confirmed(user: User, org: Organization, reason: str, confirmation: str) -> dict[str, str]:
    """What the confirm page posts: the reason, the re-typed name or id, and its ticket."""
    ticket = confirm_page(user=user, organization=org)
    return {"reason": reason, "confirmation": confirmation, "ticket": ticket}


def messages_of(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["detail", "download", "inline", "delete"])
def test_anonymous_users_are_sent_to_the_login(organization: Organization, name: str) -> None:
    response = Client().get(url(name, organization))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_lookup_page_needs_login(db: None) -> None:
    response = Client().get(reverse("admin:files_lookup"))
    assert response.status_code == 302


def test_non_staff_users_cannot_reach_any_page(organization: Organization) -> None:
    user = User.objects.create_user("outsider", password="pw")
    response = signed_in(user).get(url("detail", organization))
    assert response.status_code == 302  # admin_view sends non-staff to the login page


@pytest.mark.parametrize("name", ["detail", "download", "inline", "delete"])
def test_staff_without_permission_get_403_and_nothing_is_sent(
    organization: Organization, name: str
) -> None:
    user = make_staff("nobody")
    assert signed_in(user).get(url(name, organization)).status_code == 403


def test_viewer_cannot_delete_and_nothing_is_sent(organization: Organization, viewer: User) -> None:
    client = signed_in(viewer)
    assert client.get(url("delete", organization)).status_code == 403
    assert (
        client.post(
            url("delete", organization), {"reason": "x", "confirmation": ASSET_ID}
        ).status_code
        == 403
    )
    assert FileDeletion.objects.count() == 0


def test_lookup_by_id_redirects_to_detail(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(viewer).get(
        reverse("admin:files_lookup"), {"organization": organization.pk, "file": ASSET_ID}
    )
    assert response.status_code == 302
    assert response["Location"] == url("detail", organization)


def test_lookup_by_pasted_url_resolves_the_same_file(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    pasted = f"https://go.tallyfy.com/api/organizations/{ORG_ID}/file/{ASSET_ID}/dl"
    response = signed_in(viewer).get(
        reverse("admin:files_lookup"), {"organization": organization.pk, "file": pasted}
    )
    assert response["Location"] == url("detail", organization)


def test_lookup_url_of_another_organization_is_a_form_error(
    organization: Organization, viewer: User
) -> None:
    pasted = f"https://go.tallyfy.com/api/organizations/otherorg/file/{ASSET_ID}"
    response = signed_in(viewer).get(
        reverse("admin:files_lookup"), {"organization": organization.pk, "file": pasted}
    )
    assert response.status_code == 200
    assert "This URL is for Tallyfy organization otherorg" in response.content.decode()


@pytest.mark.parametrize("bad", ["../etc/passwd", "a b", "x" * 256, "https://example.com/nothing"])
def test_invalid_ids_are_form_errors_before_any_call(
    organization: Organization, viewer: User, bad: str
) -> None:
    response = signed_in(viewer).get(
        reverse("admin:files_lookup"), {"organization": organization.pk, "file": bad}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"]


def test_invalid_id_in_the_path_is_404_before_any_call(
    organization: Organization, viewer: User
) -> None:
    response = signed_in(viewer).get(f"/admin/tallyfy-files/{organization.pk}/bad.id/")
    assert response.status_code == 404


def test_detail_shows_metadata(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    response = signed_in(viewer).get(url("detail", organization))
    body = response.content.decode()
    assert response.status_code == 200
    assert "report_q1.pdf" in body
    assert "run-1" in body
    assert url("download", organization) in body
    assert url("delete", organization) not in body  # viewer cannot delete


def test_detail_offers_delete_to_deleters(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    assert (
        url("delete", organization)
        in signed_in(deleter).get(url("detail", organization)).content.decode()
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"message": "Resource not found"}, "does not exist or was deleted"),
        (401, {"message": "Unauthenticated."}, "may have expired"),
        (403, {"message": "No permission"}, "no permission"),
        (429, {"message": "Too Many Attempts."}, "rate limiting"),
        (503, "<html>down</html>", "Tallyfy is unavailable"),
    ],
)
def test_tallyfy_errors_become_readable_messages(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    status: int,
    body: object,
    expected: str,
) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    repeats = 4 if status in (429, 503) else 1  # GETs are retried on these
    for _ in range(repeats):
        http.get(ASSET_URL, status=status, headers={"Retry-After": "0"}, **kwargs)
    response = signed_in(viewer).get(url("detail", organization))
    assert response.status_code == 200
    assert any(expected in m for m in messages_of(response))


def test_an_answer_nested_too_deeply_is_said_unreadable_on_the_page(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    nested = "[" * 100_000 + "]" * 100_000  # 200 KB: under the body cap
    http.get(ASSET_URL, body=f'{{"data": {{"id": "{ASSET_ID}", "x": {nested}}}}}')
    response = signed_in(viewer).get(url("detail", organization))
    assert response.status_code == 200
    assert any(
        "nests more than 64 levels deep: it cannot be read" in m for m in messages_of(response)
    )


def test_confirm_page_get_deletes_nothing(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(deleter).get(url("delete", organization))
    assert response.status_code == 200
    assert "cannot be undone" in response.content.decode()
    assert [c.request.method for c in http.calls] == ["GET"]
    assert FileDeletion.objects.count() == 0


def test_post_without_csrf_token_is_rejected(organization: Organization, deleter: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(deleter)
    response = client.post(url("delete", organization), {"reason": "x", "confirmation": ASSET_ID})
    assert response.status_code == 403
    assert FileDeletion.objects.count() == 0


def test_missing_reason_is_a_form_error(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(deleter).post(
        url("delete", organization), confirmed(deleter, organization, "", ASSET_ID)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert FileDeletion.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_wrong_retyped_name_is_a_form_error(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(deleter).post(
        url("delete", organization), confirmed(deleter, organization, "GDPR", "other.pdf")
    )
    assert response.status_code == 200
    assert "Type the file name (report_q1.pdf)" in str(
        response.context["form"].errors["confirmation"]
    )
    assert FileDeletion.objects.count() == 0
    assert "DELETE" not in [c.request.method for c in http.calls]


@pytest.mark.django_db(transaction=True)
def test_post_deletes_and_redirects_to_the_log_entry(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    client = signed_in(deleter)
    response = client.post(
        url("delete", organization), confirmed(deleter, organization, "GDPR-7", "report_q1.pdf")
    )
    deletion = FileDeletion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:files_filedeletion_change", args=[deletion.pk])
    assert (deletion.state, deletion.user, deletion.reason) == (
        DeletionState.DELETED,
        deleter,
        "GDPR-7",
    )
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "report_q1.pdf was deleted from tallyfy" in page.content.decode().lower()


@pytest.mark.django_db(transaction=True)
def test_failed_deletion_explains_why(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=401, json={"message": "Unauthenticated."})
    client = signed_in(deleter)
    response = client.post(
        url("delete", organization), confirmed(deleter, organization, "r", ASSET_ID), follow=True
    )
    text = " ".join(messages_of(response))
    assert "Nothing was deleted: report_q1.pdf is still in Tallyfy." in text
    assert "may have expired" in text
    assert FileDeletion.objects.get().state == DeletionState.FAILED


def test_delete_via_get_query_string_changes_nothing(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    signed_in(deleter).get(url("delete", organization), {"reason": "x", "confirmation": ASSET_ID})
    assert FileDeletion.objects.count() == 0


class CountingBody(io.RawIOBase):
    """An upstream body that records how much of it has been read."""

    def __init__(self, size: int) -> None:
        self.remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        amount = min(len(buffer), self.remaining, 64 * 1024)
        buffer[:amount] = b"x" * amount
        self.remaining -= amount
        return amount


def test_download_is_streamed_not_read_into_memory(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    size = 5 * 1024 * 1024
    body = CountingBody(size)
    http.get(
        f"{FILE_URL}/dl",
        body=io.BufferedReader(body, buffer_size=64 * 1024),
        headers={
            "Content-Length": str(size),
            "Content-Disposition": 'attachment; filename="big.bin"',
        },
    )
    response = signed_in(viewer).get(url("download", organization))
    assert response.streaming
    assert body.remaining == size  # nothing read until the response is iterated
    first = next(iter(response.streaming_content))
    assert 0 < len(first) < size
    assert body.remaining > 0
    rest = sum(len(chunk) for chunk in response.streaming_content)
    assert len(first) + rest == size
    assert response["Content-Length"] == str(size)
    assert response["Content-Disposition"] == 'attachment; filename="big.bin"'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('evil".html', 'attachment; filename="evil\\".html"'),
        ("a\r\nSet-Cookie: x=1", 'attachment; filename="a_Set-Cookie: x=1"'),
        ("Résumé été.pdf", "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.pdf"),
        ("../../etc/passwd", 'attachment; filename="_.._etc_passwd"'),
    ],
)
def test_file_names_are_sanitized_in_content_disposition(
    http: responses.RequestsMock, organization: Organization, viewer: User, name: str, expected: str
) -> None:
    from urllib.parse import quote

    http.get(
        f"{FILE_URL}/dl",
        body=b"data",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
    response = signed_in(viewer).get(url("download", organization))
    assert response["Content-Disposition"] == expected
    assert "Set-Cookie" not in response.headers or "x=1" not in response.headers.get(
        "Set-Cookie", ""
    )


@pytest.mark.parametrize(
    ("upstream_type", "served_type", "disposition"),
    [
        ("image/png", "image/png", "inline"),
        ("application/pdf", "application/pdf", "inline"),
        ("text/plain; charset=latin-1", "text/plain; charset=utf-8", "inline"),
        ("text/html", "application/octet-stream", "attachment"),
        ("image/svg+xml", "application/octet-stream", "attachment"),
        ("application/javascript", "application/octet-stream", "attachment"),
    ],
)
def test_only_safe_types_are_shown_inline(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    upstream_type: str,
    served_type: str,
    disposition: str,
) -> None:
    http.get(
        FILE_URL,
        body=b"<script>alert(1)</script>",
        content_type=upstream_type,
        headers={"Content-Disposition": 'inline; filename="f"'},
    )
    response = signed_in(viewer).get(url("inline", organization))
    assert response["Content-Type"] == served_type
    assert response["Content-Disposition"].startswith(disposition)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_download_error_returns_to_detail_with_a_message(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(f"{FILE_URL}/dl", status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    response = signed_in(viewer).get(url("download", organization), follow=True)
    assert any("does not exist or was deleted" in m for m in messages_of(response))


@pytest.mark.django_db(transaction=True)
def test_deleter_who_cannot_read_the_log_returns_to_the_lookup(
    http: responses.RequestsMock, organization: Organization
) -> None:
    user = make_staff("no-log", "lookup_file", "delete_file")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    response = signed_in(user).post(
        url("delete", organization), confirmed(user, organization, "r", ASSET_ID)
    )
    assert response["Location"] == reverse("admin:files_lookup")
    assert FileDeletion.objects.get().state == DeletionState.DELETED


def test_an_organization_logo_offers_no_delete(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "subject": {"id": ORG_ID, "type": "Organization"}}})
    mock_file_probe(http)
    body = signed_in(deleter).get(url("detail", organization)).content.decode()
    assert url("delete", organization) not in body
    assert "does not let it be deleted" in body


def test_the_confirm_page_carries_a_one_time_ticket(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    body = signed_in(deleter).get(url("delete", organization)).content.decode()
    ticket = DeletionTicket.objects.get()
    assert f'name="ticket" value="{ticket.key}"' in body
    assert (ticket.user, ticket.asset_id, ticket.file_name) == (deleter, ASSET_ID, "report_q1.pdf")


def test_a_logos_confirm_page_explains_and_offers_no_form(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "subject": {"id": ORG_ID, "type": "Organization"}}})
    body = signed_in(deleter).get(url("delete", organization)).content.decode()
    assert "does not let it be deleted" in body
    assert 'name="confirmation"' not in body
    assert DeletionTicket.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_deletes_once_and_points_at_the_first_deletion(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    client = signed_in(deleter)
    form = confirmed(deleter, organization, "GDPR-7", "report_q1.pdf")
    first = client.post(url("delete", organization), form)
    second = client.post(url("delete", organization), form, follow=True)
    deletion = FileDeletion.objects.get()
    log_url = reverse("admin:files_filedeletion_change", args=[deletion.pk])
    assert first["Location"] == log_url
    assert second.redirect_chain[0][0] == log_url
    text = " ".join(messages_of(second))
    assert "already submitted" in text
    assert f'<a href="{log_url}">' in text
    assert [c.request.method for c in http.calls] == ["GET", "DELETE"]


@pytest.mark.django_db(transaction=True)
def test_a_file_being_deleted_by_someone_else_names_them(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    other = make_staff("alice")
    earlier = FileDeletion.objects.create(
        organization=organization,
        org_id=ORG_ID,
        asset_id=ASSET_ID,
        user=other,
        username="alice",
        reason="r",
    )
    response = signed_in(deleter).post(
        url("delete", organization), confirmed(deleter, organization, "r", ASSET_ID), follow=True
    )
    assert response.redirect_chain[0][0] == reverse(
        "admin:files_filedeletion_change", args=[earlier.pk]
    )
    assert "alice started deleting this file" in " ".join(messages_of(response))
    assert len(http.calls) == 0
    assert FileDeletion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_expired_confirm_page_is_shown_again_with_a_fresh_ticket(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    response = signed_in(deleter).post(
        url("delete", organization),
        {"reason": "r", "confirmation": ASSET_ID, "ticket": "not-a-ticket"},
    )
    assert response.status_code == 200
    assert "has expired" in response.content.decode()
    assert 'name="ticket" value="' in response.content.decode()
    assert FileDeletion.objects.count() == 0
    assert [c.request.method for c in http.calls] == ["GET"]


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_deletion_says_nothing_was_deleted_and_offers_to_try_again(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    for _ in range(4):
        http.delete(FILE_URL, status=429, json={"message": "Too Many Attempts."})
    response = signed_in(deleter).post(
        url("delete", organization), confirmed(deleter, organization, "r", ASSET_ID), follow=True
    )
    text = " ".join(messages_of(response))
    assert "Nothing was deleted" in text
    row = FileDeletion.objects.get()
    assert f'<a href="{url("delete", organization)}?from={row.pk}">Try again</a>' in text
    assert FileDeletion.objects.get().state == DeletionState.FAILED


@pytest.mark.parametrize(
    ("filename", "served_type", "disposition"),
    [
        ("scan.png", "image/png", "inline"),
        ("page.html", "application/octet-stream", "attachment"),
        ("logo.svg", "application/octet-stream", "attachment"),
    ],
)
def test_inline_view_of_a_file_inline_cannot_find_serves_dl_under_the_safe_type_rules(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    filename: str,
    served_type: str,
    disposition: str,
) -> None:
    http.get(FILE_URL, status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": filename}})
    http.get(
        f"{FILE_URL}/dl",
        body=b"<svg onload=alert(1)>",
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    response = signed_in(viewer).get(url("inline", organization))
    assert response.status_code == 200
    assert response["Content-Type"] == served_type
    assert response["Content-Disposition"].startswith(disposition)


def test_a_content_length_of_other_digits_is_not_a_server_error(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(f"{FILE_URL}/dl", body=b"data", headers={"Content-Length": "\u00b2"})
    response = signed_in(viewer).get(url("download", organization))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"data"
