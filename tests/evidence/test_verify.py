"""verify_deletion_log recomputes the chain from the rows as they are now and names the first
row edited, removed, inserted or reordered."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import services as evidence_services
from evidence.canonical import GENESIS, chained
from evidence.models import ChainHead, Seal
from files.evidence import DELETIONS
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.evidence import log_rewritten, settled, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(organization: Organization) -> list[FileDeletion]:
    return [settled(organization, asset_id=f"a{n}") for n in range(5)]


def test_an_untouched_log_is_intact(rows: list[FileDeletion]) -> None:
    status, out = verify()
    head = Seal.objects.get(seq=5).seal
    assert status == 0
    assert f"5 rows, chain intact; head seal {head}" in out


def test_an_empty_log_is_intact() -> None:
    status, out = verify()
    assert status == 0
    assert f"0 rows, chain intact; head seal {GENESIS.hex()}" in out


def test_pending_and_unknown_rows_need_no_seal(
    rows: list[FileDeletion], organization: Organization
) -> None:
    FileDeletion.objects.create(
        organization=organization, org_id="o", asset_id="p", username="u", reason="r"
    )
    FileDeletion.objects.create(
        organization=organization,
        org_id="o",
        asset_id="u",
        username="u",
        reason="r",
        state=DeletionState.UNKNOWN,
    )
    assert verify()[0] == 0


def test_a_field_edited_is_caught(rows: list[FileDeletion]) -> None:
    with log_rewritten():
        FileDeletion.objects.filter(pk=rows[2].pk).update(reason="nothing to see")
    status, out = verify("--chunk-size", "2")
    assert status == 1
    assert f"the first: file_deletion {rows[2].pk} (seal #3) was edited after it was sealed" in out


def test_a_row_deleted_is_caught(rows: list[FileDeletion]) -> None:
    with log_rewritten():
        FileDeletion.objects.filter(pk=rows[1].pk).delete()
    status, out = verify()
    assert status == 1
    assert f"the first: file_deletion {rows[1].pk} (seal #2) was removed" in out


def test_a_row_deleted_with_its_seal_is_caught(rows: list[FileDeletion]) -> None:
    with log_rewritten():
        FileDeletion.objects.filter(pk=rows[1].pk).delete()
        Seal.objects.filter(seq=2).delete()
    status, out = verify()
    assert status == 1
    assert "the first: seal #2 is missing: seal #3 follows seal #1" in out


def test_the_last_row_deleted_with_its_seal_is_caught_by_the_head(
    rows: list[FileDeletion],
) -> None:
    with log_rewritten():
        FileDeletion.objects.filter(pk=rows[4].pk).delete()
        Seal.objects.filter(seq=5).delete()
    status, out = verify()
    assert status == 1
    assert "the chain ends at seal #4 but its head is seal #5" in out


def test_a_settled_row_inserted_without_a_seal_is_caught(
    rows: list[FileDeletion], organization: Organization
) -> None:
    forged = FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id="forged",
        username="mallory",
        reason="r",
        state=DeletionState.DELETED,
    )
    status, out = verify()
    assert status == 1
    assert f"the first: file_deletion {forged.pk} is settled but has no seal (1 such rows)" in out


def test_a_row_inserted_into_the_middle_of_the_chain_is_caught(
    rows: list[FileDeletion], organization: Organization
) -> None:
    forged = FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id="forged",
        username="mallory",
        reason="r",
        state=DeletionState.PENDING,
    )
    with log_rewritten():
        for seq in range(5, 2, -1):  # make room for a seal #3 of the forged row
            Seal.objects.filter(seq=seq).update(seq=seq + 1)
        FileDeletion.objects.filter(pk=forged.pk).update(state=DeletionState.DELETED)
        before = Seal.objects.get(seq=2)
        honest_hash = _row_hash(forged.pk)
        Seal.objects.create(
            seq=3,
            kind="file_deletion",
            object_id=forged.pk,
            row_hash=honest_hash.hex(),
            prev_seal=before.seal,
            seal=chained(bytes.fromhex(before.seal), honest_hash).hex(),
        )
    status, out = verify()
    assert status == 1
    assert f"the first: file_deletion {rows[2].pk} (seal #4) does not follow seal #3" in out


def test_two_rows_swapped_are_caught(rows: list[FileDeletion]) -> None:
    with log_rewritten():
        Seal.objects.filter(seq=2).update(seq=1000)
        Seal.objects.filter(seq=3).update(seq=2)
        Seal.objects.filter(seq=1000).update(seq=3)
    status, out = verify()
    assert status == 1
    assert f"the first: file_deletion {rows[2].pk} (seal #2) does not follow seal #1" in out


def test_a_seal_edited_is_caught(rows: list[FileDeletion]) -> None:
    with log_rewritten():
        Seal.objects.filter(seq=4).update(seal="00" * 32)
    status, out = verify()
    assert status == 1
    assert f"the first: file_deletion {rows[3].pk} (seal #4) was altered" in out


def test_a_whole_chain_recomputed_after_an_edit_verifies_on_its_own(
    rows: list[FileDeletion],
) -> None:
    """What the checkpoints are for (test_checkpoints): the chain alone cannot tell."""
    rewrite_history(rows[2], reason="nothing to see")
    assert verify()[0] == 0


def rewrite_history(row: FileDeletion, **changes: object) -> None:
    """Edit a settled row, then seal every row again from scratch, as someone who can lift the
    guards and knows the format could."""
    with log_rewritten():
        FileDeletion.objects.filter(pk=row.pk).update(**changes)
        sealed = list(Seal.objects.order_by("seq").values_list("object_id", flat=True))
        Seal.objects.all().delete()
        ChainHead.objects.all().delete()
        for object_id in sealed:
            evidence_services.seal_append(kind=DELETIONS, object_id=object_id)


def _row_hash(object_id: int) -> bytes:
    from evidence.canonical import encode, record_hash

    row = FileDeletion.objects.get(pk=object_id)
    return record_hash(
        encode(kind="file_deletion", object_id=object_id, facts=DELETIONS.facts(row))
    )


def test_verification_reads_the_rows_a_chunk_at_a_time(rows: list[FileDeletion]) -> None:
    with CaptureQueriesContext(connection) as queries:
        status, _ = verify("--chunk-size", "2")
    in_bulk = '"files_filedeletion"."id" IN ('
    row_reads = [q for q in queries if in_bulk in q["sql"]]
    assert status == 0
    assert len(row_reads) == 3  # 5 sealed rows, 2 at a time
