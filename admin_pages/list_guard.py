"""A changelist's query string and search, checked before the stock admin reads them: it
accepts a lookup on any field of the model (`?file_name__regex=(` reaches the database) and an
impossible date (`?started_at__year=99999`), and gives a search of any length to the database,
each a 500. Here a parameter the list's own filters do not offer, a date that cannot be, or a
search of too many words is left out, and the list says so. The admin site applies it to every
model's list (tallyfy_admin.admin_site); a list that takes more parameters than its filters
names them in its ModelAdmin's `extra_list_params`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from admin_pages.text_search import search_words

MAX_SEARCH_WORDS = 32
_LIST_PARAMS = {ALL_VAR, ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR, IS_POPUP_VAR, TO_FIELD_VAR}
_LIST_PARAMS |= {IS_FACETS_VAR, "_changelist_filters"}
# The lookups the admin's own filters put in a query string.
_FILTER_LOOKUPS = {"", "exact", "isnull", "in", "id__exact", "id__in", "gte", "lt", "pk__exact"}
_DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}

ChangelistView = Callable[..., HttpResponse]


def guarded_changelist(model_admin: admin.ModelAdmin, view: ChangelistView) -> ChangelistView:
    """`view` (the model admin's changelist) taking only the parameters its filters offer,
    dates that can be, and searches of at most MAX_SEARCH_WORDS words."""

    @wraps(view)
    def changelist(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        kept = request.GET.copy()
        refused = []
        offered = _offered(model_admin, request)
        for name, value in request.GET.items():
            why = _refusal(model_admin, offered, name, value)
            if why:
                refused.append(why)
                del kept[name]
        if refused:
            model_admin.message_user(request, " ".join(refused), messages.ERROR)
            return HttpResponseRedirect(
                f"{request.path}?{kept.urlencode()}" if kept else request.path
            )
        return view(request, *args, **kwargs)

    return changelist


def _refusal(model_admin: admin.ModelAdmin, offered: set[str], name: str, value: str) -> str:
    if name == SEARCH_VAR:
        words = len(search_words(value))
        if words > MAX_SEARCH_WORDS:
            return (
                f"A search takes at most {MAX_SEARCH_WORDS} words; that one had {words:,}, "
                "so the list is shown unsearched."
            )
        return ""
    if name in _LIST_PARAMS:
        return ""
    if name in offered:
        return ""
    field, _, part = name.partition("__")
    if field == model_admin.date_hierarchy and part in _DATE_PARTS:
        low, high = _DATE_PARTS[part]
        if value.isascii() and value.isdigit() and low <= int(value) <= high:
            return ""
        return f"“{value}” is not a {part} the list can show: the date was left out."
    return f"The list offers no filter “{name}”: it was left out."


def _offered(model_admin: admin.ModelAdmin, request: HttpRequest) -> set[str]:
    """The parameter names the list's filters use."""
    names = set(getattr(model_admin, "extra_list_params", ()))
    for spec in model_admin.get_list_filter(request):
        if isinstance(spec, type) and hasattr(spec, "parameter_name"):
            names.add(spec.parameter_name)
            continue
        field = spec[0] if isinstance(spec, tuple) else spec
        if isinstance(field, str):
            names |= {f"{field}__{lookup}" if lookup else field for lookup in _FILTER_LOOKUPS}
    return names
