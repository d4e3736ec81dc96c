#!/usr/bin/env python3
"""Verify an export of the deletion log (export_deletion_log, or the log's Export links).

Standard library only, and independent of the panel's code: it follows the chain format as
the README's "Proving a deletion" describes it.

    python3 verify_export.py EXPORT.csv|EXPORT.jsonl [--complete] [--checkpoint FILE ...]

For every row: the canonical encoding's SHA-256 is the row's hash, the seal is
SHA-256(previous seal || row hash) over the raw 32-byte digests, the canonical encoding is
canonical (re-encoding it gives the same bytes) and names the row's kind and id, and the CSV's
readable columns say what the canonical encoding says. Rows are in increasing `seq`; where
two rows are consecutive seals, the second's previous seal is the first's seal.
--complete: the export must be the whole chain (seq 1, 2, 3, … without gaps, the first
previous seal 32 zero bytes), as an unfiltered export is. --checkpoint: the export must hold
the checkpoint's row count and head seal (implies --complete). The checkpoint's signature is
NOT checked here (Ed25519 is not in the standard library): `verify_deletion_log --checkpoint`
checks it, or any Ed25519 implementation of the C2SP signed-note format.
Exit status 0 when everything holds, 1 with the first problem otherwise.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import sys
from collections.abc import Iterator

GENESIS = "00" * 32
READABLE = [
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


class Broken(Exception):
    pass


def rows(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        if file.read(1) != "{":  # JSON Lines start with an object, a CSV with its header
            file.seek(0)
            for row in csv.DictReader(file):
                yield {**row, "csv": True}
        else:
            file.seek(0)
            for number, line in enumerate(file, 1):
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise Broken(f"line {number} is not JSON: {exc}") from exc


def canonical_form(document: dict) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def check_row(row: dict) -> None:
    where = f"seal #{row['seq']} ({row['kind']} {row['id']})"
    row_hash, prev, seal = (bytes.fromhex(row[k]) for k in ("row_hash", "prev_seal", "seal"))
    canonical = row.get("canonical") or ""
    if canonical:
        if sha256(canonical.encode("ascii")) != row_hash:
            raise Broken(f"{where}: its canonical encoding does not hash to its row hash")
        document = json.loads(canonical)
        if canonical_form(document) != canonical:
            raise Broken(f"{where}: its canonical encoding is not in canonical form")
        if document.get("kind") != row["kind"] or str(document.get("id")) != str(row["id"]):
            raise Broken(f"{where}: its canonical encoding names another record")
        if row.get("csv"):
            for column in READABLE:
                value = document.get(column)
                if ("" if value is None else str(value)) != row.get(column):
                    raise Broken(f"{where}: its {column} is not what its seal covers")
    elif row["kind"] == "file_deletion":
        raise Broken(f"{where}: a deletion row without its canonical encoding")
    if sha256(prev + row_hash) != seal:
        raise Broken(f"{where}: its seal is not SHA-256(previous seal || row hash)")


def verify(path: str, complete: bool, checkpoints: list[tuple[int, str]]) -> str:
    last_seq, last_seal, count, gaps = 0, GENESIS, 0, 0
    seals: dict[int, str] = {0: GENESIS}
    wanted = {size for size, _ in checkpoints}
    for row in rows(path):
        seq = int(row["seq"])
        check_row(row)
        if seq <= last_seq:
            raise Broken(f"seal #{seq} comes after seal #{last_seq}: rows were reordered")
        if seq == last_seq + 1:
            if row["prev_seal"] != last_seal:
                raise Broken(f"seal #{seq} does not follow seal #{last_seq}")
        elif complete:
            raise Broken(f"seals #{last_seq + 1} to #{seq - 1} are missing: rows were removed")
        else:
            gaps += 1
        last_seq, last_seal, count = seq, row["seal"], count + 1
        if seq in wanted:
            seals[seq] = row["seal"]
    for size, head in checkpoints:
        if size > last_seq:
            raise Broken(f"a checkpoint has {size} rows, the export only {last_seq}")
        if seals.get(size) != head:
            raise Broken(f"the seal at {size} rows is not the checkpoint's head")
    head = base64.b64encode(bytes.fromhex(last_seal)).decode()
    if gaps:
        return (
            f"{count} rows verified, each sealing its own facts; a selection with {gaps} gap(s) "
            "(a filtered export: rows outside it cannot be checked from it)"
        )
    return f"{count} rows, chain intact from seal #1; head seal {last_seal} (base64 {head})"


def read_checkpoint(path: str) -> tuple[int, str]:
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise Broken(f"{path} is not a checkpoint")
    return int(lines[1]), base64.b64decode(lines[2], validate=True).hex()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export")
    parser.add_argument("--complete", action="store_true")
    parser.add_argument("--checkpoint", nargs="+", default=[], metavar="FILE")
    args = parser.parse_args(argv)
    try:
        checkpoints = [read_checkpoint(path) for path in args.checkpoint]
        print(verify(args.export, args.complete or bool(checkpoints), checkpoints))
    except (Broken, KeyError, ValueError, OSError) as exc:
        what = f"missing column {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"NOT VERIFIED: {what}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
