"""A guest's tasks: every list read whole, each task checked against the guest asked for."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers

import tallyfy_api
from tallyfy_api.guests import guest_tasks
from tests.fixtures.organizations import BASE_URL, ORG_ID
from tests.tallyfy_api.test_client import client

TASKS_URL = f"{BASE_URL}/organizations/{ORG_ID}/tasks"
GUEST = "jane.guest@example.com"
RUN = "ab" * 16


def page(tasks: list[dict[str, object]], total: int | None = None) -> dict[str, object]:
    count = len(tasks) if total is None else total
    return {"data": tasks, "meta": {"pagination": {"total": count, "links": {}}}}


def test_guests_in_each_shape_are_checked_and_runs_listed_too(
    http: responses.RequestsMock,
) -> None:
    tasks = [
        {"id": "t1", "run_id": RUN, "owners": {"guests": [{"email": GUEST.upper()}]}},
        {"id": "t2", "run_id": None, "is_oneoff_task": True, "guests": [GUEST]},
        {"id": "t3", "run_id": RUN},  # names no guests: the filter is taken at its word
    ]
    only_guest = matchers.query_param_matcher({"guests": GUEST}, strict_match=False)
    http.get(TASKS_URL, json=page(tasks), match=[only_guest])
    http.get(f"{BASE_URL}/organizations/{ORG_ID}/runs/{RUN}/tasks", json=page([]))
    found = guest_tasks(client(), GUEST, max_pages=5, max_runs=5)
    assert found.task_ids == {"t1", "t2", "t3"}
    assert found.run_ids == {RUN}
    assert len(http.calls) == 5  # four organization lists, one run


def test_a_list_that_does_not_end_is_cut_short_and_raises(
    http: responses.RequestsMock,
) -> None:
    counter = iter(range(1, 1000))

    def endless(request: object) -> tuple[int, dict[str, str], str]:
        number = next(counter)
        body = page([{"id": f"t{number}", "guests": [GUEST]}], total=1000)
        return 200, {}, json.dumps(body)

    http.add_callback(responses.GET, TASKS_URL, callback=endless)
    with pytest.raises(tallyfy_api.ListingBroken):
        guest_tasks(client(), GUEST, max_pages=3, max_runs=5)
    assert len(http.calls) == 4  # the page past the bound is refused
