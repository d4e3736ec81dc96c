"""The admin's app list as HTML: the index shows it and the sidebar draws it on every page.

The stock template's markup, built here rather than by a template loop over every app and row,
which cost about a sixth of an admin page's time (every value escaped with the standard
library's `html.escape`: Django's `format_html` would cost as much as the loop). The site's
`get_app_list` has already marked the app and page being viewed (`current`) and each row's
lower-case name (`model_name`). Registered as the template library `app_list`
(settings.TEMPLATES)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()

type App = Mapping[str, Any]


def _text(value: object) -> str:
    return escape(str(value), quote=True)


@register.simple_tag
def app_list_tables(app_list: Iterable[App], show_changelinks: bool = False) -> SafeString:
    apps = list(app_list)
    if not apps:
        # Django's own message, word for word, so that its translations apply.
        nothing = gettext("You don’t have permission to view or edit anything.")  # noqa: RUF001
        return mark_safe(f"<p>{_text(nothing)}</p>")  # noqa: S308 - escaped
    headings = "".join(
        f'<th scope="col">{_text(gettext(heading))}</th>'
        for heading in ("Model name", "Add link", "Change or view list link")
    )
    thead = f'<thead class="visually-hidden"><tr>{headings}</tr></thead>'
    words = {word: _text(gettext(word.capitalize())) for word in ("add", "view", "change")}
    tables = "".join(_app_table(app, thead, words, links=show_changelinks) for app in apps)
    return mark_safe(tables)  # noqa: S308 - every value in it is escaped


def _app_table(app: App, thead: str, words: Mapping[str, str], *, links: bool) -> str:
    label = _text(app["app_label"])
    rows = "".join(_model_row(label, model, words, links=links) for model in app["models"])
    current = " current-app" if app.get("current") else ""
    return (
        f'<div class="app-{label} module{current}"><table><caption>'
        f'<a href="{_text(app["app_url"])}" class="section">{_text(app["name"])}</a>'
        f"</caption>{thead}{rows}</table></div>"
    )


def _model_row(label: str, model: App, words: Mapping[str, str], *, links: bool) -> str:
    row_id = f"{label}-{_text(model['model_name'])}"
    current = bool(model.get("current"))
    name = _text(model["name"])
    if model.get("admin_url"):
        marked = ' aria-current="page"' if current else ""
        name = f'<a href="{_text(model["admin_url"])}"{marked}>{name}</a>'
    add = "<td></td>"
    if model.get("add_url"):
        add = (
            f'<td><a href="{_text(model["add_url"])}" class="addlink" '
            f'aria-describedby="{row_id}">{words["add"]}</a></td>'
        )
    return (
        f'<tr class="model-{_text(model["model_name"])}{" current-model" if current else ""}">'
        f'<th scope="row" id="{row_id}">{name}</th>{add}'
        f"{_list_link(model, row_id, words) if links else ''}</tr>"
    )


def _list_link(model: App, row_id: str, words: Mapping[str, str]) -> str:
    """The index's View or Change link to a model's list; none for the panel's own pages."""
    if not model.get("admin_url") or not model.get("perms"):
        return "<td></td>"
    kind = "view" if model.get("view_only") else "change"
    return (
        f'<td><a href="{_text(model["admin_url"])}" class="{kind}link" '
        f'aria-describedby="{row_id}">{words[kind]}</a></td>'
    )
