"""Search by uploader through indexes of its own (catalog/search.py says how they are used).

- The asset id index leads with the asset id, so a search word that could be a file id is
  looked up without reading the whole index.
- A whole email address is looked up exactly, any case: PostgreSQL gets an index on
  UPPER(uploader_email) (what `iexact` compares), SQLite one on the email with NOCASE (its
  LIKE optimization uses it).
- SQLite's full-text table of migration 0002 is split in two: the names (file, run,
  template) and the uploaders' emails, so a word's trigrams that are in every email do not
  make name searches read every row. Without FTS5's trigram tokenizer both are left out, as
  in 0002.
"""

import warnings

from django.db import DatabaseError, migrations, models, transaction

NAMES = "catalog_indexedfile_search"
UPLOADERS = "catalog_indexedfile_uploader_search"
NAME_COLUMNS = "file_name_folded, run_name, template_name"
EMAIL_COLUMNS = "uploader_email"


def _text_table(table: str, columns: str) -> list[str]:
    new = ", ".join(f"new.{column.strip()}" for column in columns.split(","))
    old = ", ".join(f"old.{column.strip()}" for column in columns.split(","))
    return [
        f"""CREATE VIRTUAL TABLE {table} USING fts5(
            {columns}, content='catalog_indexedfile', content_rowid='id',
            tokenize='trigram case_sensitive 0')""",
        f"""CREATE TRIGGER {table}_insert AFTER INSERT ON catalog_indexedfile BEGIN
            INSERT INTO {table}(rowid, {columns}) VALUES (new.id, {new});
        END""",
        f"""CREATE TRIGGER {table}_delete AFTER DELETE ON catalog_indexedfile BEGIN
            INSERT INTO {table}({table}, rowid, {columns}) VALUES ('delete', old.id, {old});
        END""",
        f"""CREATE TRIGGER {table}_update AFTER UPDATE OF {columns} ON catalog_indexedfile
        BEGIN
            INSERT INTO {table}({table}, rowid, {columns}) VALUES ('delete', old.id, {old});
            INSERT INTO {table}(rowid, {columns}) VALUES (new.id, {new});
        END""",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    ]


def _drop_text_table(schema_editor, table: str) -> None:
    for trigger in ("insert", "delete", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_{trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


def _create_text_tables(schema_editor, tables: list[tuple[str, str]]) -> None:
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            for table, columns in tables:
                for statement in _text_table(table, columns):
                    schema_editor.execute(statement)
    except DatabaseError as exc:
        warnings.warn(
            f"The file index's search will read the whole index: this SQLite has no FTS5 "
            f"trigram tokenizer ({exc}).",
            stacklevel=1,
        )


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX catalog_uploader_upper_idx ON catalog_indexedfile "
            "(UPPER(uploader_email))"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE INDEX catalog_uploader_nocase_idx ON catalog_indexedfile "
            "(uploader_email COLLATE NOCASE)"
        )
        _drop_text_table(schema_editor, NAMES)
        _create_text_tables(schema_editor, [(NAMES, NAME_COLUMNS), (UPLOADERS, EMAIL_COLUMNS)])


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_uploader_upper_idx")
    elif vendor == "sqlite":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_uploader_nocase_idx")
        _drop_text_table(schema_editor, UPLOADERS)
        _drop_text_table(schema_editor, NAMES)
        _create_text_tables(schema_editor, [(NAMES, f"{NAME_COLUMNS}, {EMAIL_COLUMNS}")])


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_search_indexes"),
        ("files", "0006_organization_last_connected_at"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="indexedfile", name="catalog_asset_idx"),
        migrations.AddIndex(
            model_name="indexedfile",
            index=models.Index(fields=["asset_id", "organization"], name="catalog_asset_org_idx"),
        ),
        migrations.RunPython(create, drop),
    ]
