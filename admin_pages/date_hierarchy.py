"""A changelist's date hierarchy drawn from two indexed reads (the first and the last date)
instead of the stock one's DISTINCT over every row, which reads a whole table of a million
rows on each page view. A year, month or day in the range with no row in it is still offered.
The deletion log and the file index draw theirs with it."""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.text import capfirst


def _bounds(rows: QuerySet[Any], field: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    # Rows without a date have no place in the hierarchy (and would sort first one way).
    dates = rows.filter(**{f"{field}__isnull": False}).values_list(field, flat=True)
    first = dates.order_by(field).first()
    last = dates.order_by(f"-{field}").first()
    if first is None or last is None:
        return None
    return timezone.localtime(first), timezone.localtime(last)


def _days_of_month(
    year: int, month: int, first: datetime.date, last: datetime.date
) -> list[datetime.date]:
    length = calendar.monthrange(year, month)[1]
    days = (datetime.date(year, month, d) for d in range(1, length + 1))
    return [d for d in days if first <= d <= last]


def _months_of_year(year: int, first: datetime.date, last: datetime.date):
    months = (datetime.date(year, m, 1) for m in range(1, 13))
    return [
        m
        for m in months
        if (first.year, first.month) <= (m.year, m.month) <= (last.year, last.month)
    ]


def date_hierarchy(cl: ChangeList, rows: QuerySet[Any]) -> dict[str, Any]:
    """Every year, month or day between the first and last of `rows` (usually the rows the
    changelist shows), like the stock `date_hierarchy` but without asking which hold rows."""
    field = cl.date_hierarchy
    year_field, month_field, day_field = f"{field}__year", f"{field}__month", f"{field}__day"
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{field}__"])

    name = cl.model._meta.get_field(field).verbose_name
    bounds = _bounds(rows, field)
    if bounds is None:
        return {"show": False}
    first, last = bounds
    if not (year or month or day) and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    if year and month and day:
        shown = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(shown, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(shown, "MONTH_DAY_FORMAT"))}],
            "field_name": name,
        }
    if year and month:
        days = _days_of_month(int(year), int(month), first.date(), last.date())
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
            "field_name": name,
        }
    if year:
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in _months_of_year(int(year), first.date(), last.date())
            ],
            "field_name": name,
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
        "field_name": name,
    }
