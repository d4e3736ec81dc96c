"""The sandbox on a free loopback port, shared by the integration and browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.control import sandbox_control
from sandbox.seed import DEMO_ORG_ID, DEMO_TOKEN, seed
from sandbox.server import SandboxServer, make_server, start_in_thread
from sandbox.store import Store, StoredAsset


class Sandbox:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.root = self.base_url.removesuffix("/api")
        self.org_id = DEMO_ORG_ID
        self.token = DEMO_TOKEN

    def control(self, action: str, payload: dict[str, Any] | None = None) -> Any:
        return sandbox_control(self.root, action, payload, timeout=5)

    def faults(self, **changes: Any) -> None:
        self.control("faults", changes)

    def requests(self) -> list[dict[str, Any]]:
        return self.control("requests")

    def add_file(
        self,
        *,
        filename: str = "to-delete.txt",
        content: bytes = b"hello\n",
        content_type: str = "text/plain",
        subject_type: str = "Run",
        size: int | None = None,
    ) -> StoredAsset:
        return self.server.store.add_asset(
            org_id=self.org_id,
            filename=filename,
            content_type=content_type,
            content=None if size is not None else content,
            size=size,
            subject_type=subject_type,
            subject_id="a1" * 16,
        )

    def exists(self, asset_id: str) -> bool:
        return self.server.store.asset(org_id=self.org_id, asset_id=asset_id) is not None


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    store = Store(":memory:")
    seed(store)
    server = make_server("127.0.0.1", 0, store=store)
    start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, settings: Any) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_server)
    settings.TALLYFY_INSECURE_API_HOSTS = [box.root.removeprefix("http://")]
    box.control("reset", {})
    yield box
    box.control("reset", {})
