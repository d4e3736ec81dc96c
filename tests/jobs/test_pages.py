"""The deletion job pages: who may see and do what, each state's page, refusals, the CSV,
the ended-job message and the log's job filter. Jobs are put in each state through their
tables; what the workers do is tested over the wire (test_deletion_jobs.py, test_faults.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.backends import SignedInUserBackend
from accounts.signed_in import signed_in_answer
from files.models import DeletionState, FileDeletion
from jobs import services
from jobs.lines import files_from_text
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState
from jobs.views import csv_safe
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.evidence import log_rewritten

IDS = [f"{n:032x}" for n in range(1, 4)]


def with_approval(user: User) -> User:
    user.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    return User.objects.get(pk=user.pk)  # a fresh permission cache


def messages_of(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


@pytest.fixture
def starter(db: None) -> User:
    return make_staff("starter", "lookup_file", "delete_file", "view_filedeletion")


@pytest.fixture
def colleague(db: None) -> User:
    return make_staff("colleague", "lookup_file", "delete_file", "view_filedeletion")


@pytest.fixture
def approver(db: None) -> User:
    return with_approval(make_staff("approver"))


@pytest.fixture
def nobody(db: None) -> User:
    return make_staff("nobody")


def new_job(org: Organization, user: User, ids: list[str] = IDS) -> DeletionJob:
    return services.job_create(organization=org, user=user, wanted=files_from_text("\n".join(ids)))


def previewed_job(org: Organization, user: User, ids: list[str] = IDS) -> DeletionJob:
    job = new_job(org, user, ids)
    for n, job_file in enumerate(job.files.all()):
        job_file.preview = PreviewState.FOUND
        job_file.file_name = f"file-{n}.pdf"
        job_file.subject_type = "Run"
        job_file.subject_id = "run-1"
        job_file.save()
    return in_state(job, JobState.PREVIEWED)


def in_state(job: DeletionJob, state: JobState, **changes: object) -> DeletionJob:
    if state == JobState.RUNNING:
        changes.setdefault("started_at", timezone.now())  # as a worker starting it sets
    DeletionJob.objects.filter(pk=job.pk).update(state=state, **changes)
    job.refresh_from_db()
    return job


def deleted(job: DeletionJob, job_file: JobFile, **changes: object) -> FileDeletion:
    deletion = FileDeletion.objects.create(
        organization=job.organization,
        org_id=job.organization.org_id,
        asset_id=job_file.asset_id,
        file_name=job_file.file_name,
        username=job.created_by_name,
        reason=job.reason,
        state=DeletionState.DELETED,
        http_status=200,
        outcome="Tallyfy answered 200.",
        job_id=job.pk,
        finished_at=timezone.now(),
        **changes,
    )
    JobFile.objects.filter(pk=job_file.pk).update(
        state=FileState.DONE, deletion=deletion, finished_at=timezone.now()
    )
    return deletion


def finished_job(org: Organization, user: User) -> DeletionJob:
    job = previewed_job(org, user)
    job = in_state(
        job,
        JobState.RUNNING,
        reason="GDPR-1",
        confirmed_at=timezone.now(),
        started_at=timezone.now(),
    )
    for job_file in job.files.all():
        deleted(job, job_file)
    return in_state(job, JobState.FINISHED, finished_at=timezone.now())


def page(name: str, job: DeletionJob | None = None) -> str:
    if job is None:
        return reverse(f"admin:jobs_{name}")
    return reverse(f"admin:jobs_{name}", kwargs={"job_pk": job.pk})


JOB_PAGES = ["detail", "progress", "results", "cancel"]
JOB_ACTIONS = ["confirm", "approve", "pause", "resume", "cancel", "retry"]


# Who may do what


def test_anonymous_users_are_sent_to_the_login(organization: Organization, starter: User) -> None:
    job = new_job(organization, starter)
    response = Client().get(page("detail", job))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("name", JOB_PAGES)
def test_staff_without_permission_get_403_on_job_pages(
    organization: Organization, starter: User, nobody: User, name: str
) -> None:
    job = new_job(organization, starter)
    assert signed_in(nobody).get(page(name, job)).status_code == 403


@pytest.mark.parametrize("name", JOB_ACTIONS)
def test_staff_without_permission_get_403_on_job_actions(
    organization: Organization, starter: User, nobody: User, name: str
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    assert signed_in(nobody).post(page(name, job)).status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_staff_who_may_only_look_up_cannot_see_jobs(
    organization: Organization, starter: User, viewer: User
) -> None:
    job = new_job(organization, starter)
    assert signed_in(viewer).get(page("detail", job)).status_code == 403


def test_starting_a_job_needs_the_delete_permission(viewer: User) -> None:
    assert signed_in(viewer).get(page("create")).status_code == 403


def test_approvers_without_the_delete_permission_cannot_start_a_job(approver: User) -> None:
    assert signed_in(approver).get(page("create")).status_code == 403


def test_approvers_without_the_delete_permission_see_jobs(
    organization: Organization, starter: User, approver: User
) -> None:
    job = new_job(organization, starter)
    assert signed_in(approver).get(page("detail", job)).status_code == 200


def test_only_approvers_may_approve(
    organization: Organization, starter: User, colleague: User, settings: object
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL)
    assert signed_in(colleague).post(page("approve", job)).status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL


def test_approvers_without_the_delete_permission_cannot_resume(
    organization: Organization, starter: User, approver: User
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.PAUSED)
    assert signed_in(approver).post(page("resume", job)).status_code == 403


def test_an_unknown_job_is_404(starter: User) -> None:
    response = signed_in(starter).get(reverse("admin:jobs_detail", kwargs={"job_pk": 999999}))
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["approve", "pause", "resume", "confirm"])
def test_actions_do_not_answer_get(
    organization: Organization, starter: User, approver: User, name: str
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    assert signed_in(with_approval(starter)).get(page(name, job)).status_code == 405


def test_actions_need_the_csrf_token(organization: Organization, starter: User) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    client = Client(enforce_csrf_checks=True)
    client.force_login(starter)
    assert client.post(page("pause", job)).status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


# Delete many files: the form


def test_create_page_shows_the_form(starter: User, organization: Organization) -> None:
    response = signed_in(starter).get(page("create"))
    assert response.status_code == 200
    assert b'name="files"' in response.content
    assert b'name="csv_file"' in response.content


def test_pasted_ids_create_a_job_and_lead_to_its_page(
    starter: User, organization: Organization
) -> None:
    text = "\n".join([IDS[0], IDS[1], IDS[0], "", IDS[2]])
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "files": text}, follow=True
    )
    job = DeletionJob.objects.get()
    assert response.redirect_chain[-1][0] == page("detail", job)
    assert sorted(job.files.values_list("asset_id", flat=True)) == IDS
    assert (job.created_by, job.state) == (starter, JobState.PREVIEWING)


def test_merged_repeats_are_counted_in_the_message(
    starter: User, organization: Organization
) -> None:
    text = "\n".join([IDS[0], IDS[0], IDS[0], IDS[1]])
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "files": text}, follow=True
    )
    assert any("2 repeated line(s) were merged" in m for m in messages_of(response))


def test_bad_lines_are_listed_with_line_numbers_and_nothing_is_created(
    starter: User, organization: Organization
) -> None:
    text = "\n".join([IDS[0], "not an id!", IDS[1], "https://evil.example/x"])
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "files": text}
    )
    assert response.status_code == 200
    bad = response.context["bad_lines"]
    assert [line.line for line in bad] == [2, 4]
    assert all(line.reason for line in bad)
    assert b"not an id!" in response.content
    assert DeletionJob.objects.count() == 0


def test_a_csv_upload_creates_a_job(starter: User, organization: Organization) -> None:
    upload = SimpleUploadedFile(
        "files.csv", f"name,id\na,{IDS[0]}\nb,{IDS[1]}\n".encode(), content_type="text/csv"
    )
    signed_in(starter).post(page("create"), {"organization": organization.pk, "csv_file": upload})
    job = DeletionJob.objects.get()
    assert list(job.files.values_list("line", "asset_id")) == [(2, IDS[0]), (3, IDS[1])]


def test_bad_csv_lines_are_listed(starter: User, organization: Organization) -> None:
    upload = SimpleUploadedFile("files.csv", b"id\n;;;\n", content_type="text/csv")
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "csv_file": upload}
    )
    assert [line.line for line in response.context["bad_lines"]] == [2]
    assert DeletionJob.objects.count() == 0


@pytest.mark.parametrize("field", ["csv_file", "files"])
def test_a_csv_field_over_131072_characters_is_a_bad_line_not_a_500(
    starter: User, organization: Organization, field: str
) -> None:
    text = f"id\n{IDS[0]}\n" + "x" * 140_000 + "\n"
    sent = SimpleUploadedFile("files.csv", text.encode(), content_type="text/csv")
    response = signed_in(starter).post(
        page("create"),
        {"organization": organization.pk, field: sent if field == "csv_file" else text},
    )
    assert response.status_code == 200
    assert [line.line for line in response.context["bad_lines"]] == [3]
    assert DeletionJob.objects.count() == 0


def test_pasting_and_uploading_at_once_is_refused(
    starter: User, organization: Organization
) -> None:
    upload = SimpleUploadedFile("files.csv", IDS[0].encode(), content_type="text/csv")
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "files": IDS[1], "csv_file": upload}
    )
    assert "not both" in str(response.context["form"].non_field_errors())
    assert DeletionJob.objects.count() == 0


def test_an_empty_request_is_refused(starter: User, organization: Organization) -> None:
    response = signed_in(starter).post(page("create"), {"organization": organization.pk})
    assert response.context["form"].non_field_errors()
    assert DeletionJob.objects.count() == 0


def test_more_files_than_a_job_holds_is_refused(
    starter: User, organization: Organization, settings: object
) -> None:
    settings.JOBS_MAX_FILES = 2  # type: ignore[attr-defined]
    response = signed_in(starter).post(
        page("create"), {"organization": organization.pk, "files": "\n".join(IDS)}
    )
    assert "at most 2 files" in str(response.context["form"].non_field_errors())
    assert DeletionJob.objects.count() == 0


def test_an_unknown_organization_is_a_form_error(starter: User, organization: Organization) -> None:
    response = signed_in(starter).post(page("create"), {"organization": 999999, "files": IDS[0]})
    assert "organization" in response.context["form"].errors
    assert DeletionJob.objects.count() == 0


# The job's page, state by state


def test_a_previewing_job_shows_its_progress_and_the_script_with_the_nonce(
    starter: User, organization: Organization
) -> None:
    job = new_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[0]).update(preview=PreviewState.FOUND)
    response = signed_in(starter).get(page("detail", job))
    content = response.content.decode()
    assert 'id="job-progress-bar" max="3" value="1"' in content
    nonce = response.context["csp_nonce"]
    assert f'src="/static/jobs/progress.js" defer nonce="{nonce}"' in content
    assert 'id="job-reload"' in content


def test_the_progress_endpoint_answers_counts(starter: User, organization: Organization) -> None:
    job = new_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[0]).update(preview=PreviewState.NOT_FOUND)
    data = signed_in(starter).get(page("progress", job)).json()
    assert (data["state"], data["total"], data["resolved"], data["polls"]) == (
        "previewing",
        3,
        1,
        True,
    )
    assert data["preview"]["not_found"] == 1


def test_a_previewed_job_lists_its_files_by_preview_state(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[1]).update(
        preview=PreviewState.NOT_FOUND, file_name="", note="Tallyfy has no such file."
    )
    response = signed_in(starter).get(page("detail", job), {"preview": "not_found"})
    assert [f.asset_id for f in response.context["files"]] == [IDS[1]]
    assert b"Tallyfy has no such file." in response.content
    counts = {key: n for key, _, n in response.context["preview_counts"]}
    assert (counts["found"], counts["not_found"]) == (2, 1)


def test_an_unknown_filter_shows_every_file(starter: User, organization: Organization) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).get(page("detail", job), {"preview": "<script>"})
    assert len(response.context["files"]) == 3


def test_the_creator_sees_the_confirm_form(starter: User, organization: Organization) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).get(page("detail", job))
    assert b'id="confirm-form"' in response.content


def test_others_see_who_may_confirm(
    starter: User, colleague: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(colleague).get(page("detail", job))
    assert b'id="confirm-form"' not in response.content
    assert "Only starter, who started this job, can confirm it." in response.content.decode()


def test_confirming_schedules_the_job(starter: User, organization: Organization) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).post(
        page("confirm", job), {"reason": "GDPR-9", "typed_count": "3"}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.state, job.reason) == (JobState.SCHEDULED, "GDPR-9")


def test_confirming_with_a_start_time_keeps_it(starter: User, organization: Organization) -> None:
    job = previewed_job(organization, starter)
    later = timezone.now() + timezone.timedelta(days=1)
    signed_in(starter).post(
        page("confirm", job),
        {"reason": "GDPR-9", "typed_count": "3", "start_after": later.strftime("%Y-%m-%dT%H:%M")},
    )
    job.refresh_from_db()
    assert job.start_after is not None
    assert job.start_after.replace(second=0, microsecond=0) == later.replace(
        second=0, microsecond=0
    )


def test_a_wrong_count_is_a_form_error_and_changes_nothing(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).post(
        page("confirm", job), {"reason": "GDPR-9", "typed_count": "4"}
    )
    assert response.status_code == 200
    assert "Type the number of files to delete, 3" in str(
        response.context["confirm_form"].errors["typed_count"]
    )
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED


def test_a_blank_reason_is_a_form_error(starter: User, organization: Organization) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).post(page("confirm", job), {"reason": "   ", "typed_count": "3"})
    assert "reason" in response.context["confirm_form"].errors
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED


def test_another_user_cannot_confirm(
    starter: User, colleague: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(colleague).post(
        page("confirm", job), {"reason": "GDPR-9", "typed_count": "3"}
    )
    assert "Only the user who started a job" in str(
        response.context["confirm_form"].non_field_errors()
    )
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED


def test_a_big_job_waits_for_approval_and_says_so_to_its_creator(
    starter: User, organization: Organization, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 2  # type: ignore[attr-defined]
    job = previewed_job(organization, starter)
    response = signed_in(starter).post(
        page("confirm", job), {"reason": "GDPR-9", "typed_count": "3"}, follow=True
    )
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL
    assert "waits for the approval of a second staff user" in response.content.decode()
    assert b'id="approve-form"' not in response.content


def test_an_approver_sees_approve_and_approving_schedules_the_job(
    starter: User, approver: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL, reason="r")
    client = signed_in(approver)
    assert b'id="approve-form"' in client.get(page("detail", job)).content
    client.post(page("approve", job))
    job.refresh_from_db()
    assert (job.state, job.approved_by) == (JobState.SCHEDULED, approver)


def test_a_creator_with_approval_cannot_approve_their_own_job(
    starter: User, organization: Organization
) -> None:
    starter = with_approval(starter)
    job = in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL)
    client = signed_in(starter)
    assert b'id="approve-form"' not in client.get(page("detail", job)).content
    response = client.post(page("approve", job), follow=True)
    assert any("Nobody approves their own job" in m for m in messages_of(response))
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL


def test_a_running_job_shows_counts_speed_and_its_buttons(
    starter: User, organization: Organization
) -> None:
    job = in_state(
        previewed_job(organization, starter),
        JobState.RUNNING,
        reason="r",
        started_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    first = job.files.first()
    assert first is not None
    deletion = deleted(job, first)
    response = signed_in(starter).get(page("detail", job))
    content = response.content.decode()
    counts = {key: n for key, _, n in response.context["result_counts"]}
    assert (counts["deleted"], counts["waiting"]) == (1, 2)
    assert response.context["progress"].per_minute is not None
    assert 'value="Pause"' in content
    assert 'id="job-cancel"' in content
    assert reverse("admin:files_filedeletion_change", args=[deletion.pk]) in content
    assert f"{reverse('admin:files_filedeletion_changelist')}?job_id={job.pk}" in content


def test_pause_and_resume(starter: User, organization: Organization) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    client = signed_in(starter)
    client.post(page("pause", job))
    job.refresh_from_db()
    assert job.state == JobState.PAUSED
    client.post(page("resume", job))
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_a_refused_action_is_a_message_and_changes_nothing(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    response = signed_in(starter).post(page("resume", job), follow=True)
    assert any("cannot be" in m for m in messages_of(response))
    job.refresh_from_db()
    assert job.state == JobState.PREVIEWED


def test_the_cancel_page_asks_first_and_changes_nothing(
    starter: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    response = signed_in(starter).get(page("cancel", job))
    assert b"Yes, cancel the job" in response.content
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_cancelling_marks_files_not_started_as_not_attempted(
    starter: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    signed_in(starter).post(page("cancel", job))
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert set(job.files.values_list("state", flat=True)) == {FileState.NOT_ATTEMPTED}


def test_a_cancelled_jobs_progress_counts_the_files_never_attempted_apart(
    starter: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    now = timezone.now()
    DeletionJob.objects.filter(pk=job.pk).update(started_at=now, confirmed_at=now)
    signed_in(starter).post(page("cancel", job))
    job.refresh_from_db()
    progress = services.job_progress(job=job)
    assert (progress.done, progress.percent, progress.seconds_left) == (0, 0, None)
    body = signed_in(starter).get(page("detail", job)).content.decode()
    assert f"{progress.to_delete} not attempted" in body


def test_a_paused_job_has_no_time_left(starter: User, organization: Organization) -> None:
    job = in_state(previewed_job(organization, starter), JobState.PAUSED)
    DeletionJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    job.files.filter(pk=job.files.first().pk).update(state=FileState.DONE)
    job.refresh_from_db()
    assert services.job_progress(job=job).seconds_left is None


def test_an_approver_may_cancel_a_job_awaiting_approval(
    starter: User, approver: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL)
    signed_in(approver).post(page("cancel", job))
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED


def test_an_ended_job_shows_its_summary_and_the_csv_link(
    starter: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    response = signed_in(starter).get(page("detail", job))
    content = response.content.decode()
    assert page("results", job) in content
    assert "See these deletions in the log" in content
    assert "progress.js" not in content
    counts = {key: n for key, _, n in response.context["result_counts"]}
    assert counts["deleted"] == 3


def submit_rows(content: str) -> list[str]:
    """Each `submit-row` of the page, from its opening tag to the end of its div."""
    rows = content.split('<div class="submit-row')[1:]
    return [row[: row.index("</div>")] for row in rows]


def test_an_ended_jobs_tools_sit_beside_its_title_as_the_stock_pages_do(
    starter: User, organization: Organization
) -> None:
    content = signed_in(starter).get(page("detail", finished_job(organization, starter))).content
    content = content.decode()
    title_bar = content[
        content.index('<div class="titles-and-tools">') : content.index("content-main")
    ]
    assert 'id="job-results-link"' in title_bar
    assert 'id="job-log-link"' in title_bar
    assert content.count('class="object-tools"') == 1


def test_cancel_sits_in_the_submit_row_of_the_form_the_page_is_for(
    starter: User, approver: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    rows = submit_rows(signed_in(starter).get(page("detail", job)).content.decode())
    assert len(rows) == 1
    assert 'value="Delete these files"' in rows[0]
    assert 'id="job-cancel"' in rows[0]

    job = in_state(job, JobState.AWAITING_APPROVAL, reason="r")
    rows = submit_rows(signed_in(approver).get(page("detail", job)).content.decode())
    assert len(rows) == 2  # approve; reject with the cancel link
    assert 'id="job-cancel"' not in rows[0]
    assert 'id="job-cancel"' in rows[1]

    # A job with no form of the user's: pause and cancel share their own row.
    job = in_state(job, JobState.RUNNING)
    rows = submit_rows(signed_in(starter).get(page("detail", job)).content.decode())
    assert len(rows) == 1
    assert 'value="Pause"' in rows[0]
    assert 'id="job-cancel"' in rows[0]


def test_a_long_jobs_files_are_paged_as_the_stock_lists_are(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter, [f"{n:032x}" for n in range(1, 59)])
    content = signed_in(starter).get(page("detail", job) + "?preview=found&p=2").content.decode()
    start = content.index('<nav class="paginator"')
    pages = content[start : content.index("</nav>", start)]
    assert '<a role="button" href="?preview=found&amp;p=1">1</a>' in pages
    assert '<a role="button" href="" aria-current="page">2</a>' in pages
    assert '<a role="button" href="?preview=found&amp;p=3">3</a>' in pages
    assert "58 files" in pages


def test_the_jobs_list_says_who_approved_under_the_state(
    starter: User, approver: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL, reason="r")
    signed_in(approver).post(page("approve", job))
    content = signed_in(starter).get(page("deletionjob_changelist")).content.decode()
    assert 'Scheduled<br><span class="quiet">approved by approver</span>' in content
    assert "column-decided_by" not in content
    # One sort arrow: newest first, ties broken by id without a second header marked.
    assert 'class="sortpriority' not in content


def test_the_files_table_filters_by_result(starter: User, organization: Organization) -> None:
    job = finished_job(organization, starter)
    last = job.files.last()
    assert last is not None
    with log_rewritten():
        FileDeletion.objects.filter(pk=last.deletion_id).update(state=DeletionState.FAILED)
    response = signed_in(starter).get(page("detail", job), {"result": "failed"})
    assert [f.asset_id for f in response.context["files"]] == [last.asset_id]


# The results CSV


def csv_rows(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_has_one_row_per_file(starter: User, organization: Organization) -> None:
    job = finished_job(organization, starter)
    response = signed_in(starter).get(page("results", job))
    assert response["Content-Disposition"] == f'attachment; filename="deletion-job-{job.pk}.csv"'
    rows = csv_rows(response)
    assert rows[0] == [
        "line",
        "file id",
        "name",
        "preview state",
        "final state",
        "log row id",
        "outcome",
        "http status",
        "finished at",
    ]
    first = job.files.get(asset_id=IDS[0])
    assert rows[1][:8] == [
        "1",
        IDS[0],
        "file-0.pdf",
        "Found",
        "Deleted",
        str(first.deletion_id),
        "Tallyfy answered 200.",
        "200",
    ]
    assert len(rows) == 4


def test_the_csv_defuses_formulas(starter: User, organization: Organization) -> None:
    job = finished_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[0]).update(file_name='=HYPERLINK("x")')
    rows = csv_rows(signed_in(starter).get(page("results", job)))
    assert rows[1][2] == '\'=HYPERLINK("x")'


def test_the_csv_has_no_bidi_or_control_characters_in_names(
    starter: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[0]).update(file_name="invoice\u202efdp.exe\x07")
    rows = csv_rows(signed_in(starter).get(page("results", job)))
    assert rows[1][2] == "invoicefdp.exe"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_csv_safe_quotes_every_formula_start(text: str) -> None:
    assert csv_safe(text) == f"'{text}"


@pytest.mark.parametrize("text", ["\tx", "\rx", "\t=1+1"])
def test_csv_safe_drops_the_control_characters_a_formula_could_start_with(text: str) -> None:
    shown = csv_safe(text)
    assert shown in ("x", "'=1+1")
    assert not any(char in shown for char in "\t\r")


def test_csv_safe_leaves_plain_text_alone() -> None:
    assert csv_safe("report.pdf") == "report.pdf"


def test_the_csv_lists_files_left_out_with_their_note(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    JobFile.objects.filter(job=job, asset_id=IDS[2]).update(
        preview=PreviewState.NOT_FOUND, state=FileState.LEFT_OUT, note="No such file."
    )
    rows = csv_rows(signed_in(starter).get(page("results", job)))
    assert rows[3][3:7] == ["Not found", FileState.LEFT_OUT.label, "", "No such file."]


# The message when a job ends


def test_the_creator_is_told_once_on_their_next_admin_page(
    starter: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    client = signed_in(starter)
    first = messages_of(client.get(reverse("admin:index")))
    assert any(f"{job} has finished" in m for m in first)
    assert not any(str(job) in m for m in messages_of(client.get(reverse("admin:index"))))


def test_a_post_is_not_told_the_page_it_leads_to_is(
    starter: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    client = signed_in(starter)
    client.post(reverse("admin:jobs_create"), {})
    job.refresh_from_db()
    assert not job.creator_told
    assert any(f"{job} has finished" in m for m in messages_of(client.get(reverse("admin:index"))))


def test_other_users_are_not_told(
    starter: User, colleague: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    assert not any(
        str(job) in m for m in messages_of(signed_in(colleague).get(reverse("admin:index")))
    )
    job.refresh_from_db()
    assert not job.creator_told


def test_a_cancelled_job_is_told_as_cancelled(starter: User, organization: Organization) -> None:
    job = in_state(
        previewed_job(organization, starter), JobState.CANCELLED, finished_at=timezone.now()
    )
    messages = messages_of(signed_in(starter).get(reverse("admin:index")))
    assert any(f"{job} was cancelled" in m for m in messages)


def test_pages_outside_the_admin_do_not_tell(starter: User, organization: Organization) -> None:
    job = finished_job(organization, starter)
    signed_in(starter).get("/favicon.ico")
    job.refresh_from_db()
    assert not job.creator_told


@pytest.mark.parametrize("state", list(JobState))
@pytest.mark.parametrize("finished", [True, False])
@pytest.mark.parametrize("pause_reason", ["", "Paused by the worker: Tallyfy refused the token."])
def test_which_jobs_are_told_is_the_same_whether_asked_quickly_or_in_full(
    starter: User, organization: Organization, state: JobState, finished: bool, pause_reason: str
) -> None:
    job = in_state(
        previewed_job(organization, starter),
        state,
        finished_at=timezone.now() if finished else None,
        pause_reason=pause_reason,
    )
    should_tell = (state in services.ENDED_STATES and finished) or (
        state == JobState.PAUSED and bool(pause_reason)
    )
    assert services._any_ended_untold(user_id=starter.pk) is should_tell
    signed_in_user = SignedInUserBackend().get_user(starter.pk)
    assert signed_in_answer(signed_in_user, services.HAS_JOBS_ENDED_UNTOLD) is should_tell
    assert services.jobs_ended_untold(user=starter) == ([job] if should_tell else [])
    assert services._any_ended_untold(user_id=starter.pk) is False  # told once


# The jobs list and the log


def test_the_jobs_list_links_each_job_and_offers_delete_many_files(
    starter: User, organization: Organization
) -> None:
    job = new_job(organization, starter)
    response = signed_in(starter).get(reverse("admin:jobs_deletionjob_changelist"))
    content = response.content.decode()
    assert page("detail", job) in content
    assert f'href="{page("create")}"' in content


def test_the_jobs_list_filters_by_state(starter: User, organization: Organization) -> None:
    running = in_state(previewed_job(organization, starter), JobState.RUNNING)
    new_job(organization, starter, [IDS[0]])
    response = signed_in(starter).get(
        reverse("admin:jobs_deletionjob_changelist"), {"state__exact": "running"}
    )
    assert [job.pk for job in response.context["cl"].result_list] == [running.pk]


def test_approvers_see_the_jobs_awaiting_their_approval(
    starter: User, approver: User, organization: Organization
) -> None:
    in_state(previewed_job(organization, starter), JobState.AWAITING_APPROVAL)
    response = signed_in(approver).get(reverse("admin:jobs_deletionjob_changelist"))
    assert "1 job of other users awaits approval." in response.content.decode()


def test_the_jobs_list_is_forbidden_to_others(nobody: User) -> None:
    assert signed_in(nobody).get(reverse("admin:jobs_deletionjob_changelist")).status_code == 403


def test_the_admins_add_page_leads_to_delete_many_files(starter: User) -> None:
    response = signed_in(starter).get(reverse("admin:jobs_deletionjob_add"))
    assert response["Location"] == page("create")


def test_the_admins_change_page_leads_to_the_jobs_page(
    starter: User, organization: Organization
) -> None:
    job = new_job(organization, starter)
    response = signed_in(starter).get(reverse("admin:jobs_deletionjob_change", args=[job.pk]))
    assert response["Location"] == page("detail", job)


def test_jobs_cannot_be_deleted_through_the_admin(
    starter: User, organization: Organization
) -> None:
    job = new_job(organization, starter)
    client = signed_in(with_approval(starter))
    response = client.post(reverse("admin:jobs_deletionjob_delete", args=[job.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert DeletionJob.objects.filter(pk=job.pk).exists()


def test_the_log_filters_by_job(starter: User, organization: Organization) -> None:
    job = finished_job(organization, starter)
    FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id="f" * 32,
        username="someone",
        reason="single",
        state=DeletionState.DELETED,
    )
    response = signed_in(starter).get(
        reverse("admin:files_filedeletion_changelist"), {"job_id": job.pk}
    )
    assert sorted(d.asset_id for d in response.context["cl"].result_list) == IDS
    assert f"Job #{job.pk}" in response.content.decode()


def test_the_log_refuses_a_job_filter_that_is_not_a_number(starter: User) -> None:
    response = signed_in(starter).get(
        reverse("admin:files_filedeletion_changelist"), {"job_id": "1 OR 1=1"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_jobs_list_searches_by_creator_and_ignores_words_for_the_number(
    starter: User, organization: Organization
) -> None:
    job = new_job(organization, starter)
    client = signed_in(starter)
    changelist = reverse("admin:jobs_deletionjob_changelist")
    found = client.get(changelist, {"q": "starter"}).context["cl"].result_list
    assert [j.pk for j in found] == [job.pk]
    assert client.get(changelist, {"q": str(job.pk)}).status_code == 200


def failed_job(org: Organization, user: User) -> DeletionJob:
    """A finished job whose last file's deletion failed."""
    job = finished_job(org, user)
    last = job.files.order_by("line").last()
    with log_rewritten():
        FileDeletion.objects.filter(pk=last.deletion_id).update(
            state=DeletionState.FAILED, outcome="Tallyfy refused the deletion."
        )
    return in_state(job, JobState.FINISHED_WITH_FAILURES)


