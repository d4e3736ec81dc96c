from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from throttling.conf import conf

# Above every rate Tallyfy documents (600 a minute per user, about 840 in bursts): a higher
# figure is a typo, not a plan.
MAX_RATE_PER_MINUTE = 1200


class RateLimit(models.Model):
    """An organization's request rate towards Tallyfy, and its slot book, shared by every process.

    `next_slot_at` is the earliest time the next request may start; each request reserves it
    and moves it one interval (60 s / rate) on. `held_until` is set by a 429's Retry-After.
    Both are times on the database's clock (see throttling.services).
    """

    organization = models.OneToOneField(
        "organizations.Organization",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rate_limit",
    )
    per_minute = models.PositiveIntegerField(
        "requests per minute",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE_PER_MINUTE)],
        help_text=(
            "Requests a minute to Tallyfy for this organization, shared by every page and "
            "worker. Empty: the default (TALLYFY_DEFAULT_RATE_PER_MINUTE)."
        ),
    )
    next_slot_at = models.DateTimeField("next free slot", null=True, blank=True, editable=False)
    held_until = models.DateTimeField(
        "held back until", null=True, blank=True, editable=False, help_text="Set by a 429."
    )

    class Meta:
        verbose_name = "rate limit"

    def __str__(self) -> str:
        return f"{self.effective_per_minute} requests a minute"

    @property
    def effective_per_minute(self) -> int:
        return self.per_minute or conf.TALLYFY_DEFAULT_RATE_PER_MINUTE
