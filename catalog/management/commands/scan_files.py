from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q

import tallyfy_api
from catalog import tasks
from catalog.leases import LEASE, LeaseLost, ScanBusy, ScanWaiting
from catalog.models import Scan, ScanState
from catalog.scans import full_scan_due, scan_advance, scan_start
from organizations.models import Organization
from tallyfy_api.ids import is_valid_id


class Command(BaseCommand):
    help = (
        "Scan an organization's runs, tasks, templates and activity feed for its files (or "
        "one process run's, with --run), carrying on its unfinished scan if there is one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", required=True, help="the organization's name, Tallyfy id or pk"
        )
        parser.add_argument(
            "--run",
            default="",
            metavar="RUN_ID",
            help="scan this process run only (its files no longer found are marked gone)",
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="read only what changed since the last scan (the activity feed since the day "
            "before it, the runs and files it names, runs started since)",
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help="hand the scan to the background workers instead of running it here",
        )

    def handle(
        self,
        *args: Any,
        organization: str,
        run: str,
        refresh: bool,
        background: bool,
        **options: Any,
    ) -> None:
        if run and not is_valid_id(run):
            raise CommandError(f"{run!r} is not a valid Tallyfy process run id.")
        lookup = Q(name=organization) | Q(org_id=organization)
        if organization.isdigit():
            lookup |= Q(pk=int(organization))
        found = list(Organization.objects.filter(lookup)[:2])
        if len(found) != 1:
            raise CommandError(f"No single organization is named {organization!r}.")
        if run and refresh:
            raise CommandError("--refresh reads a whole organization's changes: drop --run.")
        scan = scan_start(organization=found[0], run_id=run, refresh=refresh)
        if scan.refresh and full_scan_due(organization=found[0]):
            self.stderr.write(
                "The last full scan is older than CATALOG_FULL_SCAN_DAYS: a refresh finds only "
                "what the activity feed names; a full scan (without --refresh) is suggested."
            )
        what = f"run {run} of {found[0]}" if run else str(found[0])
        if background:
            transaction.on_commit(lambda: tasks.scan_organization.enqueue(scan.pk))
            self.stdout.write(f"Scan {scan.pk} of {what} handed to the workers.")
            return
        self.stdout.write(f"Scan {scan.pk} of {what}: from {scan.get_phase_display()}.")
        try:
            scan = scan_advance(scan_id=scan.pk, on_step=self._progress)
        except (ScanWaiting, LeaseLost) as exc:
            raise CommandError(str(exc)) from exc
        except ScanBusy as exc:
            raise CommandError(f"{exc} Its lease ends within {LEASE}.") from exc
        except tallyfy_api.TallyfyError as exc:
            scan.refresh_from_db()
            when = f"{scan.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}" if scan.next_attempt_at else "now"
            raise CommandError(
                f"The scan stopped: {scan.last_error} Run the command again from {when} to "
                "carry it on (the workers will)."
            ) from exc
        self.stdout.write(self._summary(scan))
        if scan.state != ScanState.DONE:
            why = f": {scan.last_error}" if scan.last_error else ""
            raise CommandError(f"The scan ended {scan.get_state_display().lower()}{why}")

    def _progress(self, scan: Scan) -> None:
        if not scan.is_unfinished:
            return
        total = f" of {scan.runs_total}" if scan.runs_total else ""
        self.stdout.write(
            f"  {scan.get_phase_display()}: runs read {scan.runs_read}{total}, "
            f"files found {scan.files_found}, calls made {scan.calls_made}"
        )

    def _summary(self, scan: Scan) -> str:
        return (
            f"Scan {scan.pk} {scan.get_state_display().lower()}: {scan.runs_read} runs read, "
            f"{scan.files_found} files found, {scan.files_gone} no longer found, "
            f"{scan.calls_made} calls made."
        )
