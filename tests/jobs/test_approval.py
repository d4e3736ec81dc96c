"""Approving with eyes open: the preview and approval pages name each file's run, task or
template and its uploader (with how the uploader is known) from the index, say which search
built the job, let an approver open the index, and let them reject the job with a reason."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import AttachedTo
from files.models import FileDeletion
from jobs import machine, services
from jobs.middleware import ended_message
from jobs.models import DeletionJob, FileState, JobState
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.catalog import index_file
from tests.fixtures.organizations import make_organization
from tests.jobs.test_pages import IDS, in_state, messages_of, page, previewed_job, with_approval


@pytest.fixture
def starter(db: None) -> User:
    return make_staff("starter", "lookup_file", "delete_file", "view_filedeletion")


@pytest.fixture
def approver(db: None) -> User:
    return with_approval(make_staff("approver"))


def awaiting(organization: Organization, starter: User, **changes: object) -> DeletionJob:
    return in_state(
        previewed_job(organization, starter),
        JobState.AWAITING_APPROVAL,
        reason="GDPR-2024-0117",
        **changes,
    )


def row_of(content: str, asset_id: str) -> str:
    """The files table's row of one file."""
    start = content.index(f'<tr data-file="{asset_id}">')
    return content[start : content.index("</tr>", start)]


# What the approver sees


def test_the_approval_page_names_places_and_uploaders_from_the_index(
    organization: Organization, starter: User, approver: User
) -> None:
    index_file(
        organization,
        "file-0.pdf",
        key=IDS[0],
        run_id="a" * 32,
        run_name="Onboarding: Jane Roe",
        task_name="Upload your passport",
        template_name="Client onboarding",
        uploader_email="jane@example.com",
        uploader_note="Named by the activity feed.",
    )
    index_file(
        organization,
        "file-1.pdf",
        key=IDS[1],
        attached_to=AttachedTo.TEMPLATE,
        template_name="Contract template",
        uploader_email="bob@example.com",
        uploader_inferred=True,
    )
    index_file(organization, "file-2.pdf", key=IDS[2], run_id="b" * 32, run_name="Offboarding")
    job = awaiting(organization, starter, built_from="the file index searched for “jane”")
    content = signed_in(approver).get(page("detail", job)).content.decode()
    first, second, third = (row_of(content, asset_id) for asset_id in IDS)
    assert "Onboarding: Jane Roe</a>: Upload your passport" in first
    assert "template Client onboarding" in first
    assert "<code>run-1</code>" not in first  # the preview's bare id gives way to names
    assert "jane@example.com" in first
    assert ">exact<" in first
    assert "Template</span> Contract template" in second
    assert "bob@example.com" in second
    assert ">inferred<" in second
    assert "Offboarding" in third
    assert ">unknown<" in third
    assert "the file index searched for “jane”" in content
    assert 'id="job-index-link"' in content


def test_a_file_the_index_has_not_seen_keeps_what_the_preview_read(
    organization: Organization, starter: User, approver: User
) -> None:
    job = awaiting(organization, starter)
    content = signed_in(approver).get(page("detail", job)).content.decode()
    assert "Run <code>run-1</code>" in row_of(content, IDS[0])
    assert content.count("not in the index") == len(IDS)


def test_the_index_of_another_organization_is_not_used(
    organization: Organization, starter: User, approver: User
) -> None:
    other_organization = make_organization(org_id="other-org", name="Other")
    index_file(other_organization, "x.pdf", key=IDS[0], run_name="Elsewhere", run_id="c" * 32)
    job = awaiting(organization, starter)
    assert "Elsewhere" not in signed_in(approver).get(page("detail", job)).content.decode()


