"""What the file pages cost: the database's queries and transactions, and the calls to Tallyfy."""

from __future__ import annotations

import pytest
import responses
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import signed_in
from tests.fixtures.files import ASSET, BASE_URL, ORG_ID, confirm_page
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


@pytest.mark.django_db(transaction=True)
def test_a_deletion_commits_four_times_and_makes_no_query_it_does_not_need(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    """The ticket is spent with the metadata read's rate slot; the pending row is written and
    the ticket linked to it with the DELETE's slot; then the row is settled and sealed, and
    the admin's own record written."""
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
    assert durable_transactions(queries.captured_queries) == 4, [
        q["sql"][:80] for q in queries.captured_queries
    ]
    # The request's own 6 (session, user, the jobs told, 2 permissions, organization), the
    # ticket and the file's rows in flight, then the 4 transactions: 6 + 7 + 7 + 1.
    assert len(queries) == 8 + 6 + 7 + 7 + 1, [q["sql"][:80] for q in queries.captured_queries]
