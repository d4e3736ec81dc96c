"""A search by a person's email is never silently incomplete: files with an unknown uploader
in the same runs and tasks are counted at the top, listed as candidates, and carried to the
jobs made from the search."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from catalog.models import IndexedFile
from jobs.models import DeletionJob
from organizations.models import Organization
from tests.fixtures.catalog import index_file

CHANGELIST = "admin:catalog_indexedfile_changelist"
EMAIL = "jane.guest@example.com"
RUN_ID, OTHER_RUN = "a1" * 16, "b2" * 16
TASK_ID = "a3" * 16


@pytest.fixture
def files(organization: Organization) -> dict[str, IndexedFile]:
    def of(name: str, key: str, **fields: object) -> IndexedFile:
        return index_file(organization, name, key=key * 16, **fields)

    return {
        "hers": of("passport.png", "c0", run_id=RUN_ID, task_id=TASK_ID, uploader_email=EMAIL),
        "same_task": of("photo.jpg", "c1", run_id=RUN_ID, task_id=TASK_ID),
        "same_run": of("notes.pdf", "c2", run_id=RUN_ID),
        "elsewhere": of("other.pdf", "c3", run_id=OTHER_RUN),
        "known": of("bob.pdf", "c4", run_id=RUN_ID, uploader_email="bob@example.com"),
        "link": of("drive", "c5", run_id=RUN_ID, is_link=True, asset_id=""),
    }


def listed(response: object) -> set[str]:
    return {row.file_name for row in response.context["cl"].result_list}  # type: ignore[attr-defined]


def test_an_email_search_says_how_many_files_it_cannot_find(
    admin_client: Client, files: dict[str, IndexedFile]
) -> None:
    response = admin_client.get(reverse(CHANGELIST), {"q": EMAIL.upper()})
    assert listed(response) == {"passport.png"}
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("2 files with an unknown uploader sit in the same process runs")
    assert f"candidates_for={EMAIL.replace('@', '%40')}" in message


def test_the_candidates_are_the_unknown_files_of_the_same_runs_and_tasks(
    admin_client: Client, files: dict[str, IndexedFile]
) -> None:
    response = admin_client.get(reverse(CHANGELIST), {"candidates_for": EMAIL})
    assert listed(response) == {"photo.jpg", "notes.pdf"}


def test_a_search_that_finds_every_file_warns_of_nothing(
    admin_client: Client, organization: Organization
) -> None:
    index_file(organization, "a.pdf", run_id=RUN_ID, uploader_email=EMAIL)
    response = admin_client.get(reverse(CHANGELIST), {"q": EMAIL})
    assert not list(get_messages(response.wsgi_request))


def test_files_of_unknown_uploader_can_be_listed(
    admin_client: Client, files: dict[str, IndexedFile]
) -> None:
    response = admin_client.get(reverse(CHANGELIST), {"uploader": "unknown"})
    assert listed(response) == {"photo.jpg", "notes.pdf", "other.pdf"}


def test_a_job_made_from_an_email_search_carries_the_warning(
    admin_client: Client, files: dict[str, IndexedFile]
) -> None:
    url = f"{reverse(CHANGELIST)}?q={EMAIL}"
    admin_client.post(
        url, {"action": "delete_selected_files", "_selected_action": [files["hers"].pk]}
    )
    job = DeletionJob.objects.get()
    assert job.warning.startswith("2 files with an unknown uploader")
    assert job.built_from == f"The file index, searched for “{EMAIL}”"
    page = admin_client.get(reverse("admin:jobs_detail", args=[job.pk]))
    assert job.warning in page.content.decode()


def test_a_job_made_of_the_candidates_says_so_and_warns_of_nothing(
    admin_client: Client, files: dict[str, IndexedFile]
) -> None:
    chosen = [files[name].pk for name in ("same_task", "same_run")]
    admin_client.post(
        f"{reverse(CHANGELIST)}?candidates_for={EMAIL}",
        {"action": "delete_selected_files", "_selected_action": chosen},
    )
    job = DeletionJob.objects.get()
    assert (job.warning, job.built_from) == (
        "",
        f"The file index, filtered by candidates_for={EMAIL}",
    )
