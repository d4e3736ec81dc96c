from __future__ import annotations

import os

from django.conf import settings


def test_the_test_database_is_named_for_this_run() -> None:
    """Two test runs at once (two clones, one PostgreSQL server) must not share a database."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}")[:12]
    assert run in str(settings.DATABASES["default"]["TEST"]["NAME"])
