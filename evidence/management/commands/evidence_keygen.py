from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.checkpoints import CheckpointError, signer_new


class Command(BaseCommand):
    help = (
        "Make a new Ed25519 key for signing checkpoints. Prints the signer key (for "
        "EVIDENCE_SIGNING_KEY, secret) and its verifier key (for EVIDENCE_VERIFIER_KEYS, "
        "public: keep it there after rotating, so old checkpoints still verify)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name",
            required=True,
            help="the key's name in every signature, e.g. files-admin.example.com-2026",
        )

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            signer = signer_new(name)
        except CheckpointError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(f"EVIDENCE_SIGNING_KEY={signer.text()}")
        self.stdout.write(f"EVIDENCE_VERIFIER_KEYS={signer.verifier.text()}")
