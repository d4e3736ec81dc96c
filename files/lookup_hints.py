"""What a pasted Tallyfy URL that names no file is (a process run, a task or a template, as an
API path or a page of Tallyfy's web app), and where it can lead.

Someone who may scan is sent on to that place's files (`files_of_place_url`: for a run or
task, the file index's page that scans the run first when the index has none of it; for a
template, the index filtered to it). Anyone else sees `hint_for`'s message, with a link to the
files in the index. Both by URL name: `files` does not import the file index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.urls import reverse

from organizations.models import Organization
from organizations.selectors import organizations_for
from tallyfy_api.ids import ID_PATTERN

# The file index's permissions, named here rather than imported.
SCAN_PERMISSIONS = ("catalog.add_scan", "catalog.view_indexedfile")

_API_PATH_RE = re.compile(
    rf"/organizations/(?P<org_id>{ID_PATTERN})/(?P<kind>runs|tasks|checklists)/(?P<id>{ID_PATTERN})"
    rf"(?:/tasks/(?P<task_id>{ID_PATTERN}))?(?:/[^/]*)?/?\Z"
)
# The web app's pages: an organization id, a segment naming the kind of place, a 32-hex id,
# maybe a task of it, maybe more (a tab, a step). No public source pins these paths.
_HEX_ID = "[0-9A-Fa-f]{32}"
_WEB_KINDS = {
    "process": "run",
    "processes": "run",
    "run": "run",
    "runs": "run",
    "tracker": "run",
    "task": "task",
    "tasks": "task",
    "blueprint": "template",
    "blueprints": "template",
    "template": "template",
    "templates": "template",
    "checklist": "template",
    "checklists": "template",
}
_WEB_PAGE_RE = re.compile(
    rf"/(?P<org_id>{_HEX_ID})/(?P<kind>{'|'.join(_WEB_KINDS)})/(?P<id>{_HEX_ID})"
    rf"(?:/tasks?/(?P<task_id>{_HEX_ID}))?(?:/.*)?\Z",
    re.IGNORECASE,
)
_WHAT = {"run": "process run", "task": "task", "template": "template"}
_INDEX_FILTER = {"run": "run_id", "task": "task_id", "template": "template_id"}


@dataclass(frozen=True)
class PlaceReference:
    """A place files sit in, named by a pasted URL."""

    kind: str  # "run", "task" or "template"
    id: str
    org_id: str
    run_id: str = ""  # the task's run, when the URL names it


@dataclass(frozen=True)
class LookupHint:
    message: str
    url: str = ""
    link_text: str = ""


def parse_place(text: str) -> PlaceReference | None:
    """A Tallyfy URL of a process run, a task or a template: an API path
    (`…/organizations/<org>/runs/<id>`, `…/tasks/<id>`, `…/runs/<run>/tasks/<id>`,
    `…/checklists/<id>`) or a web-app page (`https://go.tallyfy.com/<org>/process/<id>`,
    `…/<org>/tasks/<id>`, `…/<org>/blueprint/<id>`, …); None when it is neither."""
    text = text.strip()
    if "/" not in text:
        return None
    path = unquote(urlsplit(text if "://" in text else f"//x/{text.lstrip('/')}").path)
    if match := _API_PATH_RE.search(path):
        kind = {"runs": "run", "tasks": "task", "checklists": "template"}[match["kind"]]
    elif match := _WEB_PAGE_RE.search(path):
        kind = _WEB_KINDS[match["kind"].lower()]
    else:
        return None
    if match["task_id"] and kind == "run":
        return PlaceReference(
            kind="task", id=match["task_id"], org_id=match["org_id"], run_id=match["id"]
        )
    return PlaceReference(kind=kind, id=match["id"], org_id=match["org_id"])


def files_of_place_url(reference: PlaceReference, *, user: AbstractBaseUser | AnonymousUser) -> str:
    """Where this place's files open (a run scanned first if need be); "" for users who may
    not scan and for organizations not configured here."""
    if not user.has_perms(SCAN_PERMISSIONS):
        return ""
    organization = organizations_for(user).filter(org_id=reference.org_id).first()
    if organization is None:
        return ""
    if reference.kind == "template":
        params = {"organization__id__exact": organization.pk, "template_id": reference.id}
        return f"{reverse('admin:catalog_indexedfile_changelist')}?{urlencode(params)}"
    params: dict[str, object] = {"organization": organization.pk}
    if reference.kind == "run":
        params["run_id"] = reference.id
    else:
        params["task_id"] = reference.id
        if reference.run_id:
            params["run_id"] = reference.run_id
    return f"{reverse('admin:catalog_scan_process_run')}?{urlencode(params)}"


def hint_for(reference: PlaceReference, *, organizations: QuerySet[Organization]) -> LookupHint:
    """What to tell someone who pasted this place's URL into the file look-up (`organizations`:
    those they may reach; any other reads as not configured)."""
    organization = organizations.filter(org_id=reference.org_id).first()
    what = _WHAT[reference.kind]
    if organization is None:
        return LookupHint(
            message=(
                f"This is the URL of a {what} ({reference.id}) in Tallyfy organization "
                f"{reference.org_id}, which is not configured here, and not of a file. Add the "
                "organization under Organizations first."
            )
        )
    index = reverse("admin:catalog_indexedfile_changelist")
    return LookupHint(
        message=(
            f"This is the URL of a {what} ({reference.id}) in {organization.name}, not of a "
            f"file. Its files are in the file index once the organization has been scanned; "
            f"or open the {what} in Tallyfy and copy the link of one of its files."
        ),
        url=f"{index}?{urlencode({_INDEX_FILTER[reference.kind]: reference.id})}",
        link_text=f"Files of this {what} in the file index",
    )
