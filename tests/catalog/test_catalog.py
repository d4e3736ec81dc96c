"""The file index as the panel shows it: search, filters, gone files, the scan pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog import leases, scans, search, selectors
from catalog.admin import tallyfy_run_url
from catalog.folding import fold
from catalog.models import AttachedTo, IndexedFile, Scan, ScanPhase, ScanState
from catalog.tasks import scans_wake_stalled
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import reach_all
from tests.fixtures.catalog import index_file

CHANGELIST = "admin:catalog_indexedfile_changelist"


def names(queryset: object) -> set[str]:
    return {row.file_name for row in queryset}  # type: ignore[attr-defined]


def found(term: str) -> set[str]:
    return names(search.matching(selectors.indexed_files(), term))


@pytest.fixture
def files(organization: Organization) -> list[IndexedFile]:
    return [
        index_file(
            organization,
            "Résumé_Zoë.pdf",
            run_id="r1",
            run_name="Hiring: Zoë Martín",
            uploader_email="zoe@example.com",
        ),
        index_file(
            organization,
            "passport_scan.png",
            run_id="r2",
            run_name="Onboarding: Jane Doe",
            template_name="Employee onboarding",
            uploader_email="jane.guest@example.com",
            uploader_type="guest",
        ),
        index_file(organization, "handbook.pdf", attached_to=AttachedTo.TEMPLATE),
    ]


def test_fold_drops_accents_and_case() -> None:
    assert fold("Résumé_ZOË.pdf") == "resume_zoe.pdf"


@pytest.mark.usefixtures("files")
def test_search_finds_any_part_of_a_name_without_accents() -> None:
    assert found("resume") == {"Résumé_Zoë.pdf"}


@pytest.mark.usefixtures("files")
def test_search_with_accents_finds_the_name_too() -> None:
    assert found("RÉSUMÉ") == {"Résumé_Zoë.pdf"}


@pytest.mark.usefixtures("files")
def test_search_finds_a_run_name() -> None:
    assert found("Jane Doe") == {"passport_scan.png"}


@pytest.mark.usefixtures("files")
def test_search_finds_a_template_name() -> None:
    assert found('"employee onboarding"') == {"passport_scan.png"}


@pytest.mark.usefixtures("files")
def test_search_finds_an_uploader_email() -> None:
    assert found("jane.guest@example.com") == {"passport_scan.png"}


@pytest.mark.usefixtures("files")
def test_search_needs_every_word() -> None:
    assert found("pdf zoe") == {"Résumé_Zoë.pdf"}


@pytest.mark.usefixtures("files")
def test_search_with_a_short_word() -> None:
    assert found("sc") == {"passport_scan.png"}


def test_a_file_deleted_through_the_panel_is_gone_at_once(
    organization: Organization, files: list[IndexedFile]
) -> None:
    FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id=files[0].asset_id,
        username="x",
        reason="GDPR",
        state=DeletionState.DELETED,
    )
    gone = selectors.indexed_files().filter(selectors.gone_q())
    assert names(gone) == {"Résumé_Zoë.pdf"}


def test_a_failed_deletion_leaves_the_file_present(
    organization: Organization, files: list[IndexedFile]
) -> None:
    FileDeletion.objects.create(
        organization=organization,
        org_id=organization.org_id,
        asset_id=files[0].asset_id,
        username="x",
        reason="GDPR",
        state=DeletionState.FAILED,
    )
    assert not selectors.indexed_files().filter(selectors.gone_q()).exists()


def test_the_run_link_goes_to_tallyfys_web_app(organization: Organization) -> None:
    assert tallyfy_run_url(organization, "r1") == (
        f"https://go.tallyfy.com/{organization.org_id}/process/r1"
    )


# --- the admin pages ---


def staff(*codenames: str) -> User:
    user = User.objects.create_user(username="ops", password="pw-for-tests-only", is_staff=True)
    reach_all(user)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def browser(db: None) -> Client:
    client = Client()
    client.force_login(staff("view_indexedfile", "view_scan", "add_scan", "lookup_file"))
    return client


def listed(browser: Client, **params: str) -> str:
    response = browser.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.usefixtures("files")
def test_the_changelist_searches_without_accents(browser: Client) -> None:
    page = listed(browser, q="resume")
    assert "Résumé_Zoë.pdf" in page
    assert "passport_scan.png" not in page


@pytest.mark.usefixtures("files")
def test_the_changelist_filters_by_attached_to(browser: Client) -> None:
    page = listed(browser, attached_to__exact="template")
    assert ("handbook.pdf" in page, "passport_scan.png" in page) == (True, False)


def test_the_changelist_filters_archived_runs(browser: Client, organization: Organization) -> None:
    index_file(organization, "old.pdf", run_id="r9", run_status="archived")
    index_file(organization, "new.pdf", run_id="r8", run_status="active")
    page = listed(browser, run_status="archived")
    assert ("old.pdf" in page, "new.pdf" in page) == (True, False)


@pytest.mark.usefixtures("files")
def test_the_changelist_filters_by_template(browser: Client) -> None:
    page = listed(browser, template="Employee onboarding")
    assert ("passport_scan.png" in page, "handbook.pdf" in page) == (True, False)


def test_the_changelist_filters_gone_files(browser: Client, organization: Organization) -> None:
    index_file(organization, "gone.pdf", gone_at=timezone.now())
    index_file(organization, "here.pdf")
    page = listed(browser, gone="yes")
    assert ("gone.pdf" in page, "here.pdf" in page) == (True, False)


def test_the_changelist_filters_by_uploaded_date(
    browser: Client, organization: Organization
) -> None:
    index_file(organization, "2023.pdf", uploaded_at=datetime(2023, 5, 1, tzinfo=UTC))
    index_file(organization, "2025.pdf", uploaded_at=datetime(2025, 5, 1, tzinfo=UTC))
    page = listed(browser, uploaded_at__year="2023")
    assert ("2023.pdf" in page, "2025.pdf" in page) == (True, False)


def test_each_row_opens_the_files_page(browser: Client, files: list[IndexedFile]) -> None:
    detail = reverse("admin:files_detail", args=[files[0].organization_id, files[0].asset_id])
    assert f'href="{detail}"' in listed(browser)


def test_a_link_row_offers_no_files_page(browser: Client, organization: Organization) -> None:
    index_file(
        organization,
        "Offer letter",
        key="link-" + "0" * 32,
        asset_id="",
        is_link=True,
        link_url="https://drive.example.com/x",
    )
    page = listed(browser)
    assert "link, not a Tallyfy file" in page
    assert reverse("admin:files_detail", args=[organization.pk, "link-" + "0" * 32]) not in page


def test_the_changelist_offers_no_delete_action_yet(browser: Client) -> None:
    assert 'name="action"' not in listed(browser)


def test_the_changelist_links_to_a_scan(browser: Client) -> None:
    assert reverse("admin:catalog_scan_add") in listed(browser)


def test_the_index_is_read_only(browser: Client, files: list[IndexedFile]) -> None:
    change = reverse("admin:catalog_indexedfile_change", args=[files[0].pk])
    assert browser.post(change, {"file_name": "x"}).status_code == 403


def test_the_progress_page_reloads_while_the_scan_runs(
    browser: Client, organization: Organization
) -> None:
    scan = Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        runs_read=50,
        runs_total=200,
        started_at=timezone.now() - timedelta(seconds=30),
    )
    page = browser.get(reverse("admin:catalog_scan_change", args=[scan.pk])).content.decode()
    assert "window.location.reload" in page
    assert "about 1 min" in page


def test_a_finished_scan_page_does_not_reload(browser: Client, organization: Organization) -> None:
    scan = Scan.objects.create(organization=organization, state=ScanState.DONE)
    page = browser.get(reverse("admin:catalog_scan_change", args=[scan.pk])).content.decode()
    assert "window.location.reload" not in page


def test_cancelling_a_queued_scan_ends_it(browser: Client, organization: Organization) -> None:
    scan = Scan.objects.create(organization=organization)
    browser.post(reverse("admin:catalog_scan_cancel", args=[scan.pk]))
    scan.refresh_from_db()
    assert scan.state == ScanState.CANCELLED


def test_cancelling_a_running_scan_stops_it_at_its_next_step(organization: Organization) -> None:
    scan = Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        lease_owner="worker",
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    scans.scan_cancel(scan=scan)
    assert (scan.state, scan.cancel_requested) == (ScanState.RUNNING, True)


def test_a_cancelled_scan_marks_nothing_gone(organization: Organization) -> None:
    index_file(organization, "kept.pdf")
    scan = scans.scan_start(organization=organization)
    scans.scan_cancel(scan=scan)
    assert scans.scan_advance(scan_id=scan.pk).state == ScanState.CANCELLED
    assert not IndexedFile.objects.filter(gone_at__isnull=False).exists()


def test_one_unfinished_scan_per_organization(organization: Organization) -> None:
    first = scans.scan_start(organization=organization)
    assert scans.scan_start(organization=organization).pk == first.pk


def test_a_scan_held_by_a_live_worker_is_not_stepped(organization: Organization) -> None:
    scan = Scan.objects.create(
        organization=organization,
        state=ScanState.RUNNING,
        lease_owner="other",
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    with pytest.raises(leases.ScanBusy):
        scans.scan_advance(scan_id=scan.pk)


def test_scanning_needs_the_add_scan_permission(organization: Organization) -> None:
    client = Client()
    client.force_login(staff("view_indexedfile", "view_scan"))
    response = client.post(reverse("admin:catalog_scan_add"), {"organization": organization.pk})
    assert response.status_code == 403
    assert not Scan.objects.exists()


@pytest.mark.usefixtures("queued_tasks")
def test_a_refresh_asked_for_after_a_scan_reads_only_what_changed(
    browser: Client, organization: Organization
) -> None:
    Scan.objects.create(
        organization=organization,
        state=ScanState.DONE,
        started_at=timezone.now() - timedelta(days=2),
    )
    response = browser.post(
        reverse("admin:catalog_scan_add"), {"organization": organization.pk, "refresh": "on"}
    )
    refresh = Scan.objects.get(state=ScanState.QUEUED)
    assert (refresh.refresh, refresh.phase) == (True, ScanPhase.CHANGES)
    assert refresh.uploads_since == (timezone.now() - timedelta(days=3)).date()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert not any("a full scan is suggested" in message for message in shown)


@pytest.mark.usefixtures("queued_tasks")
def test_a_refresh_suggests_a_full_scan_a_week_after_the_last(
    browser: Client, organization: Organization
) -> None:
    Scan.objects.create(
        organization=organization,
        state=ScanState.DONE,
        started_at=timezone.now() - timedelta(days=8),
    )
    response = browser.post(
        reverse("admin:catalog_scan_add"), {"organization": organization.pk, "refresh": "on"}
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("a full scan is suggested" in message for message in shown)


@pytest.mark.usefixtures("queued_tasks")
def test_the_scan_button_starts_a_scan_and_shows_its_progress(
    browser: Client, organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = browser.post(
            reverse("admin:catalog_scan_add"), {"organization": organization.pk}
        )
    scan = Scan.objects.get()
    assert response["Location"] == reverse("admin:catalog_scan_change", args=[scan.pk])
    assert (scan.state, len(callbacks)) == (ScanState.QUEUED, 1)


def test_the_date_hierarchy_offers_the_years_between_first_and_last_upload(
    browser: Client, organization: Organization
) -> None:
    index_file(organization, "2023.pdf", uploaded_at=datetime(2023, 5, 1, tzinfo=UTC))
    index_file(organization, "2025.pdf", uploaded_at=datetime(2025, 5, 1, tzinfo=UTC))
    page = listed(browser)
    assert all(f"uploaded_at__year={year}" in page for year in (2023, 2024, 2025))


@pytest.mark.usefixtures("files")
def test_the_template_filter_offers_each_template_once(browser: Client) -> None:
    index_file(Organization.objects.get(), "other.pdf", template_name="Employee onboarding")
    assert listed(browser).count("template=Employee+onboarding") == 1


def test_a_scan_nobody_steps_is_handed_back_to_the_workers(
    organization: Organization,
    queued_tasks: None,
) -> None:
    long_ago = timezone.now() - leases.LEASE - timedelta(seconds=1)
    stalled = Scan.objects.create(organization=organization, updated_at=long_ago)
    assert scans_wake_stalled() == [stalled.pk]
    assert scans_wake_stalled() == []  # woken: not again until another lease has passed


def test_a_scan_whose_lease_is_held_is_left_to_its_worker(
    organization: Organization,
    queued_tasks: None,
) -> None:
    Scan.objects.create(
        organization=organization,
        updated_at=timezone.now() - leases.LEASE - timedelta(seconds=1),
        lease_owner="alive",
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    assert scans_wake_stalled() == []


def test_a_pasted_run_url_links_those_who_may_not_scan_to_its_files_in_the_index(
    organization: Organization,
) -> None:
    index_file(organization, "in-run.pdf", run_id="r" * 32)
    index_file(organization, "elsewhere.pdf", run_id="s" * 32)
    client = Client()
    client.force_login(staff("view_indexedfile", "lookup_file"))
    pasted = f"https://go.tallyfy.com/api/organizations/{organization.org_id}/runs/{'r' * 32}"
    page = client.get(reverse("admin:files_lookup"), {"file": pasted})
    link = page.context["hint"].url
    assert link == f"{reverse(CHANGELIST)}?run_id={'r' * 32}"
    listed = client.get(link)
    assert [f.file_name for f in listed.context["cl"].result_list] == ["in-run.pdf"]


def test_delete_selected_files_starts_a_deletion_job_of_them(
    organization: Organization, admin_client: Client
) -> None:
    from jobs.models import DeletionJob

    wanted = index_file(organization, "leak.pdf", key="a" * 32)
    index_file(organization, "link", key="b" * 32, is_link=True, asset_id="")
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "delete_selected_files",
            "_selected_action": [f.pk for f in IndexedFile.objects.all()],
        },
    )
    job = DeletionJob.objects.get()
    assert response["Location"] == reverse("admin:jobs_detail", args=[job.pk])
    assert list(job.files.values_list("asset_id", flat=True)) == [wanted.asset_id]


def test_delete_selected_files_is_offered_only_to_deleters(
    organization: Organization, viewer: User
) -> None:
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_indexedfile"))
    client = Client()
    client.force_login(viewer)
    index_file(organization, "leak.pdf")
    page = client.get(reverse(CHANGELIST))
    assert b"delete_selected_files" not in page.content


def test_the_organization_page_offers_a_scan_of_it(
    organization: Organization, admin_client: Client
) -> None:
    page = admin_client.get(
        reverse("admin:organizations_organization_change", args=[organization.pk])
    )
    scan_url = f"{reverse('admin:catalog_scan_add')}?organization={organization.pk}"
    assert f'href="{scan_url}"' in page.content.decode()
    form = admin_client.get(scan_url).context["adminform"].form
    assert str(form["organization"].value()) == str(organization.pk)


def test_a_file_a_scan_missed_but_tallyfy_still_has_says_so_in_the_list(
    browser: Client, organization: Organization
) -> None:
    scan = Scan.objects.create(organization=organization, state=ScanState.DONE)
    index_file(organization, "unlisted.pdf", missed_by_scan=scan)
    assert f"Present (not listed by scan {scan.pk})" in listed(browser)


def test_a_scans_page_shows_its_failures_and_missed_files(
    browser: Client, organization: Organization
) -> None:
    scan = Scan.objects.create(
        organization=organization,
        state=ScanState.FAILED,
        failures=8,
        files_missed=3,
        files_unchecked=2,
        last_error="Stopped after 8 failed attempts in a row: not JSON",
    )
    page = browser.get(reverse("admin:catalog_scan_change", args=[scan.pk])).content.decode()
    assert "Stopped after 8 failed attempts in a row" in page
    assert "Files missed but still there" in page
    assert "Files missed and not checked" in page


def test_the_scan_page_starts_a_scan_with_one_button(browser: Client) -> None:
    body = browser.get(reverse("admin:catalog_scan_add")).content.decode()
    assert "Scan an organization for its files" in body
    assert 'name="_addanother"' not in body
    assert 'name="_continue"' not in body
    assert '<input type="submit" value="Start the scan" class="default" name="_save">' in body
    assert '<li aria-current="page">Scan an organization</li>' in body
    assert "Add scan" not in body


def test_the_index_list_has_one_attached_to_column_naming_the_kind_and_place(
    browser: Client, organization: Organization
) -> None:
    index_file(organization, "a.pdf", run_id="r1", run_name="Onboarding", task_name="Passport")
    content = browser.get(reverse("admin:catalog_indexedfile_changelist")).content.decode()
    assert content.count(">Attached to<") == 1
    assert "Process run</span><br>" in content
    assert "Onboarding: Passport</a>" in content
