from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from evidence.kinds import SealedKind


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def sealed_kinds(self) -> list[SealedKind]:
        """The access and decision events, in the same chain as the deletion log."""
        from evidence.services import EVENTS

        return [EVENTS]
