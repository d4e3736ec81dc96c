from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
import urllib3
from responses import matchers

import tallyfy_api
from tallyfy_api.base_urls import DisallowedBaseURL
from tallyfy_api.ids import InvalidId
from tests.fixtures.files import ASSET_ID
from tests.fixtures.organizations import BASE_URL, ORG_ID

ASSET_URL = f"{BASE_URL}/organizations/{ORG_ID}/assets/{ASSET_ID}"
FILE_URL = f"{BASE_URL}/organizations/{ORG_ID}/file/{ASSET_ID}"
ASSET = {
    "id": ASSET_ID,
    "filename": "report_q1.pdf",
    "version": "2",
    "uploaded_from": "ko_field",
    "uploaded_at": "2024-03-15T10:30:00Z",
    "step_id": None,
    "subject": {"id": "r1", "type": "Run"},
    "future_key": {"kept": True},
}


def client(
    *,
    base_url: str = BASE_URL,
    org_id: str = ORG_ID,
    throttle: tallyfy_api.Throttle | None = None,
    **bounds: Any,
) -> tallyfy_api.TallyfyClient:
    config = tallyfy_api.ClientConfig(
        **{"allowed_hosts": ("go.tallyfy.com", "api.tallyfy.com"), "backoff": 0, **bounds}
    )
    return tallyfy_api.TallyfyClient(
        base_url=base_url, org_id=org_id, token="tok", config=config, throttle=throttle
    )


def test_every_call_sends_the_contract_headers(http: responses.RequestsMock) -> None:
    headers = {
        "Authorization": "Bearer tok",
        "Accept": "application/json",
        "X-Tallyfy-Client": "APIClient",
    }
    http.get(ASSET_URL, json={"data": ASSET}, match=[matchers.header_matcher(headers)])
    http.get(f"{FILE_URL}/dl", body=b"x", match=[matchers.header_matcher(headers)])
    http.delete(FILE_URL, body=b"", match=[matchers.header_matcher(headers)])
    c = client()
    c.get_asset(ASSET_ID)
    c.open_download(ASSET_ID).close()
    c.delete_file(ASSET_ID)


def test_asset_is_parsed_and_unknown_keys_kept(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, json={"data": ASSET})
    asset = client().get_asset(ASSET_ID)
    assert (asset.filename, asset.version, asset.subject_type, asset.subject_id) == (
        "report_q1.pdf",
        "2",
        "Run",
        "r1",
    )
    assert asset.uploaded_at is not None
    assert asset.uploaded_at.isoformat() == "2024-03-15T10:30:00+00:00"
    assert asset.raw["future_key"] == {"kept": True}


def test_data_as_a_one_element_list_is_accepted(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, json={"data": [ASSET]})
    assert client().get_asset(ASSET_ID).filename == "report_q1.pdf"


def test_a_body_without_metadata_is_unexpected(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, json={"data": []})
    with pytest.raises(tallyfy_api.UnexpectedResponse):
        client().get_asset(ASSET_ID)


@pytest.mark.parametrize("levels", [65, 100_000])
def test_an_answer_nested_too_deeply_is_unreadable(
    http: responses.RequestsMock, levels: int
) -> None:
    nested = "[" * levels + "]" * levels  # 100,000 levels: 200 KB, under the body cap
    http.get(ASSET_URL, body=f'{{"data": {{"id": "{ASSET_ID}", "x": {nested}}}}}')
    with pytest.raises(tallyfy_api.UnexpectedResponse, match=r"more than 64 levels deep"):
        client().get_asset(ASSET_ID)


def test_an_answer_nested_as_deep_as_allowed_is_read(http: responses.RequestsMock) -> None:
    nested = "[" * 62 + "]" * 62  # with "data" and the asset: 64 levels
    http.get(ASSET_URL, body=f'{{"data": {{"id": "{ASSET_ID}", "x": {nested}}}}}')
    assert client().get_asset(ASSET_ID).id == ASSET_ID


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "a?b", "", "é", "x" * 256, "..", "a b"])
def test_invalid_ids_are_refused_before_any_call(bad_id: str) -> None:
    with pytest.raises(InvalidId):
        client().get_asset(bad_id)


