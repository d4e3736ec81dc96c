from __future__ import annotations

from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Tallyfy organizations"

    def ready(self) -> None:
        from organizations import checks  # noqa: F401  (registers the system checks)
