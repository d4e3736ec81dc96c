from __future__ import annotations

from django import template

from erasure.selectors import days_left, requests_awaiting_approval, requests_due_soon

register = template.Library()


@register.inclusion_tag("erasure/due_soon.html", takes_context=True)
def erasure_due_soon(context: template.Context) -> dict[str, object]:
    """On the admin index: the signed-in user's open requests due within 7 days (or overdue),
    and the requests others sent for approval that they may approve."""
    user = context["request"].user
    if not user.has_perm("erasure.view_erasurerequest"):
        return {"due": [], "awaiting": []}
    return {
        "due": [(r, days_left(r)) for r in requests_due_soon(user=user)],
        "awaiting": [(r, days_left(r)) for r in requests_awaiting_approval(user=user)],
    }
