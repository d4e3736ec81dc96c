from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from admin_pages.pagination import CappedCountPaginator
from evidence.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Who viewed or downloaded files, and who decided deletions: read by whoever may view
    it, changed by nobody (the database refuses too)."""

    list_display = ["at", "action", "username", "object_type", "object_id", "org_id", "address"]
    list_filter = ["action", "object_type", "at"]
    search_fields = ["=object_id", "=username", "=org_id", "=address"]
    search_help_text = "A file id, job number, username, organization id or address, exactly."
    date_hierarchy = "at"
    # Counted no further than the deletion log is; its search form and pagination are reused.
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "at",
        "action",
        "username",
        "object_type",
        "object_id",
        "organization_id",
        "org_id",
        "address",
        "detail",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
