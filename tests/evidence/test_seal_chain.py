"""Settled deletion-log rows are sealed into one hash chain, in the transaction that settles
them; pending and unknown rows wait until they settle."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime

import pytest
import responses
from django.contrib.auth.models import User
from django.db import transaction

from evidence import services as evidence_services
from evidence.canonical import GENESIS, encode
from evidence.models import ChainHead, Seal
from files import services
from files.evidence import DELETIONS, deletion_facts
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.evidence import settled
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, confirm_page

pytestmark = pytest.mark.django_db


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_the_canonical_encoding_is_sorted_compact_ascii_json_with_utc_microseconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC)
    facts = {"b": "é\u2014\U0001f600", "a": moment, "c": None, "d": {"z": 1, "y": [1.5, True]}}
    assert encode(kind="file_deletion", object_id=7, facts=facts) == (
        b'{"a":"2026-03-01T12:00:00.000005Z","b":"\\u00e9\\u2014\\ud83d\\ude00","c":null,'
        b'"d":{"y":[1.5,true],"z":1},"id":7,"kind":"file_deletion","v":1}'
    )


def test_a_naive_time_cannot_be_sealed() -> None:
    with pytest.raises(ValueError, match="naive"):
        encode(kind="k", object_id=1, facts={"at": datetime(2026, 1, 1)})


def test_settling_a_row_seals_it_as_the_database_holds_it(organization: Organization) -> None:
    deletion = settled(organization)
    seal = Seal.objects.get()
    stored = FileDeletion.objects.get(pk=deletion.pk)
    canonical = encode(kind="file_deletion", object_id=stored.pk, facts=deletion_facts(stored))
    assert (seal.seq, seal.kind, seal.object_id) == (1, "file_deletion", deletion.pk)
    assert seal.row_hash == sha256(canonical).hex()
    assert seal.prev_seal == GENESIS.hex()
    assert seal.seal == sha256(GENESIS + sha256(canonical)).hex()
    assert seal.sealed_at is not None
    head = ChainHead.objects.get()
    assert (head.seq, head.seal) == (1, seal.seal)


def test_the_sealed_facts_are_every_column_but_the_account_link(
    organization: Organization,
) -> None:
    deletion = settled(organization, user=make_staff("carol"))
    document = json.loads(
        encode(kind="file_deletion", object_id=deletion.pk, facts=deletion_facts(deletion))
    )
    columns = {f.attname for f in FileDeletion._meta.concrete_fields} - {"id", "user_id"}
    assert set(document) == {"v", "kind", "id", "organization"} | columns - {"organization_id"}
    assert document["username"] == "carol"
    assert document["metadata"] == {"id": "a1", "filename": "a1.pdf", "size": 1.5, "tags": ["ü"]}


def test_each_seal_extends_the_one_before(organization: Organization) -> None:
    for n in range(3):
        settled(organization, asset_id=f"a{n}")
    seals = list(Seal.objects.order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3]
    for before, after in itertools.pairwise(seals):
        assert after.prev_seal == before.seal
        assert (
            after.seal == sha256(bytes.fromhex(before.seal) + bytes.fromhex(after.row_hash)).hex()
        )


def test_pending_and_unknown_rows_are_sealed_only_once_settled(
    organization: Organization,
) -> None:
    pending = FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id="a1",
        username="u",
        reason="r",
    )
    uncertain = services.DeletionOutcome(DeletionState.UNKNOWN, "uncertain", None, 503, "")
    unknown = services.deletion_settle(deletion=pending, attempts=3, result=uncertain)
    assert unknown.state == DeletionState.UNKNOWN
    assert not Seal.objects.exists()
    later = services.DeletionOutcome(DeletionState.DELETED, "gone", None, 404, "")
    services._settle_once(
        deletion=unknown, unsettled=(DeletionState.UNKNOWN,), state=later.state, outcome="gone"
    )
    assert Seal.objects.get().object_id == pending.pk


@pytest.mark.django_db(transaction=True)
def test_a_row_written_already_settled_is_sealed_with_it(
    http: responses.RequestsMock, organization: Organization
) -> None:
    user = make_staff("deleter", "lookup_file", "delete_file")
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    deletion = services.file_delete(
        organization=organization,
        asset_id=ASSET_ID,
        user=user,
        reason="GDPR-42",
        confirmation=ASSET_ID,
        ticket=confirm_page(user=user, organization=organization),
    )
    assert deletion.state == DeletionState.ALREADY_GONE
    assert Seal.objects.get().object_id == deletion.pk


@pytest.mark.django_db(transaction=True)
def test_a_deletion_through_the_pages_service_is_sealed(
    http: responses.RequestsMock, organization: Organization
) -> None:
    user = make_staff("deleter", "lookup_file", "delete_file")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="", headers={"X-Request-Id": "rq-9"})
    deletion = services.file_delete(
        organization=organization,
        asset_id=ASSET_ID,
        user=user,
        reason="GDPR-42",
        confirmation=ASSET_ID,
        ticket=confirm_page(user=user, organization=organization),
    )
    assert deletion.state == DeletionState.DELETED
    assert Seal.objects.get().object_id == deletion.pk


@pytest.mark.django_db(transaction=True)
def test_a_settlement_whose_seal_fails_is_not_written(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("the seal could not be written")

    monkeypatch.setattr(services, "seal_append", broken)
    with pytest.raises(RuntimeError):
        settled(organization)
    assert FileDeletion.objects.get().state == DeletionState.PENDING
    assert not Seal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sealing_outside_a_transaction_is_refused(organization: Organization) -> None:
    deletion = settled(organization)
    with pytest.raises(RuntimeError, match="transaction"):
        evidence_services.seal_append(kind=DELETIONS, object_id=deletion.pk)


def test_a_user_deleted_later_leaves_the_seal_true(organization: Organization) -> None:
    user: User = make_staff("dave")
    deletion = settled(organization, user=user)
    user.delete()
    deletion.refresh_from_db()
    assert deletion.user_id is None
    stored = encode(kind="file_deletion", object_id=deletion.pk, facts=deletion_facts(deletion))
    assert Seal.objects.get().row_hash == sha256(stored).hex()


def test_a_seal_refuses_a_record_read_back_for_another_row(organization: Organization) -> None:
    first, second = settled(organization), settled(organization)
    with pytest.raises(ValueError, match="not"), transaction.atomic():
        evidence_services.seal_append(kind=DELETIONS, object_id=first.pk, written=second)
    assert Seal.objects.count() == 2
