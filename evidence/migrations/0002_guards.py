"""The database refuses what the application never does, written by hand for each database.

- files_filedeletion: no DELETE (and no TRUNCATE on PostgreSQL); no UPDATE of a settled row
  (any state but `pending` and `unknown`), except clearing `user_id` alone, which deleting a
  user account does (the row's `username` stays, and is what the seal covers).
- evidence_seal: no UPDATE, no DELETE, no TRUNCATE.
- evidence_chainhead: no DELETE, no TRUNCATE; an UPDATE only moves it one seal on.
A refusal is an IntegrityError naming the table. django-pgtrigger is not used: its triggers
skip themselves whenever a session sets `pgtrigger.ignore`, which any connection may do.

What triggers cannot stop: a table owner or superuser can drop or disable them, and anyone
who can write a SQLite file can do anything to it. The signed checkpoints, kept outside the
database (seal_deletion_log), are what catch that.

A later migration that must change rows of these tables lifts the guards for the length of
its own transaction, and only there:
- PostgreSQL: `ALTER TABLE files_filedeletion DISABLE TRIGGER evidence_deletion_update;`
  then the change, then `ALTER TABLE files_filedeletion ENABLE TRIGGER
  evidence_deletion_update;`, all in the migration (migrations are atomic on PostgreSQL, so
  no other session ever sees the table unguarded). Or, in a RunPython,
  `with evidence.guards.guards_lifted(schema_editor.connection): ...`, which does that for
  every evidence_* trigger and works on SQLite too.
- SQLite: a schema change that Django makes by rebuilding the table (most AlterField,
  AddField with a default, RemoveField on files_filedeletion) drops the table's triggers with
  the old table. Such a migration must depend on this one and end with a RunPython that
  calls `evidence.guards.guards_reinstall(schema_editor.connection)` (it runs the statements
  below again); `verify_deletion_log` reports any guard that is missing.
"""

from django.db import migrations

UNSETTLED = "('pending', 'unknown')"

POSTGRESQL = [
    """CREATE FUNCTION evidence_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% on % refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    f"""CREATE FUNCTION evidence_deletion_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.state IN {UNSETTLED} THEN
            RETURN NEW;
        END IF;
        IF NEW.user_id IS NULL AND to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'UPDATE on files_filedeletion refused: row % is settled (%), and '
            'the deletion log is append-only', OLD.id, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE FUNCTION evidence_head_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id = OLD.id AND NEW.seq = OLD.seq + 1 THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'UPDATE on evidence_chainhead refused: the head only moves one seal on'
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER evidence_deletion_update BEFORE UPDATE ON files_filedeletion
    FOR EACH ROW EXECUTE FUNCTION evidence_deletion_update()""",
    """CREATE TRIGGER evidence_deletion_delete BEFORE DELETE ON files_filedeletion
    FOR EACH ROW EXECUTE FUNCTION evidence_refuse('the deletion log is append-only')""",
    """CREATE TRIGGER evidence_deletion_truncate BEFORE TRUNCATE ON files_filedeletion
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_refuse('the deletion log is append-only')""",
    """CREATE TRIGGER evidence_seal_change BEFORE UPDATE OR DELETE ON evidence_seal
    FOR EACH ROW EXECUTE FUNCTION evidence_refuse('seals are append-only')""",
    """CREATE TRIGGER evidence_seal_truncate BEFORE TRUNCATE ON evidence_seal
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_refuse('seals are append-only')""",
    """CREATE TRIGGER evidence_head_update BEFORE UPDATE ON evidence_chainhead
    FOR EACH ROW EXECUTE FUNCTION evidence_head_update()""",
    """CREATE TRIGGER evidence_head_delete BEFORE DELETE ON evidence_chainhead
    FOR EACH ROW EXECUTE FUNCTION evidence_refuse('the seal chain keeps its head')""",
    """CREATE TRIGGER evidence_head_truncate BEFORE TRUNCATE ON evidence_chainhead
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_refuse('the seal chain keeps its head')""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS evidence_deletion_update ON files_filedeletion",
    "DROP TRIGGER IF EXISTS evidence_deletion_delete ON files_filedeletion",
    "DROP TRIGGER IF EXISTS evidence_deletion_truncate ON files_filedeletion",
    "DROP TRIGGER IF EXISTS evidence_seal_change ON evidence_seal",
    "DROP TRIGGER IF EXISTS evidence_seal_truncate ON evidence_seal",
    "DROP TRIGGER IF EXISTS evidence_head_update ON evidence_chainhead",
    "DROP TRIGGER IF EXISTS evidence_head_delete ON evidence_chainhead",
    "DROP TRIGGER IF EXISTS evidence_head_truncate ON evidence_chainhead",
    "DROP FUNCTION IF EXISTS evidence_deletion_update()",
    "DROP FUNCTION IF EXISTS evidence_head_update()",
    "DROP FUNCTION IF EXISTS evidence_refuse()",
]

