"""An erasure request (GDPR Art. 17) for one data subject of one organization, and its history.

The subject's identifiers are personal data: only their ciphertext (the token keys' Fernet), a
masked form for lists and a keyed hash per email for look-up are stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from organizations.models import Organization


class RequestState(models.TextChoices):
    RECEIVED = "received", "received"
    DISCOVERING = "discovering", "discovering"
    REVIEW = "review", "in review"
    AWAITING_APPROVAL = "awaiting_approval", "awaiting approval"
    ERASING = "erasing", "erasing"
    COMPLETED = "completed", "completed"
    COMPLETED_WITH_EXCEPTIONS = "completed_with_exceptions", "completed with exceptions"
    REJECTED = "rejected", "rejected"
    CANCELLED = "cancelled", "cancelled"


class LegalBasis(models.TextChoices):
    NO_LONGER_NECESSARY = "no_longer_necessary", "Art. 17(1)(a): no longer necessary"
    CONSENT_WITHDRAWN = "consent_withdrawn", "Art. 17(1)(b): consent withdrawn"
    OBJECTION = "objection", "Art. 17(1)(c): objection to processing"
    UNLAWFUL = "unlawful", "Art. 17(1)(d): unlawfully processed"
    LEGAL_OBLIGATION = "legal_obligation", "Art. 17(1)(e): legal obligation"
    CHILD = "child", "Art. 17(1)(f): information society service offered to a child"


class ErasureRequest(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    # Fernet ciphertext of {"emails": [...], "name": "..."} (erasure.subjects).
    subject_ciphertext = models.TextField(editable=False)
    subject_masked = models.CharField("subject", max_length=500, editable=False)
    reference = models.CharField(
        "requester's reference", max_length=200, help_text="The ticket or letter this came in."
    )
    legal_basis = models.CharField(max_length=40, choices=LegalBasis.choices)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField(editable=False)
    extension_months = models.PositiveSmallIntegerField(default=0, editable=False)
    extension_reason = models.TextField(blank=True, editable=False)
    subject_told_of_extension_on = models.DateField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verification_method = models.CharField(
        "how the identity was verified",
        max_length=500,
        help_text="For example: replied from the"
        " address on file, and confirmed the last four digits of the account number.",
    )
    verified_at = models.DateTimeField("identity verified at")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="erasure_requests_assigned",
    )
    state = models.CharField(
        max_length=30, choices=RequestState.choices, default=RequestState.RECEIVED, editable=False
    )
    # Why it was rejected, cancelled or closed with exceptions, as the person who did it wrote it.
    state_reason = models.TextField(blank=True, editable=False)
    # Review and approval: who sent it for approval, and the second person who approved it.
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="sent for approval by",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["due_at", "id"]
        permissions = [("handle_erasurerequest", "Can handle erasure requests")]
        indexes = [models.Index(fields=["state", "due_at"], name="erasure_state_due_idx")]

    def __str__(self) -> str:
        return f"Erasure request {self.reference}"


class SubjectEmail(models.Model):
    """One of the subject's emails as a keyed hash, so a request can be found by email without
    decrypting every request."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="emails")
    email_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "email_hash"], name="erasure_email_once")
        ]

    def __str__(self) -> str:
        return f"an email of request {self.request_id}"


