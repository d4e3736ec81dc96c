"""Listing calls, pagination and the readers of every shape a file can come in."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

import tallyfy_api
from tallyfy_api import finding
from tallyfy_api import listing as listing_module
from tests.fixtures.organizations import BASE_URL, ORG_ID
from tests.tallyfy_api.test_client import client

ROOT = f"{BASE_URL}/organizations/{ORG_ID}"
RUN_ID = "a1" * 16
FILE_A = "c0" * 16
TASK_ID = "a3" * 16
TEMPLATE_ID = "71" * 16
FILE_B = "c1" * 16


def listing(
    items: list[dict[str, Any]], *, total: int | None, total_pages: int = 1, links: Any = None
) -> dict[str, Any]:
    pagination: dict[str, Any] = {"total_pages": total_pages, "links": links}
    if total is not None:
        pagination["total"] = total
    return {"data": items, "meta": {"pagination": pagination}}


def on_page(number: int, **params: str) -> list[Any]:
    return [
        matchers.query_param_matcher(
            {"page": str(number), "per_page": "2", **params}, strict_match=True
        )
    ]


def read_runs(**overrides: object) -> list[str]:
    api = client(**overrides)
    return [
        run["id"]
        for page in tallyfy_api.pages(lambda n: api.list_runs(page=n, per_page=2))
        for run in page.items
    ]


def test_pages_go_on_past_a_wrong_total_pages(http: responses.RequestsMock) -> None:
    http.get(f"{ROOT}/runs", match=on_page(1), json=listing([{"id": "r1"}, {"id": "r2"}], total=3))
    http.get(f"{ROOT}/runs", match=on_page(2), json=listing([{"id": "r3"}], total=3))
    assert read_runs() == ["r1", "r2", "r3"]


def test_pages_go_on_with_empty_links(http: responses.RequestsMock) -> None:
    http.get(
        f"{ROOT}/runs",
        match=on_page(1),
        json=listing([{"id": "r1"}, {"id": "r2"}], total=4, total_pages=2, links=[]),
    )
    http.get(f"{ROOT}/runs", match=on_page(2), json=listing([{"id": "r3"}, {"id": "r4"}], total=4))
    assert read_runs() == ["r1", "r2", "r3", "r4"]


def test_pages_stop_at_an_empty_page_without_a_total(http: responses.RequestsMock) -> None:
    http.get(
        f"{ROOT}/runs", match=on_page(1), json=listing([{"id": "r1"}, {"id": "r2"}], total=None)
    )
    http.get(f"{ROOT}/runs", match=on_page(2), json=listing([], total=None))
    assert read_runs() == ["r1", "r2"]


def test_pages_stop_once_the_total_is_read(http: responses.RequestsMock) -> None:
    next_link = {"next": "https://elsewhere.example/api/runs?page=2"}
    http.get(
        f"{ROOT}/runs",
        match=on_page(1),
        json=listing([{"id": "r1"}, {"id": "r2"}], total=2, total_pages=9, links=next_link),
    )
    assert read_runs() == ["r1", "r2"]


def test_a_page_repeating_the_one_before_breaks_the_listing(http: responses.RequestsMock) -> None:
    same = listing([{"id": "r1"}, {"id": "r2"}], total=None)
    http.get(f"{ROOT}/runs", match=on_page(1), json=same)
    http.get(f"{ROOT}/runs", match=on_page(2), json=same)
    with pytest.raises(tallyfy_api.ListingBroken, match="same items as the page before"):
        read_runs()


def test_an_empty_page_before_the_total_breaks_the_listing(http: responses.RequestsMock) -> None:
    http.get(f"{ROOT}/runs", match=on_page(1), json=listing([{"id": "r1"}, {"id": "r2"}], total=5))
    http.get(f"{ROOT}/runs", match=on_page(2), json=listing([], total=5))
    with pytest.raises(tallyfy_api.ListingBroken, match="page 2 empty after 2 of 5"):
        read_runs()


def test_a_short_page_before_the_total_breaks_the_listing(http: responses.RequestsMock) -> None:
    http.get(f"{ROOT}/runs", match=on_page(1), json=listing([{"id": "r1"}, {"id": "r2"}], total=5))
    http.get(f"{ROOT}/runs", match=on_page(2), json=listing([{"id": "r3"}], total=5))
    with pytest.raises(tallyfy_api.ListingBroken, match="page 2 with 1 items, not 2"):
        read_runs()


def endless(http: responses.RequestsMock, *, total: int | None) -> list[int]:
    """A list whose every page holds two new items, claiming `total`; the pages asked."""
    asked: list[int] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        number = int(request.params["page"])
        asked.append(number)
        items = [{"id": f"r{number}a"}, {"id": f"r{number}b"}]
        return 200, {}, json.dumps(listing(items, total=total))

    http.add_callback(responses.GET, f"{ROOT}/runs", callback=answer)
    return asked


def test_a_list_that_never_ends_is_read_no_further_than_the_hard_cap(
    http: responses.RequestsMock,
) -> None:
    asked = endless(http, total=None)
    api = client()
    with pytest.raises(tallyfy_api.ListingBroken, match="past 3 pages"):
        for _page in tallyfy_api.pages(lambda n: api.list_runs(page=n, per_page=2), hard_cap=3):
            pass
    assert asked == [1, 2, 3, 4]


def test_a_list_is_read_no_further_than_its_total_allows(http: responses.RequestsMock) -> None:
    asked = endless(http, total=10**9)
    api = client()
    with pytest.raises(tallyfy_api.ListingBroken, match="past 3 pages"):
        for _page in tallyfy_api.pages(lambda n: api.list_runs(page=n, per_page=2), max_pages=3):
            pass
    assert asked == [1, 2, 3, 4]


def test_the_page_budget_follows_the_first_pages_total() -> None:
    assert listing_module.page_budget(total=1_000, page_size=100) == 10 + 1 + 2
    assert listing_module.page_budget(total=10**9, page_size=100) == listing_module.HARD_MAX_PAGES
    assert listing_module.page_budget(total=None, page_size=100, hard_cap=7) == 7


def test_a_page_that_fails_is_asked_again(http: responses.RequestsMock) -> None:
    http.get(f"{ROOT}/runs", match=on_page(1), status=503)
    http.get(f"{ROOT}/runs", match=on_page(1), json=listing([{"id": "r1"}], total=1))
    assert read_runs() == ["r1"]


def test_archived_runs_are_asked_for_with_archived_only(http: responses.RequestsMock) -> None:
    http.get(
        f"{ROOT}/runs",
        match=on_page(1, archived="only"),
        json=listing([{"id": "r1", "archived_at": "2024-01-01T00:00:00Z"}], total=1),
    )
    page, by_status = client().list_archived_runs(page=1, per_page=2)
    assert ([run["id"] for run in page.items], by_status) == (["r1"], False)


def test_archived_runs_fall_back_to_status_archived(http: responses.RequestsMock) -> None:
    http.get(
        f"{ROOT}/runs",
        match=on_page(1, archived="only"),
        json=listing([{"id": "active", "archived_at": None}], total=1),
    )
    http.get(
        f"{ROOT}/runs",
        match=on_page(1, status="archived"),
        json=listing([{"id": "r1", "archived_at": "2024-01-01T00:00:00Z"}], total=1),
    )
    page, by_status = client().list_archived_runs(page=1, per_page=2)
    assert ([run["id"] for run in page.items], by_status) == (["r1"], True)


def test_each_listing_sends_its_filters(http: responses.RequestsMock) -> None:
    empty = listing([], total=0)
    http.get(
        f"{ROOT}/runs/{RUN_ID}/tasks",
        match=on_page(1, **{"with": "assets,form_fields"}),
        json=empty,
    )
    http.get(
        f"{ROOT}/tasks",
        match=on_page(1, is_oneoff="true", **{"with": "assets,form_fields"}),
        json=empty,
    )
    http.get(
        f"{ROOT}/tasks",
        match=on_page(1, status="completed", archived="only", **{"with": "assets,form_fields"}),
        json=empty,
    )
    http.get(f"{ROOT}/checklists", match=on_page(1, **{"with": "assets"}), json=empty)
    http.get(
        f"{ROOT}/activity-feeds",
        match=on_page(1, verb="uploaded", sort="-created_at", created_after="2024-05-01"),
        json=empty,
    )
    http.get(
        f"{ROOT}/activity-feeds",
        match=on_page(1, verb="uploaded", sort="-created_at", entity_type="task", entity_id=RUN_ID),
        json=empty,
    )
    api = client()
    api.list_run_tasks(RUN_ID, page=1, per_page=2)
    api.list_tasks(page=1, per_page=2, oneoff=True)
    api.list_tasks(page=1, per_page=2, archived="only", status="completed")
    api.list_templates(page=1, per_page=2)
    api.list_uploads(page=1, per_page=2, created_after="2024-05-01")
    api.list_uploads(page=1, per_page=2, entity_type="task", entity_id=RUN_ID)


def test_one_run_is_read_with_its_kickoff_values(http: responses.RequestsMock) -> None:
    http.get(
        f"{ROOT}/runs/{RUN_ID}",
        match=[
            matchers.query_param_matcher(
                {
                    "with": "assets,form_fields,tasks,tasks.form_fields",
                    "form_fields_values": "true",
                }
            )
        ],
        json={"data": {"id": RUN_ID, "prerun": {}}},
    )
    assert client().get_run(RUN_ID)["id"] == RUN_ID


# --- readers ---

ASSET = {
    "id": FILE_A,
    "filename": "report.pdf",
    "uploaded_at": "2024-03-15T10:30:00Z",
    "step_id": "s1",
    "subject": {"id": RUN_ID, "type": "Run"},
}
VALUE = {"id": FILE_B, "filename": "scan.png", "url": f"organizations/{ORG_ID}/file/{FILE_B}/dl"}


def keys(found: list[tallyfy_api.FoundFile]) -> list[str]:
    return sorted(item.key for item in found)


@pytest.mark.parametrize(
    "assets",
    [{"data": [ASSET]}, [ASSET], {"data": ASSET}],
    ids=["fractal", "bare-list", "one-object"],
)
def test_run_assets_are_read_in_every_shape(assets: Any) -> None:
    assert keys(finding.files_of_run({"id": RUN_ID, "assets": assets})) == [FILE_A]


@pytest.mark.parametrize("assets", [{"data": None}, None, "x"], ids=["null-data", "null", "junk"])
def test_missing_assets_give_no_files(assets: Any) -> None:
    assert finding.files_of_run({"id": RUN_ID, "assets": assets}) == []


def test_a_run_without_an_assets_key_gives_no_files() -> None:
    assert finding.files_of_run({"id": RUN_ID}) == []


def test_prerun_as_an_object_of_lists() -> None:
    run = {"prerun": {"field1": [VALUE], "field2": "text answer"}}
    assert keys(finding.files_of_run(run)) == [FILE_B]


def test_prerun_value_as_a_single_object() -> None:
    assert keys(finding.files_of_run({"prerun": {"field1": VALUE}})) == [FILE_B]


def test_prerun_as_a_list_of_fields() -> None:
    run = {"prerun": [{"id": "f1", "field_type": "file", "value": None, "field_value": [VALUE]}]}
    assert keys(finding.files_of_run(run)) == [FILE_B]


def test_taskdata_values_are_read() -> None:
    task = {"id": "t1", "taskdata": {"capture1": [VALUE]}}
    assert keys(finding.files_of_task(task)) == [FILE_B]


@pytest.mark.parametrize("key", ["value", "field_value"])
def test_form_fields_values_are_read_from_value_or_field_value(key: str) -> None:
    task = {"form_fields": {"data": [{"field_type": "file", key: [VALUE]}]}}
    assert keys(finding.files_of_task(task)) == [FILE_B]


def test_a_value_without_an_id_is_read_from_its_url() -> None:
    value = {
        "filename": "a.pdf",
        "full_url": f"https://x.example/api/organizations/o/file/{FILE_A}/dl",
    }
    assert keys(finding.files_in_form({"f": [value]})) == [FILE_A]


def test_a_url_source_entry_is_a_link_not_a_file() -> None:
    (found,) = finding.files_in_form({"f": [{"source": "url", "url": "https://drive.example/x"}]})
    assert (found.is_link, found.asset_id, found.url) == (True, "", "https://drive.example/x")


def test_a_link_has_a_stable_key() -> None:
    value = {"source": "url", "url": "https://drive.example/x", "filename": "x"}
    first = finding.found_file(value)
    assert first is not None
    assert first.key == finding.found_file(dict(value)).key  # type: ignore[union-attr]
    assert first.key.startswith("link-")


def test_the_same_file_in_two_places_is_found_once_with_its_metadata() -> None:
    run = {
        "assets": {"data": [ASSET]},
        "prerun": {"f": [{"id": FILE_A, "filename": "report.pdf", "url": "u"}]},
    }
    (found,) = finding.files_of_run(run)
    assert found.uploaded_at is not None


def test_template_assets_are_read() -> None:
    assert keys(finding.files_of_template({"id": "t", "assets": {"data": [ASSET]}})) == [FILE_A]


def test_text_answers_are_not_files() -> None:
    assert finding.files_in_form({"a": "text", "b": ["x", "y"], "c": {"label": "no"}}) == []


# --- activity feed ---


def test_an_upload_entry_with_array_fields() -> None:
    entry = {
        "verb": ["uploaded"],
        "actor_type": ["guest"],
        "actor": [{"email": "Guest@Example.com"}],
        "auditable_type": "App\\Models\\Asset",
        "auditable_id": FILE_A,
        "parentable_type": "App\\Models\\Run",
        "parentable_id": RUN_ID,
        "created_at": "2024-03-15T10:30:00Z",
    }
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.actor_email, upload.actor_type, upload.run_id) == (
        FILE_A,
        "guest@example.com",
        "guest",
        RUN_ID,
    )


def test_an_upload_entry_with_scalar_fields_and_the_id_in_references() -> None:
    entry = {
        "verb": "uploaded",
        "actor_type": "member",
        "actor_email": "ann@example.com",
        "references": [{"type": "asset", "id": FILE_B}],
    }
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.actor_email, upload.actor_type) == (
        FILE_B,
        "ann@example.com",
        "member",
    )


def test_an_upload_entry_with_the_file_url_in_its_text() -> None:
    entry = {"text": [f"uploaded organizations/{ORG_ID}/file/{FILE_A}/dl"], "actor_email": "a@b.c"}
    assert finding.upload_of_entry(entry).asset_id == FILE_A


def test_an_upload_entry_without_a_file_id() -> None:
    entry = {"actor_email": "a@b.c", "entity_type": "run", "entity_id": RUN_ID, "text": None}
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.run_id) == ("", RUN_ID)


@pytest.mark.parametrize("place", ["object", "asset", "subject", "entity"])
def test_an_upload_entry_naming_its_file_as_a_nested_object(place: str) -> None:
    entry = {
        "actor_email": "a@b.c",
        place: {"type": "Asset", "id": FILE_A, "filename": "scan.pdf"},
        "auditable_type": "App\\Models\\Task",
        "auditable_id": TASK_ID,
    }
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.filename, upload.task_id) == (FILE_A, "scan.pdf", TASK_ID)


def test_a_nested_file_without_a_type_is_read_by_its_shape() -> None:
    entry = {"actor_email": "a@b.c", "object": {"id": FILE_A, "filename": "scan.pdf"}}
    assert finding.upload_of_entry(entry).asset_id == FILE_A


def test_an_upload_entry_naming_only_its_parent_task_and_run() -> None:
    entry = {
        "actor_email": "a@b.c",
        "description": ["uploaded scan.pdf"],
        "auditable_type": "App\\Models\\Task",
        "auditable_id": TASK_ID,
        "parentable_type": "App\\Models\\Run",
        "parentable_id": RUN_ID,
    }
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.task_id, upload.run_id) == ("", TASK_ID, RUN_ID)


def test_an_upload_entry_naming_its_template_as_a_nested_subject() -> None:
    entry = {"actor_email": "a@b.c", "subject": {"type": "Checklist", "id": TEMPLATE_ID}}
    upload = finding.upload_of_entry(entry)
    assert (upload.asset_id, upload.template_id) == ("", TEMPLATE_ID)


def test_a_parent_id_that_is_not_an_id_is_ignored() -> None:
    entry = {"actor_email": "a@b.c", "auditable_type": "Task", "auditable_id": "../x"}
    assert finding.upload_of_entry(entry).task_id == ""
