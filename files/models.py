from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from files.display import display_name
from files.tokens import decrypt_token
from tallyfy_api.base_urls import DisallowedBaseURL, check_api_base_url
from tallyfy_api.ids import ID_PATTERN

validate_tallyfy_id = RegexValidator(
    rf"\A{ID_PATTERN}\Z", "Use 1 to 255 letters, digits, '-' or '_' (a Tallyfy id)."
)


def validate_api_base_url(value: str) -> None:
    try:
        check_api_base_url(
            value,
            allowed_hosts=settings.TALLYFY_ALLOWED_API_HOSTS,
            insecure_hosts=settings.TALLYFY_INSECURE_API_HOSTS,
        )
    except DisallowedBaseURL as exc:
        raise ValidationError(str(exc)) from exc


def default_api_base_url() -> str:
    return settings.TALLYFY_DEFAULT_API_BASE_URL


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    org_id = models.CharField(
        "Tallyfy organization id", max_length=255, validators=[validate_tallyfy_id]
    )
    api_base_url = models.CharField(
        "API base URL",
        max_length=500,
        default=default_api_base_url,
        validators=[validate_api_base_url],
        help_text="https://go.tallyfy.com/api (documented) or https://api.tallyfy.com.",
    )
    token_ciphertext = models.TextField(editable=False)
    token_last4 = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set by files.services.organization_check_connection, never by a form.
    last_connected_at = models.DateTimeField(
        "last successful connection", null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def token_hint(self) -> str:
        return f"…{self.token_last4}" if self.token_last4 else "(not set)"

    def access_token(self) -> str:
        return decrypt_token(self.token_ciphertext, owner=f"organization {self.name!r}")


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
        permissions = [
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

    def __str__(self) -> str:
        return f"ticket for {self.asset_id}"
