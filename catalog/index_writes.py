"""Writing what a scan's step found into the index: new files added, files seen again
refreshed (and no longer gone), each file shown where it says most."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

import tallyfy_api
from catalog.folding import fold
from catalog.models import AttachedTo, IndexedFile, Scan
from tallyfy_api.names import bounded

_LIMITS = {
    field.name: field.max_length
    for field in IndexedFile._meta.get_fields()
    if getattr(field, "max_length", None)
}
# A file found in several places is shown where it says most: a task before its run, a run
# (its kick-off form) before the template the upload was recorded against.
_PRIORITY = {
    AttachedTo.TEMPLATE: 1,
    AttachedTo.RUN: 2,
    AttachedTo.TASK: 3,
    AttachedTo.ONEOFF_TASK: 3,
}


@dataclass
class Found:
    """What one step found, keyed like the index, before it is written."""

    scan: Scan
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, found: tallyfy_api.FoundFile, *, attached_to: AttachedTo, **place: str) -> None:
        row: dict[str, Any] = {
            "asset_id": found.asset_id,
            "file_name": found.filename,
            "is_link": found.is_link,
            "link_url": found.url if found.is_link else "",
            "attached_to": attached_to,
            "uploaded_at": found.uploaded_at,
            **place,
        }
        for name, value in row.items():  # as a column can hold it, on any database
            if isinstance(value, str) and name in _LIMITS:
                row[name] = bounded(value, _LIMITS[name])
        earlier = self.rows.get(found.key)
        if earlier is None or _PRIORITY[attached_to] > _PRIORITY[earlier["attached_to"]]:
            if earlier is not None:
                row["uploaded_at"] = row["uploaded_at"] or earlier["uploaded_at"]
                row["file_name"] = row["file_name"] or earlier["file_name"]
            self.rows[found.key] = row
        elif earlier["uploaded_at"] is None:
            earlier["uploaded_at"] = found.uploaded_at


_PLACE_FIELDS = ["run_id", "run_name", "run_status", "template_id", "template_name"]
_PLACE_FIELDS += ["task_id", "task_name"]


_WRITTEN_FIELDS = [
    "asset_id",
    "is_link",
    "link_url",
    "attached_to",
    *_PLACE_FIELDS,
    "file_name",
    "file_name_folded",
    "uploaded_at",
    "last_seen_scan",
    "missed_by_scan",
    "gone_at",
]


# The same as attributes of a row: the scan's id, not the scan (comparing it runs no query).
_WRITTEN_ATTRIBUTES = [
    f"{name}_id" if name in ("last_seen_scan", "missed_by_scan") else name
    for name in _WRITTEN_FIELDS
]


def _folded(name: str) -> str:
    # Folding may lengthen a name (an ellipsis folds to three dots).
    return bounded(fold(name), _LIMITS["file_name_folded"])


def _written(row: IndexedFile) -> tuple[Any, ...]:
    return tuple(getattr(row, attribute) for attribute in _WRITTEN_ATTRIBUTES)


def found_write(found: Found) -> None:
    """New files are added; files seen again are refreshed (and no longer gone). A file seen
    earlier in this scan keeps the more telling place of the two."""
    if not found.rows:
        return
    scan, now = found.scan, timezone.now()
    existing = {
        row.key: row
        for row in IndexedFile.objects.filter(
            organization_id=scan.organization_id, key__in=list(found.rows)
        )
    }
    new, changed, seen_again = [], [], []
    for key, row in found.rows.items():
        current = existing.get(key)
        if current is None:
            new.append(_new_row(scan, key, row, now))
            continue
        seen_here = current.last_seen_scan_id == scan.pk
        before = _written(current)
        if not seen_here or _PRIORITY[row["attached_to"]] >= _PRIORITY[current.attached_to]:
            for name in ("asset_id", "is_link", "link_url", "attached_to", *_PLACE_FIELDS):
                setattr(current, name, row.get(name, ""))
        elif not current.template_id and row.get("template_id"):
            current.template_id, current.template_name = row["template_id"], row["template_name"]
        if row["file_name"]:
            current.file_name = row["file_name"]
            current.file_name_folded = _folded(row["file_name"])
        current.uploaded_at = row["uploaded_at"] or current.uploaded_at
        current.last_seen, current.last_seen_scan, current.gone_at = now, scan, None
        current.missed_by_scan = None
        if seen_here and _written(current) == before:
            seen_again.append(current.pk)  # (a template's file, say) with nothing to add
        else:
            changed.append(current)
    IndexedFile.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    # Still marked seen now: a scan of one run counts a file seen since it began as present.
    IndexedFile.objects.filter(pk__in=seen_again).update(last_seen=now)
    # Written as an upsert on (organization, key), one statement a batch: bulk_update's
    # CASE WHEN a row and a field costs seconds a page. Without their pks the rows conflict
    # on that key only, and only the written fields are updated.
    for row in changed:
        row.pk = None
    IndexedFile.objects.bulk_create(
        changed,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["organization", "key"],
        update_fields=[*_WRITTEN_FIELDS, "last_seen"],
    )


def _new_row(scan: Scan, key: str, row: dict[str, Any], now: datetime) -> IndexedFile:
    return IndexedFile(
        organization_id=scan.organization_id,
        key=key,
        file_name_folded=_folded(row["file_name"]),
        first_seen=now,
        last_seen=now,
        last_seen_scan=scan,
        **{name: row.get(name, "") for name in _PLACE_FIELDS},
        **{
            name: row[name]
            for name in (
                "asset_id",
                "file_name",
                "is_link",
                "link_url",
                "attached_to",
                "uploaded_at",
            )
        },
    )
