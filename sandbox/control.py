"""A client of the sandbox's control API (`/_sandbox/...`), for tests, benchmarks and scripts."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def sandbox_control(
    root: str, action: str, payload: dict[str, Any] | None = None, *, timeout: float = 30
) -> Any:
    """GET `action` (no payload) or POST the payload to it; the answer's `data`. `root` is the
    sandbox's address without `/api`, e.g. http://127.0.0.1:8001."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 (the sandbox, on loopback)
        f"{root}/_sandbox/{action}", data=data, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())["data"]