def test_a_job_that_paused_itself_says_why(starter: User, organization: Organization) -> None:
    job = in_state(
        previewed_job(organization, starter),
        JobState.PAUSED,
        pause_reason="Paused by the worker: Tallyfy refused the token (HTTP 401).",
    )
    content = signed_in(starter).get(page("detail", job)).content.decode()
    assert "Paused by the worker: Tallyfy refused the token (HTTP 401)." in content
    assert "Estimated time left" not in content


def test_the_creator_is_told_when_a_job_paused_itself(
    starter: User, organization: Organization
) -> None:
    job = previewed_job(organization, starter)
    in_state(job, JobState.RUNNING)
    from jobs import machine

    machine.job_pause(job, reason="Paused by the worker: 10 files in a row could not be deleted.")
    response = signed_in(starter).get(reverse("admin:index"))
    assert any("has paused" in m and "10 files in a row" in m for m in messages_of(response))


def test_retry_failed_files_starts_a_linked_job_of_them(
    starter: User, organization: Organization
) -> None:
    job = failed_job(organization, starter)
    client = signed_in(starter)
    assert 'value="Retry failed files (1)"' in client.get(page("detail", job)).content.decode()
    response = client.post(page("retry", job), follow=True)
    retry = DeletionJob.objects.get(retry_of=job)
    assert response.redirect_chain[-1][0] == page("detail", retry)
    assert retry.state == JobState.PREVIEWING
    assert list(retry.files.values_list("asset_id", flat=True)) == [IDS[-1]]
    assert f'the failed files of <a href="{page("detail", job)}"' in response.content.decode()


