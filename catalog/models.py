from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from organizations.models import Organization
from tallyfy_api.names import display_name


class AttachedTo(models.TextChoices):
    RUN = "run", "Process run"
    TASK = "task", "Task"
    TEMPLATE = "template", "Template"
    ONEOFF_TASK = "oneoff_task", "One-off task"


class ScanState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ScanPhase(models.TextChoices):
    RUNS = "runs", "Process runs"
    ARCHIVED_RUNS = "archived_runs", "Archived process runs"
    TASKS = "tasks", "Tasks"
    COMPLETED_TASKS = "completed_tasks", "Completed tasks"
    ARCHIVED_TASKS = "archived_tasks", "Archived tasks"
    ARCHIVED_COMPLETED_TASKS = "archived_done_tasks", "Archived completed tasks"
    # When the organization-wide task listing fails or leaves tasks out: each run's tasks,
    # then one-off tasks apart.
    RUN_TASKS = "run_tasks", "Each process run's tasks"
    ONEOFF_TASKS = "oneoff_tasks", "One-off tasks"
    COMPLETED_ONEOFF_TASKS = "done_oneoffs", "Completed one-off tasks"
    ARCHIVED_ONEOFF_TASKS = "archived_oneoffs", "Archived one-off tasks"
    ARCHIVED_COMPLETED_ONEOFF_TASKS = "archived_done_oneoffs", "Archived completed one-off tasks"
    TEMPLATES = "templates", "Templates"
    ARCHIVED_TEMPLATES = "archived_templates", "Archived templates"
    RUN = "run", "The process run"
    CHANGES = "changes", "What changed (activity feed)"
    NEW_RUNS = "new_runs", "Process runs started since"
    CHANGED_RUNS = "changed_runs", "Process runs that changed"
    CHANGED_FILES = "changed_files", "Files the feed names"
    UPLOADS = "uploads", "Who uploaded (activity feed)"
    UPLOADERS = "uploaders", "Asking the feed about files with no uploader"
    FINISHING = "finishing", "Checking files no longer found"
    DONE = "done", "Finished"


UNFINISHED_SCAN_STATES = (ScanState.QUEUED, ScanState.RUNNING)


class Scan(models.Model):
    """One pass over an organization's runs, tasks, templates and activity feed, or over one
    run of it (`run_id`).

    Its row is the scan's whole state: a worker reads it, does one step (one page of a list),
    and writes the next position with the counts. A worker that dies leaves its lease to
    expire; whoever runs the scan next carries on from the row. A step that fails is tried
    again after `next_attempt_at`; after CATALOG_SCAN_MAX_FAILURES in a row the scan fails."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run_id = models.CharField(
        "run id",
        max_length=255,
        blank=True,
        help_text="Only this process run; blank for the whole organization.",
    )
    refresh = models.BooleanField(
        default=False,
        help_text="Reads only what changed since the last scan: the activity feed from the day "
        "before it began, the runs and files the feed names, and runs started since.",
    )
    state = models.CharField(max_length=20, choices=ScanState.choices, default=ScanState.QUEUED)
    phase = models.CharField(max_length=30, choices=ScanPhase.choices, default=ScanPhase.RUNS)
    page = models.PositiveIntegerField("next page", default=1)
    phase_read = models.PositiveIntegerField("items read in this phase", default=0)
    archived_by_status = models.BooleanField(
        default=False, help_text="Tallyfy ignored archived=only; status=archived is used."
    )
    uploads_since = models.DateField(
        null=True,
        blank=True,
        help_text="The activity feed is read back to this day (the previous scan's start).",
    )
    page_size = models.PositiveIntegerField(
        "items a page", null=True, blank=True, help_text="As the phase's first page held."
    )
    page_budget = models.PositiveIntegerField(
        "most pages", null=True, blank=True, help_text="The phase's list is read no further."
    )
    page_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="A digest of the ids on the phase's last page read."
    )
    runs_total = models.PositiveIntegerField(null=True, blank=True)
    runs_read = models.PositiveIntegerField(default=0)
    run_tasks_read = models.PositiveIntegerField(
        "process runs' tasks read",
        default=0,
        help_text="Tasks of process runs in the organization-wide task listing.",
    )
    per_run_tasks = models.BooleanField(
        "tasks read run by run",
        default=False,
        help_text="The organization-wide task listing failed or left tasks out.",
    )
    uploader_lookups = models.PositiveIntegerField(
        "narrower feed look-ups", default=0, help_text="Calls asking the feed about one parent."
    )
    feed_error = models.TextField(
        blank=True, help_text="Why the activity feed could not be read: uploaders unknown."
    )
    notes = models.JSONField(
        default=list, blank=True, help_text="What the scan noticed about Tallyfy's answers."
    )
    files_found = models.PositiveIntegerField(default=0)
    calls_made = models.PositiveIntegerField(default=0)
    files_gone = models.PositiveIntegerField("files no longer found", default=0)
    files_missed = models.PositiveIntegerField(
        "files missed but still there",
        default=0,
        help_text="Not in Tallyfy's lists, yet Tallyfy still has them (GET /assets answered).",
    )
    files_unchecked = models.PositiveIntegerField(
        "files missed and not checked",
        default=0,
        help_text="Not in Tallyfy's lists, and asking Tallyfy about them failed: kept as present.",
    )
    checked_up_to = models.BigIntegerField(
        default=0, editable=False, help_text="The last indexed file (pk) checked at the end."
    )
    failures = models.PositiveIntegerField("failed attempts in a row", default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Only the permissions the panel checks, each named for what it allows (no add,
        # change or delete of rows nobody edits by hand).
        default_permissions = ()
        permissions = [
            ("view_scan", "Can view scans"),
            ("add_scan", "Can start and cancel scans"),
        ]
        constraints = [
            # A scan of one run neither waits for nor blocks the organization's whole scan.
            models.UniqueConstraint(
                fields=["organization", "run_id"],
                condition=models.Q(state__in=UNFINISHED_SCAN_STATES),
                name="catalog_one_scan_at_a_time",
                violation_error_message="This organization or run is being scanned already.",
            ),
        ]

    def __str__(self) -> str:
        run = f"run {self.run_id} of " if self.run_id else ""
        return f"Scan of {run}{self.organization} ({self.get_state_display()})"

    @property
    def scope(self) -> str:
        return f"Run {self.run_id}" if self.run_id else "Whole organization"

    @property
    def is_unfinished(self) -> bool:
        return self.state in UNFINISHED_SCAN_STATES


class TargetKind(models.TextChoices):
    RUN = "run", "Process run"
    FILE = "file", "File"


class ScanTarget(models.Model):
    """A process run or a file a refresh reads again: named by the activity feed since the
    last scan, or a run started since."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=TargetKind.choices)
    target_id = models.CharField(max_length=255)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["scan", "kind", "target_id"], name="catalog_target_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_id}"


