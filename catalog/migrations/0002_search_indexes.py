"""Indexes for the file index's search (catalog/search.py says how they are used).

PostgreSQL: trigram indexes on the folded file name (searched with `LIKE '%word%'`) and on
UPPER() of the run name, the template name and the uploader's email (the admin's `icontains`).
SQLite: a full-text table with a trigram tokenizer over the same four columns, kept in step by
triggers; without FTS5's trigram tokenizer (SQLite before 3.34) it is left out and the search
reads the table. The models' state is unchanged on every database.
"""

import warnings

from django.db import DatabaseError, migrations, transaction

TABLE = "catalog_indexedfile_search"
COLUMNS = "file_name_folded, run_name, template_name, uploader_email"
NEW = "new.file_name_folded, new.run_name, new.template_name, new.uploader_email"
OLD = "old.file_name_folded, old.run_name, old.template_name, old.uploader_email"

POSTGRES_INDEXES = {
    "catalog_name_folded_trgm": "USING gin (file_name_folded gin_trgm_ops)",
    "catalog_run_name_trgm": "USING gin (UPPER(run_name) gin_trgm_ops)",
    "catalog_template_name_trgm": "USING gin (UPPER(template_name) gin_trgm_ops)",
    "catalog_uploader_trgm": "USING gin (UPPER(uploader_email) gin_trgm_ops)",
}

SQLITE_TEXT_TABLE = [
    f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
        {COLUMNS}, content='catalog_indexedfile', content_rowid='id',
        tokenize='trigram case_sensitive 0')""",
    f"""CREATE TRIGGER {TABLE}_insert AFTER INSERT ON catalog_indexedfile BEGIN
        INSERT INTO {TABLE}(rowid, {COLUMNS}) VALUES (new.id, {NEW});
    END""",
    f"""CREATE TRIGGER {TABLE}_delete AFTER DELETE ON catalog_indexedfile BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD});
    END""",
    f"""CREATE TRIGGER {TABLE}_update AFTER UPDATE OF {COLUMNS} ON catalog_indexedfile
    BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD});
        INSERT INTO {TABLE}(rowid, {COLUMNS}) VALUES (new.id, {NEW});
    END""",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in POSTGRES_INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {name} ON catalog_indexedfile {definition}")
    elif vendor == "sqlite":
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                for statement in SQLITE_TEXT_TABLE:
                    schema_editor.execute(statement)
        except DatabaseError as exc:
            warnings.warn(
                f"The file index's search will read the whole index: this SQLite has no FTS5 "
                f"trigram tokenizer ({exc}).",
                stacklevel=1,
            )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in POSTGRES_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    elif vendor == "sqlite":
        for trigger in ("insert", "delete", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
