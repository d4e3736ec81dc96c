from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from organizations.models import Organization
from tallyfy_api.names import display_name


class DeletionState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELETED = "deleted", "Deleted"
    ALREADY_GONE = "already_gone", "Already gone"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"


UNSETTLED_STATES = (DeletionState.PENDING, DeletionState.UNKNOWN)
GONE_STATES = (DeletionState.DELETED, DeletionState.ALREADY_GONE)


class FileDeletion(models.Model):
    """One deletion attempt. Written before the DELETE is sent; settled once, never removed."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    org_id = models.CharField("Tallyfy organization id", max_length=255)
    asset_id = models.CharField("file id", max_length=255)
    file_name = models.CharField(max_length=1000, blank=True)
    subject_type = models.CharField(max_length=50, blank=True)
    subject_id = models.CharField(max_length=255, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField("metadata snapshot", null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    reason = models.TextField()
    state = models.CharField(
        max_length=20, choices=DeletionState.choices, default=DeletionState.PENDING
    )
    http_status = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    error_message = models.TextField("Tallyfy's message", blank=True)
    outcome = models.TextField(blank=True)
    request_id = models.CharField("X-Request-Id", max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The deletion job this row belongs to, if any (jobs refer to the log, never the reverse).
    job_id = models.PositiveBigIntegerField("deletion job", null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # Only the permissions the panel checks, each named for what it allows (no add,
        # change or delete of rows nobody edits by hand).
        default_permissions = ()
        permissions = [
            ("view_filedeletion", "Can read the deletion log"),
            ("lookup_file", "Can look up, view and download Tallyfy files"),
            ("delete_file", "Can permanently delete Tallyfy files"),
        ]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="deletion_recent_idx"),
            models.Index(fields=["state", "-started_at", "-id"], name="deletion_state_idx"),
            models.Index(fields=["asset_id"], name="deletion_asset_idx"),
            models.Index(fields=["organization", "-started_at", "-id"], name="deletion_org_idx"),
            models.Index(fields=["job_id", "asset_id"], name="deletion_job_idx"),
        ]
        constraints = [
            # At most one deletion of a file in flight: the second one's row cannot be written.
            models.UniqueConstraint(
                fields=["org_id", "asset_id"],
                condition=models.Q(state__in=UNSETTLED_STATES),
                name="deletion_one_in_flight",
                violation_error_message="A deletion of this file is already in progress.",
            ),
        ]

    def __str__(self) -> str:
        return f"{display_name(self.file_name) or self.asset_id} ({self.get_state_display()})"


class DeletionTicket(models.Model):
    """One showing of the confirm page. The POST that acts on it uses it up, once, so a
    double submit or a resubmitted form cannot start a second deletion."""

    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    asset_id = models.CharField("file id", max_length=255)
    file_name = models.CharField("file name shown", max_length=1000, blank=True)
    issued_at = models.DateTimeField(default=timezone.now, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    deletion = models.OneToOneField(
        FileDeletion, null=True, blank=True, on_delete=models.SET_NULL, related_name="ticket"
    )

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"ticket for {self.asset_id}"
