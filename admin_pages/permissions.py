"""A staff member's permissions, read once a request in one written-out query."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from sql_names import column, table

MODEL_BACKEND = "accounts.backends.SignedInUserBackend"  # Django's ModelBackend, subclassed
# Where Django's ModelBackend keeps a user's permissions, their own and their groups', for
# the rest of the request; it reads them only when this is not set.
_PERM_CACHE = "_perm_cache"


def permissions_read(user: AbstractBaseUser | AnonymousUser) -> None:
    """Read the user's permissions, their own and their groups', as Django's ModelBackend
    would, and keep them where it looks. It asks two queries the ORM builds (over 1.5 ms
    each a staff page); this is one, written out. Superusers have every permission unread."""
    if (
        MODEL_BACKEND not in settings.AUTHENTICATION_BACKENDS
        or not user.is_active
        or user.is_anonymous
        or user.is_superuser
        or hasattr(user, _PERM_CACHE)
    ):
        return
    with connection.cursor() as cursor:
        cursor.execute(_permissions_sql(), [user.pk, user.pk])
        rows = cursor.fetchall()
    setattr(user, _PERM_CACHE, {f"{app_label}.{codename}" for app_label, codename in rows})


@cache
def _permissions_sql() -> str:
    # Table and column names come from the models, values are parameters.
    own = get_user_model().user_permissions.through
    in_group = get_user_model().groups.through
    of_group = Group.permissions.through
    granted = (
        f"SELECT {column(own, 'permission')} FROM {table(own)} "  # noqa: S608
        f"WHERE {column(own, 'user')} = %s "
        f"UNION SELECT {column(of_group, 'permission')} FROM {table(of_group)} "
        f"INNER JOIN {table(in_group)} "
        f"ON {column(in_group, 'group')} = {column(of_group, 'group')} "
        f"WHERE {column(in_group, 'user')} = %s"
    )
    return (
        f"SELECT {column(ContentType, 'app_label')}, {column(Permission, 'codename')} "  # noqa: S608
        f"FROM {table(Permission)} INNER JOIN {table(ContentType)} "
        f"ON {column(ContentType, 'id')} = {column(Permission, 'content_type')} "
        f"WHERE {column(Permission, 'id')} IN ({granted})"
    )