class RequestEvent(models.Model):
    """Append-only: every change of a request's state or due date, with who and when."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30)
    # None: the panel itself (a deletion job of the request ended).
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(db_default=Now())
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or 'new'} → {self.to_state}"


class Rule(models.TextChoices):
    UPLOADED_BY_SUBJECT = "uploaded_by_subject", "uploaded by the subject"
    UPLOADED_BY_SUBJECT_INFERRED = (
        "uploaded_by_subject_inferred",
        "uploaded by the subject (inferred from the activity feed)",
    )
    NAME_HOLDS_EMAIL = "name_holds_email", "file name holds the subject's email"
    NAME_HOLDS_NAME = "name_holds_name", "file name holds the subject's name"
    UNKNOWN_UPLOADER_NEARBY = (
        "unknown_uploader_nearby",
        "candidate: unknown uploader, in a run or task where the subject uploaded",
    )
    ON_GUEST_TASK = "on_guest_task", "on a task assigned to the subject as a guest"
    KICKOFF_WITH_SUBJECT_UPLOAD = (
        "kickoff_with_subject_upload",
        "in a kick-off form the subject uploaded to",
    )
    KICKOFF_SUBMITTED = "kickoff_submitted", "in a kick-off form the subject submitted"


class SearchOutcome(models.TextChoices):
    SEARCHED = "searched", "searched"
    INCOMPLETE = "incomplete", "could not be completed"
    NOT_SEARCHABLE = "not_searchable", "not searchable"


class Discovery(models.Model):
    """One search of the index for a request's subject: what was searched, when, and how
    complete the index was."""

    request = models.ForeignKey(
        ErasureRequest, on_delete=models.PROTECT, related_name="discoveries"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())
    index_completed_at = models.DateTimeField(
        "index last completed at", null=True, blank=True, help_text="The last whole scan's end."
    )
    index_note = models.TextField(blank=True, help_text="What the index may be missing.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "discoveries"

    def __str__(self) -> str:
        return f"discovery {self.pk} of request {self.request_id}"


class RuleSearch(models.Model):
    """That a rule was run and how many files it found, "none found" included."""

    discovery = models.ForeignKey(Discovery, on_delete=models.CASCADE, related_name="searches")
    rule = models.CharField(max_length=40, choices=Rule.choices)
    searched_for = models.CharField(max_length=500, help_text="Masked: what the rule looked for.")
    found = models.PositiveIntegerField()
    outcome = models.CharField(
        max_length=20, choices=SearchOutcome.choices, default=SearchOutcome.SEARCHED
    )
    note = models.CharField(
        max_length=500, blank=True, help_text="Why the search is incomplete, or cannot be made."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_rule_display()}: {self.found}"


class Decision(models.TextChoices):
    UNDECIDED = "", "not decided"
    KEEP = "keep", "to delete"
    LEAVE_OUT = "leave_out", "left out"


class LeaveOutReason(models.TextChoices):
    NOT_ABOUT_SUBJECT = "not_about_subject", "not about the subject"
    LEGAL_HOLD = "legal_hold", "legal hold"
    LINK = "link", "a link (nothing to delete)"
    ORGANIZATION_LOGO = "organization_logo", "an organization logo"
    KEPT_BY_POLICY = "kept_by_policy", "kept by policy"


class Finding(models.Model):
    """A file a rule found, as the index had it then."""

    discovery = models.ForeignKey(Discovery, on_delete=models.CASCADE, related_name="findings")
    indexed_file = models.ForeignKey(
        "catalog.IndexedFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset_id = models.CharField("file id", max_length=255, blank=True)
    file_name = models.CharField(max_length=1000, blank=True)
    run_name = models.CharField("process run", max_length=1000, blank=True)
    task_name = models.CharField("task", max_length=1000, blank=True)
    rule = models.CharField(max_length=40, choices=Rule.choices)
    is_candidate = models.BooleanField(default=False)
    is_link = models.BooleanField(
        default=False, help_text="A link, not a file: there is nothing in Tallyfy to delete."
    )
    # Review: set by erasure.review only, while the request is in review.
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True, default="")
    leave_out_reason = models.CharField(max_length=30, choices=LeaveOutReason.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["is_candidate", "rule", "file_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["discovery", "indexed_file", "rule"], name="erasure_finding_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name or self.asset_id} ({self.get_rule_display()})"


class ErasureJob(models.Model):
    """A deletion job (jobs) of a request's files: the one its approval started, then one per
    *Retry failed files*."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="jobs")
    job = models.OneToOneField("jobs.DeletionJob", on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.job} of request {self.request_id}"
