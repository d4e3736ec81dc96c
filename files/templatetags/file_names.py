from __future__ import annotations

from django import template

from files import display

register = template.Library()


@register.filter
def display_name(name: str | None) -> str:
    """`{{ asset.filename|display_name }}`: see files.display."""
    return display.display_name(name or "")
