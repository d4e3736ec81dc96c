"""SQLite keeps sessions and password hashes in plain files: readable by their owner only."""

from __future__ import annotations

import os
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# SQLite gives a new -wal or -shm file the database file's permissions.
_COMPANIONS = ("", "-wal", "-shm")


def keep_sqlite_files_private(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """On each new connection (django.db.backends.signals.connection_created)."""
    if connection.vendor != "sqlite":
        return
    database = str(connection.settings_dict["NAME"])
    for path in (f"{database}{suffix}" for suffix in _COMPANIONS):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # in memory, or not created yet
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