def test_an_approve_only_user_may_read_the_index(approver: User) -> None:
    client = signed_in(approver)
    assert client.get(reverse("admin:catalog_indexedfile_changelist")).status_code == 200
    assert reverse("admin:catalog_indexedfile_changelist") in client.get("/admin/").content.decode()
    assert make_staff("nobody").has_perm("jobs.approve_deletionjob") is False
    nobody = signed_in(User.objects.get(username="nobody"))
    assert nobody.get(reverse("admin:catalog_indexedfile_changelist")).status_code == 403


# Rejecting


def test_an_approver_rejects_with_a_reason_and_nothing_is_sent(
    organization: Organization, starter: User, approver: User
) -> None:
    job = awaiting(organization, starter)
    response = signed_in(approver).post(
        page("reject", job),
        {"rejection_reason": "  Wrong customer: check the ticket.  "},
        follow=True,
    )
    job.refresh_from_db()
    assert job.state == JobState.REJECTED
    assert (job.rejected_by, job.rejected_by_name) == (approver, "approver")
    assert job.rejected_at is not None
    assert job.finished_at is not None
    assert job.rejection_reason == "Wrong customer: check the ticket."
    assert set(job.files.values_list("state", flat=True)) == {FileState.NOT_ATTEMPTED}
    assert not FileDeletion.objects.filter(job_id=job.pk).exists()
    content = response.content.decode()
    assert 'id="job-rejected"' in content
    assert "sent nothing to Tallyfy" in content
    assert "Wrong customer: check the ticket." in content
    assert any("is rejected" in m for m in messages_of(response))
    assert 'id="approve-form"' not in content
    assert 'id="reject-form"' not in content


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(
    organization: Organization, starter: User, approver: User, reason: str
) -> None:
    job = awaiting(organization, starter)
    response = signed_in(approver).post(page("reject", job), {"rejection_reason": reason})
    assert response.status_code == 200
    assert 'id="reject-form"' in response.content.decode()
    assert response.context["reject_form"].errors
    job.refresh_from_db()
    assert (job.state, job.rejected_at) == (JobState.AWAITING_APPROVAL, None)


def test_nobody_rejects_their_own_job(organization: Organization, starter: User) -> None:
    starter = with_approval(starter)
    job = awaiting(organization, starter)
    response = signed_in(starter).post(page("reject", job), {"rejection_reason": "no"}, follow=True)
    assert any("Nobody rejects their own job" in m for m in messages_of(response))
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL


def test_only_approvers_may_reject(organization: Organization, starter: User) -> None:
    job = awaiting(organization, starter)
    colleague = make_staff("colleague", "lookup_file", "delete_file")
    assert (
        signed_in(colleague).post(page("reject", job), {"rejection_reason": "x"}).status_code == 403
    )
    assert signed_in(colleague).get(page("reject", job)).status_code in (403, 405)
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL


@pytest.mark.parametrize("state", [JobState.PREVIEWED, JobState.SCHEDULED, JobState.RUNNING])
def test_only_a_job_awaiting_approval_can_be_rejected(
    organization: Organization, starter: User, approver: User, state: JobState
) -> None:
    job = in_state(previewed_job(organization, starter), state)
    with pytest.raises(services.JobRefused, match="not awaiting approval"):
        services.job_reject(job=job, user=approver, reason="no")
    job.refresh_from_db()
    assert job.state == state
    assert job.rejected_at is None
    assert not job.files.filter(state=FileState.NOT_ATTEMPTED).exists()


def test_a_rejected_job_never_starts_nor_resumes_nor_is_approved(
    organization: Organization, starter: User, approver: User
) -> None:
    job = services.job_reject(job=awaiting(organization, starter), user=approver, reason="no")
    with pytest.raises(services.JobRefused):
        services.job_approve(job=job, user=approver)
    assert machine.job_start_if_due(job) is False
    assert machine.job_resume(job) is False
    assert machine.job_cancel(job) is False
    job.refresh_from_db()
    assert job.state == JobState.REJECTED


