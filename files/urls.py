"""The single-file pages, served by the admin site (`tallyfy_admin.admin_site`)."""

from __future__ import annotations

from django.urls import path, register_converter

from files import views
from files.converters import TallyfyIdConverter

register_converter(TallyfyIdConverter, "tallyfy_id")

FILE = "<int:org_pk>/<tallyfy_id:asset_id>"

file_pages = [
    path("lookup/", views.file_lookup_view, name="files_lookup"),
    path(f"{FILE}/", views.file_detail_view, name="files_detail"),
    path(f"{FILE}/download/", views.file_download_view, name="files_download"),
    path(f"{FILE}/view/", views.file_inline_view, name="files_inline"),
    path(f"{FILE}/delete/", views.file_delete_view, name="files_delete"),
    path("deletions/<int:pk>/check/", views.deletion_check_now_view, name="files_deletion_check"),
]
