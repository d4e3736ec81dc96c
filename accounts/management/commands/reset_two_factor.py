"""Remove a user's second factors, for a staff member locked out of the panel."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import devices_reset


class Command(BaseCommand):
    help = (
        "Remove every second factor (authenticator apps, passkeys, recovery codes) of a user "
        "who lost them. If the policy requires two factors, they enrol again right after "
        "their next password. Recorded in the admin's log under --by, and logged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="why: kept with the record")
        parser.add_argument("--by", help="the superuser doing it, named in the admin's log")

    def handle(
        self, *args: Any, username: str, reason: str, by: str | None, **options: Any
    ) -> None:
        users = get_user_model()._default_manager
        try:
            user = users.get_by_natural_key(username)
            actor = users.get_by_natural_key(by) if by else None
        except users.model.DoesNotExist as exc:
            raise CommandError(f"No such user: {exc}") from exc
        if actor is not None and not actor.is_superuser:
            raise CommandError(f"{by} is not a superuser.")
        removed = devices_reset(user=user, by=actor, reason=reason)
        self.stdout.write(f"Removed {removed} second factor(s) of {username}.")
