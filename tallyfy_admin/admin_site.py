"""The admin site every page of the panel is served by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.apps import apps as installed_apps
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path, reverse

from accounts.password_change import ThrottledPasswordChangeView
from accounts.urls import account_pages
from admin_pages.list_guard import guarded_changelist
from admin_pages.pages import served_by
from files.urls import file_pages
from files.views import LOOKUP_PERMISSION
from jobs.urls import job_pages
from jobs.views import may_start_jobs

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
        """The stock list, with the panel's own pages in the files app, the product's apps
        first, and the app and page being viewed marked (`current`), so that the sidebar, drawn
        on every page, compares no URLs in the template."""
        apps = super().get_app_list(request, app_label)
        if app_label in (None, "files"):
            apps = _with_panel_pages(apps, request)

        def by_use(app: dict[str, object]) -> tuple[int, int]:
            label = str(app["app_label"])
            ours = label in APPS_BY_USE
            return (0, APPS_BY_USE.index(label)) if ours else (1, 0)

        _mark_current(apps, quote(request.path, safe="/"))
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


def _with_panel_pages(apps: list[dict[str, Any]], request: HttpRequest) -> list[dict[str, Any]]:
    """ "Look up a file" and "Delete many files" first in the files app, for users who may use
    them, even when they see none of the app's models (then the app is only these pages)."""
    pages = []
    if request.user.has_perm(LOOKUP_PERMISSION):
        pages.append(_page("Lookup", "Look up a file", "admin:files_lookup"))
    if may_start_jobs(request.user):
        pages.append(_page("Jobs", "Delete many files", "admin:jobs_create"))
    if not pages:
        return apps
    files = next((app for app in apps if app["app_label"] == "files"), None)
    if files is None:
        files = {
            "name": installed_apps.get_app_config("files").verbose_name,
            "app_label": "files",
            "app_url": reverse("admin:app_list", kwargs={"app_label": "files"}),
            "has_module_perms": False,
            "models": [],
        }
        apps = [*apps, files]
    files["models"] = [*pages, *files["models"]]
    return apps


def _page(object_name: str, name: str, url_name: str) -> dict[str, Any]:
    """A page of the panel as a row of the app list, shaped like a model's (no add link)."""
    return {
        "object_name": object_name,
        "name": name,
        "perms": {},
        "admin_url": reverse(url_name),
        "add_url": None,
        "view_only": True,
    }


def _mark_current(apps: list[dict[str, Any]], path: str) -> None:
    """The stock template's test (the URL within the path), once a row; an app is current
    when one of its rows is, the panel's pages outside the app's URL included."""
    for app in apps:
        for model in app["models"]:
            model["model_name"] = str(model["object_name"]).lower()
            model["current"] = bool(model["admin_url"]) and str(model["admin_url"]) in path
        app["current"] = str(app["app_url"]) in path or any(m["current"] for m in app["models"])
