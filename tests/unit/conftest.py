from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import responses
from responses.registries import FirstMatchRegistry


class _RecordingRegistry(FirstMatchRegistry):
    """Remembers every request no mock matched: the client turns the ConnectionError that
    `responses` raises for one into ConnectionFailed, which code may handle quietly."""

    def __init__(self) -> None:
        super().__init__()
        self.unmatched: list[str] = []

    def find(self, request: requests.PreparedRequest) -> tuple[Any, list[str]]:
        found, reasons = super().find(request)
        if found is None:
            self.unmatched.append(f"{request.method} {request.url}")
        return found, reasons


@contextmanager
def strict_http() -> Iterator[responses.RequestsMock]:
    """A `responses` mock that fails on an unused mock and on any call no mock matched."""
    with responses.RequestsMock(
        assert_all_requests_are_fired=True, registry=_RecordingRegistry
    ) as mock:
        yield mock
        registry = mock.get_registry()
        assert isinstance(registry, _RecordingRegistry)
        if registry.unmatched:
            pytest.fail(f"HTTP calls no test mocked: {registry.unmatched}", pytrace=False)


@pytest.fixture(autouse=True)
def http() -> Iterator[responses.RequestsMock]:
    """No unit test reaches the network: a call nothing mocked, or a mocked call that is
    never made, fails the test."""
    with strict_http() as mock:
        yield mock
