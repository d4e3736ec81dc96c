"""Who uploaded each indexed file, from the activity feed's upload entries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import tallyfy_api
from catalog.models import IndexedFile, Scan


def uploads_apply(scan: Scan, uploads: list[tuple[tallyfy_api.Upload, dict[str, Any]]]) -> None:
    """A page of the feed's uploads, newest first, in one read and one update per uploader,
    ending as writing them one entry at a time would: an entry naming a file gives it its
    uploader (for a file uploaded twice the earlier upload, read later, wins); an entry naming
    none gives the file of its run whose name it mentions, when exactly one file of that run
    still without an uploader does."""
    files = IndexedFile.objects.filter(organization_id=scan.organization_id, is_link=False)
    without_uploader: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    runs = {upload.run_id for upload, _entry in uploads if upload.run_id and not upload.asset_id}
    unclaimed = files.filter(run_id__in=runs, uploader_email="").exclude(file_name="")
    for pk, asset_id, run_id, name in unclaimed.values_list(
        "pk", "asset_id", "run_id", "file_name"
    ):
        without_uploader[run_id].append((pk, asset_id, name))
    named: dict[str, tuple[str, str]] = {}
    inferred: dict[int, tuple[str, str]] = {}
    for upload, entry in uploads:
        if upload.asset_id:
            named[upload.asset_id] = _uploader(upload)
            for run_files in without_uploader.values():
                run_files[:] = [file for file in run_files if file[1] != upload.asset_id]
        elif upload.run_id:
            text = _entry_text(upload, entry)
            candidates = [file for file in without_uploader[upload.run_id] if file[2] in text]
            if len(candidates) == 1:
                without_uploader[upload.run_id].remove(candidates[0])
                inferred[candidates[0][0]] = _uploader(upload)
    # Inferred first: an entry naming the file, wherever it sits on the page, has the last word.
    for (email, kind), pks in _grouped(inferred).items():
        files.filter(pk__in=pks).update(
            uploader_email=email, uploader_type=kind, uploader_inferred=True
        )
    for (email, kind), asset_ids in _grouped(named).items():
        files.filter(asset_id__in=asset_ids).update(
            uploader_email=email, uploader_type=kind, uploader_inferred=False
        )


def _grouped[K](uploader_of: dict[K, tuple[str, str]]) -> dict[tuple[str, str], list[K]]:
    keys_of: dict[tuple[str, str], list[K]] = defaultdict(list)
    for key, uploader in uploader_of.items():
        keys_of[uploader].append(key)
    return keys_of


def _entry_text(upload: tallyfy_api.Upload, entry: dict[str, Any]) -> str:
    return " ".join(
        str(value[0] if isinstance(value, list) and value else value)
        for value in (entry.get("description"), entry.get("text"), upload.filename)
        if value
    )


def _uploader(upload: tallyfy_api.Upload) -> tuple[str, str]:
    return upload.actor_email[:254], upload.actor_type[:20]
