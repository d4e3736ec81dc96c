"""The one canonical encoding of a sealed record, and the chain's hashes.

Version 1, what `encode` writes (README, "Proving a deletion", says the same for auditors):
- one JSON object: the record's facts plus "v" (1), "kind" (e.g. "file_deletion") and "id";
- keys sorted by code point at every level, no whitespace (separators "," and ":");
- ASCII only: any other character is a \\uXXXX escape (lowercase hex, a surrogate pair above
  U+FFFF), as are the control characters; `"` and `\\` are escaped; "/" is not;
- times as strings, UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six digits of microseconds);
  absent values as null; numbers as Python's json module writes them; no NaN or infinity.
The record's hash is SHA-256 of those bytes; a seal is SHA-256(previous seal || record hash)
over the raw 32-byte digests, the first seal's previous one being 32 zero bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

VERSION = 1
GENESIS = bytes(32)


def timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"a naive time cannot be sealed: {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _times(value: object) -> str:
    if isinstance(value, datetime):
        return timestamp(value)
    raise TypeError(f"cannot seal a {type(value).__name__}: {value!r}")


def encode(*, kind: str, object_id: int, facts: Mapping[str, object]) -> bytes:
    reserved = {"v", "kind", "id"} & facts.keys()
    if reserved:
        raise ValueError(f"facts may not be named {sorted(reserved)}")
    document = {**facts, "v": VERSION, "kind": kind, "id": object_id}
    text = json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_times,
    )
    return text.encode("ascii")


def record_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


def chained(prev_seal: bytes, row_hash: bytes) -> bytes:
    return hashlib.sha256(prev_seal + row_hash).digest()
