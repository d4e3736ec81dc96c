from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from files.models import Organization
from files.tokens import reencrypt_token


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored access token with the first key of TALLYFY_TOKEN_KEYS. "
        "Afterwards the older keys can be removed from the list."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        for organization in Organization.objects.all():
            organization.token_ciphertext = reencrypt_token(organization.token_ciphertext)
            organization.save(update_fields=["token_ciphertext"])
            count += 1
        self.stdout.write(f"Re-encrypted {count} token(s) with the first key.")
