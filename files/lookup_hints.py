"""What a pasted Tallyfy URL that names no file is, and where it can lead.

The look-up page shows `hint_for`'s message when someone pastes a run or task URL, with a link
to that run's or task's files in the file index (by URL name: `files` does not import it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

from django.urls import reverse

from files.ids import ID_PATTERN
from files.models import Organization

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


def hint_for(reference: RunOrTaskReference) -> LookupHint:
    """What to tell someone who pasted this run or task URL into the file look-up."""
    organization = Organization.objects.filter(org_id=reference.org_id).first()
    where = organization.name if organization else f"Tallyfy organization {reference.org_id}"
    what = "process run" if reference.kind == "run" else "task"
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
