"""The site's error pages in the admin's look (handler403, handler404, handler500)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from admin_pages.pages import site_of


def permission_denied_view(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    return render(request, "403.html", site_of(request).each_context(request), status=403)


def page_not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", site_of(request).each_context(request), status=404)


def server_error_view(request: HttpRequest) -> HttpResponse:
    # No request context: whatever failed (the database included) must not fail this page.
    admin_site = site_of(request)
    context = {"site_header": admin_site.site_header, "site_title": admin_site.site_title}
    return HttpResponseServerError(loader.get_template("500.html").render(context))
