"""What the file pages cost: the database's queries and transactions, and the calls to Tallyfy."""

from __future__ import annotations

import time

import pytest
import responses
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from files import services
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import signed_in
from tests.fixtures.files import (
    ASSET,
    ASSET_ID,
    ASSET_URL,
    BASE_URL,
    FILE_URL,
    ORG_ID,
    confirm_page,
    mock_file_probe,
)
from tests.fixtures.files import file_page_url as url

OTHER_ID = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"


def mock_deletable(http: responses.RequestsMock, asset_id: str) -> None:
    base = f"{BASE_URL}/organizations/{ORG_ID}"
    http.get(f"{base}/assets/{asset_id}", json={"data": {**ASSET, "id": asset_id}})
    http.delete(f"{base}/file/{asset_id}", body="")


def durable_transactions(queries: list[dict[str, str]]) -> int:
    """Each BEGIN … COMMIT block, and each write made outside one (autocommit), is a commit."""
    commits, inside = 0, False
    for query in queries:
        sql = query["sql"].lstrip().upper()
        if sql.startswith("BEGIN"):
            inside = True
        elif sql.startswith(("COMMIT", "ROLLBACK")):
            inside = False
            commits += 1
        elif not inside and sql.startswith(("INSERT", "UPDATE", "DELETE")):
            commits += 1
    return commits


def ticket_for(org: Organization, user: User, asset_id: str) -> str:
    return confirm_page(user=user, organization=org, asset={**ASSET, "id": asset_id})


def post_deletion(client: Client, org: Organization, asset_id: str, ticket: str) -> HttpResponse:
    return client.post(
        url("delete", org, asset_id),
        {"reason": "GDPR-7", "confirmation": asset_id, "ticket": ticket},
    )


# What a deletion's POST asks the database, in order, when all goes well: a fragment of each
# statement's SQL, and what it is for.
BEFORE_THE_VIEW = [
    ('"django_session"', "the session"),
    # Whether they have a second factor (sudo mode) is asked with the user's own read.
    ('"auth_user".*, (EXISTS (SELECT 1 FROM "otp_totp_totpdevice"', "the user, and more"),
]
PERMISSIONS = [
    ('"auth_user_user_permissions"', "the user's permissions, their own and their groups'"),
]
DELETION = [
    ('"files_organization"', "the organization, if the user may reach it"),
    ('"files_deletionticket"', "the ticket, with whether another deletion claims the file"),
    # The ticket spent with the metadata read's rate slot:
    ("BEGIN", ""),
    ('UPDATE "files_deletionticket" SET "used_at"', "the ticket used up"),
    ('SET "next_slot_at" = "next_slot_at"', "the slot book locked, with the database's time"),
    ('UPDATE "throttling_ratelimit"', "the slot taken"),
    ("COMMIT", ""),
    # The pending row, and the ticket linked to it, with the DELETE's rate slot:
    ("BEGIN", ""),
    ('INSERT INTO "files_filedeletion"', "the pending row"),
    ('UPDATE "files_deletionticket" SET "deletion_id"', "the ticket linked to it"),
    ('SET "next_slot_at" = "next_slot_at"', "the slot book locked, with the database's time"),
    ('UPDATE "throttling_ratelimit"', "the slot taken"),
    ("COMMIT", ""),
    # The row settled, sealed, and the admin's own record of it:
    ("BEGIN", ""),
    # RETURNING: the row as the database now holds it, to seal, without reading it again.
    ('UPDATE "files_filedeletion" SET "state"', "the row's final state, returned"),
    *(
        [
            # The chain's head locked, the seal appended and the head moved, in one statement:
            ("INSERT INTO evidence_seal", "the seal"),
        ]
        if connection.vendor == "postgresql"
        else [
            ('FROM "evidence_chainhead"', "the seal chain's head, locked"),
            ('INSERT INTO "evidence_seal"', "the seal"),
            ('UPDATE "evidence_chainhead"', "the chain's new head"),
        ]
    ),
    ('INSERT INTO "django_admin_log"', "the admin's Recent actions entry"),
    ("COMMIT", ""),
]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("deleter", BEFORE_THE_VIEW + PERMISSIONS + DELETION),
        ("superuser", BEFORE_THE_VIEW + DELETION),  # a superuser has every permission
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_deletion_commits_three_times_and_makes_no_query_it_does_not_need(
    http: responses.RequestsMock,
    organization: Organization,
    deleter: User,
    who: str,
    expected: list[tuple[str, str]],
) -> None:
    """The ticket is spent with the metadata read's rate slot; the pending row is written and
    the ticket linked to it with the DELETE's slot; then the row is settled and sealed, and
    the admin's own record written, in one transaction."""
    if who == "superuser":
        deleter = User.objects.create_superuser("root", password="pw-for-tests-only")
    client = signed_in(deleter)
    for asset_id in (OTHER_ID, ASSET["id"]):
        mock_deletable(http, asset_id)
    # The first deletion starts the seal chain and fills the caches.
    post_deletion(client, organization, OTHER_ID, ticket_for(organization, deleter, OTHER_ID))
    ticket = ticket_for(organization, deleter, ASSET["id"])
    with CaptureQueriesContext(connection) as queries:
        response = post_deletion(client, organization, ASSET["id"], ticket)
    assert response.status_code == 302
    assert FileDeletion.objects.get(asset_id=ASSET["id"]).state == DeletionState.DELETED
    sql = [q["sql"] for q in queries.captured_queries]
    assert durable_transactions(queries.captured_queries) == 3, [q[:80] for q in sql]
    settling = sql[sql.index(next(q for q in sql if q.startswith('UPDATE "files_filedeletion"'))) :]
    assert any(
        q.startswith('INSERT INTO "django_admin_log"') for q in settling[: settling.index("COMMIT")]
    )
    assert len(sql) == len(expected), [q[:80] for q in sql]
    for statement, (fragment, _what) in zip(sql, expected, strict=True):
        assert fragment in statement, (fragment, statement[:120])


