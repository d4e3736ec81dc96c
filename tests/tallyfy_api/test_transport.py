"""Retries, waits, the throttle hook, the wait budget and body caps of the Tallyfy client."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import responses

import tallyfy_api
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL
from tests.fixtures.organizations import BASE_URL, ORG_ID

RUNS_URL = f"{BASE_URL}/organizations/{ORG_ID}/runs"
TOO_MANY = {"message": "Too Many Attempts.", "code": "RATE_LIMIT_EXCEEDED"}


class RecordingThrottle:
    """Takes every slot at once and writes down what the client told it."""

    def __init__(self, *, slot_in: float | None = None) -> None:
        self.slot_in = slot_in
        self.acquired: list[float | None] = []
        self.pushed: list[float] = []

    def acquire(self, *, max_wait: float | None) -> float | None:
        self.acquired.append(max_wait)
        return self.slot_in

    def pushed_back(self, *, retry_after: float) -> None:
        self.pushed.append(retry_after)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Source(io.BytesIO):
    """A body that remembers how far it was read when it was closed."""

    read_up_to = 0

    def close(self) -> None:
        if not self.closed:
            self.read_up_to = self.tell()
        super().close()


def client(
    *,
    base_url: str = BASE_URL,
    org_id: str = ORG_ID,
    throttle: tallyfy_api.Throttle | None = None,
    **bounds: Any,
) -> tallyfy_api.TallyfyClient:
    config = tallyfy_api.ClientConfig(
        **{"allowed_hosts": ("go.tallyfy.com",), "backoff": 0, **bounds}
    )
    return tallyfy_api.TallyfyClient(
        base_url=base_url, org_id=org_id, token="tok", config=config, throttle=throttle
    )


def rate_limited(http: responses.RequestsMock, method: str, url: str, wait: str | None) -> None:
    headers = {} if wait is None else {"Retry-After": wait}
    http.add(method, url, status=429, json=TOO_MANY, headers=headers)


# --- the throttle hook ---


def test_every_attempt_takes_a_throttle_slot_first(http: responses.RequestsMock) -> None:
    rate_limited(http, "DELETE", FILE_URL, "7")
    http.delete(FILE_URL, body=b"")
    throttle = RecordingThrottle()
    client(throttle=throttle).delete_file(ASSET_ID)
    assert len(throttle.acquired) == 2
    assert len(http.calls) == 2


def test_a_429_pushes_the_throttle_back_by_retry_after(http: responses.RequestsMock) -> None:
    rate_limited(http, "GET", ASSET_URL, "7")
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle).get_asset(ASSET_ID)
    assert throttle.pushed == [7.0]


def test_the_push_back_is_capped(http: responses.RequestsMock) -> None:
    rate_limited(http, "GET", ASSET_URL, "3600")
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle, retry_after_cap=30).get_asset(ASSET_ID)
    assert throttle.pushed == [30.0]


def test_a_429_without_retry_after_pushes_back_by_the_backoff(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, None)
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle, backoff=2).get_asset(ASSET_ID)
    (pushed,) = throttle.pushed
    assert 2 <= pushed <= 3


def test_retry_after_as_an_http_date_in_the_past_waits_nothing(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, "Wed, 21 Oct 2015 07:28:00 GMT")
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle).get_asset(ASSET_ID)
    assert throttle.pushed == [0.0]


def test_the_throttle_is_given_what_is_left_of_the_wait_budget(
    http: responses.RequestsMock,
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle, wait_budget=10).get_asset(ASSET_ID)
    (max_wait,) = throttle.acquired
    assert max_wait is not None
    assert 9 < max_wait <= 10


def test_no_wait_budget_lets_the_throttle_wait_as_long_as_needed(
    http: responses.RequestsMock,
) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    throttle = RecordingThrottle()
    client(throttle=throttle).get_asset(ASSET_ID)
    assert throttle.acquired == [None]


def test_a_slot_past_the_budget_raises_rate_limited_and_sends_nothing() -> None:
    with pytest.raises(tallyfy_api.RateLimited) as caught:
        client(throttle=RecordingThrottle(slot_in=25.0), wait_budget=10).get_asset(ASSET_ID)
    assert caught.value.retry_after == 25.0


def test_persistent_429_raises_rate_limited_after_the_retries(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, "12")
    throttle = RecordingThrottle()
    with pytest.raises(tallyfy_api.RateLimited) as caught:
        client(throttle=throttle).get_asset(ASSET_ID)
    assert caught.value.retry_after == 12
    assert len(http.calls) == 1 + tallyfy_api.MAX_RETRIES
    assert throttle.pushed == [12.0] * (1 + tallyfy_api.MAX_RETRIES)


# --- the default, in-process throttle, and the interactive wait budget ---


def test_a_wait_past_the_budget_raises_rate_limited_at_once(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, "20")
    started = time.monotonic()
    with pytest.raises(tallyfy_api.RateLimited) as caught:
        client(wait_budget=10).get_asset(ASSET_ID)
    assert time.monotonic() - started < 10
    assert caught.value.retry_after is not None
    assert 15 < caught.value.retry_after <= 20
    assert caught.value.status == 429
    assert len(http.calls) == 1


def test_the_default_throttle_waits_out_retry_after_within_the_budget(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, "1")
    http.get(ASSET_URL, json={"data": ASSET})
    started = time.monotonic()
    assert client(wait_budget=10).get_asset(ASSET_ID).id == ASSET_ID
    assert time.monotonic() - started >= 0.9


def test_the_default_throttle_holds_back_the_next_call_after_a_429(
    http: responses.RequestsMock,
) -> None:
    rate_limited(http, "GET", ASSET_URL, "20")
    c = client(wait_budget=0)
    with pytest.raises(tallyfy_api.RateLimited):
        c.get_asset(ASSET_ID)
    with pytest.raises(tallyfy_api.RateLimited) as caught:
        c.delete_file(ASSET_ID)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 15
    assert [call.request.method for call in http.calls] == ["GET"]


def test_local_throttle_waits_for_a_slot_within_max_wait() -> None:
    clock = FakeClock()
    throttle = tallyfy_api.LocalThrottle(clock=clock, sleep=clock.sleep)
    throttle.pushed_back(retry_after=5)
    assert throttle.acquire(max_wait=10) is None
    assert clock.slept == [5.0]


def test_local_throttle_waits_nothing_for_a_slot_past_max_wait() -> None:
    clock = FakeClock()
    throttle = tallyfy_api.LocalThrottle(clock=clock, sleep=clock.sleep)
    throttle.pushed_back(retry_after=5)
    assert throttle.acquire(max_wait=4) == 5.0
    assert clock.slept == []


def test_local_throttle_without_max_wait_waits_as_long_as_needed() -> None:
    clock = FakeClock()
    throttle = tallyfy_api.LocalThrottle(clock=clock, sleep=clock.sleep)
    throttle.pushed_back(retry_after=500)
    assert throttle.acquire(max_wait=None) is None
    assert clock.slept == [500.0]


def test_backoff_past_the_budget_gives_up_with_the_error(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, status=503, body="")
    with pytest.raises(tallyfy_api.ServerError):
        client(backoff=5, wait_budget=1).get_asset(ASSET_ID)
    assert len(http.calls) == 1


def test_call_time_limit_covers_every_attempt_and_the_waits() -> None:
    limit = tallyfy_api.call_time_limit(call_deadline=30, wait_budget=10)
    assert limit == (1 + tallyfy_api.MAX_RETRIES) * 30 + 10


# --- body caps ---


def test_metadata_over_the_cap_is_refused(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, body=b'{"data": {"id": "' + b"x" * 2000 + b'"}}')
    with pytest.raises(tallyfy_api.ResponseTooLarge):
        client(max_body_bytes=1000).get_asset(ASSET_ID)


def test_metadata_over_the_cap_is_refused_by_its_declared_length(
    http: responses.RequestsMock,
) -> None:
    source = Source(b"{" + b" " * 5000 + b"}")
    http.get(ASSET_URL, body=io.BufferedReader(source), headers={"Content-Length": "5002"})
    with pytest.raises(tallyfy_api.ResponseTooLarge):
        client(max_body_bytes=1000).get_asset(ASSET_ID)
    assert source.read_up_to == 0


def test_a_large_body_is_not_read_past_the_cap(http: responses.RequestsMock) -> None:
    source = Source(b"{" + b" " * (8 * 1024 * 1024) + b"}")
    http.get(ASSET_URL, body=io.BufferedReader(source))
    with pytest.raises(tallyfy_api.ResponseTooLarge):
        client(max_body_bytes=1024 * 1024).get_asset(ASSET_ID)
    assert 0 < source.read_up_to < 2 * 1024 * 1024


def test_list_pages_have_a_cap_of_their_own(http: responses.RequestsMock) -> None:
    page = {"data": [{"id": "r" * 32, "name": "x" * 3000}], "meta": {}}
    http.get(RUNS_URL, json=page)
    http.get(RUNS_URL, json=page)
    assert len(client(max_body_bytes=1000).list_runs(per_page=1).items) == 1
    with pytest.raises(tallyfy_api.ResponseTooLarge):
        client(max_list_body_bytes=1000).list_runs(per_page=1)


def test_an_error_body_over_the_cap_keeps_its_status_meaning(
    http: responses.RequestsMock,
) -> None:
    http.delete(FILE_URL, status=404, json={"message": "Resource not found", "pad": "x" * 5000})
    with pytest.raises(tallyfy_api.NotFound) as caught:
        client(max_body_bytes=1000).delete_file(ASSET_ID)
    assert caught.value.message == "Resource not found."


def test_a_large_body_on_a_delete_does_not_hide_its_success(
    http: responses.RequestsMock,
) -> None:
    http.delete(FILE_URL, body=b"x" * 5000)
    assert client(max_body_bytes=1000).delete_file(ASSET_ID).status == 200


@pytest.mark.parametrize("length", ["\u00b2", "\uff11\uff12", "3\u00b2", "-1", "1e3"])
def test_a_content_length_of_other_digits_is_ignored(
    http: responses.RequestsMock, length: str
) -> None:
    http.get(f"{FILE_URL}/dl", body=b"abc", headers={"Content-Length": length})
    assert client().open_download(ASSET_ID).content_length is None


def test_a_metadata_content_length_of_other_digits_is_ignored(
    http: responses.RequestsMock,
) -> None:
    http.get(ASSET_URL, json={"data": ASSET}, headers={"Content-Length": "²"})
    assert client().get_asset(ASSET_ID).id == ASSET_ID
