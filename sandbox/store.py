"""The sandbox's state: organizations, process runs and files, in one SQLite database."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    org_id TEXT PRIMARY KEY, name TEXT NOT NULL, token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, filename TEXT NOT NULL,
    content_type TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    uploaded_from TEXT NOT NULL, uploaded_at TEXT NOT NULL, step_id TEXT,
    subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
    size INTEGER NOT NULL, content BLOB, deleted_at TEXT, link_url TEXT
);
CREATE TABLE IF NOT EXISTS run_details (
    run_id TEXT PRIMARY KEY, status TEXT NOT NULL, archived_at TEXT, checklist_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    template_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, title TEXT NOT NULL, archived_at TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, run_id TEXT, step_id TEXT,
    title TEXT NOT NULL, is_oneoff INTEGER NOT NULL, created_at TEXT NOT NULL, archived_at TEXT,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS tasks_run ON tasks (run_id);
CREATE TABLE IF NOT EXISTS task_guests (
    task_id TEXT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (task_id, email)
);
CREATE TABLE IF NOT EXISTS field_values (
    owner_id TEXT NOT NULL, field_id TEXT NOT NULL, asset_id TEXT, link_url TEXT, link_name TEXT
);
CREATE INDEX IF NOT EXISTS field_values_owner ON field_values (owner_id);
CREATE TABLE IF NOT EXISTS feed (
    id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, verb TEXT NOT NULL, actor_email TEXT NOT NULL,
    actor_type TEXT NOT NULL, asset_id TEXT, run_id TEXT, filename TEXT, created_at TEXT NOT NULL,
    task_id TEXT, template_id TEXT, shape TEXT
);
CREATE INDEX IF NOT EXISTS assets_subject ON assets (org_id, subject_id);
"""
# Columns added since the first databases were written: (table, column), all TEXT.
_ADDED_COLUMNS = [
    ("tasks", "archived_at"),
    ("tasks", "completed_at"),
    ("feed", "task_id"),
    ("feed", "template_id"),
    ("feed", "shape"),
    ("assets", "link_url"),
]

CHUNK_BYTES = 256 * 1024


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class StoredAsset:
    asset_id: str
    org_id: str
    filename: str
    content_type: str
    version: int
    uploaded_from: str
    uploaded_at: str
    step_id: str | None
    subject_type: str
    subject_id: str
    size: int
    generated: bool
    link_url: str | None = None  # a link to elsewhere kept under an id, not a stored file

    def to_json(self) -> dict[str, Any]:
        if self.link_url:
            return {
                "id": self.asset_id,
                "filename": self.filename,
                "url": self.link_url,
                "source": "url",
                "uploaded_at": self.uploaded_at,
                "subject": {"id": self.subject_id, "type": self.subject_type},
            }
        return {
            "id": self.asset_id,
            "filename": self.filename,
            "version": self.version,
            "uploaded_from": self.uploaded_from,
            "uploaded_at": self.uploaded_at,
            "step_id": self.step_id,
            "source": "local",
            "system": None,
            "uploaded_to_s3": True,
            "subject": {"id": self.subject_id, "type": self.subject_type},
        }


