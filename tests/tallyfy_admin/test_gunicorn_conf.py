"""gunicorn.conf.py's choice of one socket per worker or one shared socket."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from tests.processes import ROOT


def started_with(*binds: str) -> Config:
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    cfg = Config()
    cfg.set("reuse_port", settings["reuse_port"])
    cfg.set("bind", list(binds))
    settings["on_starting"](SimpleNamespace(cfg=cfg))
    return cfg


def test_tcp_addresses_get_a_socket_per_worker() -> None:
    assert started_with("127.0.0.1:8000", "[::1]:8000").reuse_port is True


@pytest.mark.parametrize("bind", ["unix:/run/tallyfy-admin.sock", "fd://3"])
def test_other_addresses_keep_one_shared_socket(bind: str) -> None:
    assert started_with("127.0.0.1:8000", bind).reuse_port is False


def test_a_socket_from_systemd_keeps_one_shared_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert started_with("127.0.0.1:8000").reuse_port is False


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_REUSE_PORT", "false")
    assert started_with("127.0.0.1:8000").reuse_port is False
