"""Reads: the deletion log as an outsider can check it, row by row, in chain order.

Each exported row is one seal: its place (`seq`), the record's canonical encoding as the row
now stands (evidence.canonical), the stored record hash, previous seal and seal. A complete
export (no filter) holds every seal of the chain; seals of other kinds of record (the access
and decision events) appear as links only, their canonical encoding left out, so the chain
is still unbroken. A filtered export holds only the deletion rows asked for, and has gaps.
Rows are read `chunk_size` at a time: memory stays bounded however long the log.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from io import StringIO

from django.db.models import QuerySet

from evidence.canonical import encode
from evidence.kinds import sealed_kinds
from evidence.models import Seal

DELETION_KIND = "file_deletion"
SEAL_COLUMNS = ["seq", "kind", "id", "row_hash", "prev_seal", "seal"]
# Readable columns of the CSV, each one of the canonical encoding's facts, copied from it.
FACT_COLUMNS = [
    "org_id",
    "asset_id",
    "file_name",
    "username",
    "reason",
    "state",
    "http_status",
    "request_id",
    "started_at",
    "finished_at",
]
CSV_COLUMNS = [*SEAL_COLUMNS, *FACT_COLUMNS, "canonical"]


def export_rows(
    *, deletions: QuerySet | None = None, chunk_size: int = 2000
) -> Iterator[dict[str, object]]:
    """One dict a seal, in chain order. `deletions`: only those deletion rows (a filtered
    export); None: the whole chain (a complete export)."""
    kinds = sealed_kinds()
    links = Seal.objects.order_by("seq")
    if deletions is not None:
        links = links.filter(kind=DELETION_KIND, object_id__in=deletions.values("pk"))
    links = links.values_list("seq", "kind", "object_id", "row_hash", "prev_seal", "seal")
    batch: list[tuple] = []
    for link in links.iterator(chunk_size=chunk_size):
        batch.append(link)
        if len(batch) == chunk_size:
            yield from _rows(batch, kinds)
            batch = []
    yield from _rows(batch, kinds)


def _rows(batch: list[tuple], kinds: dict) -> Iterator[dict[str, object]]:
    kind = kinds[DELETION_KIND]
    ids = [object_id for _, name, object_id, *_ in batch if name == DELETION_KIND]
    records = kind.model._default_manager.in_bulk(ids) if ids else {}
    for seq, name, object_id, row_hash, prev_seal, seal in batch:
        row: dict[str, object] = {
            "seq": seq,
            "kind": name,
            "id": object_id,
            "row_hash": row_hash,
            "prev_seal": prev_seal,
            "seal": seal,
            "canonical": None,
        }
        record = records.get(object_id) if name == DELETION_KIND else None
        if record is not None:
            row["canonical"] = encode(
                kind=name, object_id=object_id, facts=kind.facts(record)
            ).decode("ascii")
        yield row


def jsonl_lines(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=True, separators=(",", ":")) + "\n"


def csv_lines(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flushed() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flushed()
    for row in rows:
        facts = json.loads(row["canonical"]) if row["canonical"] else {}
        readable = [_cell(facts.get(column)) for column in FACT_COLUMNS]
        writer.writerow([*(_cell(row[c]) for c in SEAL_COLUMNS), *readable, row["canonical"] or ""])
        yield flushed()


def _cell(value: object) -> str:
    return "" if value is None else str(value)
