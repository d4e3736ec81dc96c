"""A database from before organizations had an app of their own migrates without loss: the
rows, every key that points at them, and the permissions staff were given on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.models import IndexedFile, Scan
from files.models import DeletionTicket, FileDeletion
from jobs.models import DeletionJob
from organizations.models import Organization
from throttling.models import RateLimit

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [
    ("files", "0006_organization_last_connected_at"),
    ("catalog", "0005_scans_never_infer_gone"),
    ("jobs", "0004_held_files_index"),
    ("throttling", "0001_initial"),
    ("organizations", None),
]
# Django's idea of the models at that point: the same migrations, without "organizations: none".
STATE_BEFORE_THE_MOVE = [
    *(node for node in BEFORE_THE_MOVE if node[1]),
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the next test's schema


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def populate_before_the_move(executor: MigrationExecutor) -> dict[str, int]:
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(STATE_BEFORE_THE_MOVE).apps
    organization = old.get_model("files", "Organization").objects.create(
        name="Acme",
        org_id="5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d",
        api_base_url="https://go.tallyfy.com/api",
        token_ciphertext="ciphertext-kept-as-is",
        token_last4="abcd",
    )
    user = old.get_model("auth", "User").objects.create(username="ops", is_staff=True)
    content_type = old.get_model("contenttypes", "ContentType").objects.get(
        app_label="files", model="organization"
    )
    user.user_permissions.add(
        old.get_model("auth", "Permission").objects.get(
            content_type=content_type, codename="change_organization"
        )
    )
    deletion = old.get_model("files", "FileDeletion").objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id="asset-1",
        user=user,
        username="ops",
        reason="GDPR-1",
        state="deleted",
    )
    ticket = old.get_model("files", "DeletionTicket").objects.create(
        key="k" * 64, user=user, organization=organization, asset_id="asset-1"
    )
    job = old.get_model("jobs", "DeletionJob").objects.create(
        organization=organization, created_by=user, created_by_name="ops"
    )
    scan = old.get_model("catalog", "Scan").objects.create(organization=organization)
    indexed = old.get_model("catalog", "IndexedFile").objects.create(
        organization=organization, key="asset:asset-1", asset_id="asset-1", attached_to="run"
    )
    old.get_model("throttling", "RateLimit").objects.create(
        organization=organization, per_minute=120
    )
    return {
        "organization": organization.pk,
        "content_type": content_type.pk,
        "user": user.pk,
        "deletion": deletion.pk,
        "ticket": ticket.pk,
        "job": job.pk,
        "scan": scan.pk,
        "indexed": indexed.pk,
    }


def test_organizations_keep_their_rows_and_every_key_to_them(executor: MigrationExecutor) -> None:
    before = populate_before_the_move(executor)

    migrate_to_latest()

    organization = Organization.objects.get()
    assert organization.pk == before["organization"]
    assert (organization.name, organization.org_id, organization.token_ciphertext) == (
        "Acme",
        "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d",
        "ciphertext-kept-as-is",
    )
    assert FileDeletion.objects.get(pk=before["deletion"]).organization == organization
    assert DeletionTicket.objects.get(pk=before["ticket"]).organization == organization
    assert DeletionJob.objects.get(pk=before["job"]).organization == organization
    assert Scan.objects.get(pk=before["scan"]).organization == organization
    assert IndexedFile.objects.get(pk=before["indexed"]).organization == organization
    assert RateLimit.objects.get(organization=organization).per_minute == 120


def test_permissions_on_organizations_follow_the_model(executor: MigrationExecutor) -> None:
    before = populate_before_the_move(executor)

    migrate_to_latest()

    moved = ContentType.objects.get(app_label="organizations", model="organization")
    assert moved.pk == before["content_type"]
    assert not ContentType.objects.filter(app_label="files", model="organization").exists()
    assert User.objects.get(pk=before["user"]).has_perm("organizations.change_organization")


def test_the_move_can_be_undone_without_loss(executor: MigrationExecutor) -> None:
    before = populate_before_the_move(executor)
    migrate_to_latest()

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(STATE_BEFORE_THE_MOVE).apps

    assert old.get_model("files", "Organization").objects.get().pk == before["organization"]
    assert (
        old.get_model("contenttypes", "ContentType")
        .objects.get(app_label="files", model="organization")
        .pk
        == before["content_type"]
    )
