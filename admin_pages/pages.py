"""What every page of the panel's own shares: served by the admin site that routes to it (its
login, its chrome), after a permission check of the page's own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.sites import all_sites, site
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern

from admin_pages.permissions import permissions_read

type User = AbstractBaseUser | AnonymousUser
type View = Callable[..., HttpResponse]


def admin_page(allowed: Callable[[User], bool]) -> Callable[[View], View]:
    """A page only users for whom `allowed(user)` holds may open; others get a 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            permissions_read(request.user)
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return checked

    return decorate


def served_by(admin_site: AdminSite, patterns: Iterable[URLPattern]) -> list[URLPattern]:
    """`patterns` as pages of `admin_site`, for a ModelAdmin's `get_urls`: the site's login and
    active-staff check first (`admin_view`), and the site's chrome around each page."""

    def serve(view: View) -> View:
        @wraps(view)
        def on_site(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.current_app = admin_site.name
            return view(request, *args, **kwargs)

        return admin_site.admin_view(on_site)

    return [
        URLPattern(pattern.pattern, serve(pattern.callback), pattern.default_args, pattern.name)
        for pattern in patterns
    ]


def site_of(request: HttpRequest) -> AdminSite:
    """The admin site serving this request (the default site for pages outside any)."""
    name = getattr(request, "current_app", None)
    return next((each for each in all_sites if each.name == name), site)


def render_page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    """`template` with the admin's own context (site header, sidebar, user tools) and `title`."""
    context = {**site_of(request).each_context(request), "title": title, **context}
    return render(request, template, context)
