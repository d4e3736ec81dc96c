from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from files import log_search, services
from files.display import display_name
from files.errors import USER_FACING_ERRORS, describe_deletion_failure, describe_failure
from files.forms import OrganizationForm
from files.models import DeletionState, FileDeletion, Organization
from files.pagination import CappedCountPaginator
from throttling.admin import RateLimitInline


def token_status(organization: Organization) -> str:
    return f"set, ending {organization.token_hint}" if organization.token_last4 else "not set"


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ["name", "org_id", "api_base_url", "token_hint", "last_connected_at"]
    search_fields = ["name", "org_id"]
    readonly_fields = ["token_hint", "last_connected_at", "created_at", "updated_at"]
    fields = [
        "name",
        "org_id",
        "api_base_url",
        "token",
        "token_hint",
        "last_connected_at",
        "created_at",
        "updated_at",
    ]
    actions = ["test_connection"]
    inlines = [RateLimitInline]

    @admin.display(description="Token")
    def token_hint(self, organization: Organization) -> str:
        return token_status(organization)

    def get_urls(self) -> list[URLPattern]:
        check = require_POST(self.admin_site.admin_view(self.test_connection_view))
        return [
            path("<int:pk>/test-connection/", check, name="files_organization_test_connection"),
            *super().get_urls(),
        ]

    def test_connection_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        organization = get_object_or_404(Organization, pk=pk)
        if not self.has_view_permission(request, organization):
            raise PermissionDenied
        self._check_connection(request, organization)
        return HttpResponseRedirect(
            reverse("admin:files_organization_change", args=[organization.pk])
        )

    @method_decorator(sensitive_post_parameters("token"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().add_view(request, form_url, extra_context)

    @method_decorator(sensitive_post_parameters("token"))
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "connection_check_url": reverse(
                "admin:files_organization_test_connection", args=[object_id]
            )
            if str(object_id).isdigit()
            else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Filtering on the ciphertext would read it out a prefix at a time (…__regex=^g).
        return not lookup.startswith("token_") and super().lookup_allowed(lookup, value, request)

    def save_form(self, request: HttpRequest, form: OrganizationForm, change: bool) -> Organization:
        return form.save()  # files.organizations validates, encrypts the token and saves

    def save_model(
        self, request: HttpRequest, obj: Organization, form: OrganizationForm, change: bool
    ) -> None:
        pass  # saved by save_form

    @admin.action(description="Test connection to Tallyfy", permissions=["view"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for organization in queryset:
            self._check_connection(request, organization)

    def _check_connection(self, request: HttpRequest, organization: Organization) -> None:
        try:
            verdict = services.organization_check_connection(organization=organization)
        except USER_FACING_ERRORS as exc:
            self.message_user(
                request,
                format_html(
                    "{}: {}", organization.name, describe_failure(exc, organization=organization)
                ),
                messages.ERROR,
            )
        else:
            self.message_user(request, f"{organization.name}: {verdict}", messages.SUCCESS)


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
    list_filter = ["state", "organization", "user", JobFilter]
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
        return super().change_view(request, object_id, form_url, extra_context)

    def _next_steps(self, request: HttpRequest, deletion: FileDeletion) -> dict[str, str] | None:
        """What a failed or uncertain deletion means, in plain words, and what to do next."""
        may_delete = request.user.has_perms(["files.lookup_file", "files.delete_file"])
        match deletion.state:
            case DeletionState.FAILED:
                retry = reverse(
                    "files:delete",
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
                    "check_now_url": reverse("files:deletion_check", args=[deletion.pk])
                    if may_delete
                    else "",
                }
        return None

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
