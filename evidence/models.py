from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


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


class CheckpointRecord(models.Model):
    """A checkpoint seal_deletion_log signed, as it wrote it: so that a receipt can name the
    latest checkpoint covering its row. A copy only: the checkpoints that prove anything are
    the ones kept outside the database. Appended only (migration 0003)."""

    size = models.PositiveBigIntegerField()
    head = models.CharField(max_length=64)  # hex
    note = models.TextField()  # the signed note, exactly as written
    written_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["size", "-id"], name="checkpoint_size_idx")]

    def __str__(self) -> str:
        return f"checkpoint of {self.size} rows"


class EventAction(models.TextChoices):
    """What an event records. A new kind of decision is one line here (and a migration that
    only records the new choice: no SQL)."""

    FILE_VIEWED = "file_viewed", "File details viewed"
    FILE_INLINE = "file_inline", "File viewed inline"
    FILE_DOWNLOADED = "file_downloaded", "File downloaded"
    JOB_CONFIRMED = "job_confirmed", "Deletion job confirmed"
    JOB_APPROVED = "job_approved", "Deletion job approved"
    JOB_REJECTED = "job_rejected", "Deletion job rejected"
    JOB_PAUSED = "job_paused", "Deletion job paused"
    JOB_RESUMED = "job_resumed", "Deletion job resumed"
    JOB_CANCELLED = "job_cancelled", "Deletion job cancelled"
    ERASURE_REQUEST_CHANGED = "erasure_request_changed", "Erasure request changed state"


ACCESS_ACTIONS = (EventAction.FILE_VIEWED, EventAction.FILE_INLINE, EventAction.FILE_DOWNLOADED)


class Event(models.Model):
    """Who looked at a file, or decided something behind a deletion: sealed into the same
    chain as the deletion log, in the transaction that writes it, and never changed (the
    database refuses, migration 0003), but for `user_id`, cleared when an account goes."""

    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=50, choices=EventAction.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    object_type = models.CharField(max_length=50)  # "file", "deletion_job", "erasure_request"
    object_id = models.CharField(max_length=255)
    organization_id = models.PositiveBigIntegerField(null=True, blank=True)
    org_id = models.CharField("Tallyfy organization id", max_length=255, blank=True)
    address = models.CharField("from address", max_length=45, blank=True)
    detail = models.TextField(blank=True)  # e.g. the state an erasure request moved to

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="event_recent_idx"),
            models.Index(fields=["object_type", "object_id"], name="event_object_idx"),
            models.Index(fields=["action", "-at"], name="event_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.object_type} {self.object_id}"