def test_the_empty_look_up_form_reads_the_organizations_once(
    organization: Organization, viewer: User
) -> None:
    """Whether there are any, which one is alone (chosen for the user) and the choices: one
    query."""
    client = signed_in(viewer)
    client.get(reverse("admin:files_lookup"))
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("admin:files_lookup")).content.decode()
    assert f'<option value="{organization.pk}" selected>' in body
    assert "No organization is configured" not in body
    from_organizations = [
        q["sql"] for q in queries.captured_queries if 'FROM "files_organization"' in q["sql"]
    ]
    assert len(from_organizations) == 1, from_organizations


@pytest.mark.parametrize("who", ["viewer", "superuser"])
def test_the_look_up_page_asks_the_database_three_times_and_a_staff_member_four(
    organization: Organization, viewer: User, who: str
) -> None:
    """The session; the user, with whether they have a second factor, whether a job of theirs
    ended untold and whether they reach every organization (accounts.signed_in); a staff
    member's permissions; the organizations."""
    if who == "superuser":
        viewer = User.objects.create_superuser("root", password="pw-for-tests-only")
    client = signed_in(viewer)
    client.get(reverse("admin:files_lookup"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:files_lookup")).status_code == 200
    expected = [
        '"django_session"',
        '"auth_user".*, (EXISTS (SELECT 1 FROM "otp_totp_totpdevice"',
        *(['"auth_user_user_permissions"'] if who == "viewer" else []),
        '"files_organization"',
    ]
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == len(expected), [q[:80] for q in sql]
    for statement, fragment in zip(sql, expected, strict=True):
        assert fragment in statement, (fragment, statement[:120])
    assert '"jobs_deletionjob"' in sql[1]
    assert '"organizations_organizationaccess"' in sql[1]


def test_the_look_up_form_says_when_no_organization_is_configured(viewer: User) -> None:
    body = signed_in(viewer).get(reverse("admin:files_lookup")).content.decode()
    assert "No organization is configured yet." in body


# --- Tallyfy calls a page makes ---


def calls(http: responses.RequestsMock) -> list[str]:
    return [
        f"{c.request.method} {c.request.url.split(f'/organizations/{ORG_ID}', 1)[1]}"
        for c in http.calls
    ]


def look_up(client: Client, org: Organization, asset_id: str = ASSET_ID) -> HttpResponse:
    return client.get(reverse("admin:files_lookup"), {"organization": org.pk, "file": asset_id})


def test_opening_a_file_reads_its_metadata_once_and_its_headers_once(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http, content_type="application/pdf", body=b"x" * 2048)
    client = signed_in(viewer)
    found = look_up(client, organization)
    assert found["Location"] == url("detail", organization)
    assert calls(http) == [f"GET /assets/{ASSET_ID}"]
    body = client.get(found["Location"]).content.decode()
    assert calls(http) == [f"GET /assets/{ASSET_ID}", f"GET /file/{ASSET_ID}"]
    assert "report_q1.pdf" in body
    assert "run-1" in body  # the metadata the look-up read, raw JSON included
    assert 'id="file-type">application/pdf<' in body
    assert 'id="file-size">2.0\xa0KB<' in body


def test_where_inline_answers_404_the_type_is_the_file_names_and_nothing_else_is_asked(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "scan.png"}})
    http.get(FILE_URL, status=404, json={"message": "Resource not found"})
    client = signed_in(viewer)
    body = client.get(look_up(client, organization)["Location"]).content.decode()
    assert calls(http) == [f"GET /assets/{ASSET_ID}", f"GET /file/{ASSET_ID}"]
    assert 'id="file-type">image/png<' in body
    assert 'id="file-size">—<' in body


