"""Who uploaded each indexed file, from the activity feed's upload entries, and for every file
the feed leaves without one, why."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet

import tallyfy_api
from catalog.models import IndexedFile, Scan
from tallyfy_api.names import bounded

# The parents an entry may name, the most telling first: (column, what it is called).
_PARENTS = (("task_id", "task"), ("run_id", "process run"), ("template_id", "template"))
NAMED = "Named by its upload entry in the activity feed."
UNKNOWN_NOT_NAMED = (
    "Unknown: no entry of the activity feed names this file, nor its task or process run "
    "with its name."
)
UNKNOWN_SAME_NAME = (
    "Unknown: another file of its {parent} has the same name, and the feed's entries name "
    "only the {parent} and the name."
)

type Parent = tuple[str, str]  # (column, id)
type Uploader = tuple[str, str]  # (email, kind)


def _parent_of(upload: tallyfy_api.Upload) -> Parent | None:
    for column, _label in _PARENTS:
        if value := getattr(upload, column):
            return column, value
    return None


def _inferred_note(column: str) -> str:
    label = dict(_PARENTS)[column]
    return (
        f"Inferred: its upload entry names its {label} and this file's name, and no other "
        f"file of that {label} without an uploader has that name."
    )


def uploads_apply(scan: Scan, uploads: list[tuple[tallyfy_api.Upload, dict[str, Any]]]) -> None:
    """A page of the feed's uploads, newest first, in one read and one update per uploader,
    ending as writing them one entry at a time would: an entry naming a file gives it its
    uploader (for a file uploaded twice the earlier upload, read later, wins); an entry naming
    none gives the file of its task (else run, else template) whose name it mentions, when
    exactly one file there still without an uploader does."""
    files = IndexedFile.objects.filter(organization_id=scan.organization_id, is_link=False)
    without_uploader = _unclaimed_by_parent(files, uploads)
    named: dict[str, Uploader] = {}
    inferred: dict[int, tuple[Uploader, str]] = {}
    for upload, entry in uploads:
        if upload.asset_id:
            named[upload.asset_id] = _uploader(upload)
            for parent_files in without_uploader.values():
                parent_files[:] = [file for file in parent_files if file[1] != upload.asset_id]
        elif parent := _parent_of(upload):
            text = _entry_text(upload, entry)
            candidates = [file for file in without_uploader[parent] if file[2] in text]
            if len(candidates) == 1:
                without_uploader[parent].remove(candidates[0])
                inferred[candidates[0][0]] = (_uploader(upload), parent[0])
    # Inferred first: an entry naming the file, wherever it sits on the page, has the last word.
    _uploaders_write(
        scan.organization_id,
        "id",
        [
            (pk, email, kind, True, _inferred_note(column))
            for pk, ((email, kind), column) in inferred.items()
        ],
    )
    _uploaders_write(
        scan.organization_id,
        "asset_id",
        [(asset_id, email, kind, False, NAMED) for asset_id, (email, kind) in named.items()],
    )


# One statement a page (PostgreSQL and SQLite 3.33+ alike), where an UPDATE an uploader made a
# page's writes outlast a slot of the rate limit. Names are this module's own.
_UPDATE_FROM_VALUES = """
UPDATE catalog_indexedfile SET uploader_email = v.column2, uploader_type = v.column3,
    uploader_inferred = v.column4, uploader_note = v.column5
FROM (VALUES {values}) AS v
WHERE catalog_indexedfile.organization_id = %s AND catalog_indexedfile.is_link = %s
    AND catalog_indexedfile.{column} = v.column1
"""


def _uploaders_write(
    organization_id: int, column: str, rows: list[tuple[object, str, str, bool, str]]
) -> None:
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(batch))
        sql = _UPDATE_FROM_VALUES.format(values=values, column=column).strip()
        params = [value for row in batch for value in row] + [organization_id, False]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _unclaimed_by_parent(
    files: QuerySet[IndexedFile], uploads: list[tuple[tallyfy_api.Upload, dict[str, Any]]]
) -> dict[Parent, list[tuple[int, str, str]]]:
    """The files without an uploader under each parent the page's unnamed entries name."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for upload, _entry in uploads:
        if not upload.asset_id and (parent := _parent_of(upload)):
            wanted[parent[0]].add(parent[1])
    without_uploader: dict[Parent, list[tuple[int, str, str]]] = defaultdict(list)
    for column, ids in wanted.items():
        unclaimed = files.filter(**{f"{column}__in": ids}, uploader_email="").exclude(file_name="")
        for pk, asset_id, parent_id, name in unclaimed.values_list(
            "pk", "asset_id", column, "file_name"
        ):
            without_uploader[column, parent_id].append((pk, asset_id, name))
    return without_uploader


def _entry_text(upload: tallyfy_api.Upload, entry: dict[str, Any]) -> str:
    return " ".join(
        str(value[0] if isinstance(value, list) and value else value)
        for value in (entry.get("description"), entry.get("text"), upload.filename)
        if value
    )


def _uploader(upload: tallyfy_api.Upload) -> Uploader:
    return bounded(upload.actor_email, 254), bounded(upload.actor_type, 20)


def without_uploader(scan: Scan) -> QuerySet[IndexedFile]:
    """The files of the scan's scope that are still there and have no uploader."""
    files = IndexedFile.objects.filter(
        organization_id=scan.organization_id,
        is_link=False,
        uploader_email="",
        gone_at__isnull=True,
    )
    return files.filter(run_id=scan.run_id) if scan.run_id else files


def unknown_uploaders_explain(scan: Scan) -> None:
    """Say why each file of the scan's scope has no uploader."""
    unknown = without_uploader(scan)
    if scan.feed_error:
        reason = f"Unknown: the activity feed could not be read: {scan.feed_error}"
        unknown.update(uploader_note=reason[:300])
        return
    unknown.update(uploader_note=UNKNOWN_NOT_NAMED)
    for column, label in _PARENTS:
        alike = (
            unknown.exclude(**{column: ""})
            .values(column, "file_name")
            .annotate(files=Count("pk"))
            .filter(files__gt=1)
            .order_by()
        )
        for group in alike:
            same = {column: group[column], "file_name": group["file_name"]}
            unknown.filter(**same, uploader_note=UNKNOWN_NOT_NAMED).update(
                uploader_note=UNKNOWN_SAME_NAME.format(parent=label)
            )
