"""The sandbox's HTTP server: Tallyfy's file API under /api, and a control API under /_sandbox."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sandbox import listing
from sandbox.faults import FaultPlan
from sandbox.journal import FileJournal, JournalEntry
from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.store import Store, StoredAsset

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
SUBJECT_TYPES = ("Run", "Checklist", "Task")
_ID = r"[A-Za-z0-9_-]{1,255}"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/assets/(?P<asset>{_ID})"), "get_asset"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/file/(?P<asset>{_ID})"), "view_file"),
    (
        "GET",
        re.compile(rf"/organizations/(?P<org>{_ID})/file/(?P<asset>{_ID})/dl"),
        "download_file",
    ),
    ("DELETE", re.compile(rf"/organizations/(?P<org>{_ID})/file/(?P<asset>{_ID})"), "delete_file"),
    ("POST", re.compile(rf"/organizations/(?P<org>{_ID})/file"), "upload_file"),
    ("POST", re.compile(rf"/organizations/(?P<org>{_ID})/assets"), "upload_file"),
    *listing.ROUTES,
]
NOT_FOUND_PAGE = (
    b"<!DOCTYPE html><html><head><title>Page not found</title></head>"
    b"<body><h1>404</h1><p>Sorry, the page you are looking for could not be found.</p>"
    b"</body></html>"
)
NOT_FOUND = {"error": True, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"}


class RequestLog:
    """What the sandbox was sent, minus the token, for tests to read back."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, store: Store, faults: FaultPlan) -> None:
        super().__init__(address, SandboxHandler)
        self.store = store
        self.faults = faults
        self.requests_log = RequestLog()
        self.rate_limiter = SlidingWindowLimiter()
        self.journal = FileJournal()
        self._api_requests = 0
        self._counter_lock = threading.Lock()

    def api_request_arrived(self) -> None:
        with self._counter_lock:
            self._api_requests += 1

    def counts(self) -> dict[str, Any]:
        """Faults injected since the last reset, and API requests ever received."""
        with self._counter_lock:
            total = self._api_requests
        return {
            "injected": self.faults.injected_counts(),
            "rate_limit_per_minute_429": self.rate_limiter.stats().get("limited", 0),
            "api_requests": total,
        }

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/api"


class ConnectionDropped(Exception):
    pass


