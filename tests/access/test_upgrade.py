"""An upgrade changes nothing until organization access is configured: users who existed reach
every organization; the permission list loses its traps; the ready groups are there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from organizations.models import OrganizationAccess
from organizations.selectors import organizations_for
from tests.fixtures.organizations import make_organization

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_ACCESS = [
    ("organizations", "0001_initial"),
    ("files", "0007_organization_moves_out"),
    ("jobs", "0006_job_built_from_and_warning"),
    ("catalog", "0007_complete_index"),
]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the next test's schema


def test_users_from_before_reach_every_organization_and_later_ones_none(
    executor: MigrationExecutor,
) -> None:
    executor.migrate(BEFORE_ACCESS)
    before = User.objects.create_user("before", is_staff=True)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    acme = make_organization()
    assert OrganizationAccess.objects.get(user=before).all_organizations
    assert list(organizations_for(User.objects.get(pk=before.pk))) == [acme]
    after = User.objects.create_user("after", is_staff=True)
    assert not organizations_for(after).exists()


def test_the_permission_list_loses_its_traps_and_names_what_each_allows(
    executor: MigrationExecutor,
) -> None:
    executor.migrate(BEFORE_ACCESS)
    index = ContentType.objects.get(app_label="catalog", model="indexedfile")
    log = ContentType.objects.get(app_label="files", model="filedeletion")
    trap = Permission.objects.create(
        content_type=index, codename="delete_indexedfile", name="Can delete Tallyfy file"
    )
    Permission.objects.filter(content_type=log, codename="view_filedeletion").update(
        name="Can view file deletion"
    )
    holder = User.objects.create_user("holder", is_staff=True)
    holder.user_permissions.add(trap)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert not Permission.objects.filter(codename="delete_indexedfile").exists()
    assert Permission.objects.get(codename="view_filedeletion").name == "Can read the deletion log"
    assert not holder.user_permissions.exists()


def test_the_ready_groups_hold_their_permissions(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE_ACCESS)
    # As the schema stands then: today's Group would cascade into organization access, a table
    # not there yet (groups exist here whenever no test has emptied the database since it was
    # made).
    then = executor.loader.project_state(BEFORE_ACCESS).apps
    then.get_model("auth", "Group").objects.all().delete()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    def codenames(name: str) -> set[str]:
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert "delete_file" not in codenames("Viewers")
    assert {"lookup_file", "view_filedeletion", "view_indexedfile"} <= codenames("Viewers")
    assert {"delete_file", "add_scan"} <= codenames("Deleters")
    assert "approve_deletionjob" in codenames("Approvers")
    assert "delete_file" not in codenames("Approvers")
    assert "change_organization" in codenames("Organization managers")
    assert codenames("Erasure handlers") == {
        f"{action}_erasurerequest" for action in ("view", "add", "change", "handle")
    }
    ours = Permission.objects.filter(content_type__app_label__in=["files", "jobs", "catalog"])
    assert not ours.filter(codename__startswith="change_").exists()
    assert not ours.filter(codename__in=["delete_indexedfile", "add_filedeletion"]).exists()
