from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from evidence import keys
from evidence.checkpoints import Checkpoint, CheckpointError, checkpoint_open
from evidence.conf import conf
from evidence.guards import guards_missing
from evidence.selectors import chain_check


class Command(BaseCommand):
    help = (
        "Recompute the deletion log's seal chain from the rows as they are now, and report "
        "the first row edited, removed, inserted or reordered (exit status 1), or 'N rows, "
        "chain intact' and the head seal. With --checkpoint, also check that the log still "
        "extends each signed checkpoint (seal_deletion_log) and that its signature verifies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            nargs="+",
            default=[],
            metavar="FILE",
            help="signed checkpoints written by seal_deletion_log",
        )
        parser.add_argument("--chunk-size", type=int, default=2000, help="rows read at a time")

    def handle(self, *args: Any, checkpoint: list[str], chunk_size: int, **options: Any) -> None:
        if chunk_size < 1:
            raise CommandError("--chunk-size must be 1 or more.", returncode=2)
        checkpoints = self._read_checkpoints(checkpoint)
        check = chain_check(chunk_size=chunk_size, sizes=[c.size for _, c in checkpoints])
        problems = list(check.problems)
        for path, point in checkpoints:
            problem = _checkpoint_problem(path, point, check.size, check.seals_at)
            if problem:
                problems.append(problem)
            else:
                self.stdout.write(f"{path}: the log extends this checkpoint ({point.size} rows).")
        missing = guards_missing(connection)
        if missing:
            self.stderr.write(
                "Warning: the database's guards are missing (evidence migration 0002): "
                + ", ".join(missing)
            )
        if problems:
            self.stdout.write(f"{len(problems)} problem(s); the first: {problems[0]}.")
            for problem in problems[1:]:
                self.stdout.write(f"  also: {problem}.")
            raise CommandError("The deletion log is not intact.", returncode=1)
        head = base64.b64encode(check.head).decode()
        self.stdout.write(
            f"{check.size} rows, chain intact; head seal {check.head.hex()} (base64 {head})."
        )

    def _read_checkpoints(self, paths: list[str]) -> list[tuple[str, Checkpoint]]:
        if not paths:
            return []
        try:
            verifiers = keys.verifiers()
        except CheckpointError as exc:
            raise CommandError(f"The configured keys cannot be read: {exc}", returncode=2) from exc
        if not verifiers:
            raise CommandError(
                "No key to verify checkpoints with: set EVIDENCE_VERIFIER_KEYS.", returncode=2
            )
        found = []
        for path in paths:
            try:
                note = Path(path).read_text(encoding="utf-8")
                point = checkpoint_open(note, origin=conf.EVIDENCE_LOG_ORIGIN, verifiers=verifiers)
            except (OSError, UnicodeDecodeError, CheckpointError) as exc:
                raise CommandError(f"{path}: {exc}", returncode=1) from exc
            found.append((path, point))
        return found


def _checkpoint_problem(
    path: str, point: Checkpoint, size: int, seals_at: dict[int, bytes]
) -> str | None:
    if point.size > size:
        return (
            f"{path}: the checkpoint has {point.size} rows and the log only {size}: the log "
            "was cut short"
        )
    if seals_at.get(point.size) != point.head:
        return (
            f"{path}: the seal at {point.size} rows is not the checkpoint's: the log was "
            "rewritten since the checkpoint was signed"
        )
    return None
