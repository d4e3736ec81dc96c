"""A deletion job's pages, served by the admin site (`tallyfy_admin.admin_site`)."""

from __future__ import annotations

from django.urls import path

from jobs import views

job_pages = [
    path("new/", views.job_create_view, name="jobs_create"),
    path("<int:job_pk>/", views.job_detail_view, name="jobs_detail"),
    path("<int:job_pk>/progress/", views.job_progress_view, name="jobs_progress"),
    path("<int:job_pk>/confirm/", views.job_confirm_view, name="jobs_confirm"),
    path("<int:job_pk>/approve/", views.job_approve_view, name="jobs_approve"),
    path("<int:job_pk>/reject/", views.job_reject_view, name="jobs_reject"),
    path("<int:job_pk>/pause/", views.job_pause_view, name="jobs_pause"),
    path("<int:job_pk>/resume/", views.job_resume_view, name="jobs_resume"),
    path("<int:job_pk>/cancel/", views.job_cancel_view, name="jobs_cancel"),
    path("<int:job_pk>/retry/", views.job_retry_view, name="jobs_retry"),
    path("<int:job_pk>/results.csv", views.job_results_view, name="jobs_results"),
]
