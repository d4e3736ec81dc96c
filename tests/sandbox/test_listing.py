"""The sandbox's list endpoints: where files are found, with Tallyfy's pagination and filters."""

from __future__ import annotations

import pytest
import requests

from sandbox import places
from sandbox import server as sandbox_server_module
from tests.fixtures.sandbox import Sandbox
from tests.sandbox.test_api import HEADERS, call

pytestmark = pytest.mark.over_the_wire


def run_ids(sandbox: Sandbox, **params: str) -> set[str]:
    return {run["id"] for run in call(sandbox, "GET", "runs", params=params).json()["data"]}


def test_archived_runs_are_listed_only_when_asked_for(sandbox: Sandbox) -> None:
    assert places.ARCHIVED_RUN not in run_ids(sandbox)
    assert run_ids(sandbox, archived="only") == {places.ARCHIVED_RUN}
    assert run_ids(sandbox, status="archived") == {places.ARCHIVED_RUN}


def test_archived_only_can_be_ignored_as_some_accounts_do(sandbox: Sandbox) -> None:
    sandbox.faults(ignore_archived_only=True)
    assert places.ARCHIVED_RUN not in run_ids(sandbox, archived="only")


def test_a_run_lists_its_kickoff_values_with_links(sandbox: Sandbox) -> None:
    run = call(sandbox, "GET", f"runs/{places.ONBOARDING_RUN}").json()["data"]
    values = run["prerun"]["contract"]
    assert {value.get("id") for value in values} == {places.KICKOFF_FILE, None}
    assert {value.get("source") for value in values} == {"local", "url"}


def test_a_runs_tasks_carry_their_form_values_and_files(sandbox: Sandbox) -> None:
    body = call(
        sandbox, "GET", f"runs/{places.ONBOARDING_RUN}/tasks", params={"with": "assets"}
    ).json()
    (task,) = body["data"]
    assert task["taskdata"]["id_scan"][0]["id"] == places.TASK_FILE
    assert {a["id"] for a in task["assets"]} == {places.TASK_FILE, places.COMMENT_FILE}
    assert body["meta"]["pagination"]["links"] == {}


def test_oneoff_tasks_are_listed_with_their_files(sandbox: Sandbox) -> None:
    params = {"is_oneoff": "true", "with": "assets", "status": "completed"}
    (task,) = call(sandbox, "GET", "tasks", params=params).json()["data"]
    assert (task["is_oneoff_task"], task["assets"][0]["id"]) == (True, places.ONEOFF_FILE)


def test_completed_tasks_are_left_out_unless_asked_for(sandbox: Sandbox) -> None:
    def listed(**params: str) -> set[str]:
        body = call(sandbox, "GET", "tasks", params=params).json()
        return {task["id"] for task in body["data"]}

    assert places.ONEOFF_TASK not in listed(is_oneoff="true")
    assert places.COLLECT_ID_TASK not in listed()
    assert {places.ONEOFF_TASK, places.COLLECT_ID_TASK} <= listed(status="completed")


def test_tasks_are_filtered_by_the_guest_they_are_assigned_to(sandbox: Sandbox) -> None:
    def listed(path: str = "tasks", **params: str) -> dict[str, list[str]]:
        body = call(sandbox, "GET", path, params={"status": "completed", **params}).json()
        return {task["id"]: task["owners"]["guests"] for task in body["data"]}

    guest = places.GUEST_EMAIL.upper()  # emails match whatever their case
    mine = listed(guests=guest)
    assert mine == {
        places.COLLECT_ID_TASK: [places.GUEST_EMAIL],
        places.ONEOFF_TASK: [places.GUEST_EMAIL],
    }
    assert listed(guests="nobody@example.com") == {}
    run_tasks = f"runs/{places.ONBOARDING_RUN}/tasks"
    assert set(listed(run_tasks, guests=guest)) == {places.COLLECT_ID_TASK}
    assert listed(run_tasks, guests="nobody@example.com") == {}


def test_the_organizations_tasks_are_listed_with_those_of_its_runs(sandbox: Sandbox) -> None:
    params = {"with": "assets", "status": "completed"}
    tasks = {
        task["id"]: task for task in call(sandbox, "GET", "tasks", params=params).json()["data"]
    }
    collect_id = tasks[places.COLLECT_ID_TASK]
    assert (collect_id["run_id"], collect_id["is_oneoff_task"]) == (places.ONBOARDING_RUN, False)
    assert places.TASK_FILE in {asset["id"] for asset in collect_id["assets"]}


def test_archived_oneoff_tasks_are_listed_only_when_asked_for(sandbox: Sandbox) -> None:
    def listed(**params: str) -> list[tuple[str, bool]]:
        body = call(sandbox, "GET", "tasks", params={"is_oneoff": "true", **params}).json()
        return [(task["id"], bool(task["archived_at"])) for task in body["data"]]

    assert listed(status="completed") == [(places.ONEOFF_TASK, False)]
    assert listed(archived="only") == [(places.ARCHIVED_ONEOFF_TASK, True)]


def test_archived_templates_are_listed_only_when_asked_for(sandbox: Sandbox) -> None:
    def listed(**params: str) -> set[str]:
        body = call(sandbox, "GET", "checklists", params={"with": "assets", **params}).json()
        return {template["id"] for template in body["data"]}

    assert places.ARCHIVED_TEMPLATE_ID not in listed()
    assert listed(archived="only") == {places.ARCHIVED_TEMPLATE_ID}


def test_archived_only_on_templates_can_be_ignored_too(sandbox: Sandbox) -> None:
    sandbox.faults(ignore_archived_only=True)
    body = call(sandbox, "GET", "checklists", params={"archived": "only"}).json()
    assert places.ARCHIVED_TEMPLATE_ID not in {template["id"] for template in body["data"]}


def test_templates_ignore_per_page(sandbox: Sandbox) -> None:
    body = call(sandbox, "GET", "checklists", params={"per_page": "1", "with": "assets"}).json()
    assert body["meta"]["pagination"]["per_page"] == 10
    assert body["data"][0]["assets"]["data"][0]["id"] == places.TEMPLATE_FILE


def test_the_activity_feed_filters_uploads_by_person(sandbox: Sandbox) -> None:
    body = call(
        sandbox,
        "GET",
        "activity-feeds",
        params={"verb": "uploaded", "actor_email": places.GUEST_EMAIL},
    ).json()
    assert len(body["data"]) == 2


def test_a_missing_file_without_json_accept_is_an_html_page(sandbox: Sandbox) -> None:
    response = call(sandbox, "GET", f"file/{'9' * 32}/dl", headers={"X-Tallyfy-Client": "x"})
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_a_missing_file_with_json_accept_is_json(sandbox: Sandbox) -> None:
    response = call(sandbox, "GET", f"file/{'9' * 32}/dl")
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


@pytest.fixture
def small_upload_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_server_module, "MAX_UPLOAD_BYTES", 10)


def upload(sandbox: Sandbox, content: bytes, **fields: str) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/organizations/{sandbox.org_id}/file",
        headers={**HEADERS, "Authorization": f"Bearer {sandbox.token}"},
        data={"subject_type": "Run", "subject_id": "a1" * 16, "uploaded_from": "x", **fields},
        files={"name": ("f.txt", content)},
        timeout=10,
    )


@pytest.mark.usefixtures("small_upload_limit")
def test_the_upload_limit_applies_to_the_file_not_the_body(sandbox: Sandbox) -> None:
    assert upload(sandbox, b"12345", note="x" * 100).status_code == 200
    assert upload(sandbox, b"x" * 11).status_code == 422