# Every column but user_id, unchanged: the one UPDATE of a settled row let through.
_KEPT = [
    "id", "organization_id", "org_id", "asset_id", "file_name", "subject_type", "subject_id",
    "uploaded_at", "metadata", "username", "reason", "state", "http_status", "error_message",
    "outcome", "request_id", "attempts", "job_id", "started_at", "finished_at",
]
_UNCHANGED = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in _KEPT)

SQLITE = [
    f"""CREATE TRIGGER evidence_deletion_update BEFORE UPDATE ON files_filedeletion
    WHEN OLD.state NOT IN {UNSETTLED} AND NOT (NEW.user_id IS NULL AND {_UNCHANGED})
    BEGIN
        SELECT RAISE(ABORT, 'UPDATE on files_filedeletion refused: the row is settled, and the deletion log is append-only');
    END""",
    """CREATE TRIGGER evidence_deletion_delete BEFORE DELETE ON files_filedeletion
    BEGIN
        SELECT RAISE(ABORT, 'DELETE on files_filedeletion refused: the deletion log is append-only');
    END""",
    """CREATE TRIGGER evidence_seal_update BEFORE UPDATE ON evidence_seal
    BEGIN
        SELECT RAISE(ABORT, 'UPDATE on evidence_seal refused: seals are append-only');
    END""",
    """CREATE TRIGGER evidence_seal_delete BEFORE DELETE ON evidence_seal
    BEGIN
        SELECT RAISE(ABORT, 'DELETE on evidence_seal refused: seals are append-only');
    END""",
    """CREATE TRIGGER evidence_head_update BEFORE UPDATE ON evidence_chainhead
    WHEN NOT (NEW.id IS OLD.id AND NEW.seq = OLD.seq + 1)
    BEGIN
        SELECT RAISE(ABORT, 'UPDATE on evidence_chainhead refused: the head only moves one seal on');
    END""",
    """CREATE TRIGGER evidence_head_delete BEFORE DELETE ON evidence_chainhead
    BEGIN
        SELECT RAISE(ABORT, 'DELETE on evidence_chainhead refused: the seal chain keeps its head');
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS evidence_deletion_update",
    "DROP TRIGGER IF EXISTS evidence_deletion_delete",
    "DROP TRIGGER IF EXISTS evidence_seal_update",
    "DROP TRIGGER IF EXISTS evidence_seal_delete",
    "DROP TRIGGER IF EXISTS evidence_head_update",
    "DROP TRIGGER IF EXISTS evidence_head_delete",
]

STATEMENTS = {"postgresql": (POSTGRESQL, POSTGRESQL_REVERSE), "sqlite": (SQLITE, SQLITE_REVERSE)}


def _run(schema_editor, which):
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise NotImplementedError(f"no guards written for {vendor}: write them before using it")
    for statement in STATEMENTS[vendor][which]:
        schema_editor.execute(statement, params=None)


def install(apps, schema_editor):
    _run(schema_editor, 0)


def remove(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0001_seal_chain"),
        ("files", "0007_organization_moves_out"),
    ]

    operations = [migrations.RunPython(install, remove)]
