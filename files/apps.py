from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Tallyfy files"

    def ready(self) -> None:
        from files import checks  # noqa: F401  (registers the system checks)
        from files.sqlite_files import keep_sqlite_files_private

        connection_created.connect(keep_sqlite_files_private, dispatch_uid="sqlite_files_private")
