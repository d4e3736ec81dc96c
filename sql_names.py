"""Names of a model's table and columns as the database spells them, quoted, for the few
queries the panel writes out where the ORM would cost more to build a query than the database
takes to run it (each says so). Values never go here: they are always parameters."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field: str) -> str:
    """`field`'s column, qualified by its table ("table"."column")."""
    return f"{table(model)}.{connection.ops.quote_name(model._meta.get_field(field).column)}"
