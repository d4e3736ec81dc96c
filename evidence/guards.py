"""The database's guards on the evidence tables (migrations 0002, 0004): which are
in place, and lifting them for one transaction where a maintenance step needs it (a later
migration, the test suite's flush between tests). Nothing of the application lifts them."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

_MIGRATIONS = [
    importlib.import_module("evidence.migrations.0002_guards"),
    importlib.import_module("evidence.migrations.0004_event_guards"),
]

EXPECTED = {
    "postgresql": {
        "evidence_deletion_update",
        "evidence_deletion_delete",
        "evidence_deletion_truncate",
        "evidence_seal_change",
        "evidence_seal_truncate",
        "evidence_head_update",
        "evidence_head_delete",
        "evidence_head_truncate",
        "evidence_event_update",
        "evidence_event_delete",
        "evidence_event_truncate",
        "evidence_checkpoint_change",
        "evidence_checkpoint_truncate",
    },
    "sqlite": {
        "evidence_deletion_update",
        "evidence_deletion_delete",
        "evidence_seal_update",
        "evidence_seal_delete",
        "evidence_head_update",
        "evidence_head_delete",
        "evidence_event_update",
        "evidence_event_delete",
        "evidence_checkpoint_update",
        "evidence_checkpoint_delete",
    },
}


def _installed(connection: BaseDatabaseWrapper) -> list[tuple[str, str, str]]:
    """(table, trigger, its SQL on SQLite) for each evidence_* trigger, enabled or not."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname, '' FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgname LIKE 'evidence\\_%%' AND tgenabled <> 'D'"
            )
        else:
            cursor.execute(
                "SELECT tbl_name, name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE 'evidence\\_%' ESCAPE '\\'"
            )
        return [tuple(row) for row in cursor.fetchall()]


def guards_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """The guards this database should have and has not (dropped, disabled), by name."""
    expected = EXPECTED.get(connection.vendor)
    if expected is None:
        return [f"no guards are written for {connection.vendor}"]
    return sorted(expected - {name for _, name, _ in _installed(connection)})


@contextmanager
def guards_lifted(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Inside the caller's transaction: the evidence triggers are off until the block ends,
    for this transaction only on PostgreSQL (other sessions wait for the table's lock)."""
    if not connection.in_atomic_block:
        raise RuntimeError("guards are lifted only inside a transaction")
    triggers = _installed(connection)
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            # ALTER TABLE waits for no deferred foreign-key check: run those first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _sql in triggers:
            if postgresql:
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{name}"')
            else:
                cursor.execute(f'DROP TRIGGER "{name}"')
        yield
        if postgresql:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, sql in triggers:
            if postgresql:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{name}"')
            else:
                cursor.execute(sql)
        if postgresql:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def guards_reinstall(connection: BaseDatabaseWrapper) -> None:
    """Put every guard back as migrations 0002 and 0004 wrote them (SQLite rebuilt a table)."""
    statements = [m.STATEMENTS[connection.vendor] for m in _MIGRATIONS]
    removes = [s for _, remove in reversed(statements) for s in remove]
    installs = [s for install, _ in statements for s in install]
    with connection.cursor() as cursor:
        for statement in [*removes, *installs]:
            cursor.execute(statement, None)