def generated_bytes(asset_id: str, size: int) -> Iterator[bytes]:
    """Deterministic content for large files, so they need no storage."""
    block = hashlib.sha256(asset_id.encode()).digest() * (CHUNK_BYTES // 32)
    remaining = size
    while remaining > 0:
        piece = block[: min(CHUNK_BYTES, remaining)]
        remaining -= len(piece)
        yield piece


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            for table, column in _ADDED_COLUMNS:  # a database file from before they existed
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._query(sql, params)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            self._db.row_factory = sqlite3.Row
            return self._db.execute(sql, params).fetchall()

    def is_empty(self) -> bool:
        return not self._query("SELECT 1 FROM organizations LIMIT 1")

    def add_organization(self, *, org_id: str, name: str, token: str) -> None:
        self._query(
            "INSERT INTO organizations (org_id, name, token) VALUES (?, ?, ?)",
            (org_id, name, token),
        )

    def organization_for_token(self, token: str) -> str | None:
        rows = self._query("SELECT org_id FROM organizations WHERE token = ?", (token,))
        return rows[0]["org_id"] if rows else None

    def add_run(self, *, org_id: str, name: str, run_id: str | None = None) -> str:
        run_id = run_id or new_id()
        self._query(
            "INSERT INTO runs (run_id, org_id, name) VALUES (?, ?, ?)", (run_id, org_id, name)
        )
        return run_id

    def run(self, *, org_id: str, run_id: str) -> dict[str, str] | None:
        rows = self._query(
            "SELECT run_id, name FROM runs WHERE org_id = ? AND run_id = ?", (org_id, run_id)
        )
        return dict(rows[0]) if rows else None

    def runs(self, *, org_id: str, offset: int, limit: int) -> tuple[list[dict[str, str]], int]:
        """One page of the organization's runs, oldest first, and how many there are."""
        rows = self._query(
            "SELECT run_id, name FROM runs WHERE org_id = ? ORDER BY rowid LIMIT ? OFFSET ?",
            (org_id, limit, offset),
        )
        total = self._query("SELECT COUNT(*) AS n FROM runs WHERE org_id = ?", (org_id,))
        return [dict(r) for r in rows], int(total[0]["n"])

    def add_asset(
        self,
        *,
        org_id: str,
        filename: str,
        content_type: str,
        subject_type: str,
        subject_id: str,
        content: bytes | None = None,
        size: int | None = None,
        uploaded_from: str = "ko_field",
        step_id: str | None = None,
        asset_id: str | None = None,
        uploaded_at: str | None = None,
    ) -> StoredAsset:
        """Store `content`, or a generated body of `size` bytes when content is None."""
        asset_id = asset_id or new_id()
        uploaded_at = uploaded_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        length = len(content) if content is not None else int(size or 0)
        self._query(
            "INSERT INTO assets (asset_id, org_id, filename, content_type, uploaded_from, "
            "uploaded_at, step_id, subject_type, subject_id, size, content) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                asset_id,
                org_id,
                filename,
                content_type,
                uploaded_from,
                uploaded_at,
                step_id,
                subject_type,
                subject_id,
                length,
                content,
            ),
        )
        asset = self.asset(org_id=org_id, asset_id=asset_id)
        assert asset is not None
        return asset

    def add_link(
        self, *, org_id: str, url: str, name: str, subject_type: str, subject_id: str
    ) -> StoredAsset:
        """A link to elsewhere under an id of its own: GET /assets/{id} answers it with
        `source: "url"`; there is no file to download or delete."""
        link = self.add_asset(
            org_id=org_id,
            filename=name,
            content_type="text/uri-list",
            content=b"",
            subject_type=subject_type,
            subject_id=subject_id,
        )
        self._query("UPDATE assets SET link_url = ? WHERE asset_id = ?", (url, link.asset_id))
        stored = self.asset(org_id=org_id, asset_id=link.asset_id)
        assert stored is not None
        return stored

    def asset(self, *, org_id: str, asset_id: str) -> StoredAsset | None:
        rows = self._query(
            "SELECT asset_id, org_id, filename, content_type, version, uploaded_from, "
            "uploaded_at, step_id, subject_type, subject_id, size, content IS NULL AS generated, "
            "link_url FROM assets WHERE org_id = ? AND asset_id = ? AND deleted_at IS NULL",
            (org_id, asset_id),
        )
        return StoredAsset(**dict(rows[0])) if rows else None

    def assets_of_run(self, *, org_id: str, run_id: str) -> list[StoredAsset]:
        rows = self._query(
            "SELECT asset_id FROM assets WHERE org_id = ? AND subject_id = ? "
            "AND deleted_at IS NULL ORDER BY uploaded_at, asset_id",
            (org_id, run_id),
        )
        found = (self.asset(org_id=org_id, asset_id=r["asset_id"]) for r in rows)
        return [a for a in found if a is not None]

    def content(self, asset: StoredAsset) -> Iterator[bytes]:
        if asset.generated:
            yield from generated_bytes(asset.asset_id, asset.size)
            return
        rows = self._query("SELECT content FROM assets WHERE asset_id = ?", (asset.asset_id,))
        data = bytes(rows[0]["content"]) if rows else b""
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]

    def delete_asset(self, *, org_id: str, asset_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE assets SET deleted_at = ?, content = NULL "
                "WHERE org_id = ? AND asset_id = ? AND deleted_at IS NULL",
                (datetime.now(UTC).isoformat(), org_id, asset_id),
            )
            return cursor.rowcount == 1
