"""Production server settings for `gunicorn tallyfy_admin.wsgi` (see README, Deployment)."""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads keep a worker serving while its other requests wait on Tallyfy.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Each worker listens on a socket of its own and the kernel spreads new connections across
# them. On one shared socket the worker that has just accepted tends to win the next
# connection too, so kept-alive clients pile onto one worker while the other idles.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true").lower() in {"1", "true", "yes", "on"}
# Downloads of large files stream for as long as they take; this only bounds a stuck worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None


def on_starting(server: Any) -> None:
    """Keep one shared socket where a socket per worker would not work.

    Only TCP addresses that gunicorn binds itself can be shared out by SO_REUSEPORT: each
    worker would take a Unix socket's path over from the one before (the last one started
    would get every connection), and a socket handed over by systemd would be ignored.
    """
    not_tcp = any(address.startswith(("unix:", "fd://")) for address in server.cfg.bind)
    if server.cfg.reuse_port and (not_tcp or os.environ.get("LISTEN_FDS")):
        server.cfg.set("reuse_port", False)
