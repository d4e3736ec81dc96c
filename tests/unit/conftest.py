from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture(autouse=True)
def http() -> Iterator[responses.RequestsMock]:
    """No unit test reaches the network; a mocked call that is never made fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
