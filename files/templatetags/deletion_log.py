"""The deletion log's date hierarchy (files/date_hierarchy.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList

from admin_pages.date_hierarchy import date_hierarchy

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def deletion_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    return date_hierarchy(cl, cl.queryset)
