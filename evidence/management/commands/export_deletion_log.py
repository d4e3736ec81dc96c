from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.export import DELETION_KIND, csv_lines, export_rows, jsonl_lines
from evidence.kinds import sealed_kinds


class Command(BaseCommand):
    help = (
        "Write the deletion log's sealed rows as CSV or JSON Lines, in chain order, each with "
        "its canonical encoding, previous seal and seal, so that scripts/verify_export.py (or "
        "an auditor's own script) can recompute the chain. Without filters the export is "
        "complete: every seal of the chain, other kinds of record as links only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["csv", "jsonl"], required=True)
        parser.add_argument("--output", "-o", default="-", metavar="FILE", help="default: stdout")
        parser.add_argument("--state", help="only rows in this state (deleted, failed, …)")
        parser.add_argument("--organization", type=int, help="only this organization (its pk)")
        parser.add_argument("--username", help="only deletions by this user")
        parser.add_argument("--job", type=int, help="only the rows of this deletion job")
        parser.add_argument(
            "--search",
            metavar="TEXT",
            help="only rows the log's search box finds for TEXT (a file id, a username, words "
            'of a file name or reason, "a quoted phrase")',
        )
        parser.add_argument("--chunk-size", type=int, default=2000, help="rows read at a time")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be 1 or more.", returncode=2)
        search = options["search"]
        if search is not None and not search.strip():
            raise CommandError("--search needs something to look for.", returncode=2)
        kind = sealed_kinds()[DELETION_KIND]
        model = kind.model
        lookups = {
            field: options[option]
            for option, field in [
                ("state", "state"),
                ("organization", "organization_id"),
                ("username", "username"),
                ("job", "job_id"),
            ]
            if options[option] is not None
        }
        deletions = model._default_manager.filter(**lookups) if lookups or search else None
        if search:
            deletions = kind.search(deletions, search)
        rows = export_rows(deletions=deletions, chunk_size=options["chunk_size"])
        lines = csv_lines(rows) if options["format"] == "csv" else jsonl_lines(rows)
        output = options["output"]
        try:
            if output == "-":
                self.stdout._out.writelines(lines)  # unstyled, as written
                return
            with open(output, "w", encoding="utf-8", newline="") as file:
                file.writelines(lines)
        except OSError as exc:
            raise CommandError(f"{output}: {exc}", returncode=2) from exc
        selection = "filtered" if deletions is not None else "complete"
        self.stderr.write(f"A {selection} export written to {output}.")
