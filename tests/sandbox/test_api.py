"""The sandbox speaks Tallyfy's file API as the contract describes it."""

from __future__ import annotations

import pytest
import requests

from sandbox.seed import OTHER_ORG_ID
from sandbox.store import new_id
from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire

HEADERS = {"Accept": "application/json", "X-Tallyfy-Client": "APIClient"}


def call(
    sandbox: Sandbox,
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: object,
) -> requests.Response:
    sent = dict(HEADERS if headers is None else headers)
    sent["Authorization"] = f"Bearer {token or sandbox.token}"
    return requests.request(
        method,
        f"{sandbox.base_url}/organizations/{sandbox.org_id}/{path}",
        headers=sent,
        timeout=10,
        **kwargs,
    )


def test_metadata_has_the_documented_shape(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(filename="a.txt")
    body = call(sandbox, "GET", f"assets/{asset.asset_id}").json()
    assert set(body["data"]) >= {
        "id",
        "filename",
        "version",
        "uploaded_from",
        "uploaded_at",
        "step_id",
        "source",
        "system",
        "uploaded_to_s3",
        "subject",
    }
    assert body["data"]["subject"] == {"id": "a1" * 16, "type": "Run"}


def test_missing_client_header_is_401(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    response = call(
        sandbox, "GET", f"assets/{asset.asset_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 401


def test_bad_token_is_401(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    assert call(sandbox, "GET", f"assets/{asset.asset_id}", token="nope").status_code == 401


def test_token_of_another_organization_is_403(sandbox: Sandbox) -> None:
    response = requests.get(
        f"{sandbox.base_url}/organizations/{OTHER_ORG_ID}/assets/{'f0' * 16}",
        headers={**HEADERS, "Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert (
        response.json()["message"]
        == "You don't have application's permissions for this organization!"
    )


def test_unknown_asset_is_a_json_404(sandbox: Sandbox) -> None:
    response = call(sandbox, "GET", f"assets/{'9' * 32}")
    assert response.status_code == 404
    assert response.json() == {
        "error": True,
        "message": "Resource not found",
        "code": "RESOURCE_NOT_FOUND",
    }


def test_wrong_path_is_endpoint_not_found(sandbox: Sandbox) -> None:
    assert call(sandbox, "GET", "nothing/here").json()["code"] == "ENDPOINT_NOT_FOUND"


def test_download_streams_bytes_with_headers_and_a_non_ascii_name(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(
        filename="Résumé été.pdf", content=b"%PDF-1.4 x", content_type="application/pdf"
    )
    dl = call(sandbox, "GET", f"file/{asset.asset_id}/dl")
    assert dl.content == b"%PDF-1.4 x"
    assert dl.headers["Content-Type"] == "application/octet-stream"
    assert dl.headers["Content-Length"] == "10"
    assert (
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.pdf" in dl.headers["Content-Disposition"]
    )
    assert dl.headers["Content-Disposition"].startswith("attachment")
    inline = call(sandbox, "GET", f"file/{asset.asset_id}")
    assert inline.headers["Content-Type"] == "application/pdf"


def test_generated_large_file_has_its_declared_size(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(size=3 * 1024 * 1024 + 7)
    dl = call(sandbox, "GET", f"file/{asset.asset_id}/dl")
    assert len(dl.content) == 3 * 1024 * 1024 + 7


def test_deleted_file_is_gone_from_every_endpoint(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    response = call(sandbox, "DELETE", f"file/{asset.asset_id}")
    assert (response.status_code, response.content) == (200, b"")
    for path in (f"assets/{asset.asset_id}", f"file/{asset.asset_id}", f"file/{asset.asset_id}/dl"):
        assert call(sandbox, "GET", path).status_code == 404
    assert call(sandbox, "DELETE", f"file/{asset.asset_id}").status_code == 404


def test_logo_cannot_be_deleted(sandbox: Sandbox) -> None:
    logo = sandbox.add_file(filename="logo.png", subject_type="Organization")
    response = call(sandbox, "DELETE", f"file/{logo.asset_id}")
    assert response.status_code == 422
    assert sandbox.exists(logo.asset_id)


def test_upload_on_both_paths(sandbox: Sandbox) -> None:
    for path in ("file", "assets"):
        response = call(
            sandbox,
            "POST",
            path,
            files={"name": ("up.txt", b"uploaded", "text/plain")},
            data={"uploaded_from": "ko_field", "subject_type": "Run", "subject_id": "a1" * 16},
        )
        assert response.status_code == 200
        asset_id = response.json()["data"]["id"]
        assert call(sandbox, "GET", f"file/{asset_id}").content == b"uploaded"


def test_bad_upload_is_422_with_field_errors(sandbox: Sandbox) -> None:
    response = call(sandbox, "POST", "file", data={"subject_type": "Nope"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"name", "subject_type", "subject_id", "uploaded_from"}


def test_run_with_assets_lists_its_files(sandbox: Sandbox) -> None:
    body = call(sandbox, "GET", f"runs/{'a1' * 16}", params={"with": "assets"}).json()
    names = {a["filename"] for a in body["data"]["assets"]["data"]}
    assert {"passport_scan.png", "notes.txt"} <= names
    assert "assets" not in call(sandbox, "GET", f"runs/{'a1' * 16}").json()["data"]


def test_requests_are_recorded_without_the_token(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    call(sandbox, "GET", f"assets/{asset.asset_id}")
    (entry,) = sandbox.requests()
    assert entry["method"] == "GET"
    assert entry["path"].endswith(f"/assets/{asset.asset_id}")
    assert entry["headers"]["Authorization"] == "Bearer <redacted>"
    assert sandbox.token not in str(entry)


def test_rate_limit_fault_answers_429_with_headers(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit_next=1, retry_after="3")
    asset = sandbox.add_file()
    first = call(sandbox, "GET", f"assets/{asset.asset_id}")
    assert (
        first.status_code,
        first.headers["Retry-After"],
        first.headers["X-RateLimit-Remaining"],
    ) == (429, "3", "0")
    assert call(sandbox, "GET", f"assets/{asset.asset_id}").status_code == 200


def test_unknown_fault_is_refused(sandbox: Sandbox) -> None:
    response = requests.post(f"{sandbox.root}/_sandbox/faults", json={"nonsense": 1}, timeout=5)
    assert response.status_code == 400


def test_bandwidth_fault_paces_file_bodies(sandbox: Sandbox) -> None:
    import time

    asset = sandbox.add_file(size=1_000_000)
    sandbox.faults(bandwidth_mbps=40)  # 5 MB/s: a megabyte takes 0.2 s
    started = time.monotonic()
    assert len(call(sandbox, "GET", f"file/{asset.asset_id}/dl").content) == 1_000_000
    assert time.monotonic() - started >= 0.19


def test_the_control_api_hands_out_no_tokens(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.root}/_sandbox/organizations", timeout=10)
    assert response.status_code == 404
    assert sandbox.token not in response.text


def test_a_line_break_in_a_name_stays_out_of_the_headers(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(filename="a\r\nX-Injected: yes\r\n.txt")
    response = call(sandbox, "GET", f"file/{asset.asset_id}/dl")
    assert response.status_code == 200
    assert "X-Injected" not in response.headers
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="a__X-Injected: yes__.txt"'
    )


def organization_with_runs(sandbox: Sandbox, count: int) -> tuple[str, str]:
    """A fresh organization of its own with `count` runs: its id and token."""
    store = sandbox.server.store
    org_id, token = new_id(), new_id()
    store.add_organization(org_id=org_id, name="Runs", token=token)
    for number in range(count):
        store.add_run(org_id=org_id, name=f"Run {number}")
    return org_id, token


def list_runs(sandbox: Sandbox, org_id: str, token: str, **params: object) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/organizations/{org_id}/runs",
        headers={**HEADERS, "Authorization": f"Bearer {token}"},
        params=params,
        timeout=10,
    )


def test_runs_list_has_the_fractal_shape(sandbox: Sandbox) -> None:
    org_id, token = organization_with_runs(sandbox, 3)
    body = list_runs(sandbox, org_id, token, page=2, per_page=1).json()
    assert [run["name"] for run in body["data"]] == ["Run 1"]
    pagination = body["meta"]["pagination"]
    assert {k: v for k, v in pagination.items() if k != "links"} == {
        "total": 3,
        "count": 1,
        "per_page": 1,
        "current_page": 2,
        "total_pages": 3,
    }
    assert set(pagination["links"]) == {"previous", "next"}
    assert "page=3" in pagination["links"]["next"]


def test_a_single_page_of_runs_has_no_links(sandbox: Sandbox) -> None:
    org_id, token = organization_with_runs(sandbox, 2)
    body = list_runs(sandbox, org_id, token).json()
    assert (len(body["data"]), body["meta"]["pagination"]["links"]) == (2, [])


def test_runs_per_page_defaults_to_10_and_is_capped_at_100(sandbox: Sandbox) -> None:
    org_id, token = organization_with_runs(sandbox, 105)
    assert len(list_runs(sandbox, org_id, token).json()["data"]) == 10
    capped = list_runs(sandbox, org_id, token, per_page=500).json()
    assert (len(capped["data"]), capped["meta"]["pagination"]["per_page"]) == (100, 100)


def test_runs_list_is_authenticated_like_the_rest(sandbox: Sandbox) -> None:
    org_id, _ = organization_with_runs(sandbox, 1)
    assert list_runs(sandbox, org_id, "nope").status_code == 401
    assert list_runs(sandbox, org_id, sandbox.token).status_code == 403


def test_broken_inline_fault_answers_404_inline_while_dl_serves(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(content=b"bytes")
    sandbox.faults(broken_inline=[asset.asset_id])
    assert call(sandbox, "GET", f"file/{asset.asset_id}").status_code == 404
    assert call(sandbox, "GET", f"file/{asset.asset_id}/dl").content == b"bytes"
