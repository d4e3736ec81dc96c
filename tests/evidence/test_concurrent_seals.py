"""Deletions settling at the same moment in several connections seal into one chain."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import services as evidence
from evidence.models import Event, EventAction, Seal
from files import services
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.evidence import verify

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'",
        reason="SQLite has one writer at a time: nothing to race",
    ),
]

THREADS, ROWS_EACH = 8, 5


def test_concurrent_settlements_seal_one_chain(organization: Organization) -> None:
    rows = [
        [
            FileDeletion.objects.create(
                organization=organization,
                org_id=organization.org_id,
                asset_id=f"t{t}-{n}",
                username=f"worker{t}",
                reason="r",
            )
            for n in range(ROWS_EACH)
        ]
        for t in range(THREADS)
    ]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def settle(mine: list[FileDeletion]) -> None:
        try:
            start.wait()
            for deletion in mine:
                outcome = services.DeletionOutcome(DeletionState.DELETED, "ok", None, 200, "")
                services.deletion_settle(deletion=deletion, attempts=1, result=outcome)
        except BaseException as exc:  # the test reads what each thread ended with
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle, args=(mine,)) for mine in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    seals = list(Seal.objects.order_by("seq").values_list("seq", "prev_seal", "seal"))
    assert [seq for seq, _, _ in seals] == list(range(1, THREADS * ROWS_EACH + 1))
    assert all(prev == before[2] for before, (_, prev, _) in itertools.pairwise(seals))
    assert len({object_id for object_id in Seal.objects.values_list("object_id", flat=True)}) == 40
    status, out = verify()
    assert status == 0, out
    assert f"{THREADS * ROWS_EACH} rows, chain intact" in out


def test_accesses_and_settlements_at_once_seal_one_chain(organization: Organization) -> None:
    """File accesses take the one-statement path (evidence.access_append) while deletions
    settle through the ordinary one: both extend the same head, one at a time."""
    viewer = User.objects.create_user("viewer")
    rows = [
        FileDeletion.objects.create(
            organization=organization,
            org_id=organization.org_id,
            asset_id=f"a{t}-{n}",
            username="worker",
            reason="r",
        )
        for t in range(THREADS // 2)
        for n in range(ROWS_EACH)
    ]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def settle(mine: list[FileDeletion]) -> None:
        for deletion in mine:
            outcome = services.DeletionOutcome(DeletionState.DELETED, "ok", None, 200, "")
            services.deletion_settle(deletion=deletion, attempts=1, result=outcome)

    def access(asset_id: str) -> int:
        """The queries it took."""
        with CaptureQueriesContext(connection) as queries:
            evidence.record_access(
                action=EventAction.FILE_VIEWED,
                user=viewer,
                organization_id=organization.pk,
                org_id=organization.org_id,
                asset_id=asset_id,
                address="192.0.2.1",
            )
        return len(queries)

    def view(t: int) -> None:
        for n in range(ROWS_EACH):
            queries = access(f"v{t}-{n}")
            if queries != 2:  # the event's id, then the one statement
                raise AssertionError(f"{queries} queries")

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait()
            work()
        except BaseException as exc:  # the test reads what each thread ended with
            errors.append(exc)
        finally:
            connection.close()

    half = THREADS // 2
    access("first")  # the chain's first seal, which makes its head
    works = [lambda t=t: settle(rows[t * ROWS_EACH : (t + 1) * ROWS_EACH]) for t in range(half)]
    works += [lambda t=t: view(t) for t in range(half)]
    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    total = THREADS * ROWS_EACH + 1
    seals = list(Seal.objects.order_by("seq").values_list("seq", "kind", "prev_seal", "seal"))
    assert [seq for seq, *_ in seals] == list(range(1, total + 1))
    assert all(prev == before[3] for before, (_, _, prev, _) in itertools.pairwise(seals))
    assert sorted({kind for _, kind, _, _ in seals}) == ["event", "file_deletion"]
    assert Event.objects.count() == half * ROWS_EACH + 1
    status, out = verify()
    assert status == 0, out
    assert f"{total} rows, chain intact" in out
