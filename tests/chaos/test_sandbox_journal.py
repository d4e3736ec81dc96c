"""The sandbox's per-file journal and the faults the chaos test adds, over a real socket."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire


def call(sandbox: Sandbox, method: str, path: str, timeout: float = 5) -> int | None:
    try:
        response = requests.request(
            method,
            f"{sandbox.base_url}/organizations/{sandbox.org_id}/{path}",
            headers={"Authorization": f"Bearer {sandbox.token}", "X-Tallyfy-Client": "APIClient"},
            timeout=timeout,
        )
    except (requests.ConnectionError, requests.Timeout):
        return None
    return response.status_code


def journal(sandbox: Sandbox, *asset_ids: str) -> dict:
    payload = {"org_id": sandbox.org_id, "asset_ids": list(asset_ids)}
    return sandbox.control("journal", payload)["files"]


def test_the_journal_records_each_request_of_a_file_in_order(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    assert call(sandbox, "GET", f"assets/{asset.asset_id}") == 200
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}") == 200
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}") == 404
    record = journal(sandbox, asset.asset_id)[asset.asset_id]
    assert record["exists"] is False
    assert [(e["method"], e["kind"], e["status"], e["applied"]) for e in record["entries"]] == [
        ("GET", "metadata", 200, False),
        ("DELETE", "delete", 200, True),
        ("DELETE", "delete", 404, False),
    ]
    seqs = [e["seq"] for e in record["entries"]]
    assert seqs == sorted(seqs)


def test_a_lost_delete_answer_is_applied_with_no_status(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    sandbox.faults(lose_delete="drop", lose_delete_next=1)
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}") is None
    [entry] = journal(sandbox, asset.asset_id)[asset.asset_id]["entries"]
    assert (entry["status"], entry["applied"]) == (None, True)
    assert sandbox.control("counts")["injected"] == {"lost_delete_drop": 1}


def test_a_stalled_request_is_late_and_still_handled(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    sandbox.faults(stall_share=1.0, stall_ms=600)
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}", timeout=0.2) is None
    sandbox.faults(stall_share=0.0)
    assert call(sandbox, "GET", f"assets/{asset.asset_id}") == 200  # not applied yet
    time.sleep(0.6)
    assert call(sandbox, "GET", f"assets/{asset.asset_id}") == 404  # applied after the wait
    first, *_ = journal(sandbox, asset.asset_id)[asset.asset_id]["entries"]
    assert (first["late"], first["applied"], first["status"]) == (True, True, 200)


@pytest.mark.parametrize(
    ("fault", "status"), [("rate_limit_share", 429), ("unavailable_share", 503)]
)
def test_a_share_of_requests_answers_the_fault(sandbox: Sandbox, fault: str, status: int) -> None:
    asset = sandbox.add_file()
    sandbox.faults(**{fault: 1.0})
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}") == status
    [entry] = journal(sandbox, asset.asset_id)[asset.asset_id]["entries"]
    assert (entry["status"], entry["applied"]) == (status, False)
    assert sandbox.exists(asset.asset_id)


def test_a_file_never_asked_for_has_an_empty_journal(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    assert journal(sandbox, asset.asset_id) == {
        asset.asset_id: {"org_id": sandbox.org_id, "entries": [], "dropped": 0, "exists": True}
    }


def test_reset_clears_the_journal_and_the_counts(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    sandbox.faults(unavailable_next=1)
    call(sandbox, "GET", f"assets/{asset.asset_id}")
    sandbox.control("reset", {})
    assert journal(sandbox, asset.asset_id)[asset.asset_id]["entries"] == []
    assert sandbox.control("counts")["injected"] == {}
