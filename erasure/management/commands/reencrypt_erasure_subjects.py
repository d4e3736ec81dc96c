from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from erasure.services import SubjectUnreadable, erasure_subjects_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt the subject of every erasure request with the first key of "
        "TALLYFY_TOKEN_KEYS (run it with rotate_token_keys). All or nothing: afterwards the "
        "older keys can be removed from the list."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = erasure_subjects_reencrypt()
        except SubjectUnreadable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Re-encrypted the subjects of {count} erasure request(s).")