def test_org_id_is_validated_too() -> None:
    with pytest.raises(InvalidId):
        client(org_id="../../admin")


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            401,
            {"message": "Unauthenticated."},
            tallyfy_api.AuthenticationFailed,
            "Unauthenticated.",
        ),
        (
            403,
            {"message": "You don't have application's permissions for this organization!"},
            tallyfy_api.PermissionDenied,
            "You don't have application's permissions for this organization!",
        ),
        (
            404,
            {"error": True, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"},
            tallyfy_api.NotFound,
            "Resource not found",
        ),
        (
            404,
            {"message": "No query results for model [Asset]."},
            tallyfy_api.NotFound,
            "No query results for model [Asset].",
        ),
        (
            422,
            {"error": True, "errors": {"name": ["The name field is required."]}},
            tallyfy_api.RequestRejected,
            "name: The name field is required.",
        ),
        (
            422,
            {"message": "The given data was invalid.", "errors": {"a": ["b"]}},
            tallyfy_api.RequestRejected,
            "The given data was invalid. a: b",
        ),
        (400, "plain text problem", tallyfy_api.RequestRejected, "plain text problem"),
        (302, "", tallyfy_api.UnexpectedResponse, "Tallyfy answered with a redirect (302)."),
    ],
)
def test_each_status_maps_to_its_exception(
    http: responses.RequestsMock, status: int, body: object, error: type[Exception], message: str
) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    http.delete(FILE_URL, status=status, headers={"X-Request-Id": "req-1"}, **kwargs)
    with pytest.raises(error) as caught:
        client().delete_file(ASSET_ID)
    assert caught.value.status == status
    assert caught.value.message == message
    assert caught.value.request_id == "req-1"


def test_html_error_pages_do_not_become_the_message(http: responses.RequestsMock) -> None:
    http.delete(FILE_URL, status=502, body="<html><body>Bad gateway</body></html>")
    with pytest.raises(tallyfy_api.ServerError) as caught:
        client().delete_file(ASSET_ID)
    assert caught.value.message == "Tallyfy failed with HTTP 502."


@pytest.mark.parametrize(
    ("status", "kwargs"),
    [(200, {"body": b""}), (200, {"json": {"data": {"deleted": True}}}), (204, {"body": b""})],
)
def test_any_2xx_delete_is_success(http: responses.RequestsMock, status: int, kwargs: dict) -> None:
    http.delete(FILE_URL, status=status, **kwargs)
    assert client().delete_file(ASSET_ID).status == status


def test_429_is_retried_even_on_delete(http: responses.RequestsMock) -> None:
    http.delete(
        FILE_URL, status=429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "0"}
    )
    http.delete(FILE_URL, status=200, body=b"")
    assert client().delete_file(ASSET_ID).status == 200
    assert len(http.calls) == 2


def test_get_is_retried_on_503_but_delete_is_not(http: responses.RequestsMock) -> None:
    http.get(ASSET_URL, status=503, body="")
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, status=503, body="")
    c = client()
    assert c.get_asset(ASSET_ID).id == ASSET_ID
    with pytest.raises(tallyfy_api.ServerError):
        c.delete_file(ASSET_ID)
    assert [call.request.method for call in http.calls] == ["GET", "GET", "DELETE"]


def timeouts(connect: float, read: float, total: float) -> Callable[..., tuple[bool, str]]:
    def match(request: requests.PreparedRequest) -> tuple[bool, str]:
        seen = repr(request.req_kwargs["timeout"])  # type: ignore[attr-defined]
        return seen == f"Timeout(connect={connect}, read={read}, total={total})", seen

    return match


def test_timeouts_and_the_deadline_are_applied_to_every_call(
    http: responses.RequestsMock,
) -> None:
    http.get(ASSET_URL, json={"data": ASSET}, match=[timeouts(2.0, 9.0, 12.0)])
    http.delete(FILE_URL, body=b"", match=[timeouts(2.0, 9.0, 12.0)])
    c = client(connect_timeout=2.0, read_timeout=9.0, call_deadline=12.0)
    c.get_asset(ASSET_ID)
    c.delete_file(ASSET_ID)


