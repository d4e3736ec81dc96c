from __future__ import annotations

from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("new/", views.job_create_view, name="create"),
    path("<int:job_pk>/", views.job_detail_view, name="detail"),
    path("<int:job_pk>/progress/", views.job_progress_view, name="progress"),
    path("<int:job_pk>/confirm/", views.job_confirm_view, name="confirm"),
    path("<int:job_pk>/approve/", views.job_approve_view, name="approve"),
    path("<int:job_pk>/pause/", views.job_pause_view, name="pause"),
    path("<int:job_pk>/resume/", views.job_resume_view, name="resume"),
    path("<int:job_pk>/cancel/", views.job_cancel_view, name="cancel"),
    path("<int:job_pk>/retry/", views.job_retry_view, name="retry"),
    path("<int:job_pk>/results.csv", views.job_results_view, name="results"),
]
