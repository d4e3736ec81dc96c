from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from jobs.models import DeletionJob, JobState
from jobs.services import jobs_ended_untold


class JobEndedMiddleware:
    """Tells staff, on their next admin page, that a job they started has ended or paused
    itself. Whether one has was asked with the user's own read (accounts.signed_in), so a page
    pays a query here only when there is something to tell. Pages are what a GET opens: a
    form's POST answers with a redirect to the page that will tell."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.method == "GET"
            and user is not None
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and request.path.startswith(reverse("admin:index"))
        ):
            for job in jobs_ended_untold(user=user):
                messages.info(request, ended_message(job))
        return self.get_response(request)


def ended_message(job: DeletionJob) -> str:
    url = reverse("admin:jobs_detail", kwargs={"job_pk": job.pk})
    if job.state == JobState.PAUSED:
        return format_html(
            '{} has paused. {} <a href="{}">See the job.</a>', str(job), job.pause_reason, url
        )
    if job.state == JobState.REJECTED:
        return format_html(
            '{} was rejected by {}: {} <a href="{}">See the job.</a>',
            str(job),
            job.rejected_by_name,
            job.rejection_reason,
            url,
        )
    verbs = {
        JobState.CANCELLED: "was cancelled",
        JobState.FINISHED_WITH_FAILURES: "has finished with failures",
    }
    verb = verbs.get(JobState(job.state), "has finished")
    return format_html('{} {}. <a href="{}">See its results.</a>', str(job), verb, url)
