from __future__ import annotations

from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Tallyfy files"

    def ready(self) -> None:
        from files import checks  # noqa: F401  (registers the system checks)
