"""Deletion jobs built from the index's selected rows."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from catalog.models import IndexedFile
from catalog.selectors import gone_q
from jobs.lines import ParsedFiles
from jobs.models import DeletionJob
from jobs.services import JobRefused, job_create
from organizations.models import Organization


def deletion_job_from_index(
    *,
    files: QuerySet[IndexedFile],
    user: AbstractBaseUser,
    built_from: str = "",
    warning: str = "",
) -> DeletionJob:
    """A deletion job (jobs) for the selected indexed files: preview, confirmation, approval and
    the log as for any job. Links and files already gone are left out; the files must all be of
    one organization. Raises JobRefused with nothing created."""
    chosen = files.filter(is_link=False).exclude(asset_id="").exclude(gone_q())
    # No ordering: the model's would put its columns into the DISTINCT.
    organizations = set(chosen.order_by().values_list("organization", flat=True).distinct()[:2])
    if not organizations:
        raise JobRefused("None of the selected rows is a Tallyfy file still there to delete.")
    if len(organizations) > 1:
        raise JobRefused("Select files of one organization: a deletion job has one.")
    organization = Organization.objects.get(pk=organizations.pop())
    wanted = ParsedFiles()
    for line, asset_id in enumerate(chosen.order_by("pk").values_list("asset_id", flat=True), 1):
        wanted.add(line, asset_id)
    return job_create(
        organization=organization,
        user=user,
        wanted=wanted,
        built_from=built_from,
        warning=warning,
    )
