"""Processes and helpers the benchmarks share: the sandbox, the panel under gunicorn, a login."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from devtools.processes import ROOT, free_port, manage, wait_for_port
from sandbox.control import sandbox_control

PYTHON = sys.executable
PASSWORD = "bench-password-not-secret"


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


@dataclass
class Sandbox:
    process: subprocess.Popen[bytes]
    port: int
    org_id: str = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
    token: str = "sandbox-demo-token"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def control(self, action: str, payload: dict[str, Any] | None = None) -> Any:
        return sandbox_control(f"http://127.0.0.1:{self.port}", action, payload)

    def add_file(self, size: int, filename: str = "bench.bin") -> str:
        asset = self.control("files", {"org_id": self.org_id, "size": size, "filename": filename})
        return asset["id"]


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "sandbox", "--db", ":memory:", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield Sandbox(process, port)
    finally:
        process.terminate()
        process.wait(10)


def panel_env(database_url: str, *, sandbox_port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TALLYFY_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        # The benchmarks' users sign in with a password: they time pages, not the sign-in.
        "TALLYFY_TWO_FACTOR_REQUIRED": "false",
        "TALLYFY_INSECURE_API_HOSTS": f"127.0.0.1:{sandbox_port}",
        "DATABASE_URL": database_url,
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        "XDG_RUNTIME_DIR": str(ROOT / "var"),  # gunicorn's control socket, not the user's
    }
    env.update(extra)
    return env


def python_json(*args: str, timeout: float) -> Any:
    """Run `python ARGS` here and return the JSON it printed on its last line."""
    result = subprocess.run(
        [PYTHON, *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=timeout
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage_stdout(env: dict[str, str], *args: str) -> str:
    return manage(*args, env=env, check=True).stdout


SETUP_SCRIPT = """
from django.contrib.auth.models import User
from django.contrib.auth.models import Group, Permission
User.objects.filter(username__in=["bench", "bench-staff"]).delete()
User.objects.create_superuser("bench", "", "{password}")
staff = User.objects.create_user("bench-staff", "", "{password}", is_staff=True)
deleters, _ = Group.objects.get_or_create(name="Bench deleters")
deleters.permissions.set(Permission.objects.filter(
    codename__in=["lookup_file", "delete_file", "view_filedeletion"]))
staff.groups.add(deleters)
from organizations.models import OrganizationAccess
OrganizationAccess.objects.update_or_create(group=deleters, defaults={{"all_organizations": True}})
from organizations.models import Organization
from organizations.services import organization_create, organization_update
fields = dict(name="Sandbox", org_id="{org_id}", api_base_url="{base_url}", token="{token}")
existing = Organization.objects.filter(name="Sandbox").first()
if existing:
    print(organization_update(organization=existing, **fields).pk)
else:
    print(organization_create(**fields).pk)
"""


@dataclass
class Panel:
    process: subprocess.Popen[bytes]
    port: int
    org_pk: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def login(self, username: str = "bench") -> requests.Session:
        """A signed-in session: "bench" is a superuser, "bench-staff" staff whose permissions
        come through a group, as a deleter's would."""
        session = requests.Session()
        session.get(f"{self.url}/admin/login/", timeout=30)
        response = session.post(
            f"{self.url}/admin/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            timeout=30,
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed: {response.status_code}")
        return session


@contextlib.contextmanager
def panel(
    box: Sandbox, database_url: str, *, workers: int = 2, threads: int = 16
) -> Iterator[Panel]:
    # These benchmarks time the panel's own work against a sandbox with no rate limit; the
    # organization's shared rate limit (300 a minute by default) would pace them instead.
    # The jobs and scan benchmarks measure the panel under a rate limit.
    env = panel_env(database_url, sandbox_port=box.port, TALLYFY_DEFAULT_RATE_PER_MINUTE="600000")
    manage_stdout(env, "migrate", "--no-input")
    manage_stdout(env, "collectstatic", "--no-input")
    setup = SETUP_SCRIPT.format(
        password=PASSWORD, org_id=box.org_id, base_url=box.base_url, token=box.token
    )
    org_pk = int(manage_stdout(env, "shell", "-c", setup).strip().splitlines()[-1])
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "tallyfy_admin.wsgi",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        time.sleep(0.5)
        yield Panel(process, port, org_pk)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@contextlib.contextmanager
def relay(box: Sandbox) -> Iterator[int]:
    """A bare TCP relay to the sandbox (bench/relay.py) in a process of its own; its port."""
    port = free_port()
    process = subprocess.Popen([PYTHON, "-m", "bench.relay", str(port), str(box.port)], cwd=ROOT)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)