def test_a_job_with_nothing_failed_offers_no_retry_and_refuses_one(
    starter: User, organization: Organization
) -> None:
    job = finished_job(organization, starter)
    client = signed_in(starter)
    assert "Retry failed files" not in client.get(page("detail", job)).content.decode()
    response = client.post(page("retry", job), follow=True)
    assert any("nothing to try again" in m for m in messages_of(response))
    assert not DeletionJob.objects.filter(retry_of=job).exists()


def test_the_jobs_list_counts_each_jobs_files_by_outcome(
    starter: User, organization: Organization
) -> None:
    failed_job(organization, starter)
    content = signed_in(starter).get(reverse("admin:jobs_deletionjob_changelist")).content
    assert "2 deleted · 1 failed" in content.decode()


def test_a_worker_timeout_shorter_than_two_call_deadlines_is_warned_about(settings: Any) -> None:
    from jobs.checks import worker_timeout_check

    settings.TALLYFY_CALL_DEADLINE = 30
    settings.JOBS_WORKER_TIMEOUT_SECONDS = 60
    assert worker_timeout_check() == []
    settings.JOBS_WORKER_TIMEOUT_SECONDS = 45
    assert [w.id for w in worker_timeout_check()] == ["jobs.W001"]


def pending_row(job: DeletionJob, job_file: JobFile) -> FileDeletion:
    return FileDeletion.objects.create(
        organization=job.organization,
        org_id=job.organization.org_id,
        asset_id=job_file.asset_id,
        file_name=job_file.file_name,
        username=job.created_by_name,
        reason=job.reason,
        state=DeletionState.PENDING,
        job_id=job.pk,
    )


def test_a_file_being_deleted_counts_as_in_flight_not_as_waiting_or_unknown(
    starter: User, organization: Organization
) -> None:
    job = in_state(previewed_job(organization, starter), JobState.RUNNING)
    first, second = job.files.order_by("pk")[:2]
    JobFile.objects.filter(pk=first.pk).update(deletion=pending_row(job, first))
    # A file finished without its outcome (its worker gave up): uncertain until reconciled.
    JobFile.objects.filter(pk=second.pk).update(
        state=FileState.DONE, deletion=pending_row(job, second)
    )
    body = signed_in(starter).get(page("detail", job)).content.decode()
    waiting = job.files.filter(state=FileState.WAITING).count() - 1
    assert 'data-result-count="in_flight">1<' in body
    assert 'data-result-count="unknown">1<' in body
    assert f'data-result-count="waiting">{waiting}<' in body
    shown = signed_in(starter).get(page("detail", job), {"result": "in_flight"})
    assert [f.asset_id for f in shown.context["files"]] == [first.asset_id]
