"""The real settings module, given the variables a test run needs.

Only what the environment would supply is set here, before `tallyfy_admin.settings` reads it.
"""

from __future__ import annotations

import os

os.environ["DJANGO_ENV_FILE"] = ""  # a developer's .env must not change what the tests see
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("TALLYFY_TOKEN_KEYS", "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLTAxMjM0NTY=")
os.environ.setdefault("TALLYFY_RETRY_BACKOFF", "0")
os.environ.setdefault("TALLYFY_READ_TIMEOUT", "5")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
# Tests that are not about the rate limit should not wait for it: a slot every 0.1 ms.
os.environ.setdefault("TALLYFY_DEFAULT_RATE_PER_MINUTE", "600000")
# The embedded default, on whichever database the suite runs on: tasks are rows that real
# worker processes (manage.py db_worker) take, as in production.
os.environ["DJANGO_TASKS_BACKEND"] = "django_tasks_db.DatabaseBackend"
# Second factors are asked only by the tests about them (tests/accounts, which turn the
# policy on): the rest sign in deleters with a password or force_login. The policy's own
# default (on unless DJANGO_DEBUG) is tested with this variable removed.
os.environ["TALLYFY_TWO_FACTOR_REQUIRED"] = "false"

from tallyfy_admin.settings import *  # noqa: F403

# The chaos test's worker with a wrong clock: this process's time.time() and timezone.now()
# run this many seconds ahead (the database's clock is untouched).
if _skew := float(os.environ.get("TEST_CLOCK_SKEW_SECONDS") or 0):
    import time
    from datetime import timedelta

    from django.utils import timezone

    _real_time, _real_now = time.time, timezone.now
    time.time = lambda: _real_time() + _skew
    timezone.now = lambda: _real_now() + timedelta(seconds=_skew)

# For a test about what a task does rather than how it is delivered: `.using(backend="immediate")`
# runs it inside the test that enqueues it, with no worker.
TASKS = {
    **TASKS,  # noqa: F405
    "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One name per test run (pytest-xdist gives its workers the run's id; pytest-django then adds
# the worker's suffix), so two runs at once on one machine or one PostgreSQL server never meet.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}")[:12]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than shared-cache memory: the browser tests' live server writes from
    # other threads, and shared-cache SQLite fails at once on a locked table instead of waiting.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{_RUN}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_tallyfy_{_RUN}"}  # noqa: F405

# WhiteNoise serves from STATIC_ROOT and warns when it is missing; the tests use the finders.
(BASE_DIR / "var" / "static").mkdir(parents=True, exist_ok=True)  # noqa: F405
