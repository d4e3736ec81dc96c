"""Indexes for the deletion log's free-text search, on PostgreSQL.

The admin searches a term as `UPPER(file_name) LIKE UPPER('%term%')` (and the same for the
reason), and as `UPPER(x) = UPPER('term')` for the asset id and the username. Trigram indexes
answer the first kind and expression indexes the second, so a search by file name at a
million rows reads the matching rows instead of the whole table. pg_trgm is a trusted
extension (PostgreSQL 13 and later): the database's owner may install it.

Other databases get nothing here: the state of the models is unchanged, and the indexes
exist only in PostgreSQL's schema.
"""

from django.db import migrations

INDEXES = {
    "deletion_file_name_trgm": "USING gin (UPPER(file_name) gin_trgm_ops)",
    "deletion_reason_trgm": "USING gin (UPPER(reason) gin_trgm_ops)",
    "deletion_asset_upper_idx": "(UPPER(asset_id))",
    "deletion_username_upper_idx": "(UPPER(username))",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON files_filedeletion {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("files", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