class ProcessRun(models.Model):
    """A process run as a scan last listed it: where its tasks' files are placed, by name."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run_id = models.CharField("run id", max_length=255)
    name = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=30, blank=True)
    template_id = models.CharField("template id", max_length=255, blank=True)
    template_name = models.CharField("template", max_length=1000, blank=True)
    last_seen_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["organization", "run_id"], name="catalog_run_once"),
        ]

    def __str__(self) -> str:
        return display_name(self.name) or self.run_id


class IndexedFile(models.Model):
    """A file (or a link) found by a scan. Rows are never removed: a file a later scan no
    longer finds gets `gone_at` once Tallyfy answers 404 for it (a link, once missed), and one
    deleted through the panel shows as gone from the deletion log (see
    `catalog.selectors.indexed_files`). A missed file Tallyfy still has gets `missed_by_scan`."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(
        max_length=255, help_text="The file id, or for a link a digest of its URL."
    )
    asset_id = models.CharField("file id", max_length=255, blank=True)
    file_name = models.CharField(max_length=1000, blank=True)
    file_name_folded = models.CharField(max_length=1000, blank=True, editable=False)
    is_link = models.BooleanField(
        "link, not a file", default=False, help_text="A link to elsewhere: nothing to delete."
    )
    link_url = models.CharField("link", max_length=2000, blank=True)
    attached_to = models.CharField(max_length=20, choices=AttachedTo.choices)
    run_id = models.CharField("run id", max_length=255, blank=True)
    run_name = models.CharField("process run", max_length=1000, blank=True)
    run_status = models.CharField(max_length=30, blank=True)
    template_id = models.CharField("template id", max_length=255, blank=True)
    template_name = models.CharField("template", max_length=1000, blank=True)
    task_id = models.CharField("task id", max_length=255, blank=True)
    task_name = models.CharField("task", max_length=1000, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    uploader_email = models.CharField(max_length=254, blank=True)
    uploader_type = models.CharField(max_length=20, blank=True)
    uploader_inferred = models.BooleanField(
        default=False,
        help_text="The activity feed did not name the file; matched by its place and name.",
    )
    uploader_note = models.CharField(
        max_length=300,
        blank=True,
        help_text="How the uploader was found, or why it is unknown.",
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    last_seen_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    gone_at = models.DateTimeField("no longer found", null=True, blank=True)
    missed_by_scan = models.ForeignKey(
        Scan,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The last scan whose lists did not show the file though Tallyfy still has it.",
    )

    class Meta:
        verbose_name = "Tallyfy file"
        verbose_name_plural = "Tallyfy files"
        # Only reading the index: deleting a Tallyfy file is files.delete_file.
        default_permissions = ()
        permissions = [("view_indexedfile", "Can view the file index")]
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="catalog_file_once"),
        ]
        indexes = [
            models.Index(fields=["-uploaded_at", "-id"], name="catalog_recent_idx"),
            models.Index(
                fields=["organization", "-uploaded_at", "-id"], name="catalog_org_recent_idx"
            ),
            models.Index(fields=["asset_id", "organization"], name="catalog_asset_org_idx"),
            models.Index(fields=["run_id"], name="catalog_run_idx"),
            models.Index(fields=["task_id"], name="catalog_task_idx"),
            models.Index(fields=["uploader_email"], name="catalog_uploader_idx"),
            models.Index(fields=["template_name"], name="catalog_template_idx"),
            models.Index(fields=["organization", "last_seen_scan"], name="catalog_seen_idx"),
        ]

    def __str__(self) -> str:
        return display_name(self.file_name) or self.key
