from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from accounts.sqlite_files import keep_sqlite_files_private

        connection_created.connect(keep_sqlite_files_private, dispatch_uid="sqlite_files_private")
