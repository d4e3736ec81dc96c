from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from erasure import approval, discovery, following, review, selectors, services, views
from erasure.forms import ErasureRequestAddForm, ErasureRequestChangeForm
from erasure.models import ErasureRequest, Finding, LeaveOutReason, RequestEvent, RequestState
from erasure.outcomes import file_outcomes, tally
from erasure.subjects import SubjectUnreadable
from organizations.list_filters import ReachableOrganizationFilter
from organizations.selectors import organizations_for, within_reach


class RequestEventInline(admin.TabularInline):
    model = RequestEvent
    verbose_name = "change"
    verbose_name_plural = "History"
    fields = ["at", "who", "from_state", "to_state", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="by")
    def who(self, event: RequestEvent) -> str:
        return str(event.by) if event.by_id else "the panel (its deletion jobs ended)"


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "organization",
        "subject_masked",
        "state",
        "due_at",
        "days_left",
        "assignee",
    ]
    list_filter = ["state", ("organization", ReachableOrganizationFilter)]
    search_fields = ["reference"]
    # By reference only, not by email: a search is a GET, and its URL would carry the address
    # into access logs. (No help text: with one, the admin's search field lacks a visible label.)
    inlines = [RequestEventInline]
    actions = ["discover"]

    @admin.display(description="days left")
    def days_left(self, obj: ErasureRequest) -> str:
        days = selectors.days_left(obj)
        if obj.state not in selectors.OPEN_STATES:
            return "—"
        return f"overdue by {-days}" if days < 0 else str(days)

    @admin.display(description="subject")
    def subject_in_full(self, obj: ErasureRequest) -> str:
        # Only in the fieldsets of users allowed to handle requests (_subject_field).
        try:
            subject = selectors.subject_unchecked(obj)
        except SubjectUnreadable as exc:
            return str(exc)
        emails = ", ".join(subject.emails)
        return f"{emails} ({subject.name})" if subject.name else emails

    @admin.display(description="subject")
    def subject_hidden(self, obj: ErasureRequest) -> str:
        return f"{obj.subject_masked} (in full to users who handle erasure requests)"

    def _subject_field(self, request: HttpRequest) -> str:
        return "subject_in_full" if selectors.may_handle(request.user) else "subject_hidden"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        # Found file names may hold the subject's name or email: handlers only.
        if selectors.may_handle(request.user) and str(object_id).isdigit():
            extra_context["discovery"] = selectors.latest_discovery(request_id=int(object_id))
            extra_context["shows_discovery"] = True
            extra_context["leave_out_reasons"] = LeaveOutReason.choices
            extra_context["may_decide"] = self.has_change_permission(request)
            extra_context.update(self._deletion_context(request, object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def _deletion_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        found = self.get_queryset(request).filter(pk=int(object_id)).first()
        if found is None:
            return {}
        may_change = self.has_change_permission(request, found)
        outcomes = file_outcomes(found)
        running = following.jobs_running(found)
        return {
            "may_send": may_change and selectors.may_send(request.user),
            # Approving needs the approval permission, not the change permission: an approver
            # reviews what the handlers decided, and changes nothing of it.
            "may_approve": selectors.may_approve(request.user)
            and found.sent_by_id != request.user.pk,
            "sending_problems": approval.sending_problems(found),
            "kept_count": len(selectors.kept_asset_ids(found)),
            "erasure_jobs": found.jobs.select_related("job"),
            "outcomes": outcomes,
            "tally": tally(outcomes),
            "retry_problems": following.retry_problems(found, outcomes=outcomes, running=running),
            "jobs_running": running,
            "ended": found.state not in selectors.OPEN_STATES,
        }

    def get_urls(self) -> list[URLPattern]:
        def page(view: Any, route: str, name: str) -> URLPattern:
            wrapped = self.admin_site.admin_view(partial(view, model_admin=self))
            return path(f"<int:pk>/{route}", wrapped, name=f"erasure_request_{name}")

        return [
            page(views.discover_view, "discover/", "discover"),
            page(views.send_view, "send/", "send"),
            page(views.send_back_view, "send-back/", "send_back"),
            page(views.approve_view, "approve/", "approve"),
            page(views.retry_view, "retry/", "retry"),
            page(views.close_view, "close/", "close"),
            page(views.receipt_view, "receipt/", "receipt"),
            page(views.receipt_json_view, "receipt.json", "receipt_json"),
            path(
                "<int:pk>/findings/<int:finding_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="erasure_finding_decide",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def decide_view(self, request: HttpRequest, pk: int, finding_id: int) -> HttpResponse:
        erasure_request = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, erasure_request):
            raise PermissionDenied
        finding = get_object_or_404(
            Finding.objects.select_related("discovery__request"),
            pk=finding_id,
            discovery__request=erasure_request,
        )
        try:
            review.finding_decide(
                finding=finding,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", ""),
                by=request.user,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request, f"Decision on {finding.asset_id} recorded.", messages.SUCCESS
            )
        url = reverse("admin:erasure_erasurerequest_change", args=[erasure_request.pk])
        return HttpResponseRedirect(f"{url}#finding-{finding.pk}")

    @admin.action(description="Search the index for the subject's files", permissions=["change"])
    def discover(self, request: HttpRequest, queryset: QuerySet[ErasureRequest]) -> None:
        for erasure_request in queryset:
            try:
                found = discovery.erasure_request_discover(request=erasure_request, by=request.user)
            except ValidationError as exc:
                self.message_user(
                    request, f"{erasure_request}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"{erasure_request}: the index is being refreshed; the search runs when it "
                    "ends."
                    if found is None
                    else f"{erasure_request}: {found.findings.count()} finding(s); review them.",
                    messages.SUCCESS,
                )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ErasureRequest]:
        requests = selectors.requests_by_urgency().select_related("organization", "assignee")
        return within_reach(requests, request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organization":
            kwargs["queryset"] = organizations_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self,
        request: HttpRequest,
        obj: ErasureRequest | None = None,
        change: bool = False,
        **kw: Any,
    ) -> type[ModelForm]:
        kw["form"] = ErasureRequestChangeForm if obj else ErasureRequestAddForm
        return super().get_form(request, obj, change, **kw)

    def get_fieldsets(self, request: HttpRequest, obj: ErasureRequest | None = None) -> Any:
        if obj is None:
            return [
                (None, {"fields": ["organization", "subject_emails", "subject_name"]}),
                (None, {"fields": ["reference", "legal_basis", "received_at", "assignee"]}),
                (
                    "Identity verification",
                    {"fields": ["verified_by", "verification_method", "verified_at"]},
                ),
            ]
        may_change = self.has_change_permission(request, obj)
        ending = (
            [("End", {"fields": ["end_as", "end_reason"]})]
            if may_change and obj.state in selectors.OPEN_STATES
            else []
        )
        extending = (
            ["extension_months_requested", "extension_reason_given", "subject_told_on"]
            if may_change
            else []
        )
        return [
            (
                None,
                {
                    "fields": [
                        "organization",
                        self._subject_field(request),
                        "reference",
                        "legal_basis",
                        "state",
                        "state_reason",
                        "assignee",
                    ]
                },
            ),
            (
                "Deadline",
                {
                    "fields": [
                        "received_at",
                        "due_at",
                        "days_left",
                        "extension_months",
                        "extension_reason",
                        "subject_told_of_extension_on",
                        *extending,
                    ]
                },
            ),
            (
                "Identity verification",
                {"fields": ["verified_by", "verification_method", "verified_at"]},
            ),
            *ending,
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ErasureRequest | None = None) -> Any:
        if obj is None:
            return []
        return [
            "organization",
            self._subject_field(request),
            "reference",
            "legal_basis",
            "state",
            "state_reason",
            "received_at",
            "due_at",
            "days_left",
            "extension_months",
            "extension_reason",
            "subject_told_of_extension_on",
            "verified_by",
            "verification_method",
            "verified_at",
        ]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Filtering on the ciphertext or hashes would read them out a prefix at a time.
        blocked = lookup.startswith(("subject_", "emails"))
        return not blocked and super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and selectors.may_handle(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        may_change = super().has_change_permission(request, obj)
        return may_change and selectors.may_handle(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a request is ended (rejected, cancelled), never erased from the record

    def save_model(
        self, request: HttpRequest, obj: ErasureRequest, form: ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if not change:
            created = services.erasure_request_create(
                organization=data["organization"],
                emails=list(data["subject_emails"]),
                name=data["subject_name"],
                reference=data["reference"],
                legal_basis=data["legal_basis"],
                received_at=data["received_at"],
                verified_by=data["verified_by"],
                verification_method=data["verification_method"],
                verified_at=data["verified_at"],
                assignee=data["assignee"],
                created_by=request.user,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        try:
            self._save_changes(request, obj, data, form)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))

    def _save_changes(
        self, request: HttpRequest, obj: ErasureRequest, data: dict[str, Any], form: ModelForm
    ) -> None:
        if "assignee" in form.changed_data:
            services.erasure_request_assign(request=obj, assignee=data["assignee"], by=request.user)
        if data.get("extension_months_requested"):
            services.erasure_request_extend(
                request=obj,
                months=data["extension_months_requested"],
                reason=data["extension_reason_given"],
                subject_told_on=data["subject_told_on"],
                by=request.user,
            )
        if data.get("end_as") == RequestState.REJECTED:
            services.erasure_request_reject(request=obj, reason=data["end_reason"], by=request.user)
        elif data.get("end_as") == RequestState.CANCELLED:
            services.erasure_request_cancel(request=obj, reason=data["end_reason"], by=request.user)
