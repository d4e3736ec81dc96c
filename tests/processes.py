"""Helpers for tests that start the project's programs as processes of their own."""

from __future__ import annotations

import os
from urllib.parse import quote

from django.db import connection

from devtools.processes import ROOT, free_port, manage

__all__ = ["ROOT", "free_port", "manage", "on_test_database_env"]


def on_test_database_env() -> dict[str, str]:
    """The environment for a process of its own that works on this test's database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        user = quote(db["USER"], safe="")
        password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
        url = f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
