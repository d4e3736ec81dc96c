"""The production server as the README deploys it: gunicorn with gunicorn.conf.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.processes import ROOT, free_port


def listening_sockets(port: int) -> int:
    """How many sockets listen on the port, from the kernel's own table."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tallyfy_admin.settings",
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tallyfy_admin.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while listening_sockets(port) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited at start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_each_worker_listens_on_a_socket_of_its_own_and_serves(gunicorn: int) -> None:
    assert listening_sockets(gunicorn) == 2
    for _ in range(4):  # fresh connections, spread over both workers
        response = requests.get(f"http://127.0.0.1:{gunicorn}/admin/login/", timeout=10)
        assert response.status_code == 200
        assert "csrfmiddlewaretoken" in response.text
