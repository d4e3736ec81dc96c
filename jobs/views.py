"""The deletion job pages, served inside the admin site: thin views over `jobs.services`."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.sudo import sudo_required
from admin_pages.pages import User, admin_page, render_page
from catalog.selectors import indexed_by_asset_id, may_read_index, tallyfy_run_url
from files.models import DeletionState
from jobs import machine, services
from jobs.conf import conf
from jobs.forms import JobConfirmForm, JobCreateForm, JobRejectForm
from jobs.models import DeletionJob, FileState, JobState, PreviewState
from organizations.selectors import organizations_for, within_reach
from tallyfy_api.names import plain_text

LOOKUP_PERMISSION = "files.lookup_file"
DELETE_PERMISSION = "files.delete_file"
APPROVE_PERMISSION = "jobs.approve_deletionjob"
LOG_PERMISSION = "files.view_filedeletion"
START_PERMISSIONS = (LOOKUP_PERMISSION, DELETE_PERMISSION)
FILES_PER_PAGE = 25
BAD_LINES_SHOWN = 200


def may_start_jobs(user: User) -> bool:
    return user.has_perms(START_PERMISSIONS)


def may_view_jobs(user: User) -> bool:
    return user.has_perm(DELETE_PERMISSION) or user.has_perm(APPROVE_PERMISSION)


def may_approve_jobs(user: User) -> bool:
    return user.has_perm(APPROVE_PERMISSION)


def may_stop_jobs(user: User) -> bool:
    """Pausing and cancelling only make a job do less: approvers may too."""
    return may_view_jobs(user)


def _with_index_rows(job: DeletionJob, files: Any) -> None:
    """Each shown file's index row (`file.indexed`, None when the index has not seen it): its
    run, task or template by name and its uploader, in one query a page."""
    rows = indexed_by_asset_id(
        organization_id=job.organization_id, asset_ids=[file.asset_id for file in files]
    )
    for file in files:
        file.indexed = row = rows.get(file.asset_id)
        file.run_url = tallyfy_run_url(job.organization, row.run_id) if row and row.run_id else ""


def _job(request: HttpRequest, job_pk: int) -> DeletionJob:
    """The job, if its organization is one the user may reach; else 404."""
    jobs = within_reach(DeletionJob.objects.select_related("organization"), request.user)
    return get_object_or_404(jobs, pk=job_pk)


@require_http_methods(["GET", "POST"])
@admin_page(may_start_jobs)
def job_create_view(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    first_two = list(organizations_for(request.user)[:2])
    if len(first_two) == 1:
        initial["organization"] = first_two[0]
    form = JobCreateForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        organizations=organizations_for(request.user),
    )
    bad_lines: list[Any] = []
    if request.method == "POST" and form.is_valid():
        wanted = form.wanted()
        try:
            job = services.job_create(
                organization=form.cleaned_data["organization"], user=request.user, wanted=wanted
            )
        except services.BadLines as exc:
            bad_lines = exc.bad
            form.add_error(None, f"{exc} Nothing was created: correct or remove them.")
        except services.JobRefused as exc:
            form.add_error(None, str(exc))
        else:
            text = (
                f"Deletion job {job.pk} holds {len(wanted.files):,} file(s). Its preview is "
                "running: nothing is deleted until you confirm."
            )
            if wanted.duplicates:
                text += f" {wanted.duplicates:,} repeated line(s) were merged."
            messages.success(request, text)
            return redirect("admin:jobs_detail", job_pk=job.pk)
    return render_page(
        request,
        "jobs/create.html",
        "Delete many files",
        form=form,
        bad_lines=bad_lines[:BAD_LINES_SHOWN],
        bad_lines_more=max(0, len(bad_lines) - BAD_LINES_SHOWN),
    )


@require_GET
@admin_page(may_view_jobs)
def job_detail_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    return _job_page(request, _job(request, job_pk))


def _job_page(
    request: HttpRequest,
    job: DeletionJob,
    confirm_form: JobConfirmForm | None = None,
    reject_form: JobRejectForm | None = None,
) -> HttpResponse:
    user = request.user
    progress = services.job_progress(job=job)
    is_creator = job.created_by_id == user.pk
    started = job.state not in (
        JobState.PREVIEWING,
        JobState.PREVIEWED,
        JobState.AWAITING_APPROVAL,
        JobState.REJECTED,
    ) and not (job.state == JobState.CANCELLED and job.confirmed_at is None)
    can_confirm = job.state == JobState.PREVIEWED and is_creator and may_start_jobs(user)
    if can_confirm and confirm_form is None:
        confirm_form = JobConfirmForm()
    can_approve = (
        job.state == JobState.AWAITING_APPROVAL and not is_creator and may_approve_jobs(user)
    )
    files, filters = _files_shown(request, job, started=started)
    _with_index_rows(job, files)
    can_view_log = user.has_perm(LOG_PERMISSION)
    can_cancel = job.state not in services.ENDED_STATES and may_stop_jobs(user)
    retryable = (
        progress.log[DeletionState.FAILED]
        + progress.log[DeletionState.UNKNOWN]
        + progress.files[FileState.REFUSED]
    )
    return render_page(
        request,
        "jobs/job.html",
        str(job),
        job=job,
        progress=progress,
        resolved=progress.total - progress.preview[PreviewState.UNRESOLVED],
        approval_threshold=conf.JOBS_APPROVAL_THRESHOLD,
        preview_counts=_preview_counts(progress),
        result_counts=_result_counts(progress),
        started=started,
        ended=job.state in services.ENDED_STATES,
        stopping=job.state == JobState.CANCELLED and job.finished_at is None,
        polls=_polls(job),
        is_creator=is_creator,
        can_confirm=can_confirm,
        confirm_form=confirm_form,
        can_approve=can_approve,
        reject_form=reject_form or (JobRejectForm() if can_approve else None),
        can_pause=job.state in (JobState.SCHEDULED, JobState.RUNNING) and may_stop_jobs(user),
        can_resume=job.state == JobState.PAUSED and may_start_jobs(user),
        can_cancel=can_cancel,
        # As the stock change form's delete link: in the submit row of the form the page is for.
        cancel_beside=can_cancel and (can_confirm or can_approve),
        can_retry=bool(retryable) and job.finished_at is not None and may_start_jobs(user),
        retryable=retryable,
        can_view_log=can_view_log,
        can_view_index=may_read_index(user),
        log_url=_log_url(job) if can_view_log else None,
        files=files,
        # The stock changelist's page numbers: both ends and two on each side of this page.
        page_range=files.paginator.get_elided_page_range(files.number, on_each_side=2, on_ends=1),
        filters=filters,
        time_left=services.job_time_left_text(progress.seconds_left),
        not_attempted=progress.files[FileState.NOT_ATTEMPTED],
    )


def _polls(job: DeletionJob) -> bool:
    """Whether the page may still change without this user doing anything."""
    if job.state == JobState.PREVIEWED:
        return False
    return job.finished_at is None


def _log_url(job: DeletionJob) -> str:
    return f"{reverse('admin:files_filedeletion_changelist')}?{urlencode({'job_id': job.pk})}"


def _preview_counts(progress: services.Progress) -> list[tuple[str, str, int]]:
    return [
        (state.value, state.label, progress.preview[state])
        for state in PreviewState
        if state != PreviewState.UNRESOLVED or progress.preview[state]
    ]


# What a file came to, for the counts and the files table: a key, its label, and the files.
RESULTS: dict[str, tuple[str, Q]] = {
    "waiting": ("Waiting", Q(state=FileState.WAITING, deletion__isnull=True)),
    "in_flight": ("Being deleted now", machine.in_flight()),
    "deleted": ("Deleted", Q(state=FileState.DONE, deletion__state=DeletionState.DELETED)),
    "already_gone": (
        "Already gone",
        Q(state=FileState.DONE, deletion__state=DeletionState.ALREADY_GONE),
    ),
    "failed": ("Failed", Q(state=FileState.DONE, deletion__state=DeletionState.FAILED)),
    "unknown": (
        "Unknown (to be reconciled)",
        Q(
            state=FileState.DONE,
            deletion__state__in=[DeletionState.UNKNOWN, DeletionState.PENDING],
        ),
    ),
    "refused": ("Refused before sending", Q(state=FileState.REFUSED)),
    "not_attempted": ("Not attempted", Q(state=FileState.NOT_ATTEMPTED)),
    "left_out": ("Left out at preview", Q(state=FileState.LEFT_OUT)),
}


def _result_counts(progress: services.Progress) -> list[tuple[str, str, int]]:
    numbers = {
        "waiting": progress.files[FileState.WAITING] - progress.in_flight,
        "in_flight": progress.in_flight,
        "deleted": progress.log[DeletionState.DELETED],
        "already_gone": progress.log[DeletionState.ALREADY_GONE],
        "failed": progress.log[DeletionState.FAILED],
        # A pending row no worker holds (a file finished without its outcome) is uncertain.
        "unknown": progress.log[DeletionState.UNKNOWN]
        + progress.log[DeletionState.PENDING]
        - progress.in_flight,
        "refused": progress.files[FileState.REFUSED],
        "not_attempted": progress.files[FileState.NOT_ATTEMPTED],
        "left_out": progress.files[FileState.LEFT_OUT],
    }
    return [(key, label, numbers[key]) for key, (label, _) in RESULTS.items()]


def _files_shown(
    request: HttpRequest, job: DeletionJob, *, started: bool
) -> tuple[Any, dict[str, Any]]:
    """One page of the job's files, narrowed by preview state or by result (values outside
    the known ones show every file)."""
    files = job.files.select_related("deletion")
    preview = request.GET.get("preview", "")
    result = request.GET.get("result", "")
    if preview in PreviewState.values:
        files = files.filter(preview=preview)
        result = ""
    elif started and result in RESULTS:
        files = files.filter(RESULTS[result][1])
        preview = ""
    else:
        preview = result = ""
    page = Paginator(files.order_by("line", "id"), FILES_PER_PAGE).get_page(request.GET.get("p"))
    query = {"preview": preview} if preview else {"result": result} if result else {}
    return page, {
        "preview": preview,
        "result": result,
        "query": urlencode(query),
        "results": list(RESULTS.items()) if started else [],
    }


@require_GET
@admin_page(may_view_jobs)
def job_progress_view(request: HttpRequest, job_pk: int) -> JsonResponse:
    job = _job(request, job_pk)
    progress = services.job_progress(job=job)
    resolved = progress.total - progress.preview[PreviewState.UNRESOLVED]
    payload = {
        "state": job.state,
        "state_label": job.get_state_display(),
        "total": progress.total,
        "resolved": resolved,
        "to_delete": progress.to_delete,
        "done": progress.done,
        "percent": progress.percent,
        "preview": {key: n for key, _, n in _preview_counts(progress)},
        "results": {key: n for key, _, n in _result_counts(progress)},
        "per_minute": None if progress.per_minute is None else round(progress.per_minute, 1),
        "time_left": services.job_time_left_text(progress.seconds_left),
        "polls": _polls(job),
    }
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@admin_page(may_start_jobs)
@sudo_required
def job_confirm_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    job = _job(request, job_pk)
    form = JobConfirmForm(request.POST)
    if form.is_valid():
        try:
            job = services.job_confirm(
                job=job,
                user=request.user,
                reason=form.cleaned_data["reason"],
                typed_count=form.cleaned_data["typed_count"],
                start_after=form.cleaned_data["start_after"],
            )
        except services.JobRefused as exc:
            form.add_error(
                "typed_count" if str(exc).startswith("Type the number") else None, str(exc)
            )
        else:
            if job.state == JobState.AWAITING_APPROVAL:
                messages.success(
                    request,
                    f"{job} is confirmed. It waits for the approval of a second staff user.",
                )
            else:
                messages.success(request, f"{job} is confirmed and scheduled.")
            return redirect("admin:jobs_detail", job_pk=job.pk)
    job.refresh_from_db()
    return _job_page(request, job, confirm_form=form)


@require_POST
@admin_page(may_approve_jobs)
@sudo_required
def job_approve_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    return _act(
        request, _job(request, job_pk), services.job_approve, "{job} is approved and scheduled."
    )


@require_POST
@admin_page(may_approve_jobs)
def job_reject_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    job = _job(request, job_pk)
    form = JobRejectForm(request.POST)
    if form.is_valid():
        try:
            job = services.job_reject(
                job=job, user=request.user, reason=form.cleaned_data["rejection_reason"]
            )
        except services.JobRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{job} is rejected: nothing of it is deleted.")
        return redirect("admin:jobs_detail", job_pk=job.pk)
    return _job_page(request, job, reject_form=form)


@require_POST
@admin_page(may_stop_jobs)
def job_pause_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    return _act(
        request,
        _job(request, job_pk),
        services.job_pause,
        "{job} is paused: files in flight finish.",
    )


@require_POST
@admin_page(may_start_jobs)
def job_resume_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    return _act(request, _job(request, job_pk), services.job_resume, "{job} is running again.")


@require_POST
@admin_page(may_start_jobs)
def job_retry_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    job = _job(request, job_pk)
    try:
        retry = services.job_retry_failed(job=job, user=request.user)
    except services.JobRefused as exc:
        messages.error(request, str(exc))
        return redirect("admin:jobs_detail", job_pk=job.pk)
    messages.success(
        request,
        f"{retry} tries again the {retry.files.count():,} failed file(s) of {job}. Its preview "
        "is running: nothing is deleted until you confirm.",
    )
    return redirect("admin:jobs_detail", job_pk=retry.pk)


@require_http_methods(["GET", "POST"])
@admin_page(may_stop_jobs)
def job_cancel_view(request: HttpRequest, job_pk: int) -> HttpResponse:
    job = _job(request, job_pk)
    if request.method == "POST":
        return _act(
            request,
            job,
            services.job_cancel,
            "{job} is cancelled: files in flight finish, the others are not attempted.",
        )
    if job.state in services.ENDED_STATES:
        messages.warning(request, f"{job} has already ended.")
        return redirect("admin:jobs_detail", job_pk=job.pk)
    progress = services.job_progress(job=job)
    return render_page(request, "jobs/cancel.html", f"Cancel {job}?", job=job, progress=progress)


def _act(
    request: HttpRequest,
    job: DeletionJob,
    action: Callable[..., DeletionJob],
    done: str,
) -> HttpResponse:
    try:
        job = action(job=job, user=request.user)
    except services.JobRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(job=job))
    return redirect("admin:jobs_detail", job_pk=job.pk)


CSV_HEADER = [
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
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A spreadsheet must not run a cell from Tallyfy or a user as a formula, nor show it
    reordered or with control characters."""
    text = "" if value is None else plain_text(str(value))
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@admin_page(may_view_jobs)
def job_results_view(request: HttpRequest, job_pk: int) -> StreamingHttpResponse:
    job = _job(request, job_pk)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for row in services.job_results(job=job):
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deletion-job-{job.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response
