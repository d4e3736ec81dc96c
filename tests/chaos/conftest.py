from __future__ import annotations

from tests.integration.conftest import sandbox_org  # noqa: F401
from tests.sandbox_fixtures import sandbox, sandbox_server  # noqa: F401
