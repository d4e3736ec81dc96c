"""Pages asked ahead while the page before is written: each page asked for once, in the
order a scan reads them, and a page that needs a retry asked for again by the step."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import tallyfy_api
from catalog import scans
from catalog.models import ScanState
from catalog.page_ahead import PageAbandoned, PageAhead
from sandbox.places import generate_organization
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox


@pytest.mark.over_the_wire
def test_a_scan_asks_each_page_once_and_reads_the_next_while_writing(
    sandbox: Sandbox, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked_ahead: list[tuple[str, int]] = []
    ask = PageAhead.ask

    def spied(self: PageAhead, name: str, **kwargs: Any) -> None:
        asked_ahead.append((name, kwargs["page"]))
        ask(self, name, **kwargs)

    monkeypatch.setattr(PageAhead, "ask", spied)
    org_id, token = generate_organization(sandbox.server.store, runs=250, files=900)
    organization = make_organization(
        base_url=sandbox.base_url, org_id=org_id, token=token, name="Gen"
    )
    sandbox.control("reset", {})
    done = scans.scan_advance(scan_id=scans.scan_start(organization=organization).pk)
    asked = Counter((r["path"], r["query"]) for r in sandbox.requests())
    assert done.state == ScanState.DONE
    assert max(asked.values()) == 1  # no page asked twice
    assert done.calls_made == sum(asked.values())
    runs_pages = sorted(q for (path, q) in asked if path.endswith("/runs") and "archived" not in q)
    assert len(runs_pages) == 3  # 250 runs, some archived: pages 1 to 3
    assert {("list_runs", 2), ("list_runs", 3)} <= set(asked_ahead)
    # At the end of each list, the first page of the next phase's list.
    firsts = {name for name, page in asked_ahead if page == 1}
    assert firsts == {"list_archived_runs", "list_tasks", "list_templates", "list_uploads"}


class _Client:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def list_tasks(self, **kwargs: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def close(self) -> None:
        pass


def ahead_of(answer: Any) -> tuple[PageAhead, list[str]]:
    slots: list[str] = []
    ahead = PageAhead(
        take_slot=lambda: slots.append("slot"), client_paced_by=lambda _t: _Client(answer)
    )
    return ahead, slots


def test_the_page_asked_ahead_answers_that_call_only() -> None:
    ahead, slots = ahead_of("page 2")
    ahead.ask("list_tasks", page=2, status="")
    assert ahead.answer("list_tasks", {"page": 3, "status": ""}) == (False, None)
    assert ahead.answer("list_tasks", {"page": 2, "status": ""}) == (True, "page 2")
    assert ahead.answer("list_tasks", {"page": 2, "status": ""}) == (False, None)
    assert slots == ["slot"]
    ahead.close()


@pytest.mark.parametrize("failure", [PageAbandoned(), tallyfy_api.ServerError("502")])
def test_a_page_ahead_that_failed_is_asked_for_again(failure: Exception) -> None:
    ahead, _ = ahead_of(failure)
    ahead.ask("list_tasks", page=2)
    assert ahead.answer("list_tasks", {"page": 2}) == (False, None)
    ahead.close()
