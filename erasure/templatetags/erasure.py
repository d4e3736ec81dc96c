from __future__ import annotations

from django import template

from erasure.selectors import days_left, requests_due_soon

register = template.Library()


@register.inclusion_tag("erasure/due_soon.html", takes_context=True)
def erasure_due_soon(context: template.Context) -> dict[str, object]:
    """The signed-in user's open requests due within 7 days (or overdue), on the admin index."""
    user = context["request"].user
    if not user.has_perm("erasure.view_erasurerequest"):
        return {"due": []}
    return {"due": [(r, days_left(r)) for r in requests_due_soon(user=user)]}
