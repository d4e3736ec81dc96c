"""Helpers for tests that start the project's programs as processes of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(
    *args: str, env: dict[str, str], check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGS` in a process of its own, with exactly `env`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


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
