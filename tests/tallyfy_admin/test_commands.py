"""The commands `make run` relies on, run the way it runs them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.core.management import call_command

from organizations.models import Organization
from organizations.selectors import may_reach
from sandbox.seed import DEMO_ORG_ID, DEMO_TOKEN
from tests.processes import ROOT, free_port

pytestmark = pytest.mark.over_the_wire


def test_python_m_sandbox_serves_the_seeded_organization(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "s.sqlite3"),
            "--rate-limit-next",
            "1",
            "--retry-after",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline() if process.stdout else ""
        assert f"http://127.0.0.1:{port}/api" in banner
        url = f"http://127.0.0.1:{port}/api/organizations/{DEMO_ORG_ID}/assets/{'c0' * 16}"
        headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "X-Tallyfy-Client": "APIClient"}
        first = requests.get(url, headers=headers, timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "4")
        assert (
            requests.get(url, headers=headers, timeout=5).json()["data"]["filename"]
            == "report_q1.pdf"
        )
    finally:
        process.terminate()
        process.wait(10)


def test_sandbox_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    for expected in (200, 404):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(db)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            process.stdout.readline()
            url = f"http://127.0.0.1:{port}/api/organizations/{DEMO_ORG_ID}/file/{'c4' * 16}"
            headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "X-Tallyfy-Client": "APIClient"}
            assert requests.get(url, headers=headers, timeout=5).status_code == expected
            if expected == 200:
                assert requests.delete(url, headers=headers, timeout=5).status_code == 200
        finally:
            process.terminate()
            process.wait(10)
            time.sleep(0.1)


def test_setup_demo_creates_a_superuser_and_an_approver_once_and_the_sandbox_organization(
    db: None, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.TALLYFY_INSECURE_API_HOSTS = ["127.0.0.1:8001"]  # type: ignore[attr-defined]
    call_command("setup_demo", sandbox_url="http://127.0.0.1:8001/api")
    out = capsys.readouterr().out.strip()
    # The passwords come last, in a box, after everything else the command printed.
    box = out[out.index("+---") :].splitlines()
    assert box[0] == box[-1]
    assert set(box[0]) == {"+", "-"}
    assert all(line.startswith("| ") and line.endswith(" |") for line in box[1:-1])
    assert len({len(line) for line in box}) == 1
    assert "Created organization Sandbox" in out[: out.index("+---")]
    passwords = {
        line.split()[1]: line.split("password: ")[1].split()[0]
        for line in box
        if "password: " in line
    }
    assert set(passwords) == {"admin", "approver"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(passwords["admin"])
    approver = User.objects.get(username="approver")
    assert approver.check_password(passwords["approver"])
    assert approver.is_staff
    assert not approver.is_superuser
    assert approver.has_perm("jobs.approve_deletionjob")
    assert may_reach(approver, Organization.objects.get(name="Sandbox"))
    assert approver.has_perms(["files.lookup_file", "files.view_filedeletion"])
    assert passwords["admin"] != passwords["approver"]
    organization = Organization.objects.get(name="Sandbox")
    assert organization.access_token() == DEMO_TOKEN
    call_command("setup_demo", sandbox_url="http://127.0.0.1:8001/api")
    assert "password" not in capsys.readouterr().out
    assert User.objects.count() == 2
    assert Organization.objects.count() == 1


def test_init_env_writes_secrets_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    subprocess.run([sys.executable, "scripts/init_env.py", str(target)], cwd=ROOT, check=True)
    first = target.read_text()
    assert "DJANGO_SECRET_KEY=" in first
    assert "TALLYFY_TOKEN_KEYS=" in first
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    subprocess.run([sys.executable, "scripts/init_env.py", str(target)], cwd=ROOT, check=True)
    assert target.read_text() == first


def load_init_env() -> Any:
    spec = importlib.util.spec_from_file_location("init_env", ROOT / "scripts" / "init_env.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_init_env_creates_the_file_private_without_a_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was readable by others until this chmod")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    old_umask = os.umask(0o022)
    try:
        load_init_env().main([str(tmp_path / ".env"), "8123"])
    finally:
        os.umask(old_umask)
    env_file = tmp_path / ".env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert "TALLYFY_INSECURE_API_HOSTS=127.0.0.1:8123,localhost:8123\n" in env_file.read_text()


def test_init_env_does_not_write_through_a_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / ".env").symlink_to(elsewhere)
    load_init_env().main([str(tmp_path / ".env")])
    assert not elsewhere.exists()


def test_find_python_insists_on_3_12(tmp_path: Path) -> None:
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")
    old.chmod(0o755)
    result = subprocess.run(
        ["/bin/sh", "scripts/find-python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert "needs Python 3.12 or newer" in result.stderr
