"""The sandbox's rate limit: N API requests a minute per organization, then 429 like Tallyfy."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.seed import DEMO_ORG_ID, DEMO_TOKEN, OTHER_ORG_ID
from tests.fixtures.sandbox import Sandbox
from tests.processes import ROOT, free_port

pytestmark = pytest.mark.over_the_wire

HEADERS = {"X-Tallyfy-Client": "APIClient"}


def get_asset(sandbox: Sandbox, *, org_id: str | None = None) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/organizations/{org_id or sandbox.org_id}/assets/{'c0' * 16}",
        headers={**HEADERS, "Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_beyond_the_rate_the_sandbox_answers_429_like_tallyfy(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit_per_minute=3)
    assert [get_asset(sandbox).status_code for _ in range(3)] == [200, 200, 200]
    refused = get_asset(sandbox)
    assert refused.status_code == 429
    assert refused.json()["message"] == "Too Many Attempts."
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_rate_limit_is_per_organization(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit_per_minute=1)
    assert get_asset(sandbox).status_code == 200
    assert get_asset(sandbox, org_id=OTHER_ORG_ID).status_code == 403  # not 429: its own minute


def test_the_control_api_counts_the_429s_it_sent(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit_per_minute=2)
    for _ in range(5):
        get_asset(sandbox)
    stats = sandbox.control("rate-limit")
    assert (stats["requests"], stats["limited"], stats["limited_share"]) == (5, 3, 0.6)
    assert stats["organizations"][DEMO_ORG_ID] == {"requests": 5, "limited": 3}


def test_reset_forgets_the_window_and_the_counts(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit_per_minute=1)
    get_asset(sandbox)
    sandbox.control("reset", {})
    sandbox.faults(rate_limit_per_minute=1)
    assert get_asset(sandbox).status_code == 200
    assert sandbox.control("rate-limit")["limited"] == 0


def test_no_limit_unless_asked(sandbox: Sandbox) -> None:
    assert {get_asset(sandbox).status_code for _ in range(20)} == {200}


def test_a_negative_rate_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(requests.HTTPError):
        requests.post(
            f"{sandbox.root}/_sandbox/faults", json={"rate_limit_per_minute": -1}, timeout=5
        ).raise_for_status()


def test_the_window_slides_so_no_minute_holds_more_than_the_rate() -> None:
    """A fixed window would admit two bursts either side of its boundary."""
    clock = Clock()
    limiter = SlidingWindowLimiter(clock)
    clock.now = 1079.0  # a second before a whole minute (1080 s)
    assert [limiter.check("o", per_minute=2).admitted for _ in range(2)] == [True, True]
    clock.now = 1081.0
    verdict = limiter.check("o", per_minute=2)
    assert verdict is not None
    assert (verdict.admitted, verdict.retry_after) == (False, 58)


def test_retry_after_is_when_the_window_has_room_again() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(clock)
    limiter.check("o", per_minute=2)
    clock.now += 30
    limiter.check("o", per_minute=2)
    clock.now += 10
    refused = limiter.check("o", per_minute=2)
    assert refused is not None
    assert refused.retry_after == 20
    clock.now += 20
    admitted = limiter.check("o", per_minute=2)
    assert admitted is not None
    assert admitted.admitted


def test_a_refused_request_does_not_use_up_the_window() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(clock)
    limiter.check("o", per_minute=1)
    clock.now += 59
    limiter.check("o", per_minute=1)  # refused
    clock.now += 1
    verdict = limiter.check("o", per_minute=1)
    assert verdict is not None
    assert verdict.admitted


RATE_FLAG = ["--rate-limit-per-minute", "1"]


def test_python_m_sandbox_takes_the_rate_from_its_command_line() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--db", ":memory:", *RATE_FLAG],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        url = f"http://127.0.0.1:{port}/api/organizations/{DEMO_ORG_ID}/assets/{'c0' * 16}"
        headers = {**HEADERS, "Authorization": f"Bearer {DEMO_TOKEN}"}
        statuses = [requests.get(url, headers=headers, timeout=5).status_code for _ in range(2)]
        assert statuses == [200, 429]
    finally:
        process.terminate()
        process.wait(10)