def test_a_timeout_becomes_connection_failed(http: responses.RequestsMock) -> None:
    http.delete(FILE_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(tallyfy_api.ConnectionFailed) as caught:
        client().delete_file(ASSET_ID)
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)


def test_redirects_are_not_followed(http: responses.RequestsMock) -> None:
    http.get(f"{FILE_URL}/dl", status=302, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(tallyfy_api.UnexpectedResponse):
        client().open_download(ASSET_ID)
    assert len(http.calls) == 1


def test_download_is_streamed_with_its_headers(http: responses.RequestsMock) -> None:
    http.get(
        f"{FILE_URL}/dl",
        body=b"abc",
        headers={
            "Content-Disposition": (
                "attachment; filename=\"x.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf"
            ),
            "Content-Type": "application/octet-stream",
            "Content-Length": "3",
        },
        match=[matchers.request_kwargs_matcher({"stream": True})],
    )
    download = client().open_download(ASSET_ID)
    assert download.filename == "Résumé.pdf"
    assert download.content_length == 3
    assert b"".join(download) == b"abc"


def test_inline_view_uses_the_file_endpoint(http: responses.RequestsMock) -> None:
    http.get(FILE_URL, body=b"png", content_type="image/png")
    download = client().open_download(ASSET_ID, inline=True)
    assert download.content_type == "image/png"


@pytest.mark.parametrize(
    "url",
    [
        "http://go.tallyfy.com/api",
        "https://evil.example/api",
        "https://127.0.0.1/api",
        "https://user:pw@go.tallyfy.com/api",
        "ftp://go.tallyfy.com",
    ],
)
def test_disallowed_base_urls_are_refused_at_call_time(url: str) -> None:
    with pytest.raises(DisallowedBaseURL):
        client(base_url=url)


def test_plain_http_only_to_an_explicit_sandbox_host(http: responses.RequestsMock) -> None:
    http.get(
        f"http://127.0.0.1:8001/api/organizations/{ORG_ID}/assets/{ASSET_ID}", json={"data": ASSET}
    )
    c = client(base_url="http://127.0.0.1:8001/api", insecure_hosts=["127.0.0.1:8001"])
    assert c.get_asset(ASSET_ID).id == ASSET_ID


def test_the_other_documented_host_works(http: responses.RequestsMock) -> None:
    http.get(
        f"https://api.tallyfy.com/organizations/{ORG_ID}/assets/{ASSET_ID}", json={"data": ASSET}
    )
    assert client(base_url="https://api.tallyfy.com/").get_asset(ASSET_ID).id == ASSET_ID


def test_downloads_ask_for_the_bytes_as_stored(http: responses.RequestsMock) -> None:
    http.get(
        f"{FILE_URL}/dl",
        body=b"abc",
        match=[matchers.header_matcher({"Accept-Encoding": "identity"})],
    )
    download = client().open_download(ASSET_ID)
    assert b"".join(download) == b"abc"


class BreakingRaw:
    """A body that gives some bytes, then fails as a dropped connection does."""

    def __init__(self, *chunks: bytes | Exception) -> None:
        self.chunks = list(chunks)
        self.connection = None

    def read1(self, amt: int | None = None) -> bytes:
        chunk = self.chunks.pop(0) if self.chunks else b""
        if isinstance(chunk, Exception):
            raise chunk
        return chunk

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


def broken_download(*chunks: bytes | Exception, length: str = "") -> tallyfy_api.Download:
    response = requests.Response()
    response.status_code = 200
    response.raw = BreakingRaw(*chunks)
    if length:
        response.headers["Content-Length"] = length
    return tallyfy_api.Download(response, read_timeout=5, stall_window=5, min_window_bytes=1)


def test_a_download_that_breaks_midway_raises_our_own_error() -> None:
    cause = urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
    download = broken_download(b"%PDF-", cause)
    received: list[bytes] = []
    with pytest.raises(tallyfy_api.DownloadInterrupted) as caught:
        received.extend(download)
    assert received == [b"%PDF-"]
    assert caught.value.__cause__ is cause


def test_a_download_that_ends_short_of_its_length_is_not_complete() -> None:
    download = broken_download(b"%PDF-", length="100")
    with pytest.raises(tallyfy_api.DownloadInterrupted, match="5 of 100 bytes"):
        b"".join(download)


def test_a_download_whose_read_times_out_raises_our_own_error() -> None:
    download = broken_download(b"x", urllib3.exceptions.ReadTimeoutError(None, "/", "timed out"))
    with pytest.raises(tallyfy_api.DownloadInterrupted):
        b"".join(download)


def test_inline_404_falls_back_to_dl_typed_by_the_file_name(
    http: responses.RequestsMock,
) -> None:
    http.get(FILE_URL, status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "scan.png"}})
    http.get(f"{FILE_URL}/dl", body=b"\x89PNG", content_type="application/octet-stream")
    download = client().open_download(ASSET_ID, inline=True)
    assert (download.content_type, b"".join(download)) == ("image/png", b"\x89PNG")


