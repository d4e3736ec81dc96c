"""What is sealed: each app that keeps records to seal declares them on its AppConfig
(`sealed_kinds()`), so this app never imports the apps whose records it seals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models


@dataclass(frozen=True)
class SealedKind:
    name: str  # in every seal and canonical encoding: never renamed
    model: type[models.Model]
    settled: models.Q  # the records that must carry a seal; the others may still change
    facts: Callable[[Any], dict[str, object]]  # a record's facts, for evidence.canonical
    # The records' free-text search, as their admin list answers it (exports reuse it).
    search: Callable[[Any, str], Any] | None = None


def sealed_kinds() -> dict[str, SealedKind]:
    found: dict[str, SealedKind] = {}
    for config in apps.get_app_configs():
        declare = getattr(config, "sealed_kinds", None)
        if declare is not None:
            found.update((kind.name, kind) for kind in declare())
    return found
