"""Helpers for tests that start the project's programs as processes of their own."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

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
