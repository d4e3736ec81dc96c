"""The tasks assigned to one guest, by email: `GET /tasks?guests=email` (and a run's tasks
likewise), each list read whole through `listing.pages` or not at all.

A server may answer a filter it does not know with the list unfiltered (API notes): a task
that names its guests without this one means the filter was ignored, and the list cannot say
which tasks are the guest's, so it is an error rather than an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tallyfy_api.client import TallyfyClient
from tallyfy_api.errors import UnexpectedResponse
from tallyfy_api.ids import is_valid_id
from tallyfy_api.listing import MAX_PER_PAGE, Page, pages

# Completed and archived tasks may be left out unless asked for apart (see `list_tasks`).
_TASK_LISTS = (("", ""), ("completed", ""), ("", "only"), ("completed", "only"))


@dataclass
class GuestTasks:
    """The ids of a guest's tasks, and the runs they sit in."""

    task_ids: set[str] = field(default_factory=set)
    run_ids: set[str] = field(default_factory=set)


def _guests_of(task: dict[str, Any]) -> list[str] | None:
    """The guests a task names (`owners.guests` or `guests`, emails or objects with one), or
    None when it names none: then the filter cannot be checked."""
    owners = task.get("owners")
    named = owners.get("guests") if isinstance(owners, dict) else task.get("guests")
    if isinstance(named, dict):
        named = named.get("data")
    if not isinstance(named, list):
        return None
    emails = []
    for guest in named:
        email = guest.get("email") if isinstance(guest, dict) else guest
        if isinstance(email, str):
            emails.append(email.strip().lower())
    return emails


def _take(found: GuestTasks, page: Page, email: str) -> None:
    for task in page.items:
        guests = _guests_of(task)
        if guests is not None and email not in guests:
            raise UnexpectedResponse(
                "Tallyfy answered the tasks of a guest with a task not assigned to that guest: "
                "it ignored the guests filter."
            )
        task_id = task.get("id")
        if isinstance(task_id, str) and task_id:
            found.task_ids.add(task_id)
            run_id = task.get("run_id")
            if isinstance(run_id, str) and run_id and not task.get("is_oneoff_task"):
                found.run_ids.add(run_id)


def _read(fetch: Callable[[int], Page], found: GuestTasks, email: str, max_pages: int) -> None:
    for page in pages(fetch, hard_cap=max_pages):
        _take(found, page, email)


def guest_tasks(
    client: TallyfyClient,
    email: str,
    *,
    runs: Iterable[str] = (),
    max_pages: int,
    max_runs: int,
) -> GuestTasks:
    """Every task assigned to the guest `email`: the organization's (open, completed,
    archived), then, to catch what that listing leaves out, the tasks of `runs` and of the runs
    those tasks are in (the first `max_runs` of them). Each list reads at most `max_pages`
    pages; one that goes on, fails or ignores the filter raises (a TallyfyError:
    ListingBroken, UnexpectedResponse, a timeout, …)."""
    email = email.strip().lower()
    found = GuestTasks()
    for status, archived in _TASK_LISTS:
        _read(
            lambda number, status=status, archived=archived: client.list_tasks(
                page=number,
                per_page=MAX_PER_PAGE,
                status=status,
                archived=archived,
                guests=email,
            ),
            found,
            email,
            max_pages,
        )
    listed = sorted(run for run in found.run_ids | set(runs) if is_valid_id(run))
    for run_id in listed[:max_runs]:
        _read(
            lambda number, run_id=run_id: client.list_run_tasks(
                run_id, page=number, per_page=MAX_PER_PAGE, guests=email
            ),
            found,
            email,
            max_pages,
        )
    return found
