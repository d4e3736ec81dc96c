from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence import keys
from evidence.checkpoints import Checkpoint, CheckpointError, checkpoint_sign
from evidence.conf import conf
from evidence.selectors import chain_head
from evidence.services import checkpoint_record


class Command(BaseCommand):
    help = (
        "Write the deletion log's current head as a signed checkpoint (C2SP tlog-checkpoint, "
        "Ed25519 signed note) with EVIDENCE_SIGNING_KEY, to a file or stdout. Keep checkpoints "
        "outside the database; one is written even when nothing changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", "-o", default="-", metavar="FILE", help="default: stdout (-)"
        )

    def handle(self, *args: Any, output: str, **options: Any) -> None:
        try:
            signer = keys.signer()
        except CheckpointError as exc:
            raise CommandError(f"EVIDENCE_SIGNING_KEY cannot be read: {exc}", returncode=2) from exc
        if signer is None:
            raise CommandError(
                "EVIDENCE_SIGNING_KEY is not set (manage.py evidence_keygen makes one).",
                returncode=2,
            )
        size, head = chain_head()
        note = checkpoint_sign(Checkpoint(conf.EVIDENCE_LOG_ORIGIN, size, head), signer)
        checkpoint_record(size=size, head=head, note=note)
        if output == "-":
            self.stdout.write(note, ending="")
            return
        try:
            Path(output).write_text(note, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{output}: {exc}", returncode=2) from exc
        self.stderr.write(f"Checkpoint of {size} rows written to {output}.")
