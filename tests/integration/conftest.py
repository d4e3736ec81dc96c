from __future__ import annotations

import pytest

from organizations.models import Organization
from tests.conftest import make_organization
from tests.job_fixtures import alice, bob  # noqa: F401
from tests.sandbox_fixtures import Sandbox, sandbox, sandbox_server  # noqa: F401


@pytest.fixture
def sandbox_org(sandbox: Sandbox, db: None) -> Organization:  # noqa: F811
    return make_organization(
        base_url=sandbox.base_url, org_id=sandbox.org_id, token=sandbox.token, name="Sandbox"
    )
