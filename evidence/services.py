"""Writes: appending to the seal chain. Called by the apps whose records are sealed, in the
transaction that settles the record, so a record is settled and sealed together or neither."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from evidence.canonical import GENESIS, chained, encode, record_hash
from evidence.kinds import SealedKind
from evidence.models import ChainHead, Seal

HEAD = 1


def seal_append(*, kind: SealedKind, object_id: int) -> Seal:
    """Seal the record as the database now holds it, as the chain's next link.

    Runs inside the caller's transaction: the chain's head row stays locked until it commits,
    so concurrent appends wait for each other and each extends the seal before it."""
    if not connection.in_atomic_block:
        raise RuntimeError("seal_append must run in the transaction that settles the record.")
    head = _head_locked()
    record = kind.model._default_manager.get(pk=object_id)
    row_hash = record_hash(encode(kind=kind.name, object_id=object_id, facts=kind.facts(record)))
    link = Seal.objects.create(
        seq=head.seq + 1,
        kind=kind.name,
        object_id=object_id,
        row_hash=row_hash.hex(),
        prev_seal=head.seal,
        seal=chained(bytes.fromhex(head.seal), row_hash).hex(),
    )
    ChainHead.objects.filter(pk=HEAD).update(seq=link.seq, seal=link.seal)
    return link


def _head_locked() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=HEAD).first()
    if head is not None:
        return head
    try:
        with transaction.atomic():
            ChainHead.objects.create(pk=HEAD, seq=0, seal=GENESIS.hex())
    except IntegrityError:
        pass  # another writer created it first; its lock is waited for below
    return ChainHead.objects.select_for_update().get(pk=HEAD)
