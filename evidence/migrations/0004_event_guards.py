"""The database refuses what the application never does to the events and the checkpoint
copies (as migration 0002 for the deletion log, whose docstring says how a later migration
lifts the guards, and what triggers cannot stop):

- evidence_event: no DELETE, no TRUNCATE; no UPDATE but clearing `user_id` alone, which
  deleting a user account does (`username` stays, and is what the seal covers).
- evidence_checkpointrecord: no UPDATE, no DELETE, no TRUNCATE.
"""

from django.db import migrations

_KEPT = [
    "id", "at", "action", "username", "object_type", "object_id", "organization_id", "org_id",
    "address", "detail",
]  # fmt: skip
_UNCHANGED = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in _KEPT)

POSTGRESQL = [
    """CREATE FUNCTION evidence_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.user_id IS NULL AND to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'UPDATE on evidence_event refused: events are append-only'
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER evidence_event_update BEFORE UPDATE ON evidence_event
    FOR EACH ROW EXECUTE FUNCTION evidence_event_update()""",
    """CREATE TRIGGER evidence_event_delete BEFORE DELETE ON evidence_event
    FOR EACH ROW EXECUTE FUNCTION evidence_refuse('events are append-only')""",
    """CREATE TRIGGER evidence_event_truncate BEFORE TRUNCATE ON evidence_event
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_refuse('events are append-only')""",
    """CREATE TRIGGER evidence_checkpoint_change BEFORE UPDATE OR DELETE
    ON evidence_checkpointrecord
    FOR EACH ROW EXECUTE FUNCTION evidence_refuse('checkpoints are append-only')""",
    """CREATE TRIGGER evidence_checkpoint_truncate BEFORE TRUNCATE ON evidence_checkpointrecord
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_refuse('checkpoints are append-only')""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS evidence_event_update ON evidence_event",
    "DROP TRIGGER IF EXISTS evidence_event_delete ON evidence_event",
    "DROP TRIGGER IF EXISTS evidence_event_truncate ON evidence_event",
    "DROP TRIGGER IF EXISTS evidence_checkpoint_change ON evidence_checkpointrecord",
    "DROP TRIGGER IF EXISTS evidence_checkpoint_truncate ON evidence_checkpointrecord",
    "DROP FUNCTION IF EXISTS evidence_event_update()",
]

SQLITE = [
    f"""CREATE TRIGGER evidence_event_update BEFORE UPDATE ON evidence_event
    WHEN NOT (NEW.user_id IS NULL AND {_UNCHANGED})
    BEGIN
        SELECT RAISE(ABORT, 'UPDATE on evidence_event refused: events are append-only');
    END""",
    """CREATE TRIGGER evidence_event_delete BEFORE DELETE ON evidence_event
    BEGIN
        SELECT RAISE(ABORT, 'DELETE on evidence_event refused: events are append-only');
    END""",
    """CREATE TRIGGER evidence_checkpoint_update BEFORE UPDATE ON evidence_checkpointrecord
    BEGIN
        SELECT RAISE(ABORT, 'UPDATE on evidence_checkpointrecord refused: checkpoints are append-only');
    END""",
    """CREATE TRIGGER evidence_checkpoint_delete BEFORE DELETE ON evidence_checkpointrecord
    BEGIN
        SELECT RAISE(ABORT, 'DELETE on evidence_checkpointrecord refused: checkpoints are append-only');
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS evidence_event_update",
    "DROP TRIGGER IF EXISTS evidence_event_delete",
    "DROP TRIGGER IF EXISTS evidence_checkpoint_update",
    "DROP TRIGGER IF EXISTS evidence_checkpoint_delete",
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
    dependencies = [("evidence", "0003_events_and_checkpoints")]

    operations = [migrations.RunPython(install, remove)]