def test_an_approval_after_a_rejection_loses_the_race(
    organization: Organization, starter: User, approver: User
) -> None:
    job = awaiting(organization, starter)
    stale = DeletionJob.objects.get(pk=job.pk)
    services.job_reject(job=job, user=approver, reason="no")
    with pytest.raises(services.JobRefused):
        services.job_approve(job=stale, user=approver)
    stale.refresh_from_db()
    assert (stale.state, stale.approved_at) == (JobState.REJECTED, None)


def test_the_creator_is_told_of_the_rejection_and_why(
    organization: Organization, starter: User, approver: User
) -> None:
    job = services.job_reject(
        job=awaiting(organization, starter), user=approver, reason="Wrong customer"
    )
    told = services.jobs_ended_untold(user=starter)
    assert [each.pk for each in told] == [job.pk]
    assert "was rejected by approver: Wrong customer" in ended_message(told[0])


# Layout


def test_a_long_job_pages_its_files_below_the_summary(
    organization: Organization, starter: User
) -> None:
    ids = [f"{n:032x}" for n in range(1, 59)]
    job = previewed_job(organization, starter, ids)
    client = signed_in(starter)
    first = client.get(page("detail", job)).content.decode()
    assert first.count("<tr data-file=") == 25
    assert "Files 1 to 25 of 58" in first
    assert first.index('id="job-summary"') < first.index('id="confirm-form"')
    assert first.index('id="confirm-form"') < first.index('id="job-files"')
    last = client.get(page("detail", job) + "?p=3").content.decode()
    assert last.count("<tr data-file=") == 8
    assert "Files 51 to 58 of 58" in last


def test_job_pages_have_one_breadcrumb_to_the_jobs_list(
    organization: Organization, starter: User
) -> None:
    job = previewed_job(organization, starter)
    content = signed_in(starter).get(page("detail", job)).content.decode()
    crumbs = content[content.index('<ol class="breadcrumbs">') : content.index("</ol>")]
    assert crumbs.count("Deletion jobs") == 1
    assert reverse("admin:jobs_deletionjob_changelist") in crumbs
    assert f'<li aria-current="page">{job}</li>' in crumbs


def crumbs_of(content: str) -> list[str]:
    """The breadcrumb bar's items, as text."""
    bar = content[content.index('<ol class="breadcrumbs">') : content.index("</ol>")]
    return [re.sub(r"<[^>]+>", "", "<li" + item).strip() for item in bar.split("<li")[1:]]


def test_the_jobs_list_and_a_jobs_history_name_deletion_jobs_once(
    organization: Organization, starter: User
) -> None:
    starter.is_superuser = True
    starter.save()
    job = previewed_job(organization, starter)
    client = signed_in(starter)
    listing = client.get(reverse("admin:jobs_deletionjob_changelist")).content.decode()
    assert crumbs_of(listing) == ["Home", "Deletion jobs"]
    history = client.get(reverse("admin:jobs_deletionjob_history", args=[job.pk]))
    assert crumbs_of(history.content.decode()) == ["Home", "Deletion jobs", str(job), "History"]
    assert f'href="{page("detail", job)}"' in history.content.decode()


def test_the_jobs_list_says_who_approved_or_rejected(
    organization: Organization, starter: User, approver: User
) -> None:
    rejected = services.job_reject(job=awaiting(organization, starter), user=approver, reason="no")
    content = signed_in(approver).get(reverse("admin:jobs_deletionjob_changelist")).content.decode()
    assert "Rejected by approver" in content
    assert str(rejected) in content
    assert '<label for="searchbar">' in content


def test_the_jobs_list_shows_the_organization_only_when_there_are_several(
    organization: Organization, starter: User, approver: User
) -> None:
    awaiting(organization, starter)
    url = reverse("admin:jobs_deletionjob_changelist")
    assert "column-organization" not in signed_in(approver).get(url).content.decode()
    make_organization(org_id="other-org", name="Other")
    assert "column-organization" in signed_in(approver).get(url).content.decode()
