"""The file index's date hierarchy, built from the first and last upload time alone.

Django's own asks the database for every distinct year, month or day, which reads the whole
index (a million rows) on each page view; the first and last upload times come from the
index on `uploaded_at`. A year, month or day in the range with no file in it is still offered.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.text import capfirst

from catalog import search

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html", takes_context=True)
def index_date_hierarchy(context: template.Context, cl: ChangeList) -> dict[str, Any]:
    field = cl.date_hierarchy
    year, month, day = (cl.params.get(f"{field}__{part}") for part in ("year", "month", "day"))
    name = cl.model._meta.get_field(field).verbose_name

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{field}__"])

    # Two queries: SQLite answers MIN or MAX alone from the index, but not both in one.
    # A search matching more files than a page counts is bounded by the whole index's dates:
    # finding its own first and last would read every match.
    request = context.get("request")
    rows = (cl.root_queryset if request and search.was_broad(request) else cl.queryset).order_by()
    span = {**rows.aggregate(first=Min(field)), **rows.aggregate(last=Max(field))}
    if not (span["first"] and span["last"]):
        return {"show": False}
    first, last = (timezone.localtime(span[k]).date() for k in ("first", "last"))
    if not (year or month or day) and first.year == last.year:
        year = first.year
        month = first.month if first.month == last.month else None
    if year and month and day:
        chosen = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({f"{field}__year": year, f"{field}__month": month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
            "field_name": name,
        }
    if year and month:
        y, m = int(year), int(month)
        days = [
            datetime.date(y, m, d)
            for d in range(1, calendar.monthrange(y, m)[1] + 1)
            if first <= datetime.date(y, m, d) <= last
        ]
        return {
            "show": True,
            "back": {"link": link({f"{field}__year": year}), "title": str(year)},
            "choices": [
                {
                    "link": link(
                        {f"{field}__year": y, f"{field}__month": m, f"{field}__day": d.day}
                    ),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
            "field_name": name,
        }
    if year:
        y = int(year)
        months = [
            datetime.date(y, m, 1)
            for m in range(1, 13)
            if (first.year, first.month) <= (y, m) <= (last.year, last.month)
        ]
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({f"{field}__year": y, f"{field}__month": d.month}),
                    "title": capfirst(formats.date_format(d, "YEAR_MONTH_FORMAT")),
                }
                for d in months
            ],
            "field_name": name,
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({f"{field}__year": y}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
        "field_name": name,
    }
