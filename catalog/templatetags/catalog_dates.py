"""The file index's date hierarchy (files/date_hierarchy.py): between the first and last upload
of the files shown, or of the whole index for a search matching more files than a page counts
(finding that search's own first and last would read every match)."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList

from admin_pages.date_hierarchy import date_hierarchy
from catalog import search

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html", takes_context=True)
def index_date_hierarchy(context: template.Context, cl: ChangeList) -> dict[str, Any]:
    request = context.get("request")
    broad = request is not None and search.was_broad(request)
    return date_hierarchy(cl, cl.root_queryset if broad else cl.queryset)
