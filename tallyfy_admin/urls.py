from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.passkeys import passkey_urls


def no_favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("favicon.ico", no_favicon),
    path("admin/passkeys/", include(passkey_urls)),
    path("admin/", admin.site.urls),
]

handler403 = "admin_pages.errors.permission_denied_view"
handler404 = "admin_pages.errors.page_not_found_view"
handler500 = "admin_pages.errors.server_error_view"
