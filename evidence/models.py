from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class Seal(models.Model):
    """One link of the hash chain: the record `kind` #`object_id`, as it was when it settled.

    `row_hash` is SHA-256 of the record's canonical encoding (evidence.canonical) and
    `seal` = SHA-256(`prev_seal` || `row_hash`), over the raw 32-byte digests; the first
    seal's `prev_seal` is 32 zero bytes. Hashes are stored as lowercase hex. Appended only
    (evidence.services), in one order, `seq` 1, 2, 3, … without gaps; the database refuses
    every UPDATE and DELETE of a seal (migration 0002).
    """

    seq = models.PositiveBigIntegerField(primary_key=True)
    kind = models.CharField(max_length=50)
    object_id = models.PositiveBigIntegerField()
    row_hash = models.CharField(max_length=64)
    prev_seal = models.CharField(max_length=64)
    seal = models.CharField(max_length=64)
    # The database's clock. Informative: the seal covers the record's own times, not this.
    sealed_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="seal_once"),
        ]

    def __str__(self) -> str:
        return f"seal #{self.seq} ({self.kind} {self.object_id})"


class ChainHead(models.Model):
    """The chain's last seal: one row, locked by each append, so that appends happen one at a
    time and two writers can never both extend the same seal (which would fork the chain)."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.PositiveBigIntegerField()
    seal = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head at seal #{self.seq}"
