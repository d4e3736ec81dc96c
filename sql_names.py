"""Names of a model's table and columns as the database spells them, quoted, for the few
queries the panel writes out where the ORM would cost more to build a query than the database
takes to run it (each says so). Values never go here: they are always parameters."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field: str, *, qualified: bool = True) -> str:
    """`field`'s column, qualified by its table ("table"."column") unless `qualified` is false
    (as an UPDATE's SET clause needs it)."""
    name = connection.ops.quote_name(model._meta.get_field(field).column)
    return f"{table(model)}.{name}" if qualified else name
