from __future__ import annotations

from django.contrib import admin

from throttling.models import RateLimit


class RateLimitInline(admin.StackedInline):
    """The organization's request rate, on its admin page."""

    model = RateLimit
    can_delete = False
    max_num = 1
    fields = ["per_minute", "held_until"]
    readonly_fields = ["held_until"]
    verbose_name = "rate limit towards Tallyfy"
    verbose_name_plural = "rate limit towards Tallyfy"
