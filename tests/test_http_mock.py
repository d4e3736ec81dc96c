"""The unit tests' HTTP mock fails a test on any call that no test mocked."""

from __future__ import annotations

import contextlib

import pytest

import tallyfy_api
from tests.fixtures.files import ASSET_ID
from tests.fixtures.http import strict_http
from tests.fixtures.organizations import BASE_URL, ORG_ID


def client() -> tallyfy_api.TallyfyClient:
    return tallyfy_api.TallyfyClient(
        base_url=BASE_URL,
        org_id=ORG_ID,
        token="tok",
        config=tallyfy_api.ClientConfig(allowed_hosts=("go.tallyfy.com",), backoff=0),
    )


def look_up_quietly() -> None:
    """What code that shows "Tallyfy is unavailable" does with the failure."""
    with contextlib.suppress(tallyfy_api.ConnectionFailed):
        client().get_asset(ASSET_ID)


def test_a_call_no_test_mocked_fails_the_test_even_when_the_code_handles_it() -> None:
    with pytest.raises(pytest.fail.Exception, match="no test mocked"), strict_http():
        look_up_quietly()


def test_a_mocked_call_that_is_made_passes() -> None:
    with strict_http() as mock:
        mock.get(f"{BASE_URL}/organizations/{ORG_ID}/assets/{ASSET_ID}", json={"data": {"id": "x"}})
        client().get_asset(ASSET_ID)
