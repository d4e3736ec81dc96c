"""The deletion log's search indexes on SQLite (files/log_search.py says how they are used).

A full-text table with a trigram tokenizer over the file names and reasons, kept in step by
triggers, and case-insensitive indexes on the file id and the username. SQLite before 3.34,
or built without FTS5, has no trigram tokenizer: the table is then left out and the search
reads the log as before. Other databases get nothing here, and the models' state is unchanged.
"""

import warnings

from django.db import DatabaseError, migrations, transaction

TABLE = "files_filedeletion_search"

TEXT_TABLE = [
    f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
        file_name, reason, content='files_filedeletion', content_rowid='id',
        tokenize='trigram case_sensitive 0')""",
    f"""CREATE TRIGGER {TABLE}_insert AFTER INSERT ON files_filedeletion BEGIN
        INSERT INTO {TABLE}(rowid, file_name, reason) VALUES (new.id, new.file_name, new.reason);
    END""",
    f"""CREATE TRIGGER {TABLE}_delete AFTER DELETE ON files_filedeletion BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, file_name, reason)
        VALUES ('delete', old.id, old.file_name, old.reason);
    END""",
    f"""CREATE TRIGGER {TABLE}_update AFTER UPDATE OF file_name, reason ON files_filedeletion
    BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, file_name, reason)
        VALUES ('delete', old.id, old.file_name, old.reason);
        INSERT INTO {TABLE}(rowid, file_name, reason) VALUES (new.id, new.file_name, new.reason);
    END""",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
]
INDEXES = {
    "deletion_asset_nocase_idx": "(asset_id COLLATE NOCASE)",
    "deletion_username_nocase_idx": "(username COLLATE NOCASE)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON files_filedeletion {definition}")
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            for statement in TEXT_TABLE:
                schema_editor.execute(statement)
    except DatabaseError as exc:
        warnings.warn(
            f"The deletion log's search will read the whole log: this SQLite has no FTS5 "
            f"trigram tokenizer ({exc}).",
            stacklevel=1,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("files", "0002_log_search_indexes")]

    operations = [migrations.RunPython(create, drop)]
