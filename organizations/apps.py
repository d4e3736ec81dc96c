from __future__ import annotations

from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Tallyfy organizations"

    def ready(self) -> None:
        from accounts.signed_in import signed_in_question_add
        from organizations import checks  # noqa: F401  (registers the system checks)
        from organizations.selectors import REACHES_ALL, reaches_all_question

        signed_in_question_add(REACHES_ALL, reaches_all_question)
