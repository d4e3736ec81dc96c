"""A staff member's permissions, read by the panel's pages in one query."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admin_pages.permissions import permissions_read


def permissions(*codenames: str) -> list[Permission]:
    return list(Permission.objects.filter(codename__in=codenames))


def test_one_query_reads_what_djangos_backend_reads_in_two(db: None) -> None:
    lookers = Group.objects.create(name="Test lookers")
    lookers.permissions.set(permissions("lookup_file", "view_filedeletion"))
    deleters = Group.objects.create(name="Test deleters")
    deleters.permissions.set(permissions("delete_file", "lookup_file"))
    own_only = User.objects.create_user("own-only", is_staff=True)
    own_only.user_permissions.set(permissions("lookup_file"))
    grouped = User.objects.create_user("grouped", is_staff=True)
    grouped.groups.set([lookers, deleters])
    both = User.objects.create_user("both", is_staff=True)
    both.user_permissions.set(permissions("view_scan", "lookup_file"))
    both.groups.set([deleters])
    inactive = User.objects.create_user("inactive", is_staff=True, is_active=False)
    inactive.user_permissions.set(permissions("lookup_file"))
    users = [own_only, grouped, both, inactive, User.objects.create_user("none", is_staff=True)]
    for user in users:
        read = User.objects.get(pk=user.pk)  # a new request's user
        with CaptureQueriesContext(connection) as queries:
            permissions_read(read)
        assert len(queries) == (1 if user.is_active else 0), user.username
        asked = User.objects.get(pk=user.pk)
        expected = ModelBackend().get_all_permissions(asked)
        assert ModelBackend().get_all_permissions(read) == expected, user.username
        with CaptureQueriesContext(connection) as queries:
            for perm in ("files.lookup_file", "files.delete_file", "catalog.view_scan"):
                assert read.has_perm(perm) == asked.has_perm(perm), (user.username, perm)
        assert len(queries) == 0, user.username
    assert ModelBackend().get_all_permissions(User.objects.get(pk=both.pk)) == {
        "files.lookup_file",
        "files.delete_file",
        "catalog.view_scan",
    }


def test_a_superusers_permissions_are_not_read(db: None) -> None:
    root = User.objects.create_superuser("root", password="pw-for-tests-only")
    with CaptureQueriesContext(connection) as queries:
        permissions_read(root)
        assert root.has_perm("files.delete_file")
    assert len(queries) == 0
