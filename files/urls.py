from __future__ import annotations

from django.urls import path, register_converter

from files import views
from files.converters import TallyfyIdConverter

register_converter(TallyfyIdConverter, "tallyfy_id")

app_name = "files"

urlpatterns = [
    path("lookup/", views.file_lookup_view, name="lookup"),
    path("<int:org_pk>/<tallyfy_id:asset_id>/", views.file_detail_view, name="detail"),
    path("<int:org_pk>/<tallyfy_id:asset_id>/download/", views.file_download_view, name="download"),
    path("<int:org_pk>/<tallyfy_id:asset_id>/view/", views.file_inline_view, name="inline"),
    path("<int:org_pk>/<tallyfy_id:asset_id>/delete/", views.file_delete_view, name="delete"),
    path("deletions/<int:pk>/check/", views.deletion_check_now_view, name="deletion_check"),
]
