"""The admin site every page of the panel is served by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path, reverse

from accounts.password_change import ThrottledPasswordChangeView
from accounts.urls import account_pages
from admin_pages.list_guard import guarded_changelist
from admin_pages.pages import served_by
from files.urls import file_pages
from jobs.urls import job_pages

# The product's apps first, in the order of their use (find, delete, follow, set up, audit); the
# framework's (users, sign-in lockouts, task results) after them, as Django orders them.
APPS_BY_USE = ["erasure", "catalog", "files", "jobs", "organizations", "evidence", "throttling"]


class TallyfyAdminSite(admin.AdminSite):
    site_header = "Tallyfy admin"
    site_title = "Tallyfy admin"
    index_title = "Files and deletion log"

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, object]]:
        apps = super().get_app_list(request, app_label)

        def by_use(app: dict[str, object]) -> tuple[int, int]:
            label = str(app["app_label"])
            ours = label in APPS_BY_USE
            return (0, APPS_BY_USE.index(label)) if ours else (1, 0)

        return sorted(apps, key=by_use)  # stable: the framework's keep Django's order

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Callable[..., Any]:
        """Every model's list, the framework's and the libraries' included, takes only the
        parameters its filters offer and searches of a few words (admin_pages.list_guard)."""
        model_admin = getattr(view, "__self__", None)
        if isinstance(model_admin, admin.ModelAdmin) and view.__name__ == "changelist_view":
            view = guarded_changelist(model_admin, view)
        return super().admin_view(view, cacheable)

    def get_urls(self) -> list[URLPattern | URLResolver]:
        """The admin's own pages, and the panel's: a file's pages and a deletion job's, each
        behind this site's login and in its chrome (names such as `admin:files_detail`)."""
        return [
            path("tallyfy-files/", include(served_by(self, file_pages))),
            path("deletion-jobs/", include(served_by(self, job_pages))),
            path("two-factor/", include(served_by(self, account_pages))),
            *super().get_urls(),
        ]

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        """Django's page, where a wrong current password counts as a failed sign-in."""
        request.current_app = self.name
        return ThrottledPasswordChangeView.as_view(
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)
