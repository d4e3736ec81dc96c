from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from files.models import FileDeletion


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Deletion jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signed_in import signed_in_question_add
        from jobs import checks  # noqa: F401  (registers the system checks)
        from jobs.services import HAS_JOBS_ENDED_UNTOLD, ended_untold_question

        signed_in_question_add(HAS_JOBS_ENDED_UNTOLD, ended_untold_question)

    def reconcile_deletions(self) -> Iterable[FileDeletion]:
        """Called by `manage.py reconcile_deletions`: a job's `pending` rows are settled by
        finishing the files in flight that no live worker holds."""
        from jobs.work import jobs_finish_stranded

        return jobs_finish_stranded()
