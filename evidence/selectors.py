"""Reads: checking the seal chain against itself and against the records it seals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from evidence.canonical import GENESIS, chained, encode, record_hash
from evidence.kinds import SealedKind, sealed_kinds
from evidence.models import ChainHead, CheckpointRecord, Seal


@dataclass
class ChainCheck:
    size: int = 0  # seals read
    head: bytes = GENESIS  # the last seal read
    problems: list[str] = field(default_factory=list)  # in chain order; the first is first
    seals_at: dict[int, bytes] = field(default_factory=dict)  # size → the seal at that size

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Link:
    seq: int
    kind: str
    object_id: int
    row_hash: str
    prev_seal: str
    seal: str


def chain_check(*, chunk_size: int = 2000, sizes: Iterable[int] = ()) -> ChainCheck:
    """Walk every seal in order, `chunk_size` at a time (memory stays bounded), recomputing
    the chain and each sealed record's hash from the record as it now is; then look for
    settled records without a seal and compare the chain's head. `sizes`: the seals wanted
    for checkpoints (size 0 is the empty chain's 32 zero bytes)."""
    kinds = sealed_kinds()
    check = ChainCheck()
    wanted = set(sizes)
    if 0 in wanted:
        check.seals_at[0] = GENESIS
    links = Seal.objects.order_by("seq").values_list(
        "seq", "kind", "object_id", "row_hash", "prev_seal", "seal"
    )
    batch: list[_Link] = []
    for values in links.iterator(chunk_size=chunk_size):
        batch.append(_Link(*values))
        if len(batch) == chunk_size:
            _check_links(batch, kinds, check, wanted)
            batch = []
    _check_links(batch, kinds, check, wanted)
    _check_head(check)
    for kind in kinds.values():
        _check_all_sealed(kind, check)
    return check


def _check_links(
    batch: list[_Link], kinds: dict[str, SealedKind], check: ChainCheck, wanted: set[int]
) -> None:
    records: dict[tuple[str, int], object] = {}
    for name, kind in kinds.items():
        ids = [link.object_id for link in batch if link.kind == name]
        if ids:
            found = kind.model._default_manager.in_bulk(ids)
            records.update(((name, pk), record) for pk, record in found.items())
    for link in batch:
        problem = _link_problem(link, check, kinds, records)
        if problem:
            check.problems.append(problem)
        check.size, check.head = link.seq, _unhex(link.seal)
        if link.seq in wanted:
            check.seals_at[link.seq] = check.head


def _link_problem(
    link: _Link,
    check: ChainCheck,
    kinds: dict[str, SealedKind],
    records: dict[tuple[str, int], object],
) -> str | None:
    what = f"{link.kind} {link.object_id} (seal #{link.seq})"
    if link.seq != check.size + 1:
        return (
            f"seal #{check.size + 1} is missing: seal #{link.seq} follows seal #{check.size}, "
            "so sealed rows were removed or the seals renumbered"
        )
    if _unhex(link.prev_seal) != check.head:
        return (
            f"{what} does not follow seal #{check.size}: it was made after another seal, so "
            "rows were inserted, removed or reordered before it"
        )
    if _unhex(link.seal) != chained(_unhex(link.prev_seal), _unhex(link.row_hash)):
        return f"{what} was altered: it is not SHA-256(previous seal || record hash)"
    kind = kinds.get(link.kind)
    if kind is None:
        return f"{what} names a kind of record this panel does not keep"
    record = records.get((link.kind, link.object_id))
    if record is None:
        return f"{what} was removed: its row is not in {kind.model._meta.db_table}"
    now = record_hash(encode(kind=kind.name, object_id=link.object_id, facts=kind.facts(record)))
    if now != _unhex(link.row_hash):
        return f"{what} was edited after it was sealed: the row no longer has the sealed facts"
    return None


def _check_head(check: ChainCheck) -> None:
    head = ChainHead.objects.filter(pk=1).first()
    seq, seal = (head.seq, _unhex(head.seal)) if head else (0, GENESIS)
    if seq > check.size:
        check.problems.append(
            f"the chain ends at seal #{check.size} but its head is seal #{seq}: seals were "
            "removed from its end"
        )
    elif seq < check.size:
        check.problems.append(
            f"the chain's head is seal #{seq} but seals go on to #{check.size}: seals were "
            "inserted without the application"
        )
    elif seal != check.head:
        check.problems.append(f"the chain's head does not match seal #{seq}")


def _check_all_sealed(kind: SealedKind, check: ChainCheck) -> None:
    unsealed = (
        kind.model._default_manager.filter(kind.settled)
        .filter(~Exists(Seal.objects.filter(kind=kind.name, object_id=OuterRef("pk"))))
        .order_by("pk")
    )
    first = unsealed.values_list("pk", flat=True).first()
    if first is not None:
        check.problems.append(
            f"{kind.name} {first} is settled but has no seal ({unsealed.count()} such rows): "
            "it was inserted or settled outside the application, or its seal was removed"
        )


def _unhex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def chain_head() -> tuple[int, bytes]:
    """The chain's size and last seal, as the seals now stand (0 and 32 zero bytes when
    nothing is sealed yet)."""
    last = Seal.objects.order_by("-seq").values_list("seq", "seal").first()
    return (0, GENESIS) if last is None else (last[0], _unhex(last[1]))


@dataclass(frozen=True)
class Receipt:
    seal: Seal | None  # None: not sealed (the row is not settled yet)
    checkpoint: CheckpointRecord | None  # the latest signed checkpoint that covers the seal


def receipt_of(*, kind: str, object_id: int) -> Receipt:
    """A record's seal and the latest checkpoint whose row count reaches it, from the copies
    seal_deletion_log keeps (evidence.CheckpointRecord)."""
    seal = Seal.objects.filter(kind=kind, object_id=object_id).first()
    if seal is None:
        return Receipt(None, None)
    checkpoint = CheckpointRecord.objects.filter(size__gte=seal.seq).order_by("-id").first()
    return Receipt(seal, checkpoint)
