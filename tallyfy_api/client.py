"""`TallyfyClient`: one organization's view of Tallyfy's API. No database access."""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from tallyfy_api.assets import Asset, Deleted, Download
from tallyfy_api.base_urls import check_api_base_url
from tallyfy_api.config import ClientConfig
from tallyfy_api.errors import NotFound, UnexpectedResponse
from tallyfy_api.ids import validate_id
from tallyfy_api.listing import MAX_PER_PAGE, Page
from tallyfy_api.throttle import Throttle
from tallyfy_api.transport import Answer, Transport, call_time_limit


class TallyfyClient:
    """One organization's view of Tallyfy's API, over one pooled session.

    `config` bounds every call (see `ClientConfig`). `throttle` paces the calls (see
    `Throttle`); by default an in-process one that only holds back after a 429.
    """

    def __init__(
        self,
        *,
        base_url: str,
        org_id: str,
        token: str,
        config: ClientConfig,
        throttle: Throttle | None = None,
    ) -> None:
        self.config = config
        self.base_url = check_api_base_url(
            base_url, allowed_hosts=config.allowed_hosts, insecure_hosts=config.insecure_hosts
        )
        self.org_id = validate_id(org_id, what="organization id")
        self.transport = Transport(
            base_url=self.base_url,
            org_id=self.org_id,
            token=token,
            config=config,
            throttle=throttle,
        )

    @property
    def call_time_limit(self) -> float | None:
        """The longest one call of this client can take, or None with no wait budget."""
        if self.config.wait_budget is None:
            return None
        return call_time_limit(
            call_deadline=self.config.call_deadline, wait_budget=self.config.wait_budget
        )

    def close(self) -> None:
        self.transport.close()

    def get_asset(self, asset_id: str) -> Asset:
        """`GET /assets/{id}`. Raises NotFound (404) and the rest of the family."""
        validate_id(asset_id, what="file id")
        return Asset.from_payload(_json(self.transport.call("GET", "assets", asset_id)))

    def open_download(
        self, asset_id: str, *, inline: bool = False, fallback: bool = True
    ) -> Download:
        """`GET /file/{id}` (inline, the real type) or `/file/{id}/dl` (attachment), streamed.

        Inline answers 404 for some files that exist (files on tasks of running processes);
        then, when the file's metadata is there, its `/dl` body is served instead, typed by
        its file name. With `fallback=False` that 404 is raised (NotFound) instead: two calls
        fewer for a caller that only wants the headers.
        """
        validate_id(asset_id, what="file id")
        if not inline:
            return self._download(self.transport.open("file", asset_id, "dl"))
        try:
            return self._download(self.transport.open("file", asset_id))
        except NotFound as inline_missing:
            if not fallback:
                raise
            try:
                asset = self.get_asset(asset_id)
            except NotFound:
                raise inline_missing from None
            if asset.id != asset_id:
                raise inline_missing from None
        content_type, _ = mimetypes.guess_type(asset.filename, strict=True)
        return self._download(
            self.transport.open("file", asset_id, "dl"),
            content_type=content_type or "application/octet-stream",
        )

    def delete_file(self, asset_id: str) -> Deleted:
        """`DELETE /file/{id}`: any 2xx (empty 200, JSON 200, 204) is success.

        Raises NotFound (404), ServerError (5xx) and ConnectionFailed when the outcome is
        uncertain, RateLimited (429 past the retries or the wait budget), and the rest of the
        family.
        """
        validate_id(asset_id, what="file id")
        answer = self.transport.call("DELETE", "file", asset_id, body_needed=False)
        return Deleted(answer.status, answer.request_id)

    def list_runs(
        self,
        *,
        page: int = 1,
        per_page: int = 10,
        include: tuple[str, ...] = (),
        archived: str = "",
        status: str = "",
        newest_first: bool = False,
    ) -> Page:
        """`GET /runs`: one page of the organization's process runs (`sort=-created_at` with
        `newest_first`: there is no date filter, so read until the runs are older).

        `archived="only"` asks for archived runs (the SDK's way), `status="archived"` too (the
        docs' way); see `list_archived_runs`, which tries both."""
        params: dict[str, str | int] = {}
        if include:
            params["with"] = ",".join(include)
        if archived:
            params["archived"] = archived
        if status:
            params["status"] = status
        if newest_first:
            params["sort"] = "-created_at"
        return self._page("runs", page=page, per_page=per_page, params=params)

    def list_archived_runs(
        self, *, page: int, per_page: int, include: tuple[str, ...] = (), by_status: bool = False
    ) -> tuple[Page, bool]:
        """A page of archived runs, and whether `status=archived` had to be used.

        `archived=only` is sent first; a run in its answer with `archived_at: null` shows the
        parameter was ignored, and the page is asked again with `status=archived`."""
        if not by_status:
            answer = self.list_runs(page=page, per_page=per_page, include=include, archived="only")
            if not any("archived_at" in run and not run["archived_at"] for run in answer.items):
                return answer, False
        answer = self.list_runs(page=page, per_page=per_page, include=include, status="archived")
        return answer, True

    def get_run(self, run_id: str) -> dict[str, Any]:
        """`GET /runs/{id}` with its files, kick-off form values (`prerun`) and tasks."""
        validate_id(run_id, what="run id")
        answer = self.transport.call(
            "GET",
            "runs",
            run_id,
            params={
                "with": "assets,form_fields,tasks,tasks.form_fields",
                "form_fields_values": "true",
            },
            body_limit=self.config.max_list_body_bytes,
        )
        payload = _json(answer)
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise UnexpectedResponse("Tallyfy's answer holds no process run.")
        return data

    def list_run_tasks(
        self, run_id: str, *, page: int = 1, per_page: int = 10, guests: str = ""
    ) -> Page:
        """`GET /runs/{id}/tasks?with=assets,form_fields`: task form values in `taskdata`;
        with `guests` (an email) only the tasks assigned to that guest."""
        validate_id(run_id, what="run id")
        params: dict[str, str | int] = {"with": "assets,form_fields"}
        if guests:
            params["guests"] = guests
        return self._page("runs", run_id, "tasks", page=page, per_page=per_page, params=params)

    def list_tasks(
        self,
        *,
        page: int = 1,
        per_page: int = 10,
        oneoff: bool = False,
        archived: str = "",
        status: str = "",
        guests: str = "",
    ) -> Page:
        """`GET /tasks?with=assets,form_fields`: the organization's tasks, those of its process
        runs and one-off tasks alike (`is_oneoff_task` tells them apart), or with `oneoff` only
        one-off tasks (`is_oneoff=true`).

        Whether completed tasks are left out when no `status` is given is undocumented: ask for
        them apart with `status="completed"`. `archived="only"` asks for archived ones; `guests`
        (an email) for those assigned to that guest. A server may ignore any filter: the caller
        checks `status`, `archived_at` and the task's guests."""
        params: dict[str, str | int] = {"with": "assets,form_fields"}
        if oneoff:
            params["is_oneoff"] = "true"
        if archived:
            params["archived"] = archived
        if status:
            params["status"] = status
        if guests:
            params["guests"] = guests
        return self._page("tasks", page=page, per_page=per_page, params=params)

    def list_templates(self, *, page: int = 1, per_page: int = 10, archived: str = "") -> Page:
        """`GET /checklists?with=assets`: templates (blueprints) and their files;
        `archived="only"` asks for archived ones (check `archived_at`: it may be ignored)."""
        params: dict[str, str | int] = {"with": "assets"}
        if archived:
            params["archived"] = archived
        return self._page("checklists", page=page, per_page=per_page, params=params)

    def list_uploads(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        created_after: str = "",
        entity_type: str = "",
        entity_id: str = "",
    ) -> Page:
        """`GET /activity-feeds?verb=uploaded&sort=-created_at`: who uploaded what, newest
        first; `created_after` is a date (YYYY-MM-DD); `entity_type` (`run`, `task`,
        `checklist`) with `entity_id` narrows it to the uploads to one parent."""
        return self.list_activity(
            page=page,
            per_page=per_page,
            verb="uploaded",
            created_after=created_after,
            entity_type=entity_type,
            entity_id=entity_id,
        )

    def list_activity(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        verb: str = "",
        created_after: str = "",
        entity_type: str = "",
        entity_id: str = "",
    ) -> Page:
        """`GET /activity-feeds?sort=-created_at`: what happened in the organization, newest
        first (uploads, deletions, archivals, …), or only `verb`'s entries."""
        params: dict[str, str | int] = {"sort": "-created_at"}
        if verb:
            params["verb"] = verb
        if created_after:
            params["created_after"] = created_after
        if entity_type:
            validate_id(entity_id, what=f"{entity_type} id")
            params["entity_type"] = entity_type
            params["entity_id"] = entity_id
        return self._page("activity-feeds", page=page, per_page=per_page, params=params)

    def _page(self, *segments: str, page: int, per_page: int, params: dict[str, str | int]) -> Page:
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE}.")
        answer = self.transport.call(
            "GET",
            *segments,
            params={"page": page, "per_page": per_page, **params},
            body_limit=self.config.max_list_body_bytes,
        )
        return Page.from_payload(_json(answer))

    def _download(self, response: Any, *, content_type: str | None = None) -> Download:
        return Download(
            response,
            read_timeout=self.config.read_timeout,
            stall_window=self.config.call_deadline,
            min_window_bytes=max(1, int(self.config.download_min_rate * self.config.call_deadline)),
            content_type=content_type,
        )


# Deeper than any answer of Tallyfy's: past it, reading (or showing, or storing) the answer
# would exhaust Python's recursion, so it is an unreadable answer.
MAX_JSON_DEPTH = 64


_TOO_DEEP = f"Tallyfy's answer nests more than {MAX_JSON_DEPTH} levels deep: it cannot be read."


def _json(answer: Answer) -> Any:
    try:
        payload = json.loads(answer.body)
    except RecursionError as exc:  # the parser itself gives up thousands of levels down
        raise UnexpectedResponse(
            _TOO_DEEP, status=answer.status, request_id=answer.request_id
        ) from exc
    except ValueError as exc:
        raise UnexpectedResponse(
            "Tallyfy answered with something that is not JSON.",
            status=answer.status,
            request_id=answer.request_id,
        ) from exc
    if _depth(payload) > MAX_JSON_DEPTH:
        raise UnexpectedResponse(_TOO_DEEP, status=answer.status, request_id=answer.request_id)
    return payload


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level)
        if level <= MAX_JSON_DEPTH:
            stack.extend((child, level + 1) for child in item)
    return deepest
