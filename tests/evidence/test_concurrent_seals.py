"""Deletions settling at the same moment in several connections seal into one chain."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection

from evidence.models import Seal
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
