"""The page a run or task URL pasted in the look-up leads to (`admin:catalog_scan_process_run`): the
run's or task's files in the index, the run scanned first when the index has nothing of it.

GET changes nothing: it opens the files, or asks to scan the run. POST scans it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode

from admin_pages.pages import admin_page, render_page
from catalog import process_run_scans
from catalog.models import Scan, ScanState
from catalog.selectors import process_run_or_task_indexed
from organizations.errors import USER_FACING_ERRORS, describe_failure
from organizations.models import Organization
from organizations.selectors import organizations_for
from tallyfy_api.ids import is_valid_id

SCAN_PERMISSION = "catalog.add_scan"


def files_url(organization: Organization, *, run_id: str = "", task_id: str = "") -> str:
    """The index filtered to the organization, and to the task or else the run when given."""
    params: dict[str, object] = {"organization__id__exact": organization.pk}
    if task_id:
        params["task_id"] = task_id
    elif run_id:
        params["run_id"] = run_id
    return f"{reverse('admin:catalog_indexedfile_changelist')}?{urlencode(params)}"


@admin_page(lambda user: user.has_perm(SCAN_PERMISSION))
def process_run_files_view(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    org_pk, run_id, task_id = (data.get(name, "") for name in ("organization", "run_id", "task_id"))
    if not org_pk.isdigit() or not (run_id or task_id):
        return HttpResponseRedirect(reverse("admin:files_lookup"))
    organization = get_object_or_404(organizations_for(request.user), pk=int(org_pk))
    if any(value and not is_valid_id(value) for value in (run_id, task_id)):
        messages.error(request, "That is not a valid Tallyfy run or task id.")
        return _back_to_lookup(organization)
    found_url = files_url(organization, run_id=run_id, task_id=task_id)
    if process_run_or_task_indexed(organization=organization, run_id=run_id, task_id=task_id):
        return HttpResponseRedirect(found_url)
    if request.method == "POST" and run_id:
        return _scan_process_run(request, organization, run_id=run_id, found_url=found_url)
    what = f"task {task_id}" if task_id else f"process run {run_id}"
    return render_page(
        request,
        "admin/catalog/scan/process_run_files.html",
        f"Files of {what}",
        opts=Scan._meta,
        what=what,
        organization=organization,
        run_id=run_id,
        task_id=task_id,
        scan_add_url=f"{reverse('admin:catalog_scan_add')}?"
        + urlencode({"organization": organization.pk}),
    )


def _scan_process_run(
    request: HttpRequest, organization: Organization, *, run_id: str, found_url: str
) -> HttpResponse:
    try:
        scan = process_run_scans.process_run_scan_now(
            organization=organization, run_id=run_id, user=request.user
        )
    except process_run_scans.ProcessRunNotFound as exc:
        messages.error(request, str(exc))
        return _back_to_lookup(organization)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization))
        return _back_to_lookup(organization)
    if scan.state == ScanState.DONE:
        found = f"{scan.files_found} file{'' if scan.files_found == 1 else 's'}"
        messages.success(request, f"Process run {run_id} scanned: {found} found.")
        return HttpResponseRedirect(found_url)
    if scan.state == ScanState.FAILED:
        messages.error(request, f"The scan of process run {run_id} failed: {scan.last_error}")
    else:
        messages.info(
            request,
            f"Tallyfy is slow to answer just now: process run {run_id} is being scanned in the "
            "background. This page links to its files when it is done.",
        )
    return HttpResponseRedirect(reverse("admin:catalog_scan_change", args=[scan.pk]))


def _back_to_lookup(organization: Organization) -> HttpResponse:
    return HttpResponseRedirect(
        f"{reverse('admin:files_lookup')}?{urlencode({'organization': organization.pk})}"
    )
