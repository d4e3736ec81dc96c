"""What a pasted Tallyfy URL that names no file is, and where it can lead.

Someone who may scan is sent on to that run's or task's files (`files_of_run_or_task_url`:
the file index's page that scans the run first when the index has none of it). Anyone else
sees `hint_for`'s message, with a link to the files in the index. Both by URL name: `files`
does not import the file index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse

from organizations.models import Organization
from tallyfy_api.ids import ID_PATTERN

# The file index's permissions, named here rather than imported.
SCAN_PERMISSIONS = ("catalog.add_scan", "catalog.view_indexedfile")

_RUN_OR_TASK_RE = re.compile(
    rf"/organizations/(?P<org_id>{ID_PATTERN})/(?P<kind>runs|tasks)/(?P<id>{ID_PATTERN})"
    rf"(?:/tasks/(?P<task_id>{ID_PATTERN}))?(?:/[^/]*)?/?\Z"
)


@dataclass(frozen=True)
class RunOrTaskReference:
    kind: str  # "run" or "task"
    id: str
    org_id: str
    run_id: str = ""  # the task's run, when the URL names it


@dataclass(frozen=True)
class LookupHint:
    message: str
    url: str = ""
    link_text: str = ""


def parse_run_or_task(text: str) -> RunOrTaskReference | None:
    """A Tallyfy API URL of a run (`…/organizations/<org>/runs/<id>`) or a task
    (`…/tasks/<id>`, `…/runs/<run>/tasks/<id>`), or None."""
    text = text.strip()
    if "/" not in text:
        return None
    path = unquote(urlsplit(text if "://" in text else f"//x/{text.lstrip('/')}").path)
    match = _RUN_OR_TASK_RE.search(path)
    if match is None:
        return None
    if match["task_id"]:
        return RunOrTaskReference(
            kind="task", id=match["task_id"], org_id=match["org_id"], run_id=match["id"]
        )
    kind = "run" if match["kind"] == "runs" else "task"
    return RunOrTaskReference(kind=kind, id=match["id"], org_id=match["org_id"])


def files_of_run_or_task_url(
    reference: RunOrTaskReference, *, user: AbstractBaseUser | AnonymousUser
) -> str:
    """Where this run's or task's files open, its run scanned first if need be; "" for users
    who may not scan and for organizations not configured here."""
    if not user.has_perms(SCAN_PERMISSIONS):
        return ""
    organization = Organization.objects.filter(org_id=reference.org_id).first()
    if organization is None:
        return ""
    params: dict[str, object] = {"organization": organization.pk}
    if reference.kind == "run":
        params["run_id"] = reference.id
    else:
        params["task_id"] = reference.id
        if reference.run_id:
            params["run_id"] = reference.run_id
    return f"{reverse('admin:catalog_scan_process_run')}?{urlencode(params)}"


def hint_for(reference: RunOrTaskReference) -> LookupHint:
    """What to tell someone who pasted this run or task URL into the file look-up."""
    organization = Organization.objects.filter(org_id=reference.org_id).first()
    what = "process run" if reference.kind == "run" else "task"
    if organization is None:
        return LookupHint(
            message=(
                f"This is the URL of a {what} ({reference.id}) in Tallyfy organization "
                f"{reference.org_id}, which is not configured here, and not of a file. Add the "
                "organization under Organizations first."
            )
        )
    where = organization.name
    lookup = "run_id" if reference.kind == "run" else "task_id"
    index = reverse("admin:catalog_indexedfile_changelist")
    return LookupHint(
        message=(
            f"This is the URL of a {what} ({reference.id}) in {where}, not of a file. Its files "
            f"are in the file index once the organization has been scanned; or open the {what} "
            "in Tallyfy and copy the link of one of its files."
        ),
        url=f"{index}?{urlencode({lookup: reference.id})}",
        link_text=f"Files of this {what} in the file index",
    )
