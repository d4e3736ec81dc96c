"""The sandbox's list endpoints, where files are found through their parents: runs (archived
included), a run's tasks, one-off tasks, templates and the activity feed.

Each answers as Tallyfy does (Fractal pages, `per_page` capped at 100) and each shows one of
the variants the API notes say to expect, so a client that trusts any one of them fails here:
runs give `links: []` when there is no other page, tasks `{}`, templates `null`; templates
ignore `per_page` (always 10); the activity feed's `total_pages` is counted for its default
page size whatever was asked. Links (`source: "url"`) sit beside files in form values.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sandbox.store import Store, StoredAsset

_ID = r"[A-Za-z0-9_-]{1,255}"
MAX_PER_PAGE = 100
_ASSET_COLUMNS = (
    "asset_id, org_id, filename, content_type, version, uploaded_from, uploaded_at, step_id, "
    "subject_type, subject_id, size, content IS NULL AS generated, link_url"
)
NOT_FOUND = {"error": True, "message": "Resource not found", "code": "RESOURCE_NOT_FOUND"}
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/runs/(?P<run>{_ID})/tasks"), "run_tasks"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/runs/(?P<run>{_ID})"), "get_run"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/runs"), "list_runs"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/tasks"), "list_tasks"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/checklists"), "list_templates"),
    ("GET", re.compile(rf"/organizations/(?P<org>{_ID})/activity-feeds"), "activity_feed"),
]


def _asset_json(asset: StoredAsset) -> dict[str, Any]:
    return asset.to_json()


def _field_value(org_id: str, row: Any, assets: dict[str, StoredAsset]) -> dict[str, Any] | None:
    if row["link_url"]:
        return {"source": "url", "url": row["link_url"], "filename": row["link_name"] or ""}
    asset = assets.get(row["asset_id"])
    if asset is None:  # deleted since: Tallyfy drops it from the value too
        return None
    url = f"organizations/{org_id}/file/{asset.asset_id}/dl"
    return {"id": asset.asset_id, "filename": asset.filename, "url": url, "source": "local"}


class ListingStore:
    """Queries over the sandbox's tables for the list endpoints."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def assets_by_subject(
        self, org_id: str, subject_ids: list[str]
    ) -> dict[str, list[StoredAsset]]:
        found: dict[str, list[StoredAsset]] = {subject: [] for subject in subject_ids}
        for start in range(0, len(subject_ids), 500):
            chunk = subject_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT {_ASSET_COLUMNS} FROM assets WHERE org_id = ? "  # noqa: S608
                f"AND subject_id IN ({marks}) AND deleted_at IS NULL ORDER BY uploaded_at, asset_id"
            )
            rows = self.store.query(sql, (org_id, *chunk))
            for row in rows:
                found[row["subject_id"]].append(StoredAsset(**dict(row)))
        return found

    def field_values(self, org_id: str, owner_ids: list[str]) -> dict[str, dict[str, list[Any]]]:
        """Form values of runs (kick-off) or tasks, keyed by owner then field id."""
        values: dict[str, dict[str, list[Any]]] = {owner: {} for owner in owner_ids}
        if not owner_ids:
            return values
        marks = ",".join("?" * len(owner_ids))
        rows = self.store.query(
            f"SELECT owner_id, field_id, asset_id, link_url, link_name FROM field_values "  # noqa: S608
            f"WHERE owner_id IN ({marks}) ORDER BY rowid",
            tuple(owner_ids),
        )
        asset_ids = [row["asset_id"] for row in rows if row["asset_id"]]
        assets: dict[str, StoredAsset] = {}
        for asset_id in asset_ids:
            asset = self.store.asset(org_id=org_id, asset_id=asset_id)
            if asset is not None:
                assets[asset_id] = asset
        for row in rows:
            value = _field_value(org_id, row, assets)
            values[row["owner_id"]].setdefault(row["field_id"], [])
            if value is not None:
                values[row["owner_id"]][row["field_id"]].append(value)
        return values

    def task_guests(self, task_ids: list[str]) -> dict[str, list[str]]:
        """The guests (emails) each task is assigned to."""
        guests: dict[str, list[str]] = {}
        for start in range(0, len(task_ids), 500):
            chunk = task_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT task_id, email FROM task_guests WHERE task_id IN ({marks}) "  # noqa: S608
                "ORDER BY email",
                tuple(chunk),
            )
            for row in rows:
                guests.setdefault(row["task_id"], []).append(row["email"])
        return guests


