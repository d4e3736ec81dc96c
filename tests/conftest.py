"""The tests mirror the apps (tests/<app>/), with the browser tests (tests/e2e/) and the chaos
test (tests/chaos/) apart. Fixtures come from the modules under tests/fixtures/."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.http",
    "tests.fixtures.sandbox",
    "tests.fixtures.organizations",
    "tests.fixtures.accounts",
    "tests.fixtures.files",
    "tests.fixtures.jobs",
    "tests.fixtures.catalog",
    "tests.fixtures.evidence",
]
