"""Deletion jobs in the admin: a read-only list; each job's page and its actions are the
views in `jobs.views`, and "add" is the "Delete many files" page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from files.models import DeletionState
from jobs.models import DeletionJob, FileState, JobState
from jobs.views import may_approve_jobs, may_start_jobs, may_view_jobs
from organizations.list_filters import ReachableOrganizationFilter
from organizations.selectors import organizations_for, within_reach

# What the jobs list counts for each job: a key, its words, and its files.
OUTCOMES = {
    "deleted": (
        "deleted",
        Q(files__deletion__state__in=(DeletionState.DELETED, DeletionState.ALREADY_GONE)),
    ),
    "failed": ("failed", Q(files__deletion__state=DeletionState.FAILED)),
    "unknown": (
        "unknown",
        Q(files__deletion__state__in=(DeletionState.UNKNOWN, DeletionState.PENDING)),
    ),
    "refused": ("refused", Q(files__state=FileState.REFUSED)),
    "not_attempted": ("not attempted", Q(files__state=FileState.NOT_ATTEMPTED)),
}


@admin.register(DeletionJob)
class DeletionJobAdmin(admin.ModelAdmin):
    list_display = [
        "job",
        "state_shown",
        "organization",
        "started",
        "file_count",
        "outcomes",
        "reason_short",
    ]
    list_display_links = None
    list_filter = [
        "state",
        ("organization", ReachableOrganizationFilter),
        ("created_by", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["organization"]
    list_per_page = 50
    # Newest first; the admin breaks ties by id itself, without a second sort arrow in the header.
    ordering = ["-created_at"]
    search_fields = ["=id", "reason", "=created_by_name"]
    search_help_text = "A job number, a creator's username, or words of the reason."
    actions = None

    def get_list_display(self, request: HttpRequest) -> list[str]:
        # With one organization in reach its column says nothing and costs the table its last
        # columns.
        if organizations_for(request.user).count() < 2:
            return [name for name in self.list_display if name != "organization"]
        return list(self.list_display)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeletionJob]:
        by_outcome = {
            f"files_{key}": Count("files", filter=files)
            for key, (_label, files) in OUTCOMES.items()
        }
        jobs = within_reach(super().get_queryset(request), request.user)
        return jobs.annotate(files_count=Count("files"), **by_outcome)

    @admin.display(description="Job", ordering="id")
    def job(self, job: DeletionJob) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:jobs_detail", kwargs={"job_pk": job.pk}), str(job)
        )

    @admin.display(description="Started by", ordering="created_at")
    def started(self, job: DeletionJob) -> str:
        return format_html(
            '{}<br><span class="quiet">{}</span>',
            job.created_by_name,
            date_format(localtime(job.created_at), "Y-m-d H:i"),
        )

    # Who approved or rejected a job is said under its state, not in a column of its own that
    # a 1280-pixel screen cuts off.
    @admin.display(description="State", ordering="state")
    def state_shown(self, job: DeletionJob) -> str:
        if job.rejected_at is not None:
            return f"Rejected by {job.rejected_by_name or '(a deleted user)'}"
        if job.approved_at is not None:
            return format_html(
                '{}<br><span class="quiet">approved by {}</span>',
                job.get_state_display(),
                job.approved_by_name or "(a deleted user)",
            )
        return job.get_state_display()

    @admin.display(description="Files", ordering="files_count")
    def file_count(self, job: DeletionJob) -> int:
        return job.files_count  # type: ignore[attr-defined]

    @admin.display(description="Outcome")
    def outcomes(self, job: DeletionJob) -> str:
        counts = [
            f"{getattr(job, f'files_{key}'):,} {label}"
            for key, (label, _files) in OUTCOMES.items()
            if getattr(job, f"files_{key}")
        ]
        return " · ".join(counts) or "—"

    @admin.display(description="Reason")
    def reason_short(self, job: DeletionJob) -> str:
        return job.reason if len(job.reason) <= 40 else f"{job.reason[:39]}…"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_view_jobs(request.user)

    def has_view_permission(self, request: HttpRequest, obj: DeletionJob | None = None) -> bool:
        return may_view_jobs(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_start_jobs(request.user)

    def has_change_permission(self, request: HttpRequest, obj: DeletionJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DeletionJob | None = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return super().add_view(request, form_url, extra_context)  # its own 403
        return HttpResponseRedirect(reverse("admin:jobs_create"))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not object_id.isdigit() or not self.has_view_permission(request):
            raise Http404
        return HttpResponseRedirect(reverse("admin:jobs_detail", kwargs={"job_pk": int(object_id)}))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        extra_context = dict(extra_context or {})
        if may_approve_jobs(request.user):
            extra_context["awaiting_approval"] = (
                within_reach(DeletionJob.objects.all(), request.user)
                .filter(state=JobState.AWAITING_APPROVAL)
                .exclude(created_by=request.user)
                .count()
            )
        return super().changelist_view(request, extra_context)
