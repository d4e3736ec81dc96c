"""On PostgreSQL, a page's or a job's slot is taken by one function call: the slot book's row
is locked, the slot computed on the database's clock read after the lock, and the book moved,
all inside the database (services.slot_reserve explains why). SQLite keeps the reservation in
Python, under the write lock BEGIN IMMEDIATE takes."""

from django.db import migrations

CREATE = """
CREATE FUNCTION throttling_slot_take(
    organization bigint, max_wait double precision, background boolean, default_rate integer
) RETURNS TABLE (
    slot timestamptz, database_now timestamptz, interval_seconds double precision, taken boolean
) LANGUAGE plpgsql AS $$
DECLARE
    book throttling_ratelimit%ROWTYPE;
    moment timestamptz;
    gap double precision;
    free timestamptz;
    ahead double precision;
BEGIN
    SELECT * INTO book FROM throttling_ratelimit
        WHERE organization_id = organization FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    moment := clock_timestamp();
    gap := 60.0 / COALESCE(NULLIF(book.per_minute, 0), default_rate);
    free := GREATEST(book.next_slot_at, book.held_until, moment);
    ahead := EXTRACT(EPOCH FROM free - moment);
    IF (max_wait IS NOT NULL AND ahead > max_wait) OR (background AND ahead > gap) THEN
        RETURN QUERY SELECT free, moment, gap, false;
        RETURN;
    END IF;
    UPDATE throttling_ratelimit SET next_slot_at = free + make_interval(secs => gap)
        WHERE organization_id = organization;
    RETURN QUERY SELECT free, moment, gap, true;
END $$
"""

DROP = "DROP FUNCTION throttling_slot_take(bigint, double precision, boolean, integer)"


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("throttling", "0002_organizations_app")]

    operations = [migrations.RunPython(install, remove)]