class SandboxHandler(listing.ListingRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle and delayed ACKs
    # hold every small response back by 40 ms.
    disable_nagle_algorithm = True
    server: SandboxServer
    server_version = "TallyfySandbox/1"
    journal_entry: JournalEntry | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read /_sandbox/requests
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # --- plumbing ---

    def send_response(self, code: int, message: str | None = None) -> None:
        if self.journal_entry is not None:
            self.journal_entry.status = code
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        self.request_id = uuid.uuid4().hex
        self.active_faults: dict[str, Any] = {}
        self.journal_entry: JournalEntry | None = None
        split = urlsplit(self.path)
        self.query = parse_qs(split.query)
        raw_path = split.path
        self.body = self._read_body()
        try:
            if raw_path.startswith("/_sandbox/"):
                self._control(method, raw_path.removeprefix("/_sandbox/"))
                return
            self._record(method, raw_path, split.query)
            self.server.api_request_arrived()
            self._api(method, unquote(raw_path))
        except (ConnectionDropped, ConnectionError):  # ours, or the client gave up first
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may have gone already
                self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, method: str, path: str, query: str) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        if "Authorization" in self.headers:
            scheme = self.headers["Authorization"].split(" ", 1)[0]
            headers["Authorization"] = f"{scheme} <redacted>"
        self.server.requests_log.add(
            {
                "method": method,
                "path": path,
                "query": query,
                "headers": headers,
                "client_port": self.client_address[1],
                "at": time.time(),
            }
        )

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", self.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self._write(body)

    def _write(self, data: bytes) -> None:
        """Write a body, a byte at a time when the `trickle_ms` fault says so."""
        delay = self.active_faults.get("trickle_ms", 0) / 1000
        if not delay:
            self.wfile.write(data)
            return
        for byte in range(len(data)):
            time.sleep(delay)
            try:
                self.wfile.write(data[byte : byte + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                raise ConnectionDropped from None

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    # --- the control API ---

    def _control(self, method: str, action: str) -> None:
        server = self.server
        if method == "GET" and action == "requests":
            self._json(200, {"data": server.requests_log.entries()})
        elif method == "GET" and action == "faults":
            self._json(200, {"data": server.faults.snapshot()})
        elif method == "POST" and action == "faults":
            try:
                self._json(200, {"data": server.faults.update(json.loads(self.body or b"{}"))})
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": True, "message": str(exc)})
        elif method == "GET" and action == "rate-limit":
            self._json(200, {"data": server.rate_limiter.stats()})
        elif method == "GET" and action == "counts":
            self._json(200, {"data": server.counts()})
        elif action == "journal":
            self._control_journal(method)
        elif method == "POST" and action == "reset":
            server.faults.reset()
            server.requests_log.clear()
            server.rate_limiter.reset()
            server.journal.clear()
            self._json(200, {"data": server.faults.snapshot()})
        elif method == "POST" and action == "files":
            try:
                self._control_add_file()
            except (KeyError, ValueError, TypeError) as exc:
                self._json(400, {"error": True, "message": f"bad file spec: {exc!r}"})
        else:
            self._json(404, {"error": True, "message": "Unknown sandbox control endpoint."})

    def _control_journal(self, method: str) -> None:
        """GET: every file's journal. POST {"org_id", "asset_ids"}: those files' journals, each
        with `exists`, whether the file is in the store now."""
        if method == "GET":
            self._json(200, {"data": self.server.journal.read()})
            return
        try:
            spec = json.loads(self.body or b"{}")
            org_id, asset_ids = str(spec["org_id"]), [str(a) for a in spec["asset_ids"]]
        except (KeyError, TypeError, ValueError) as exc:
            self._json(400, {"error": True, "message": f"bad journal query: {exc!r}"})
            return
        read = self.server.journal.read(org_id=org_id, asset_ids=asset_ids)
        store = self.server.store
        files = {
            asset_id: {
                **read["files"].get(asset_id, {"org_id": org_id, "entries": [], "dropped": 0}),
                "exists": store.asset(org_id=org_id, asset_id=asset_id) is not None,
            }
            for asset_id in asset_ids
        }
        self._json(200, {"data": {"files": files, "forgotten": read["forgotten"]}})

    def _control_add_file(self) -> None:
        spec = json.loads(self.body or b"{}")
        asset = self.server.store.add_asset(
            org_id=spec["org_id"],
            filename=spec.get("filename", "generated.bin"),
            content_type=spec.get("content_type", "application/octet-stream"),
            subject_type=spec.get("subject_type", "Run"),
            subject_id=spec.get("subject_id", "0" * 32),
            content=spec["content"].encode() if "content" in spec else None,
            size=int(spec.get("size", 0)),
        )
        self._json(200, {"data": asset.to_json()})

    # --- the API ---

    def _api(self, method: str, path: str) -> None:
        faults = self.server.faults
        if not path.startswith("/api/"):
            self._endpoint_not_found()
            return
        path = path.removeprefix("/api").rstrip("/")
        route = next(
            (
                (name, m)
                for verb, pattern, name in _ROUTES
                if verb == method and (m := pattern.fullmatch(path))
            ),
            None,
        )
        if route is not None and "asset" in route[1].groupdict():
            self.journal_entry = self.server.journal.start(
                org_id=route[1]["org"], asset_id=route[1]["asset"], method=method, route=route[0]
            )
        self.active_faults = faults.snapshot()
        if self.active_faults["latency_ms"]:
            time.sleep(self.active_faults["latency_ms"] / 1000)
        if stall := faults.take_stall():
            if self.journal_entry is not None:
                self.journal_entry.late = True
            time.sleep(stall)
        if route is None:
            self._endpoint_not_found()
            return
        verdict = self.server.rate_limiter.check(
            route[1]["org"], per_minute=self.active_faults["rate_limit_per_minute"]
        )
        if verdict is not None and not verdict.admitted:
            self._json(
                429,
                {"message": "Too Many Attempts.", "code": "RATE_LIMIT_EXCEEDED"},
                {"Retry-After": str(verdict.retry_after), "X-RateLimit-Remaining": "0"},
            )
            return
        if faults.take_unavailable():
            self._send(
                503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"
            )
            return
        if faults.take_html_answer():  # a proxy's or maintenance page, with a 200
            self._send(
                200, b"<!DOCTYPE html><html><body>Down for maintenance</body></html>", "text/html"
            )
            return
        retry_after = faults.take_rate_limit()
        if retry_after is not None:
            self._json(
                429,
                {"message": "Too Many Attempts.", "code": "RATE_LIMIT_EXCEEDED"},
                {"Retry-After": retry_after, "X-RateLimit-Remaining": "0"},
            )
            return
        name, match = route
        org_id = match["org"]
        if not self._authorized(org_id):
            return
        getattr(self, f"_api_{name}")(org_id, match)

    def _authorized(self, org_id: str) -> bool:
        authorization = self.headers.get("Authorization", "")
        token = (
            authorization.removeprefix("Bearer ").strip()
            if authorization.startswith("Bearer ")
            else ""
        )
        token_org = self.server.store.organization_for_token(token) if token else None
        if not self.headers.get("X-Tallyfy-Client"):
            self._json(
                401, {"error": True, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}
            )
            return False
        if token_org is None or self.active_faults["expired_tokens"]:
            self._json(
                401, {"error": True, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}
            )
            return False
        if token_org != org_id:
            self._json(
                403, {"message": "You don't have application's permissions for this organization!"}
            )
            return False
        return True

    def _endpoint_not_found(self) -> None:
        self._json(
            404, {"error": True, "message": "Endpoint not found", "code": "ENDPOINT_NOT_FOUND"}
        )

    def _asset_or_404(self, org_id: str, asset_id: str) -> StoredAsset | None:
        asset = self.server.store.asset(org_id=org_id, asset_id=asset_id)
        if asset is None:
            self._json(404, NOT_FOUND)
        return asset

    def _api_get_asset(self, org_id: str, match: re.Match[str]) -> None:
        if asset := self._asset_or_404(org_id, match["asset"]):
            self._json(200, {"data": asset.to_json()})

    def _api_view_file(self, org_id: str, match: re.Match[str]) -> None:
        if match["asset"] in self.active_faults["broken_inline"]:
            self._file_not_found()
            return
        self._stream_file(org_id, match["asset"], attachment=False)

    def _api_download_file(self, org_id: str, match: re.Match[str]) -> None:
        self._stream_file(org_id, match["asset"], attachment=True)

    def _file_not_found(self) -> None:
        """A file call's 404: JSON only when asked for with `Accept: application/json`."""
        if "application/json" in self.headers.get("Accept", ""):
            self._json(404, NOT_FOUND)
        else:
            self._send(404, NOT_FOUND_PAGE, "text/html; charset=UTF-8")

    def _stream_file(self, org_id: str, asset_id: str, *, attachment: bool) -> None:
        asset = self.server.store.asset(org_id=org_id, asset_id=asset_id)
        if asset is None:
            self._file_not_found()
            return
        if asset_id in self.active_faults["broken_downloads"]:
            self._json(500, {"error": True, "message": "Server Error"})
            return
        disposition = "attachment" if attachment else "inline"
        # A CR or LF in a stored name would end the header line and start one of its own.
        ascii_name = re.sub(
            r'[\x00-\x1f\x7f"?]', "_", asset.filename.encode("ascii", "replace").decode()
        )
        self.send_response(200)
        self.send_header(
            "Content-Type", "application/octet-stream" if attachment else asset.content_type
        )
        self.send_header("Content-Length", str(asset.size))
        self.send_header(
            "Content-Disposition",
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(asset.filename)}",
        )
        self.send_header("X-Request-Id", self.request_id)
        self.end_headers()
        bandwidth = self.active_faults["bandwidth_mbps"] * 1_000_000 / 8
        cut_at = asset.size // 2 if asset_id in self.active_faults["truncated_downloads"] else None
        started, sent = time.monotonic(), 0
        for chunk in self.server.store.content(asset):
            if cut_at is not None and sent + len(chunk) > cut_at:
                self._write(chunk[: cut_at - sent])
                raise ConnectionDropped
            sent += len(chunk)
            if bandwidth:  # a chunk leaves once the link could have carried it
                ahead = sent / bandwidth - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            self._write(chunk)

    def _api_delete_file(self, org_id: str, match: re.Match[str]) -> None:
        asset = self._asset_or_404(org_id, match["asset"])
        if asset is None:
            return
        if asset.link_url:  # no file behind it: answered as a file not found
            self._json(404, NOT_FOUND)
            return
        if asset.subject_type == "Organization":
            self._json(422, {"error": True, "message": "An organization logo cannot be deleted."})
            return
        self.server.store.delete_asset(org_id=org_id, asset_id=asset.asset_id)
        if self.journal_entry is not None:
            self.journal_entry.applied = True
        lost = self.server.faults.take_lost_delete()
        if lost is not None:
            mode, delay = lost
            if mode == "timeout":
                time.sleep(delay)
            raise ConnectionDropped
        self._send(200, b"", "text/html; charset=UTF-8")

    def _api_upload_file(self, org_id: str, match: re.Match[str]) -> None:
        form, upload = self._parse_form()
        if upload is not None and len(upload[2]) > MAX_UPLOAD_BYTES:
            too_big = ["The file may not be greater than 102400 kilobytes."]
            self._json(422, {"error": True, "errors": {"name": too_big}})
            return
        errors: dict[str, list[str]] = {}
        if upload is None:
            errors["name"] = ["The name field is required."]
        if form.get("subject_type") not in SUBJECT_TYPES:
            errors["subject_type"] = [
                f"The subject type must be one of {', '.join(SUBJECT_TYPES)}."
            ]
        for required in ("subject_id", "uploaded_from"):
            if not form.get(required):
                errors[required] = [f"The {required.replace('_', ' ')} field is required."]
        if errors or upload is None:
            self._json(422, {"message": "The given data was invalid.", "errors": errors})
            return
        filename, file_type, data = upload
        asset = self.server.store.add_asset(
            org_id=org_id,
            filename=filename,
            content_type=file_type,
            content=data,
            subject_type=form["subject_type"],
            subject_id=form["subject_id"],
            uploaded_from=form["uploaded_from"],
            step_id=form.get("step_id") or None,
        )
        self._json(200, {"data": asset.to_json()})

    def _parse_form(self) -> tuple[dict[str, str], tuple[str, str, bytes] | None]:
        """Form fields, and the file sent in field `name`, from a multipart or urlencoded body."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            fields = parse_qs(self.body.decode(errors="replace"))
            return {k: v[0] for k, v in fields.items()}, None
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body
        )
        form: dict[str, str] = {}
        upload: tuple[str, str, bytes] | None = None
        for part in message.iter_parts():
            field = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if field == "name" and part.get_filename():
                upload = (part.get_filename(), part.get_content_type(), payload)
            elif field:
                form[str(field)] = payload.decode(errors="replace")
        return form, upload


def start_in_thread(server: SandboxServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="tallyfy-sandbox", daemon=True)
    thread.start()
    return thread


def make_server(
    host: str = "127.0.0.1", port: int = 0, *, store: Store, faults: FaultPlan | None = None
) -> SandboxServer:
    return SandboxServer((host, port), store=store, faults=faults or FaultPlan())
