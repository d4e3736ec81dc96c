"""Starting the project's own programs (manage.py, servers) in processes of their own."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


# `manage.py run_worker` as tests and benchmarks start it: at once, polling every 0.1 s.
RUN_WORKER = ["manage.py", "run_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"]


def manage(
    *args: str, env: dict[str, str], check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGS` in a process of its own, with exactly `env`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
