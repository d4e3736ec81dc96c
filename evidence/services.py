"""Writes: appending to the seal chain. Called by the apps whose records are sealed, in the
transaction that settles the record, so a record is settled and sealed together or neither."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q

from evidence.access_append import access_append
from evidence.canonical import GENESIS, chained, encode, record_hash
from evidence.conf import conf
from evidence.kinds import SealedKind
from evidence.models import (
    ACCESS_ACTIONS,
    ChainHead,
    CheckpointRecord,
    Event,
    EventAction,
    Seal,
)

HEAD = 1


def seal_append(*, kind: SealedKind, object_id: int, written: Model | None = None) -> Seal:
    """Seal the record as the database now holds it, as the chain's next link.

    Runs inside the caller's transaction: the chain's head row stays locked until it commits,
    so concurrent appends wait for each other and each extends the seal before it. `written`:
    the record as the caller's write returned it (UPDATE … RETURNING, in this transaction),
    which spares reading it again; else it is read here."""
    if not connection.in_atomic_block:
        raise RuntimeError("seal_append must run in the transaction that settles the record.")
    # The caller's transaction has written the record, so it holds it: read before the head
    # is locked, it is the record as the seal will cover it.
    row_hash = _row_hash(kind=kind, object_id=object_id, written=written)
    if connection.vendor == "postgresql":
        link = _append_in_one_statement(kind=kind, object_id=object_id, row_hash=row_hash)
        if link is not None:
            return link
    head = _head_locked()
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


def _row_hash(*, kind: SealedKind, object_id: int, written: Model | None = None) -> bytes:
    if written is not None and written.pk != object_id:
        raise ValueError(f"the record written is {written.pk}, not {object_id}")
    record = written if written is not None else kind.model._default_manager.get(pk=object_id)
    return record_hash(encode(kind=kind.name, object_id=object_id, facts=kind.facts(record)))


# As evidence.access_append appends an event: the head locked, the seal inserted and the head
# moved in one statement, the seal computed by PostgreSQL as `chained` computes it.
APPEND = """
WITH head AS MATERIALIZED (
    SELECT seq, seal FROM evidence_chainhead WHERE id = %(head)s FOR UPDATE
), link AS (
    INSERT INTO evidence_seal (seq, kind, object_id, row_hash, prev_seal, seal)
    SELECT head.seq + 1, %(kind)s, %(object_id)s, %(row_hash)s, head.seal,
           encode(sha256(decode(head.seal, 'hex') || decode(%(row_hash)s, 'hex')), 'hex')
    FROM head
    RETURNING seq, prev_seal, seal, sealed_at
)
UPDATE evidence_chainhead SET seq = link.seq, seal = link.seal
FROM link
WHERE evidence_chainhead.id = %(head)s
RETURNING link.seq, link.prev_seal, link.seal, link.sealed_at
"""


def _append_in_one_statement(*, kind: SealedKind, object_id: int, row_hash: bytes) -> Seal | None:
    """On PostgreSQL, the seal appended in one statement rather than four (lock the head,
    insert the seal, move the head, each built by the ORM); None, with nothing written, when
    the chain has no head yet: the caller then appends the ordinary way, which creates it."""
    with connection.cursor() as cursor:
        cursor.execute(
            APPEND,
            {"head": HEAD, "kind": kind.name, "object_id": object_id, "row_hash": row_hash.hex()},
        )
        appended = cursor.fetchone()
    if appended is None:
        return None
    seq, prev_seal, seal, sealed_at = appended
    link = Seal(
        seq=seq,
        kind=kind.name,
        object_id=object_id,
        row_hash=row_hash.hex(),
        prev_seal=prev_seal,
        seal=seal,
        sealed_at=sealed_at,
    )
    link._state.adding = False
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


def event_facts(event: Event) -> dict[str, object]:
    """Every column but `user_id` (cleared if the account is deleted; `username` says who)."""
    return {
        "at": event.at,
        "action": event.action,
        "username": event.username,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "organization": event.organization_id,
        "org_id": event.org_id,
        "address": event.address,
        "detail": event.detail,
    }


EVENTS = SealedKind(name="event", model=Event, settled=Q(), facts=event_facts)


def _event_write(
    *,
    action: str,
    user: AbstractBaseUser | None,
    object_type: str,
    object_id: str | int,
    organization_id: int | None = None,
    org_id: str = "",
    address: str = "",
    detail: str = "",
    flush_later: bool = False,
) -> Event:
    """`flush_later`: on PostgreSQL, outside a transaction, one statement whose commit does
    not wait for the disk (evidence.access_append); for file accesses, never decisions."""
    if action not in EventAction.values:
        raise ValueError(f"not a kind of event: {action!r}")
    event = Event(
        action=action,
        user=user if user is not None and user.pk is not None else None,
        username=user.get_username() if user is not None else "",
        object_type=object_type,
        object_id=str(object_id),
        organization_id=organization_id,
        org_id=org_id,
        address=address,
        detail=detail,
    )
    if flush_later and access_append(event=event, kind=EVENTS, head=HEAD) is not None:
        return event
    with transaction.atomic():
        event.save(force_insert=True)
        seal_append(kind=EVENTS, object_id=event.pk)
    return event


def record_access(
    *,
    action: str,
    user: AbstractBaseUser,
    organization_id: int,
    org_id: str,
    asset_id: str,
    address: str,
) -> Event | None:
    """A file's details, inline view or download, by whom, from which address; sealed.
    Nothing when EVIDENCE_ACCESS_LOG is off."""
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"not a file access: {action!r}")
    if not conf.EVIDENCE_ACCESS_LOG:
        return None
    return _event_write(
        action=action,
        user=user,
        object_type="file",
        object_id=asset_id,
        organization_id=organization_id,
        org_id=org_id,
        address=address,
        flush_later=True,
    )


def record_decision(
    *,
    action: str,
    user: AbstractBaseUser | None,
    object_type: str,
    object_id: str | int,
    detail: str = "",
) -> Event:
    """A person's decision behind deletions (EventAction: a job confirmed, approved, paused,
    resumed, cancelled; an erasure request's change of state, `detail` naming the new state),
    sealed. Call it in the transaction that makes the change, so both happen or neither.
    `user` None: no person (a command run without one); the event says so by its empty
    username."""
    if action in ACCESS_ACTIONS:
        raise ValueError(f"a file access is recorded by record_access: {action!r}")
    return _event_write(
        action=action, user=user, object_type=object_type, object_id=object_id, detail=detail
    )


def checkpoint_record(*, size: int, head: bytes, note: str) -> CheckpointRecord:
    """A copy of a checkpoint just signed, for the receipts to name."""
    return CheckpointRecord.objects.create(size=size, head=head.hex(), note=note)
