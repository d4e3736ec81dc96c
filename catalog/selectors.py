"""Reading the index as the panel lists it (searching it is `catalog.search`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import UNFINISHED_SCAN_STATES, IndexedFile, Scan
from files.models import GONE_STATES, FileDeletion
from organizations.models import Organization


def may_read_index(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Who may read the file index: its viewers, and approvers, who read it to see what a job
    would erase without any other right."""
    return user.has_perm("catalog.view_indexedfile") or user.has_perm("jobs.approve_deletionjob")


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


def tallyfy_run_url(organization: Organization, run_id: str) -> str:
    """The run's page in Tallyfy's web app, next to the API it was read from."""
    root = organization.api_base_url.rstrip("/").removesuffix("/api")
    root = root.replace("://api.tallyfy.com", "://go.tallyfy.com")
    return f"{root}/{organization.org_id}/process/{run_id}"


def gone_q() -> Q:
    """Of `indexed_files()`: the files Tallyfy no longer has, or the log has as deleted."""
    return Q(gone_at__isnull=False) | Q(deleted_here=True)


def unknown_uploader_candidates(
    *, email: str, organization: Organization | None = None
) -> QuerySet[IndexedFile]:
    """Files still there with no known uploader in the process runs and tasks where `email`
    uploaded files: they may be that person's too, and nothing can tell."""
    theirs = IndexedFile.objects.filter(uploader_email__iexact=email)
    if organization is not None:
        theirs = theirs.filter(organization=organization)
    runs = theirs.exclude(run_id="").values("run_id")
    tasks = theirs.exclude(task_id="").values("task_id")
    unknown = indexed_files(organization=organization).filter(uploader_email="", is_link=False)
    return unknown.exclude(gone_q()).filter(Q(run_id__in=runs) | Q(task_id__in=tasks))


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


def indexed_by_asset_id(
    *, organization_id: int, asset_ids: Iterable[str]
) -> dict[str, IndexedFile]:
    """What the index knows of each of these files (its run, task or template by name, its
    uploader and how that was known), by file id; files it has not seen are absent."""
    rows = IndexedFile.objects.filter(
        organization_id=organization_id, asset_id__in=[each for each in asset_ids if each]
    ).order_by("asset_id", "-last_seen", "-id")
    found: dict[str, IndexedFile] = {}
    for row in rows.only(
        "asset_id",
        "attached_to",
        "run_id",
        "run_name",
        "task_id",
        "task_name",
        "template_id",
        "template_name",
        "uploader_email",
        "uploader_type",
        "uploader_inferred",
        "uploader_note",
        "is_link",
        "organization_id",
    ):
        found.setdefault(row.asset_id, row)
    return found
