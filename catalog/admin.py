from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timezone import localtime

from admin_pages.pages import served_by
from admin_pages.pagination import CappedCountPaginator
from catalog import process_run_views, scans, search, selectors, tasks
from catalog.conf import conf
from catalog.deletion_jobs import deletion_job_from_index
from catalog.models import IndexedFile, Scan
from catalog.process_run_views import files_url
from catalog.selectors import may_read_index, tallyfy_run_url
from jobs.services import JobRefused
from organizations.list_filters import ReachableOrganizationFilter
from organizations.models import Organization
from organizations.selectors import organizations_for, reaches_all_organizations, within_reach
from tallyfy_api.names import display_name


def _list_described(request: HttpRequest) -> str:
    """The file index's list as the user had it: search and filters, in words."""
    term = request.GET.get("q", "").strip()
    filters = [
        f"{name}={value}"
        for name, value in request.GET.items()
        if name not in ("q", "p", "o", "e", "_changelist_filters")
    ]
    described = "The file index"
    if term:
        described += f", searched for “{term}”"
    if filters:
        described += f", filtered by {', '.join(filters)}"
    return described[:2000]


class IndexPaginator(CappedCountPaginator):
    """Counts primary keys only, so the deletion-log annotation is not computed per row."""

    @cached_property
    def count(self) -> int:
        capped = self.object_list.order_by().values("pk")[: self.COUNT_CAP + 1]
        return min(capped.count(), self.COUNT_CAP + 1)


class BroadSearchPaginator(CappedCountPaginator):
    """For a search known to match more files than a page counts: nothing left to count."""

    @cached_property
    def count(self) -> int:
        return self.COUNT_CAP + 1


class GoneFilter(admin.SimpleListFilter):
    title = "found by the last scan"
    parameter_name = "gone"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Present"), ("yes", "Gone")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(selectors.gone_q())
        if self.value() == "no":
            return queryset.exclude(selectors.gone_q())
        return queryset


class RunStatusFilter(admin.SimpleListFilter):
    title = "run status"
    parameter_name = "run_status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        statuses = ["active", "complete", "problem", "archived"]
        return [(status, status.capitalize()) for status in statuses]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(run_status=self.value()) if self.value() else queryset


# The distinct template names, one index seek each (a loose index scan), instead of a
# DISTINCT that reads the whole index.
_TEMPLATE_NAMES = """
WITH RECURSIVE names(name) AS (
    SELECT MIN(template_name) FROM catalog_indexedfile WHERE template_name > ''
    UNION ALL
    SELECT (SELECT MIN(template_name) FROM catalog_indexedfile WHERE template_name > names.name)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL LIMIT 100
"""


def template_names(*, organizations: QuerySet[Organization] | None = None) -> list[str]:
    """The index's template names; of `organizations` only, when given."""
    if organizations is not None:
        names = IndexedFile.objects.filter(organization__in=organizations).exclude(template_name="")
        return list(names.order_by("template_name").values_list("template_name", flat=True))[:100]
    with connection.cursor() as cursor:
        cursor.execute(_TEMPLATE_NAMES)
        return [row[0] for row in cursor.fetchall()]


