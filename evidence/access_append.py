"""A file access written and sealed in one statement, on PostgreSQL.

Opening a file's page records who opened it. Written as `seal_append` writes a record, that is
seven round trips to the database (begin, insert, lock the head, read the record back, insert
the seal, move the head, commit) and a wait for the write-ahead log to reach the disk, all
while the head is locked; on a busy machine that cost a page tens of milliseconds. Here it is
two statements: the event's id, then one that locks the head, inserts the event and its seal
and moves the head. Its commit waits for the disk like every other record's: on a quiet
machine not waiting saved nothing measurable (bench/results/20261204T073815Z.json).

The chain's guarantees are those of `seal_append`: the head row is locked (FOR UPDATE) before
anything is appended, so concurrent appends, these and the others, still extend it one at a
time. The seal is the same SHA-256(previous seal || record hash), computed by PostgreSQL from
the record hash computed here.
"""

from __future__ import annotations

from django.db import connection

from evidence.canonical import encode, record_hash
from evidence.kinds import SealedKind
from evidence.models import Event

APPEND = """
WITH head AS MATERIALIZED (
    SELECT seq, seal FROM evidence_chainhead WHERE id = %(head)s FOR UPDATE
), event AS (
    INSERT INTO evidence_event (id, at, action, user_id, username, object_type, object_id,
                                organization_id, org_id, address, detail)
    SELECT %(id)s, %(at)s, %(action)s, %(user_id)s, %(username)s, %(object_type)s,
           %(object_id)s, %(organization_id)s, %(org_id)s, %(address)s, %(detail)s
    FROM head
    RETURNING id
), link AS (
    INSERT INTO evidence_seal (seq, kind, object_id, row_hash, prev_seal, seal)
    SELECT head.seq + 1, %(kind)s, event.id, %(row_hash)s, head.seal,
           encode(sha256(decode(head.seal, 'hex') || decode(%(row_hash)s, 'hex')), 'hex')
    FROM head, event
    RETURNING seq, seal
)
UPDATE evidence_chainhead SET seq = link.seq, seal = link.seal
FROM link
WHERE evidence_chainhead.id = %(head)s
RETURNING link.seq
"""


def access_append(*, event: Event, kind: SealedKind, head: int) -> Event | None:
    """`event` (not yet saved) written and sealed as the chain's next link; None, with nothing
    written, where this cannot be done (not PostgreSQL, inside a transaction whose commit
    must stay durable, or no head yet): the caller then writes it the ordinary way."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('evidence_event', 'id'))")
        pk = cursor.fetchone()[0]
        row_hash = record_hash(encode(kind=kind.name, object_id=pk, facts=kind.facts(event)))
        cursor.execute(
            APPEND,
            {
                "head": head,
                "id": pk,
                "at": event.at,
                "action": event.action,
                "user_id": event.user_id,
                "username": event.username,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "organization_id": event.organization_id,
                "org_id": event.org_id,
                "address": event.address,
                "detail": event.detail,
                "kind": kind.name,
                "row_hash": row_hash.hex(),
            },
        )
        if cursor.fetchone() is None:
            return None
    event.pk = pk
    event._state.adding = False
    return event
