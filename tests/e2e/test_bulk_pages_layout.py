"""The bulk pages' layout as a compliance officer sees it: the jobs list and the file index
show every column at desktop widths, a job's page fits a phone, and a long job keeps its
summary on top with its files a page at a time."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.utils import timezone
from playwright.sync_api import Page

from jobs.models import DeletionJob
from jobs.views import FILES_PER_PAGE
from organizations.models import Organization
from tests.e2e.conftest import PASSWORD, sign_in
from tests.e2e.test_pages import _erasure_requests, _jobs
from tests.fixtures.accounts import make_staff
from tests.fixtures.organizations import make_organization

# What the columns of a list measure against the room its results have, and the page's width.
FITS = """() => {
  const results = document.querySelector('.results');
  return {
    page: document.documentElement.scrollWidth,
    table: results.scrollWidth,
    room: results.clientWidth,
    headers: [...document.querySelectorAll('#result_list thead th')].map(th => th.innerText.trim()),
  };
}"""


def test_the_jobs_list_and_the_file_index_show_every_column_at_desktop_widths(
    page: Page, panel: str, sandbox_org: Organization
) -> None:
    # A second organization: the jobs list then has its Organization column too.
    make_organization(org_id="b" * 32, name="Acme Insurance")
    admin = User.objects.create_superuser("root", password=PASSWORD)
    approver = make_staff("approver")
    approver.user_permissions.add(Permission.objects.get(codename="approve_deletionjob"))
    jobs = _jobs(sandbox_org, admin, approver)
    DeletionJob.objects.filter(pk=jobs["running"].pk).update(
        approved_by=approver, approved_by_name="approver", approved_at=timezone.now()
    )
    sign_in(page, panel, admin)
    for width in (1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{panel}/admin/jobs/deletionjob/")
        jobs = page.evaluate(FITS)
        assert jobs["table"] <= jobs["room"], (width, jobs)
        assert jobs["page"] <= width
        assert "ORGANIZATION" in jobs["headers"]
        listed = page.locator("#result_list tbody").inner_text()
        assert (listed.count("approved by approver"), listed.count("Rejected by approver")) == (
            1,
            1,
        )

        page.goto(f"{panel}/admin/catalog/indexedfile/")
        index = page.evaluate(FITS)
        assert index["table"] <= index["room"], (width, index)
        assert index["page"] <= width
        assert index["headers"].count("ATTACHED TO") == 1
        assert index["headers"][-1] == "STATUS"


def test_a_jobs_page_fits_a_phone_and_a_long_job_keeps_its_summary_on_top(
    page: Page, panel: str, sandbox_org: Organization
) -> None:
    admin = User.objects.create_superuser("root", password=PASSWORD)
    approver = make_staff("approver")
    jobs = _jobs(sandbox_org, admin, approver)
    sign_in(page, panel, admin)
    page.set_viewport_size({"width": 390, "height": 844})
    for name, job in jobs.items():
        page.goto(f"{panel}/admin/deletion-jobs/{job.pk}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{panel}/admin/deletion-jobs/{jobs['previewed'].pk}/")  # 58 files
    summary = page.locator("#job-summary").bounding_box()
    files = page.locator("#job-files").bounding_box()
    assert summary is not None
    assert files is not None
    assert summary["y"] < files["y"]
    assert page.locator("#job-files tbody tr").count() == FILES_PER_PAGE
    pages = page.locator("#job-files .paginator")
    assert pages.locator("li").all_inner_texts() == ["1", "2", "3"]
    assert pages.inner_text().endswith("58 files")
    assert page.evaluate("document.documentElement.scrollHeight") < 3600


def test_an_erasure_requests_pages_fit_a_phone(
    page: Page, panel: str, sandbox_org: Organization
) -> None:
    admin = User.objects.create_superuser("root", password=PASSWORD)
    _jobs(sandbox_org, admin, make_staff("approver"))  # index rows holding the subject's files
    requests = _erasure_requests(sandbox_org, admin)
    sign_in(page, panel, admin)
    page.set_viewport_size({"width": 390, "height": 844})
    change = "/admin/erasure/erasurerequest/{}/change/"
    paths = [change.format(request.pk) for request in requests.values()]
    paths.append(f"/admin/erasure/erasurerequest/{requests['completed'].pk}/receipt/")
    for path in paths:
        page.goto(f"{panel}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
