"""What migrations need to keep the index's SQLite search working when SQLite rebuilds the
file table (it does for most column changes): the rebuilt table loses the triggers that keep
the full-text tables of migration 0003 current, and the case-blind email index. The
full-text tables themselves, and their rows, survive (they are keyed by the rows' ids)."""

from __future__ import annotations

from typing import Any

NAMES = ("catalog_indexedfile_search", "file_name_folded, run_name, template_name")
UPLOADERS = ("catalog_indexedfile_uploader_search", "uploader_email")


def _triggers(table: str, columns: str) -> list[str]:
    # Names are this module's constants, never input.
    new = ", ".join(f"new.{column.strip()}" for column in columns.split(","))
    old = ", ".join(f"old.{column.strip()}" for column in columns.split(","))
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_insert AFTER INSERT ON catalog_indexedfile
        BEGIN
            INSERT INTO {table}(rowid, {columns}) VALUES (new.id, {new});
        END""",  # noqa: S608
        f"""CREATE TRIGGER IF NOT EXISTS {table}_delete AFTER DELETE ON catalog_indexedfile
        BEGIN
            INSERT INTO {table}({table}, rowid, {columns}) VALUES ('delete', old.id, {old});
        END""",  # noqa: S608
        f"""CREATE TRIGGER IF NOT EXISTS {table}_update
        AFTER UPDATE OF {columns} ON catalog_indexedfile
        BEGIN
            INSERT INTO {table}({table}, rowid, {columns}) VALUES ('delete', old.id, {old});
            INSERT INTO {table}(rowid, {columns}) VALUES (new.id, {new});
        END""",  # noqa: S608
    ]


def sqlite_search_restore(apps: Any, schema_editor: Any) -> None:
    """After SQLite rebuilt catalog_indexedfile: its search triggers and email index again,
    where the full-text tables exist (an SQLite without FTS5's trigram tokenizer has none)."""
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS catalog_uploader_nocase_idx ON catalog_indexedfile "
        "(uploader_email COLLATE NOCASE)"
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in cursor.fetchall()}
    for table, columns in (NAMES, UPLOADERS):
        if table in tables:
            for statement in _triggers(table, columns):
                schema_editor.execute(statement)