class TemplateFilter(admin.SimpleListFilter):
    title = "template"
    parameter_name = "template"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        reach = None if reaches_all_organizations(request.user) else organizations_for(request.user)
        return [(name, display_name(name)) for name in template_names(organizations=reach)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(template_name=self.value()) if self.value() else queryset


class UploaderFilter(admin.SimpleListFilter):
    title = "uploader"
    parameter_name = "uploader"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("named", "Named by the activity feed"),
            ("inferred", "Inferred (by place and name)"),
            ("unknown", "Unknown"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        known = queryset.exclude(uploader_email="")
        if self.value() == "named":
            return known.filter(uploader_inferred=False)
        if self.value() == "inferred":
            return known.filter(uploader_inferred=True)
        if self.value() == "unknown":
            return queryset.filter(uploader_email="", is_link=False)
        return queryset


class CandidatesFilter(admin.SimpleListFilter):
    """Files with an unknown uploader in the runs and tasks where a person uploaded: what a
    search by that person's email leaves out, and may be theirs."""

    title = "possibly uploaded by"
    parameter_name = "candidates_for"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        email = search.whole_email(request.GET.get(self.parameter_name, ""))
        return [(email, email)] if email else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        email = search.whole_email(self.value() or "")
        if not email:
            return queryset
        candidates = selectors.unknown_uploader_candidates(email=email)
        return queryset.filter(pk__in=candidates.values("pk"))


def candidates_note(email: str, left_out: int) -> str:
    return (
        f"{left_out} file{'' if left_out == 1 else 's'} with an unknown uploader sit in the "
        f"same process runs and tasks as the files uploaded by {email}: they may be theirs, "
        f"and a search by email cannot find them. See them in the file index under "
        f"“Possibly uploaded by {email}”."
    )


@admin.register(IndexedFile)
class IndexedFileAdmin(admin.ModelAdmin):
    """The file index: found by scans, read-only here; each row opens the file's page."""

    # The files of one run, task or template: where a pasted URL of one leads.
    extra_list_params = ("run_id", "task_id", "template_id")

    list_display = [
        "name_shown",
        "attached_to_shown",
        "uploaded",
        "uploader_shown",
        "presence",
    ]
    list_display_links = None
    list_filter = [
        ("organization", ReachableOrganizationFilter),
        "attached_to",
        RunStatusFilter,
        TemplateFilter,
        UploaderFilter,
        CandidatesFilter,
        GoneFilter,
        "is_link",
    ]
    date_hierarchy = "uploaded_at"
    # What catalog.search.matching searches; listing them gives the page its search box.
    search_fields = ["file_name", "run_name", "template_name", "uploader_email"]
    search_help_text = (
        "Part of a file name (accents and case ignored), a run or template name, or an "
        "uploader's email."
    )
    show_full_result_count = False
    list_select_related = ["organization"]
    list_per_page = 50
    actions = ["delete_selected_files"]

    @admin.action(description="Delete selected files…", permissions=["delete_files"])
    def delete_selected_files(
        self, request: HttpRequest, queryset: QuerySet[IndexedFile]
    ) -> HttpResponse | None:
        """A deletion job of the selected files (or all results of the search): its preview,
        confirmation, approval and log follow, as for any job."""
        if not request.user.has_perms(["files.lookup_file", "files.delete_file"]):
            raise PermissionDenied
        email = search.whole_email(request.GET.get("q", ""))
        warning = ""
        if email:
            chosen = queryset.values("pk")
            candidates = within_reach(
                selectors.unknown_uploader_candidates(email=email), request.user
            ).exclude(pk__in=chosen)
            if left_out := candidates.count():
                warning = candidates_note(email, left_out)
        try:
            job = deletion_job_from_index(
                files=queryset,
                user=request.user,
                built_from=_list_described(request),
                warning=warning,
            )
        except JobRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:jobs_detail", args=[job.pk]))

    def has_delete_files_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(["files.lookup_file", "files.delete_file"])

    def get_queryset(self, request: HttpRequest) -> QuerySet[IndexedFile]:
        return within_reach(selectors.indexed_files().select_related("organization"), request.user)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The files of one run, task or template: where a pasted URL of one leads from the look-up.
        if lookup in ("run_id", "task_id", "template_id"):
            return True
        return super().lookup_allowed(lookup, value, request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[IndexedFile], search_term: str
    ) -> tuple[QuerySet[IndexedFile], bool]:
        found = search.find(queryset, search_term)
        search.remember_breadth(request, found)
        return found.files, False

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet[IndexedFile], *args: Any, **kwargs: Any
    ) -> CappedCountPaginator:
        paginator = BroadSearchPaginator if search.was_broad(request) else IndexPaginator
        return paginator(queryset, *args, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        can_scan = self.admin_site.is_registered(Scan) and request.user.has_perm("catalog.add_scan")
        extra = {"scan_url": reverse("admin:catalog_scan_add") if can_scan else ""}
        email = search.whole_email(request.GET.get("q", ""))
        if email and request.method == "GET":
            self._warn_of_candidates(request, email)
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def _warn_of_candidates(self, request: HttpRequest, email: str) -> None:
        """A search by a person's email says at the top what it cannot find."""
        candidates = selectors.unknown_uploader_candidates(email=email)
        left_out = within_reach(candidates, request.user).count()
        if not left_out:
            return
        url = f"{reverse('admin:catalog_indexedfile_changelist')}?" + urlencode(
            {"candidates_for": email}
        )
        note = format_html('{} <a href="{}">Show them</a>.', candidates_note(email, left_out), url)
        self.message_user(request, note, messages.WARNING)

    @admin.display(description="File name", ordering="file_name")
    def name_shown(self, row: IndexedFile) -> str:
        name = display_name(row.file_name) or row.key
        if row.is_link:
            if urlsplit(row.link_url).scheme.lower() not in ("http", "https"):
                # javascript:, file:, ms-msdt:, …: shown as text, never a link.
                return format_html("{} (link, not a Tallyfy file: {})", name, row.link_url)
            return format_html(
                '{} <a href="{}" rel="noreferrer noopener">(link, not a Tallyfy file)</a>',
                name,
                row.link_url,
            )
        url = reverse("admin:files_detail", args=[row.organization_id, row.asset_id])
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description="Attached to", ordering="attached_to")
    def attached_to_shown(self, row: IndexedFile) -> str:
        kind = row.get_attached_to_display()
        if row.run_id:
            label = display_name(row.run_name) or row.run_id
            if row.task_name:
                label = f"{label}: {display_name(row.task_name)}"
            return format_html(
                '<span class="quiet">{}</span><br><a href="{}" rel="noreferrer noopener">{}</a>',
                kind,
                tallyfy_run_url(row.organization, row.run_id),
                label,
            )
        place = display_name(row.task_name or row.template_name) or "—"
        return format_html('<span class="quiet">{}</span><br>{}', kind, place)

    @admin.display(description="Uploaded", ordering="uploaded_at")
    def uploaded(self, row: IndexedFile) -> str:
        if row.uploaded_at is None:
            return "—"
        return date_format(localtime(row.uploaded_at), "Y-m-d H:i")

    @admin.display(description="Uploader", ordering="uploader_email")
    def uploader_shown(self, row: IndexedFile) -> str:
        if row.is_link:
            return "—"
        if not row.uploader_email:
            return format_html('<span title="{}">Unknown</span>', row.uploader_note)
        how = ["guest"] if row.uploader_type == "guest" else []
        if row.uploader_inferred:
            how.append("inferred")
        shown = f"{row.uploader_email} ({', '.join(how)})" if how else row.uploader_email
        return format_html('<span title="{}">{}</span>', row.uploader_note, shown)

    @admin.display(description="Status")
    def presence(self, row: IndexedFile) -> str:
        if getattr(row, "deleted_here", False):
            return "Deleted"
        if row.gone_at:
            return "Gone"
        if row.missed_by_scan_id:
            # Its run or task is no longer listed, yet GET /assets answers: worth a look.
            return f"Present (not listed by scan {row.missed_by_scan_id})"
        return "Present"

    def has_view_permission(self, request: HttpRequest, obj: IndexedFile | None = None) -> bool:
        return super().has_view_permission(request, obj) or may_read_index(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: IndexedFile | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: IndexedFile | None = None) -> bool:
        return False


class ScanForm(forms.ModelForm):
    class Meta:
        model = Scan
        fields = ["organization", "refresh"]
        labels = {"refresh": "Only what changed since the last scan"}
        help_texts = {
            "refresh": "Reads the activity feed since the day before the last scan, the process "
            "runs and files it names, and runs started since: a few calls where a full scan "
            "reads every list. The first scan of an organization is always full."
        }


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    """Scans: start one (the add page), follow it (its page reloads while it runs), cancel it."""

    form = ScanForm
    list_display = [
        "organization",
        "scope",
        "state",
        "phase",
        "runs_read",
        "files_found",
        "files_gone",
        "calls_made",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", ("organization", ReachableOrganizationFilter)]
    list_select_related = ["organization"]
    actions = None
    readonly_fields = [
        "organization",
        "scope",
        "refresh",
        "state",
        "phase",
        "progress",
        "runs_read",
        "runs_total",
        "files_found",
        "files_gone",
        "files_missed",
        "files_unchecked",
        "calls_made",
        "time_left",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
        "cancel_requested",
        "failures",
        "next_attempt_at",
        "last_error",
        "notes_shown",
        "per_run_tasks",
        "run_tasks_read",
        "uploader_lookups",
        "feed_error",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scan]:
        return within_reach(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        if db_field.name == "organization":
            kwargs["queryset"] = organizations_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Scan | None = None) -> list[str]:
        return ["organization", "refresh"] if obj is None else self.readonly_fields

    @admin.display(description="Notes")
    def notes_shown(self, scan: Scan) -> str:
        if not scan.notes:
            return "—"
        return format_html_join("", "<p>{}</p>", ((note,) for note in scan.notes))

    def get_readonly_fields(self, request: HttpRequest, obj: Scan | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"organization": request.GET.get("organization")}

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Starting a scan, not adding a record: one button, named for what it does."""
        context = {
            "title": "Scan an organization for its files",
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, context)

    def save_form(self, request: HttpRequest, form: ScanForm, change: bool) -> Scan:
        organization = form.cleaned_data["organization"]
        scan = scans.scan_start(
            organization=organization, user=request.user, refresh=form.cleaned_data["refresh"]
        )
        if scan.refresh and scans.full_scan_due(organization=organization):
            days = conf.CATALOG_FULL_SCAN_DAYS
            self.message_user(
                request,
                f"The last full scan of {organization} is more than {days} days old: a refresh "
                "finds only what the activity feed names, so a full scan is suggested.",
                messages.WARNING,
            )
        transaction.on_commit(lambda: tasks.scan_organization.enqueue(scan.pk))
        return scan

    def save_model(self, request: HttpRequest, obj: Scan, form: ScanForm, change: bool) -> None:
        pass  # started by save_form

    def save_related(
        self, request: HttpRequest, form: ScanForm, formsets: Any, change: bool
    ) -> None:
        pass

    def response_add(
        self, request: HttpRequest, obj: Scan, post_url_continue: str | None = None
    ) -> HttpResponse:
        self.message_user(request, f"Scanning {obj.organization}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:catalog_scan_change", args=[obj.pk]))

    def has_change_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        cancel = path(
            "<int:scan_pk>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name="catalog_scan_cancel",
        )
        process_run = path(
            "process-run/",
            process_run_views.process_run_files_view,
            name="catalog_scan_process_run",
        )
        return [cancel, *served_by(self.admin_site, [process_run]), *super().get_urls()]

    def cancel_view(self, request: HttpRequest, scan_pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:catalog_scan_change", args=[scan_pk]))
        if not self.has_add_permission(request):
            raise PermissionDenied
        scan = scans.scan_cancel(scan=get_object_or_404(self.get_queryset(request), pk=scan_pk))
        self.message_user(request, f"{scan}: cancelled, or stopping before its next step.")
        return HttpResponseRedirect(reverse("admin:catalog_scan_change", args=[scan_pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        scan = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if scan is not None:
            extra = {
                "scan": scan,
                "scan_running": scan.is_unfinished,
                "can_cancel": scan.is_unfinished and self.has_add_permission(request),
                "cancel_url": reverse("admin:catalog_scan_cancel", args=[scan.pk]),
                "files_url": files_url(scan.organization, run_id=scan.run_id),
                "files_link_text": "Files of this run" if scan.run_id else None,
            }
        response = super().change_view(
            request, object_id, form_url, {**extra, **(extra_context or {})}
        )
        if isinstance(response, TemplateResponse) and scan is not None and scan.is_unfinished:
            response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="Scanned")
    def scope(self, scan: Scan) -> str:
        return scan.scope

    @admin.display(description="Progress")
    def progress(self, scan: Scan) -> str:
        if not scan.runs_total:
            return f"{scan.runs_read} runs read"
        percent = min(100, round(100 * scan.runs_read / scan.runs_total))
        return format_html(
            '<progress max="100" value="{}">{} %</progress> {} of {} runs',
            percent,
            percent,
            scan.runs_read,
            scan.runs_total,
        )

    @admin.display(description="Time left")
    def time_left(self, scan: Scan) -> str:
        left = scans.scan_time_left(scan=scan)
        if left is None:
            return "—" if not scan.is_unfinished else "not known yet"
        minutes, seconds = divmod(int(left.total_seconds()), 60)
        return f"about {minutes} min {seconds} s" if minutes else f"about {seconds} s"
