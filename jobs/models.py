"""Deletion jobs: many files, one reason. These tables are the source of truth; the task queue
only wakes workers up."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class JobState(models.TextChoices):
    PREVIEWING = "previewing", "Preview running"
    PREVIEWED = "previewed", "Preview ready"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"
    FINISHED_WITH_FAILURES = "finished_with_failures", "Finished with failures"
    REJECTED = "rejected", "Rejected"


class DeletionJob(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField("created by", max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=30, choices=JobState.choices, default=JobState.PREVIEWING)
    # Why the job paused itself (or was paused by a worker), shown on its page.
    pause_reason = models.TextField("why it paused", blank=True)
    # The job whose failed and unknown files this one tries again.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries"
    )
    reason = models.TextField(blank=True)
    built_from = models.TextField(
        "built from", blank=True, help_text="The search or list of the file index it was made of."
    )
    warning = models.TextField(
        blank=True,
        help_text="What the people confirming and approving it must know: files that may "
        "belong to the same person and are not in it.",
    )
    start_after = models.DateTimeField("start after", null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_name = models.CharField("approved by", max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejected_by_name = models.CharField("rejected by", max_length=150, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField("why it was rejected", blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    woken_at = models.DateTimeField(null=True, blank=True)
    creator_told = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Seeing, starting and stopping jobs follow files.delete_file (jobs.views): the only
        # permission of their own is approving.
        default_permissions = ()
        permissions = [("approve_deletionjob", "Can approve other users' deletion jobs")]
        indexes = [
            models.Index(fields=["state"], name="job_state_idx"),
            # What each admin page asks: has a job of this user ended without telling them?
            models.Index(fields=["created_by", "creator_told", "state"], name="job_untold_idx"),
        ]

    def __str__(self) -> str:
        return f"Deletion job {self.pk}"


class PreviewState(models.TextChoices):
    UNRESOLVED = "unresolved", "Not read yet"
    FOUND = "found", "Found"
    NOT_FOUND = "not_found", "Not found"
    NOT_DELETABLE = "not_deletable", "Not deletable"
    WRONG_ORGANIZATION = "wrong_organization", "Wrong organization"
    UNREADABLE = "unreadable", "Could not be read"


class FileState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    LEFT_OUT = "left_out", "Left out (not found or not deletable at preview)"
    NOT_ATTEMPTED = "not_attempted", "Not attempted (job cancelled or rejected)"
    REFUSED = "refused", "Refused before sending"
    DONE = "done", "Done (see its log row)"


class JobFile(models.Model):
    job = models.ForeignKey(DeletionJob, on_delete=models.CASCADE, related_name="files")
    asset_id = models.CharField("file id", max_length=255)
    line = models.PositiveIntegerField("line")
    preview = models.CharField(
        max_length=20, choices=PreviewState.choices, default=PreviewState.UNRESOLVED
    )
    note = models.TextField(blank=True)
    file_name = models.CharField(max_length=1000, blank=True)
    subject_type = models.CharField("attached to", max_length=50, blank=True)
    subject_id = models.CharField(max_length=255, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    # The file's metadata as the preview read it (Tallyfy's JSON, as tallyfy_api.Asset keeps
    # it) and when, on the database's clock: while recent enough it stands as the log row's
    # snapshot, and the DELETE goes without a second read (JOBS_SNAPSHOT_MAX_AGE_SECONDS).
    preview_snapshot = models.JSONField("metadata the preview read", null=True, blank=True)
    previewed_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=FileState.choices, default=FileState.WAITING)
    claimed_by = models.CharField(max_length=64, blank=True)
    # Raised by every claim and by every change that takes the file from its holder: a write
    # by a worker names the fence it claimed with, so a worker whose claim was taken writes
    # nothing.
    fence = models.PositiveBigIntegerField(default=0)
    # Transient failures (timeouts, 5xx, unreachable): the file waits until `retry_at`.
    failures = models.PositiveSmallIntegerField(default=0)
    failed_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    deletion = models.OneToOneField(
        "files.FileDeletion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "id"]
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["job", "asset_id"], name="job_file_once"),
        ]
        indexes = [
            models.Index(fields=["job", "state", "id"], name="job_file_state_idx"),
            models.Index(fields=["job", "preview", "id"], name="job_file_preview_idx"),
            # The files a worker holds (few at any time): released when it stops or dies.
            models.Index(
                fields=["claimed_by"], condition=~models.Q(claimed_by=""), name="job_file_held_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.file_name or self.asset_id


class Worker(models.Model):
    """A process working on jobs; its claims lapse when its heartbeat stops."""

    id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(db_default=Now())
    heartbeat_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