def test_inline_404_for_a_file_without_metadata_stays_not_found(
    http: responses.RequestsMock,
) -> None:
    http.get(FILE_URL, status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, status=404, json={"message": "Resource not found"})
    with pytest.raises(tallyfy_api.NotFound):
        client().open_download(ASSET_ID, inline=True)


def test_inline_fallback_of_an_unknown_type_is_octet_stream(
    http: responses.RequestsMock,
) -> None:
    http.get(FILE_URL, status=404, json={"message": "Resource not found"})
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "data.unknownext"}})
    http.get(f"{FILE_URL}/dl", body=b"x")
    assert client().open_download(ASSET_ID, inline=True).content_type == "application/octet-stream"


def test_endpoint_not_found_is_not_a_missing_file(http: responses.RequestsMock) -> None:
    http.get(
        ASSET_URL,
        status=404,
        json={"error": True, "message": "Endpoint not found", "code": "ENDPOINT_NOT_FOUND"},
    )
    with pytest.raises(tallyfy_api.EndpointNotFound) as caught:
        client().get_asset(ASSET_ID)
    assert not isinstance(caught.value, tallyfy_api.NotFound)


def test_not_found_keeps_tallyfys_code(http: responses.RequestsMock) -> None:
    http.get(
        ASSET_URL,
        status=404,
        json={"error": True, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"},
    )
    with pytest.raises(tallyfy_api.NotFound) as caught:
        client().get_asset(ASSET_ID)
    assert (caught.value.code, caught.value.json_body) == ("RESOURCE_NOT_FOUND", True)


def test_runs_are_listed_one_page_at_a_time(http: responses.RequestsMock) -> None:
    http.get(
        f"{BASE_URL}/organizations/{ORG_ID}/runs",
        match=[matchers.query_param_matcher({"page": "2", "per_page": "1"})],
        json={
            "data": [{"id": "r" * 32, "name": "Onboarding"}],
            "meta": {
                "pagination": {
                    "total": 3,
                    "count": 1,
                    "per_page": 1,
                    "current_page": 2,
                    "total_pages": 3,
                    "links": {"previous": "https://x/?page=1", "next": "https://x/?page=3"},
                }
            },
        },
    )
    page = client().list_runs(page=2, per_page=1)
    assert (page.items[0]["name"], page.total, page.current_page, page.has_next) == (
        "Onboarding",
        3,
        2,
        True,
    )


@pytest.mark.parametrize("links", [[], {}, None, {"previous": "https://x/?page=1"}])
def test_a_last_page_has_no_next(links: object) -> None:
    payload = {"data": [], "meta": {"pagination": {"total": 0, "links": links}}}
    assert tallyfy_api.Page.from_payload(payload).has_next is False


def test_a_list_without_data_is_unexpected() -> None:
    with pytest.raises(tallyfy_api.UnexpectedResponse):
        tallyfy_api.Page.from_payload({"data": {"id": "x"}})
