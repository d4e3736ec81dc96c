from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from organizations.models import Organization
from organizations.services import organization_create

SANDBOX_ORG_ID = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
SANDBOX_TOKEN = "sandbox-demo-token"  # noqa: S105  (the local sandbox's public demo token)


class Command(BaseCommand):
    help = (
        "First-run set-up for `make run`: a staff superuser (its generated password is printed "
        "once) and an organization named Sandbox pointing at the local sandbox. Later runs "
        "change nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8001/api")
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, sandbox_url: str, username: str, **options: Any) -> None:
        self._create_superuser(username)
        self._create_sandbox_organization(sandbox_url)

    def _create_superuser(self, username: str) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nCreated superuser {username!r} with password: {password}\n"
                "It is shown only now. To change it: .venv/bin/python manage.py "
                f"changepassword {username}\n"
            )
        )

    def _create_sandbox_organization(self, sandbox_url: str) -> None:
        if Organization.objects.filter(name="Sandbox").exists():
            return
        try:
            organization_create(
                name="Sandbox", org_id=SANDBOX_ORG_ID, api_base_url=sandbox_url, token=SANDBOX_TOKEN
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
            self.stderr.write(f"Could not create the Sandbox organization: {problems}")
            return
        self.stdout.write(f"Created organization Sandbox at {sandbox_url}.")
