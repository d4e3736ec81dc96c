from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from organizations import services
from organizations.errors import USER_FACING_ERRORS, describe_failure
from organizations.forms import OrganizationForm
from organizations.models import Organization, OrganizationAccess
from organizations.selectors import organizations_for, reaches_all_organizations
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
            path(
                "<int:pk>/test-connection/",
                check,
                name="organizations_organization_test_connection",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request) & organizations_for(request.user)

    def test_connection_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        organization = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, organization):
            raise PermissionDenied
        self._check_connection(request, organization)
        return HttpResponseRedirect(
            reverse("admin:organizations_organization_change", args=[organization.pk])
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
                "admin:organizations_organization_test_connection", args=[object_id]
            )
            if str(object_id).isdigit()
            else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Filtering on the ciphertext would read it out a prefix at a time (…__regex=^g).
        return not lookup.startswith("token_") and super().lookup_allowed(lookup, value, request)

    @method_decorator(sensitive_variables("fields"))
    def save_model(
        self, request: HttpRequest, obj: Organization, form: OrganizationForm, change: bool
    ) -> None:
        fields = form.organization_fields()
        if change:
            services.organization_update(organization=obj, **fields)
        else:
            services.organization_create(organization=obj, **fields)

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


class TwoListPicker(FilteredSelectMultiple):
    """Django's two-list picker, its filter boxes' icons given a role (see the script)."""

    class Media:
        extend = False  # one list, so that the script stays after the picker's
        js = [
            "admin/js/core.js",
            "admin/js/SelectBox.js",
            "admin/js/SelectFilter2.js",
            "organizations/two_list_picker.js",
        ]


class TwoListPickers(BaseModelAdmin):
    """Its filter_horizontal and filter_vertical fields drawn with TwoListPicker."""

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        vertical = db_field.name in self.filter_vertical
        if "widget" not in kwargs and (vertical or db_field.name in self.filter_horizontal):
            kwargs["widget"] = TwoListPicker(db_field.verbose_name, vertical)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OrganizationAccessInline(TwoListPickers, admin.StackedInline):
    """A user's or a group's organizations, on its own admin page."""

    model = OrganizationAccess
    fields = ["all_organizations", "organizations"]
    filter_horizontal = ["organizations"]  # an agency may manage dozens
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = verbose_name_plural = "Organization access"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit_access(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit_access(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit_access(request, obj)

    def _may_edit_access(self, request: HttpRequest, obj: Any) -> bool:
        # Only who reaches every organization hands organizations out: no one grants a
        # reach they do not have themselves. Editing users or groups is the framework's
        # permission (auth.change_user / auth.change_group), checked by the page itself.
        return reaches_all_organizations(request.user)


class UserWithAccessAdmin(TwoListPickers, UserAdmin):
    inlines = [*UserAdmin.inlines, OrganizationAccessInline]


class GroupWithAccessAdmin(TwoListPickers, GroupAdmin):
    inlines = [*GroupAdmin.inlines, OrganizationAccessInline]


for _model, _model_admin in ((User, UserWithAccessAdmin), (Group, GroupWithAccessAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)
