from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from organizations.models import Organization
from organizations.tokens import reencrypt_token


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored access token with the first key of TALLYFY_TOKEN_KEYS. "
        "All or nothing: afterwards the older keys can be removed from the list."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            organizations = list(Organization.objects.select_for_update())
            for organization in organizations:
                try:
                    organization.token_ciphertext = reencrypt_token(organization.token_ciphertext)
                except InvalidToken as exc:
                    raise CommandError(
                        f"The token of organization {organization.name!r} cannot be decrypted "
                        "with any key in TALLYFY_TOKEN_KEYS; nothing was re-encrypted."
                    ) from exc
                organization.save(update_fields=["token_ciphertext"])
        self.stdout.write(f"Re-encrypted {len(organizations)} token(s) with the first key.")
