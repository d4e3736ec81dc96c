"""The production server as the README deploys it: gunicorn with gunicorn.conf.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.processes import ROOT, free_port, manage

PASSWORD = "a-password-for-this-test-only"
SETUP = """
from django.contrib.auth.models import User
from organizations.services import organization_create
User.objects.create_superuser("staff", "", "{password}")
organization = organization_create(
    name="Broken", org_id="{org_id}", api_base_url="{base_url}", token="a-token"
)
print(organization.pk)
"""


def listening_sockets(port: int) -> int:
    """How many sockets listen on the port, from the kernel's own table."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


@pytest.fixture
def production_env(tmp_path: Path, upstream_that_breaks: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tallyfy_admin.settings",
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TALLYFY_INSECURE_API_HOSTS": f"127.0.0.1:{upstream_that_breaks}",
        "GUNICORN_WORKERS": "2",
        "XDG_RUNTIME_DIR": str(tmp_path),  # gunicorn's control socket: one per server here
    }


@pytest.fixture
def gunicorn(production_env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tallyfy_admin.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env={**production_env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
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


@pytest.fixture
def upstream_that_breaks() -> Iterator[int]:
    """A Tallyfy that starts every file body, chunked, and drops the connection mid-way."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stopping = threading.Event()

    def answer() -> None:
        while not stopping.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.recv(65536)
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    b"Content-Type: application/pdf\r\n\r\n5\r\n%PDF-\r\n400\r\n" + b"x" * 100
                )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stopping.set()
        thread.join(5)
        server.close()


pytestmark = [
    pytest.mark.over_the_wire,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table"),
]


def test_each_worker_listens_on_a_socket_of_its_own_and_serves(gunicorn: int) -> None:
    assert listening_sockets(gunicorn) == 2
    for _ in range(4):  # fresh connections, spread over both workers
        response = requests.get(f"http://127.0.0.1:{gunicorn}/admin/login/", timeout=10)
        assert response.status_code == 200
        assert "csrfmiddlewaretoken" in response.text


def test_a_download_that_breaks_midway_fails_for_the_browser_too(
    production_env: dict[str, str], gunicorn: int, upstream_that_breaks: int
) -> None:
    manage("migrate", "--no-input", env=production_env, check=True)
    setup = SETUP.format(
        password=PASSWORD, org_id="o" * 32, base_url=f"http://127.0.0.1:{upstream_that_breaks}"
    )
    org_pk = manage("shell", "-c", setup, env=production_env, check=True).stdout.split()[-1]
    panel = f"http://127.0.0.1:{gunicorn}"
    browser = requests.Session()
    browser.get(f"{panel}/admin/login/", timeout=10)
    signed_in = browser.post(
        f"{panel}/admin/login/",
        data={
            "username": "staff",
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302

    download = browser.get(
        f"{panel}/admin/tallyfy-files/{org_pk}/{'a' * 32}/download/", stream=True, timeout=10
    )
    assert download.status_code == 200
    received: list[bytes] = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        received.extend(download.iter_content(1024))
    assert b"".join(received).startswith(b"%PDF-")
