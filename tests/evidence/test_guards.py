"""The database refuses what the application never does, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction

from evidence.guards import EXPECTED, guards_missing
from evidence.models import ChainHead, Seal
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.evidence import settled, verify

pytestmark = pytest.mark.django_db


def refused(sql: str, *params: object) -> str:
    with pytest.raises(IntegrityError) as raised, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(raised.value)


@pytest.fixture
def row(organization: Organization) -> FileDeletion:
    return settled(organization)


def test_every_guard_is_in_place() -> None:
    assert connection.vendor in EXPECTED
    assert guards_missing(connection) == []


@pytest.mark.parametrize("state", ["deleted", "already_gone", "failed"])
def test_a_settled_row_cannot_be_updated(organization: Organization, state: str) -> None:
    deletion = settled(organization, state=DeletionState(state))
    message = refused("UPDATE files_filedeletion SET reason = 'x' WHERE id = %s", deletion.pk)
    assert "UPDATE on files_filedeletion refused" in message
    refused("UPDATE files_filedeletion SET state = 'pending' WHERE id = %s", deletion.pk)
    assert FileDeletion.objects.get(pk=deletion.pk).reason == "GDPR-1"


def test_the_orm_cannot_update_a_settled_row_either(row: FileDeletion) -> None:
    row.reason = "x"
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_an_unsettled_row_can_still_be_settled(organization: Organization) -> None:
    pending = FileDeletion.objects.create(
        organization=organization, org_id="o", asset_id="a", username="u", reason="r"
    )
    assert FileDeletion.objects.filter(pk=pending.pk).update(state=DeletionState.UNKNOWN) == 1
    assert FileDeletion.objects.filter(pk=pending.pk).update(state=DeletionState.FAILED) == 1


def test_no_row_can_be_deleted(row: FileDeletion, organization: Organization) -> None:
    pending = FileDeletion.objects.create(
        organization=organization, org_id="o", asset_id="a", username="u", reason="r"
    )
    for deletion in (row, pending):
        message = refused("DELETE FROM files_filedeletion WHERE id = %s", deletion.pk)
        assert "DELETE on files_filedeletion refused" in message
    with pytest.raises(IntegrityError), transaction.atomic():
        FileDeletion.objects.all().delete()
    assert FileDeletion.objects.count() == 2


def test_deleting_a_user_clears_only_the_account_link(organization: Organization) -> None:
    user: User = make_staff("erin")
    deletion = settled(organization, user=user)
    user.delete()
    deletion.refresh_from_db()
    assert (deletion.user_id, deletion.username) == (None, "erin")
    assert verify()[0] == 0


def test_the_account_link_cannot_be_moved_to_someone_else(organization: Organization) -> None:
    deletion = settled(organization, user=make_staff("erin"))
    other = make_staff("frank")
    refused("UPDATE files_filedeletion SET user_id = %s WHERE id = %s", other.pk, deletion.pk)


def test_the_account_link_cannot_cover_another_change(organization: Organization) -> None:
    deletion = settled(organization, user=make_staff("erin"))
    refused(
        "UPDATE files_filedeletion SET user_id = NULL, username = 'x' WHERE id = %s", deletion.pk
    )


def test_seals_cannot_be_updated_or_deleted(row: FileDeletion) -> None:
    assert "UPDATE on evidence_seal refused" in refused("UPDATE evidence_seal SET kind = 'x'")
    assert "DELETE on evidence_seal refused" in refused("DELETE FROM evidence_seal")
    assert Seal.objects.count() == 1


def test_the_chain_head_only_moves_one_seal_on(row: FileDeletion) -> None:
    assert "evidence_chainhead refused" in refused("UPDATE evidence_chainhead SET seq = 0")
    assert "evidence_chainhead refused" in refused("UPDATE evidence_chainhead SET seq = seq + 2")
    assert "evidence_chainhead refused" in refused("DELETE FROM evidence_chainhead")
    assert ChainHead.objects.get().seq == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("table", ["files_filedeletion", "evidence_seal", "evidence_chainhead"])
def test_no_table_of_the_log_can_be_truncated(row: FileDeletion, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check
    message = refused(f"TRUNCATE {table} CASCADE")
    assert f"TRUNCATE on {table} refused" in message


def test_a_missing_guard_is_reported(row: FileDeletion) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SET CONSTRAINTS ALL IMMEDIATE; "
                    "ALTER TABLE files_filedeletion DISABLE TRIGGER evidence_deletion_delete"
                )
            else:
                cursor.execute("DROP TRIGGER evidence_deletion_delete")
        assert guards_missing(connection) == ["evidence_deletion_delete"]
        status, out = verify()
        transaction.set_rollback(True)
    assert status == 0
    assert (
        "the database's guards are missing (evidence migration 0002): evidence_deletion_delete"
        in out
    )
