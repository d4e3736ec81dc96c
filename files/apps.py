from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from evidence.kinds import SealedKind


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Tallyfy files"

    def sealed_kinds(self) -> list[SealedKind]:
        """Read by the evidence app: the deletion log's rows are sealed once settled."""
        from files.evidence import DELETIONS

        return [DELETIONS]
