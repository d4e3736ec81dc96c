from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from files.services import deletions_reconcile


class Command(BaseCommand):
    help = (
        "Settle unknown deletions older than --older-than seconds, and pending ones once the "
        "request that wrote them can no longer be running, by asking Tallyfy: 404 means "
        "deleted, 200 means failed, no clear answer leaves the row as it is. Then every app "
        "that keeps deletions of its own in flight (deletion jobs) settles those its workers "
        "left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="default: TALLYFY_RECONCILE_AFTER_SECONDS (300)",
        )

    def handle(self, *args: Any, older_than: int | None, **options: Any) -> None:
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be 0 or more seconds.")
        age = timedelta(seconds=older_than) if older_than is not None else None
        states = Counter(d.state for d in deletions_reconcile(older_than=age))
        for config in apps.get_app_configs():
            reconcile = getattr(config, "reconcile_deletions", None)
            if reconcile is not None:
                states.update(d.state for d in reconcile())
        if not states:
            self.stdout.write("No unsettled deletions to reconcile.")
            return
        summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        self.stdout.write(f"Reconciled {sum(states.values())} deletion(s): {summary}.")
