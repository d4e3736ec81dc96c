"""Helpers shared by the file index's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.local import Local
from django.tasks import task_backends

from catalog.folding import fold
from catalog.models import AttachedTo, IndexedFile
from organizations.models import Organization

IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def _forget_task_backends() -> None:
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    task_backends._connections = Local(task_backends.thread_critical)


@pytest.fixture
def immediate_tasks(settings: Any) -> Iterator[None]:
    """Tasks run as they are enqueued, whatever backend the project configures."""
    settings.TASKS = IMMEDIATE_TASKS
    _forget_task_backends()
    yield
    _forget_task_backends()


@pytest.fixture
def queued_tasks(settings: Any) -> Iterator[None]:
    """Tasks are recorded, not run (Django's dummy backend)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    _forget_task_backends()
    yield
    _forget_task_backends()


def index_file(organization: Organization, name: str, **fields: Any) -> IndexedFile:
    key = fields.pop("key", None) or f"{abs(hash((organization.pk, name))):032x}"[:32]
    values: dict[str, Any] = {
        "asset_id": key,
        "attached_to": AttachedTo.RUN,
        "file_name_folded": fold(name),
        **fields,
    }
    return IndexedFile.objects.create(organization=organization, key=key, file_name=name, **values)
