from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from admin_pages.pages import render_page
from admin_pages.pagination import CappedCountPaginator
from evidence import export
from evidence import selectors as evidence_selectors
from files import log_search
from files.deletion_errors import describe_deletion_failure
from files.evidence import DELETIONS
from files.models import DeletionState, FileDeletion
from organizations.list_filters import ReachableOrganizationFilter, ReachablePeopleFilter
from organizations.selectors import within_reach
from tallyfy_api.names import display_name


class JobFilter(admin.SimpleListFilter):
    """The rows of one deletion job (`?job_id=N`, as the job's page links); shown only when
    set, since jobs refer to the log and the log does not list them."""

    title = "deletion job"
    parameter_name = "job_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        job_id = self._job_id()
        return [] if job_id is None else [(str(job_id), f"Job #{job_id}")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[FileDeletion]
    ) -> QuerySet[FileDeletion]:
        job_id = self._job_id()
        return queryset if job_id is None else queryset.filter(job_id=job_id)

    def _job_id(self) -> int | None:
        value = self.value()
        if value is None:
            return None
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise IncorrectLookupParameters(f"Not a deletion job number: {value!r}")
        return int(value)


@admin.register(FileDeletion)
class FileDeletionAdmin(admin.ModelAdmin):
    """The deletion log: readable by whoever may view it, changeable by nobody."""

    # Who and why fit beside the sidebar and the filters at 1280 px; the organization is a
    # filter, and the row's page has the rest.
    list_display = [
        "started",
        "state_badge",
        "file_name_shown",
        "short_id",
        "username",
        "reason_short",
    ]
    # Users and organizations are listed from their own tables: nothing here reads the log.
    list_filter = [
        "state",
        ("organization", ReachableOrganizationFilter),
        ("user", ReachablePeopleFilter),
        JobFilter,
    ]
    date_hierarchy = "started_at"  # drawn by files.templatetags.deletion_log, on the index
    # What files.log_search.matching searches; listing them gives the page its search box.
    search_fields = ["=asset_id", "file_name", "=username", "reason"]
    search_help_text = (
        "A file id finds its deletions directly; other words search names, users and reasons."
    )
    paginator = CappedCountPaginator
    list_select_related = ["organization"]
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "state",
        "outcome",
        "organization",
        "org_id",
        "asset_id",
        "file_name_shown",
        "subject_type",
        "subject_id",
        "uploaded_at",
        "username",
        "reason",
        "http_status",
        "error_message",
        "request_id",
        "attempts",
        "started_at",
        "finished_at",
        "metadata_json",
    ]
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "export.<str:fmt>",
                self.admin_site.admin_view(self.export_view),
                name="files_filedeletion_export",
            ),
            path(
                "<int:pk>/receipt/",
                self.admin_site.admin_view(self.receipt_view),
                name="files_filedeletion_receipt",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        """The changelist's rows as they are filtered and searched, streamed, with their
        seals (evidence.export); unfiltered, the whole chain."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in ("csv", "jsonl"):
            raise Http404("Exports are CSV or JSON Lines.")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Those filters are not the log's.")
        selected = changelist.has_active_filters or bool(changelist.query)
        rows = export.export_rows(deletions=changelist.queryset if selected else None)
        lines = export.csv_lines(rows) if fmt == "csv" else export.jsonl_lines(rows)
        kind = "selection" if selected else "complete"
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            (line.encode() for line in lines),
            content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/jsonl",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="deletion-log-{kind}-{stamp}.{fmt}"'
        )
        return response

    def receipt_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A deletion's printable receipt: what was deleted, by whom, why, Tallyfy's answer,
        the row's seal and the latest checkpoint covering it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        deletion = get_object_or_404(FileDeletion.objects.select_related("organization"), pk=pk)
        return render_page(
            request,
            "admin/files/filedeletion/receipt.html",
            f"Deletion receipt: {display_name(deletion.file_name) or deletion.asset_id}",
            deletion=deletion,
            file_name=display_name(deletion.file_name),
            metadata_json=json.dumps(deletion.metadata, indent=2, sort_keys=True),
            receipt=evidence_selectors.receipt_of(kind=DELETIONS.name, object_id=deletion.pk),
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        query = request.GET.urlencode()
        links = {
            fmt: reverse("admin:files_filedeletion_export", args=[fmt])
            + (f"?{query}" if query else "")
            for fmt in ("csv", "jsonl")
        }
        return super().changelist_view(request, {**(extra_context or {}), "export_links": links})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        deletion = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if deletion is not None:
            extra_context["deletion_next"] = self._next_steps(request, deletion)
            extra_context["receipt_url"] = reverse(
                "admin:files_filedeletion_receipt", args=[deletion.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _next_steps(self, request: HttpRequest, deletion: FileDeletion) -> dict[str, str] | None:
        """What a failed or uncertain deletion means, in plain words, and what to do next."""
        may_delete = request.user.has_perms(["files.lookup_file", "files.delete_file"])
        match deletion.state:
            case DeletionState.FAILED:
                retry = reverse(
                    "admin:files_delete",
                    kwargs={"org_pk": deletion.organization_id, "asset_id": deletion.asset_id},
                )
                return {
                    "headline": "Nothing was deleted",
                    "explanation": describe_deletion_failure(deletion),
                    "try_again_url": f"{retry}?from={deletion.pk}" if may_delete else "",
                }
            case DeletionState.UNKNOWN:
                return {
                    "headline": "We could not tell whether it was deleted",
                    "explanation": (
                        "Tallyfy gave no clear answer, so the file may or may not be gone. "
                        "Ask Tallyfy again now, or leave it to reconcile_deletions."
                    ),
                    "check_now_url": reverse("admin:files_deletion_check", args=[deletion.pk])
                    if may_delete
                    else "",
                }
        return None

    def get_queryset(self, request: HttpRequest) -> QuerySet[FileDeletion]:
        return within_reach(super().get_queryset(request), request.user)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[FileDeletion], search_term: str
    ) -> tuple[QuerySet[FileDeletion], bool]:
        return log_search.matching(queryset, search_term), False

    @admin.display(description="File name", ordering="file_name")
    def file_name_shown(self, deletion: FileDeletion) -> str:
        return display_name(deletion.file_name)

    @admin.display(description="Started at", ordering="started_at")
    def started(self, deletion: FileDeletion) -> str:
        moment = timezone.localtime(deletion.started_at)
        return format_html(
            '<time datetime="{}">{}</time>',
            moment.isoformat(),
            moment.strftime("%Y-%m-%d %H:%M"),
        )

    @admin.display(description="State", ordering="state")
    def state_badge(self, deletion: FileDeletion) -> str:
        return format_html(
            '<span class="state-badge state-{}">{}</span>',
            deletion.state,
            deletion.get_state_display(),
        )

    @admin.display(description="File id", ordering="asset_id")
    def short_id(self, deletion: FileDeletion) -> str:
        asset_id = deletion.asset_id
        if len(asset_id) <= 10:
            return format_html("<code>{}</code>", asset_id)
        return format_html(
            '<abbr class="short-id" title="{}"><code>{}…</code></abbr>', asset_id, asset_id[:8]
        )

    @admin.display(description="Reason")
    def reason_short(self, deletion: FileDeletion) -> str:
        return deletion.reason if len(deletion.reason) <= 60 else f"{deletion.reason[:59]}…"

    @admin.display(description="Metadata snapshot")
    def metadata_json(self, deletion: FileDeletion) -> str:
        if deletion.metadata is None:
            return "—"
        text = json.dumps(deletion.metadata, indent=2, sort_keys=True)  # ASCII: nothing hidden
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FileDeletion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: FileDeletion | None = None) -> bool:
        return False
