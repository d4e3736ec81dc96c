from __future__ import annotations

from django import template

from tallyfy_api import names as display

register = template.Library()


@register.filter
def display_name(name: str | None) -> str:
    """`{{ asset.filename|display_name }}`: see tallyfy_api.names."""
    return display.display_name(name or "")