class ListingRoutes:
    """Mixed into the sandbox's handler: one `_api_<name>` per route above."""

    server: Any
    query: dict[str, list[str]]
    headers: Any

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raise NotImplementedError

    # --- helpers ---

    def _param(self, name: str) -> str:
        return (self.query.get(name) or [""])[0]

    def _includes(self) -> set[str]:
        return {part for value in self.query.get("with", []) for part in value.split(",")}

    def _positive_int(self, name: str, default: int) -> int:
        value = self._param(name)
        return int(value) if value.isascii() and value.isdigit() and int(value) > 0 else default

    def _paging(self, *, default_per_page: int = 10) -> tuple[int, int]:
        page = self._positive_int("page", 1)
        per_page = min(self._positive_int("per_page", default_per_page), MAX_PER_PAGE)
        if self._listing_faults().get("ignore_page"):
            page = 1
        return page, per_page

    def _listing_faults(self) -> dict[str, Any]:
        """The broken-list faults, when they apply to this request's list."""
        faults = self.server.faults.snapshot()
        path = urlsplit(self.path).path.rstrip("/")
        return faults if path.endswith(faults["listing_faults_path"]) else {}

    def _page_answer(
        self,
        org_id: str,
        resource: str,
        data: list[dict[str, Any]],
        *,
        total: int,
        page: int,
        per_page: int,
        no_links: Any,
        pages_per: int | None = None,
    ) -> None:
        faults = self._listing_faults()
        if faults and page == faults["empty_page_at"]:
            data = []
        total = faults.get("total_override") or total
        total_pages = max(1, -(-total // (pages_per or per_page)))
        real_pages = max(1, -(-total // per_page))
        here = (
            f"http://{self.headers.get('Host', 'localhost')}/api/organizations/{org_id}/{resource}"
        )
        links = {
            name: f"{here}?page={number}&per_page={per_page}"
            for name, number in (("previous", page - 1), ("next", page + 1))
            if 1 <= number <= real_pages
        }
        pagination: dict[str, Any] = {
            "total": total,
            "count": len(data),
            "per_page": per_page,
            "current_page": page,
            "total_pages": total_pages,
            "links": links or no_links,
        }
        if faults.get("omit_total"):
            del pagination["total"]
        self._json(200, {"data": data, "meta": {"pagination": pagination}})

    def _listing(self) -> ListingStore:
        return ListingStore(self.server.store)

    def _run_json(
        self,
        org_id: str,
        row: Any,
        *,
        assets: list[StoredAsset] | None,
        prerun: dict[str, list[Any]] | None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": row["run_id"],
            "name": row["name"],
            "status": row["status"] or "active",
            "archived_at": row["archived_at"],
            "created_at": row["created_at"] or "",
            "checklist_id": row["checklist_id"],
            "checklist_title": row["checklist_title"],
        }
        if prerun is not None:
            data["prerun"] = prerun
        if assets is not None:
            data["assets"] = {"data": [_asset_json(a) for a in assets]}
        return data

    _RUN_SELECT = (
        "SELECT r.run_id, r.name, d.status, d.archived_at, d.created_at, d.checklist_id, "
        "t.title AS checklist_title FROM runs r LEFT JOIN run_details d ON d.run_id = r.run_id "
        "LEFT JOIN templates t ON t.template_id = d.checklist_id "
    )

    # --- routes ---

    def _api_list_runs(self, org_id: str, match: re.Match[str]) -> None:
        page, per_page = self._paging()
        where, params = ["r.org_id = ?"], [org_id]
        status = self._param("status")
        if self._archived_only() or status == "archived":
            where.append("d.archived_at IS NOT NULL")
        elif self._param("archived") != "true":
            where.append("d.archived_at IS NULL")
        if status and status != "archived":
            where.append("COALESCE(d.status, 'active') = ?")
            params.append(status)
        if q := self._param("q"):
            where.append("r.name LIKE ?")
            params.append(f"%{q}%")
        if checklist := self._param("checklist_id") or self._param("blueprint_id"):
            where.append("d.checklist_id = ?")
            params.append(checklist)
        clause = " AND ".join(where)
        store = self.server.store
        total = store.query(
            "SELECT COUNT(*) AS n FROM runs r LEFT JOIN run_details d ON d.run_id = r.run_id "  # noqa: S608
            f"WHERE {clause}",
            tuple(params),
        )[0]["n"]
        order = "d.created_at DESC, r.rowid DESC" if self._param("sort") else "r.rowid"
        rows = store.query(
            f"{self._RUN_SELECT} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
            (*params, per_page, (page - 1) * per_page),
        )
        ids = [row["run_id"] for row in rows]
        listing = self._listing()
        assets = listing.assets_by_subject(org_id, ids) if "assets" in self._includes() else None
        prerun = listing.field_values(org_id, ids)
        data = [
            self._run_json(
                org_id,
                row,
                assets=None if assets is None else assets[row["run_id"]],
                prerun=prerun[row["run_id"]],
            )
            for row in rows
        ]
        self._page_answer(
            org_id, "runs", data, total=total, page=page, per_page=per_page, no_links=[]
        )

    def _api_get_run(self, org_id: str, match: re.Match[str]) -> None:
        rows = self.server.store.query(
            f"{self._RUN_SELECT} WHERE r.org_id = ? AND r.run_id = ?", (org_id, match["run"])
        )
        if not rows:
            self._json(404, NOT_FOUND)
            return
        listing = self._listing()
        run_id = rows[0]["run_id"]
        includes = self._includes()
        assets = (
            listing.assets_by_subject(org_id, [run_id])[run_id] if "assets" in includes else None
        )
        data = self._run_json(
            org_id, rows[0], assets=assets, prerun=listing.field_values(org_id, [run_id])[run_id]
        )
        if "tasks" in includes:
            data["tasks"] = {"data": self._tasks_json(org_id, self._task_rows(org_id, run_id))}
        self._json(200, {"data": data})

    def _archived_only(self) -> bool:
        """`archived=only` asked for, unless the faults say to ignore it as some accounts do."""
        if self.server.faults.snapshot().get("ignore_archived_only"):
            return False
        return self._param("archived") == "only"

    def _task_rows(
        self, org_id: str, run_id: str | None, *, limit: int = -1, offset: int = 0
    ) -> list[Any]:
        if run_id is None:
            clause, params = self._tasks_filter(org_id)
            return self.server.store.query(
                f"SELECT t.* FROM tasks t LEFT JOIN run_details d ON d.run_id = t.run_id "  # noqa: S608
                f"WHERE {clause} ORDER BY t.created_at DESC, t.rowid DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        clause, params = self._guests_filter()
        return self.server.store.query(
            f"SELECT * FROM tasks t WHERE org_id = ? AND run_id = ?{clause} "  # noqa: S608
            "ORDER BY rowid LIMIT ? OFFSET ?",
            (org_id, run_id, *params, limit, offset),
        )

    def _guests_filter(self) -> tuple[str, list[Any]]:
        """`guests=` (emails, comma-separated): only the tasks assigned to one of them."""
        emails = [e.strip().lower() for e in self._param("guests").split(",") if e.strip()]
        if not emails:
            return "", []
        marks = ", ".join("?" * len(emails))
        return (
            f" AND t.task_id IN (SELECT task_id FROM task_guests WHERE email IN ({marks}))",  # noqa: S608
            emails,
        )

    def _tasks_filter(self, org_id: str) -> tuple[str, list[Any]]:
        """`GET /tasks`' filters. Archived tasks (a task's own archival, or its run's) only
        under `archived=only`; completed tasks only under `status=completed`: left out by
        default, as the API notes warn the server may do."""
        where, params = ["t.org_id = ?"], [org_id]
        if self._param("is_oneoff") == "true":
            where.append("t.is_oneoff = 1")
        archived = "(t.archived_at IS NOT NULL OR d.archived_at IS NOT NULL)"
        where.append(archived if self._archived_only() else f"NOT {archived}")
        if self._param("status") == "completed":
            where.append("t.completed_at IS NOT NULL")
        else:
            where.append("t.completed_at IS NULL")
        guests, emails = self._guests_filter()
        return " AND ".join(where) + guests, params + emails

    def _tasks_json(self, org_id: str, rows: list[Any]) -> list[dict[str, Any]]:
        listing = self._listing()
        task_ids = [row["task_id"] for row in rows]
        values = listing.field_values(org_id, task_ids)
        with_assets = "assets" in self._includes()
        own = listing.assets_by_subject(org_id, task_ids) if with_assets else {}
        run_ids = sorted({row["run_id"] for row in rows if row["run_id"]})
        of_runs = listing.assets_by_subject(org_id, run_ids) if with_assets else {}
        guests = listing.task_guests(task_ids)
        data = []
        for row in rows:
            task: dict[str, Any] = {
                "id": row["task_id"],
                "title": row["title"],
                "run_id": None if row["is_oneoff"] else row["run_id"],
                "step_id": row["step_id"],
                "is_oneoff_task": bool(row["is_oneoff"]),
                "created_at": row["created_at"],
                "archived_at": row["archived_at"],
                "status": "completed" if row["completed_at"] else "active",
                "completed_at": row["completed_at"],
                "taskdata": values[row["task_id"]],
                "owners": {"users": [], "groups": [], "guests": guests.get(row["task_id"], [])},
            }
            if with_assets:
                # A task's files: uploaded to it (one-off) or to its run at its step.
                files = own.get(row["task_id"], []) + [
                    asset
                    for asset in of_runs.get(row["run_id"] or "", [])
                    if row["step_id"] and asset.step_id == row["step_id"]
                ]
                task["assets"] = [_asset_json(a) for a in files]  # a bare list, unlike runs
            data.append(task)
        return data

    def _api_run_tasks(self, org_id: str, match: re.Match[str]) -> None:
        if not self.server.store.run(org_id=org_id, run_id=match["run"]):
            self._json(404, NOT_FOUND)
            return
        page, per_page = self._paging()
        rows = self._task_rows(org_id, match["run"], limit=per_page, offset=(page - 1) * per_page)
        clause, params = self._guests_filter()
        total = self.server.store.query(
            f"SELECT COUNT(*) AS n FROM tasks t WHERE org_id = ? AND run_id = ?{clause}",  # noqa: S608
            (org_id, match["run"], *params),
        )[0]["n"]
        self._page_answer(
            org_id,
            f"runs/{match['run']}/tasks",
            self._tasks_json(org_id, rows),
            total=total,
            page=page,
            per_page=per_page,
            no_links={},
        )

    def _api_list_tasks(self, org_id: str, match: re.Match[str]) -> None:
        page, per_page = self._paging()
        rows = self._task_rows(org_id, None, limit=per_page, offset=(page - 1) * per_page)
        clause, params = self._tasks_filter(org_id)
        total = self.server.store.query(
            "SELECT COUNT(*) AS n FROM tasks t LEFT JOIN run_details d ON d.run_id = t.run_id "  # noqa: S608
            f"WHERE {clause}",
            tuple(params),
        )[0]["n"]
        self._page_answer(
            org_id,
            "tasks",
            self._tasks_json(org_id, rows),
            total=total,
            page=page,
            per_page=per_page,
            no_links={},
        )

    def _api_list_templates(self, org_id: str, match: re.Match[str]) -> None:
        page, _ = self._paging()
        per_page = 10  # this endpoint ignores per_page, as some of Tallyfy's do
        archived = "IS NOT NULL" if self._archived_only() else "IS NULL"
        rows = self.server.store.query(
            f"SELECT template_id, title, archived_at FROM templates "  # noqa: S608
            f"WHERE org_id = ? AND archived_at {archived} ORDER BY rowid LIMIT ? OFFSET ?",
            (org_id, per_page, (page - 1) * per_page),
        )
        total = self.server.store.query(
            f"SELECT COUNT(*) AS n FROM templates WHERE org_id = ? AND archived_at {archived}",  # noqa: S608
            (org_id,),
        )[0]["n"]
        ids = [row["template_id"] for row in rows]
        assets = (
            self._listing().assets_by_subject(org_id, ids) if "assets" in self._includes() else None
        )
        data = []
        for row in rows:
            item: dict[str, Any] = {
                "id": row["template_id"],
                "title": row["title"],
                "archived_at": row["archived_at"],
            }
            if assets is not None:
                item["assets"] = {"data": [_asset_json(a) for a in assets[row["template_id"]]]}
            data.append(item)
        self._page_answer(
            org_id, "checklists", data, total=total, page=page, per_page=per_page, no_links=None
        )

    def _api_activity_feed(self, org_id: str, match: re.Match[str]) -> None:
        page, per_page = self._paging(default_per_page=20)
        where, params = ["org_id = ?"], [org_id]
        for name, column, operator in (
            ("verb", "verb", "="),
            ("actor_email", "actor_email", "="),
            ("actor_type", "actor_type", "="),
            ("created_after", "substr(created_at, 1, 10)", ">="),
            ("created_before", "substr(created_at, 1, 10)", "<="),
        ):
            if value := self._param(name):
                where.append(f"{column} {operator} ?")
                params.append(value)
        entity_column = _ENTITY_COLUMNS.get(self._param("entity_type").lower())
        if entity_column and self._param("entity_id"):
            where.append(f"{entity_column} = ?")
            params.append(self._param("entity_id"))
        clause = " AND ".join(where)
        order = "created_at DESC, id DESC" if self._param("sort") == "-created_at" else "id"
        rows = self.server.store.query(
            f"SELECT * FROM feed WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
            (*params, per_page, (page - 1) * per_page),
        )
        total = self.server.store.query(
            f"SELECT COUNT(*) AS n FROM feed WHERE {clause}",  # noqa: S608
            tuple(params),
        )[0]["n"]
        data = [_feed_entry(org_id, row) for row in rows]
        self._page_answer(
            org_id,
            "activity-feeds",
            data,
            total=total,
            page=page,
            per_page=per_page,
            no_links={},
            pages_per=20,
        )


_ENTITY_COLUMNS = {"run": "run_id", "task": "task_id", "checklist": "template_id"}
_PARENT_TYPES = (
    ("task_id", "App\\Models\\Task"),
    ("run_id", "App\\Models\\Run"),
    ("template_id", "App\\Models\\Checklist"),
)
_NESTED_KEYS = ("object", "asset", "subject", "entity")
# How an entry names its file, by its id unless the row says: see _feed_entry.
FEED_SHAPES = ("auditable", "nested", "parent", "auditable", "nested", "url")


def _feed_entry(org_id: str, row: Any) -> dict[str, Any]:
    """Both documented shapes: odd ids with one-element arrays (current docs), even ids with
    scalars (2025 Swagger). Where the file sits in an entry is undocumented, so each place the
    API notes name is used by some entries: a third name the file as the auditable (an
    asset-typed `auditable_*`); a third as a nested object (`object`, `asset`, `subject` or
    `entity`, in turn) with the parent (task, else run, else template) as the auditable; of
    the rest, half give the file's URL in `text`, half only the parent and, in the
    description, the file's name. `parentable_*` names the run when there is one."""
    arrays = row["id"] % 2 == 1

    def shaped(value: Any) -> Any:
        return [value] if arrays else value

    parent = next(
        ((kind, row[column]) for column, kind in _PARENT_TYPES if row[column]), (None, None)
    )
    entry: dict[str, Any] = {
        "id": str(row["id"]),
        "verb": shaped(row["verb"]),
        "source": shaped("web"),
        "actor_type": shaped(row["actor_type"]),
        "type": shaped("file"),
        "description": shaped(f"{row['verb']} {row['filename']}"),
        "actor": shaped({"email": row["actor_email"], "type": row["actor_type"]}),
        "created_at": row["created_at"],
        "auditable_type": parent[0],
        "auditable_id": parent[1],
        "parentable_type": "App\\Models\\Run" if row["run_id"] else None,
        "parentable_id": row["run_id"],
        "text": None,
        "references": None,
    }
    asset_id, shape = row["asset_id"], row["shape"] or FEED_SHAPES[row["id"] % 6]
    if asset_id and shape == "auditable":
        entry["auditable_type"] = "App\\Models\\Asset"
        entry["auditable_id"] = asset_id
    elif asset_id and shape == "nested":
        key = _NESTED_KEYS[row["id"] // 6 % len(_NESTED_KEYS)]
        entry[key] = {"type": "Asset" if arrays else "asset", "id": asset_id}
        entry[key]["filename"] = row["filename"]
    elif asset_id and shape == "url":
        entry["text"] = [f'<a href="/organizations/{org_id}/file/{asset_id}/dl">file</a>']
    return entry


def feed_add(
    store: Store,
    *,
    org_id: str,
    verb: str = "uploaded",
    actor_email: str,
    actor_type: str,
    asset_id: str | None,
    run_id: str | None,
    filename: str,
    created_at: str,
    task_id: str | None = None,
    template_id: str | None = None,
    shape: str | None = None,
) -> None:
    store.query(
        "INSERT INTO feed (org_id, verb, actor_email, actor_type, asset_id, run_id, filename, "
        "created_at, task_id, template_id, shape) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            org_id,
            verb,
            actor_email,
            actor_type,
            asset_id,
            run_id,
            filename,
            created_at,
            task_id,
            template_id,
            shape,
        ),
    )


def field_value_add(
    store: Store,
    *,
    owner_id: str,
    field_id: str,
    asset_id: str | None = None,
    link_url: str | None = None,
    link_name: str | None = None,
) -> None:
    store.query(
        "INSERT INTO field_values (owner_id, field_id, asset_id, link_url, link_name) "
        "VALUES (?, ?, ?, ?, ?)",
        (owner_id, field_id, asset_id, link_url, link_name),
    )


def run_details_set(
    store: Store,
    *,
    run_id: str,
    status: str,
    created_at: str,
    archived_at: str | None = None,
    checklist_id: str | None = None,
) -> None:
    store.query(
        "INSERT OR REPLACE INTO run_details (run_id, status, archived_at, checklist_id, "
        "created_at) VALUES (?, ?, ?, ?, ?)",
        (run_id, status, archived_at, checklist_id, created_at),
    )


def template_add(
    store: Store, *, org_id: str, template_id: str, title: str, archived_at: str | None = None
) -> None:
    store.query(
        "INSERT INTO templates (template_id, org_id, title, archived_at) VALUES (?, ?, ?, ?)",
        (template_id, org_id, title, archived_at),
    )


def task_add(
    store: Store,
    *,
    org_id: str,
    task_id: str,
    title: str,
    created_at: str,
    run_id: str | None = None,
    step_id: str | None = None,
    is_oneoff: bool = False,
    archived_at: str | None = None,
    completed_at: str | None = None,
) -> None:
    store.query(
        "INSERT INTO tasks (task_id, org_id, run_id, step_id, title, is_oneoff, created_at, "
        "archived_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task_id,
            org_id,
            run_id,
            step_id,
            title,
            int(is_oneoff),
            created_at,
            archived_at,
            completed_at,
        ),
    )


def task_guest_add(store: Store, *, task_id: str, email: str) -> None:
    """Assign the task to the guest `email` (once)."""
    store.query(
        "INSERT OR IGNORE INTO task_guests (task_id, email) VALUES (?, ?)",
        (task_id, email.lower()),
    )
