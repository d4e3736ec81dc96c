from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q

from organizations.models import Organization
from organizations.services import organization_access_give_all, organization_create

SANDBOX_ORG_ID = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
SANDBOX_TOKEN = "sandbox-demo-token"  # noqa: S105  (the local sandbox's public demo token)
APPROVER = "approver"
# A second staff user: jobs above the approval threshold and every erasure request need another
# person's approval, so a first run can take an erasure request of a guest to its receipt.
APPROVER_PERMISSIONS = [
    ("files", "lookup_file"),
    ("files", "delete_file"),
    ("files", "view_filedeletion"),
    ("jobs", "approve_deletionjob"),
    ("catalog", "view_indexedfile"),
    ("organizations", "view_organization"),
    ("erasure", "view_erasurerequest"),
    ("erasure", "handle_erasurerequest"),
]


class Command(BaseCommand):
    help = (
        "First-run set-up for `make run`: a staff superuser and a second staff user who may "
        "approve deletion jobs (their generated passwords are printed once, last, in a box) "
        "and an organization named Sandbox pointing at the local sandbox. Later runs change "
        "nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8001/api")
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, sandbox_url: str, username: str, **options: Any) -> None:
        accounts = self._create_users(username)
        self._create_sandbox_organization(sandbox_url)
        if accounts:
            self.stdout.write(self.style.SUCCESS(boxed(accounts)))

    def _create_users(self, username: str) -> list[tuple[str, str, str]]:
        """(username, password, what it may do) of each user created; none once a superuser
        exists."""
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return []
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        created = [(username, password, "superuser")]
        approver = APPROVER if username != APPROVER else f"{APPROVER}2"
        if not users.objects.filter(username=approver).exists():
            second = secrets.token_urlsafe(12)
            user = users.objects.create_user(
                username=approver, email="", password=second, is_staff=True
            )
            wanted = Q()
            for app_label, codename in APPROVER_PERMISSIONS:
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            user.user_permissions.set(Permission.objects.filter(wanted))
            organization_access_give_all(user=user)
            created.append(
                (approver, second, "approves deletion jobs and erasure requests of others")
            )
        return created

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


def boxed(accounts: list[tuple[str, str, str]]) -> str:
    """The one-time passwords in a box, so they stand out below everything else printed."""
    lines = ["Sign in at /admin/ with (shown only now):", ""]
    lines += [f"  {name}  password: {password}  ({what})" for name, password, what in accounts]
    lines += [
        "",
        "To change one: .venv/bin/python manage.py changepassword USERNAME",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    body = [f"| {line.ljust(width)} |" for line in lines]
    return "\n".join(["", rule, *body, rule, ""])