def test_the_looked_up_metadata_serves_the_next_detail_page_once_and_of_that_file_only(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    base = f"{BASE_URL}/organizations/{ORG_ID}"
    for asset_id in (ASSET_ID, OTHER_ID):
        http.get(f"{base}/assets/{asset_id}", json={"data": {**ASSET, "id": asset_id}})
        http.get(f"{base}/file/{asset_id}", body=b"%PDF", content_type="application/pdf")
    client = signed_in(viewer)
    look_up(client, organization)
    assert "report_q1.pdf" in client.get(url("detail", organization, OTHER_ID)).content.decode()
    client.get(url("detail", organization))  # the look-up's snapshot went with the page before
    look_up(client, organization)
    client.get(url("detail", organization))
    client.get(url("detail", organization))  # a reload reads it again
    assert [call.split("/")[-1][:1] for call in calls(http) if "/assets/" in call] == [
        "c",  # look-up
        "d",  # another file's page
        "c",  # this file's page, after another's
        "c",  # look-up
        "c",  # the reload
    ]


def test_an_old_look_up_is_read_again(
    http: responses.RequestsMock,
    organization: Organization,
    viewer: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    mock_file_probe(http)
    client = signed_in(viewer)
    look_up(client, organization)
    later = time.time() + services.SEEN_SECONDS + 1
    monkeypatch.setattr(services.time, "time", lambda: later)
    client.get(url("detail", organization))
    assert [call for call in calls(http) if "/assets/" in call] == [f"GET /assets/{ASSET_ID}"] * 2


@pytest.mark.django_db(transaction=True)
def test_the_confirm_page_and_the_deletion_read_the_metadata_themselves(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    """What a look-up read is only ever shown: what will be deleted is read anew."""
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    client = signed_in(deleter)
    look_up(client, organization)
    page = client.get(url("delete", organization))
    ticket = page.context["ticket"]
    client.post(
        url("delete", organization),
        {"reason": "GDPR-7", "confirmation": ASSET_ID, "ticket": ticket},
    )
    assert calls(http) == [f"GET /assets/{ASSET_ID}"] * 3 + [f"DELETE /file/{ASSET_ID}"]
