"""Two deletions of one file at once, over a real socket, on whichever database runs the suite."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection

from files import services
from files.models import FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.files import confirm_page
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


def at_once(*actions: Callable[[], object]) -> list[object]:
    """Run each action in a thread of its own, released together; their results or errors."""
    start = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        try:
            start.wait()
            results[index] = action()
        except Exception as exc:  # the test reads what each thread ended with
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def deleting(sandbox: Sandbox, org: Organization, user: User, asset_id: str, ticket: str):
    def act() -> FileDeletion:
        return services.file_delete(
            organization=org,
            asset_id=asset_id,
            user=user,
            reason=f"by {user.username}",
            confirmation=asset_id,
            ticket=ticket,
        )

    return act


def deletes_sent(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests() if r["method"] == "DELETE")


def test_two_staff_confirming_one_file_delete_it_once(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file()
    shown = asset.to_json()
    alice = make_staff("alice", "lookup_file", "delete_file")
    bob = make_staff("bob", "lookup_file", "delete_file")
    tickets = [confirm_page(user=u, organization=sandbox_org, asset=shown) for u in (alice, bob)]
    sandbox.faults(latency_ms=150)  # both are in flight together
    results = at_once(
        deleting(sandbox, sandbox_org, alice, asset.asset_id, tickets[0]),
        deleting(sandbox, sandbox_org, bob, asset.asset_id, tickets[1]),
    )
    rows = list(FileDeletion.objects.all())
    assert len(rows) == 1
    assert rows[0].state == "deleted"
    refused = [r for r in results if isinstance(r, services.DeletionConflict)]
    assert len(refused) == 1, results
    assert refused[0].deletion in (rows[0], None)
    assert deletes_sent(sandbox) == 1


def test_one_confirmation_submitted_twice_at_once_deletes_once(
    sandbox: Sandbox, sandbox_org: Organization
) -> None:
    asset = sandbox.add_file()
    alice = make_staff("alice", "lookup_file", "delete_file")
    ticket = confirm_page(user=alice, organization=sandbox_org, asset=asset.to_json())
    sandbox.faults(latency_ms=150)
    act = deleting(sandbox, sandbox_org, alice, asset.asset_id, ticket)
    results = at_once(act, act)
    assert FileDeletion.objects.count() == 1
    assert sum(isinstance(r, services.DeletionConflict) for r in results) == 1, results
    assert deletes_sent(sandbox) == 1
    assert len([r for r in sandbox.requests() if r["method"] == "GET"]) == 1
