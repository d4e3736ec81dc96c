"""Reading the index as the panel lists it (searching it is `catalog.search`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import UNFINISHED_SCAN_STATES, IndexedFile, Scan
from files.models import GONE_STATES, FileDeletion
from organizations.models import Organization


def indexed_files(*, organization: Organization | None = None) -> QuerySet[IndexedFile]:
    """Indexed files with `deleted_here`: whether the deletion log has the file as deleted
    (or already gone), so a file deleted through the panel is gone in the index at once."""
    deleted = FileDeletion.objects.filter(
        organization_id=OuterRef("organization_id"),
        asset_id=OuterRef("asset_id"),
        state__in=GONE_STATES,
    )
    queryset = IndexedFile.objects.annotate(deleted_here=Exists(deleted))
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    return queryset


def gone_q() -> Q:
    """Of `indexed_files()`: the files Tallyfy no longer has, or the log has as deleted."""
    return Q(gone_at__isnull=False) | Q(deleted_here=True)


def process_run_or_task_indexed(
    *, organization: Organization, run_id: str = "", task_id: str = ""
) -> bool:
    """Whether the index has any row of the task (when given) or else of the process run."""
    rows = IndexedFile.objects.filter(organization=organization)
    if task_id and rows.filter(task_id=task_id).exists():
        return True
    return bool(run_id) and rows.filter(run_id=run_id).exists()


def scans_unfinished(*, organizations: Iterable[Organization] | None = None) -> QuerySet[Scan]:
    queryset = Scan.objects.filter(state__in=UNFINISHED_SCAN_STATES)
    if organizations is not None:
        queryset = queryset.filter(organization__in=list(organizations))
    return queryset
