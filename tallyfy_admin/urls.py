from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.password_change import password_change_view

admin.site.site_header = "Tallyfy admin"
admin.site.site_title = "Tallyfy admin"
admin.site.index_title = "Files and deletion log"


def no_favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("favicon.ico", no_favicon),
    path("admin/tallyfy-files/", include("files.urls")),
    path("admin/deletion-jobs/", include("jobs.urls")),
    # In front of the admin's own page at this address: the same page, throttled.
    path("admin/password_change/", password_change_view),
    path("admin/", admin.site.urls),
]

handler403 = "files.views.permission_denied_view"
handler404 = "files.views.page_not_found_view"
handler500 = "files.views.server_error_view"
