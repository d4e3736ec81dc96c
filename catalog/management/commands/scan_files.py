from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q

import tallyfy_api
from catalog import tasks
from catalog.leases import LEASE, LeaseLost, ScanBusy, ScanWaiting
from catalog.models import Scan, ScanState
from catalog.scans import full_scan_due, scan_advance, scan_start
from organizations.models import Organization
from organizations.selectors import organizations_for
from tallyfy_api.ids import is_valid_id


class Command(BaseCommand):
    help = (
        "Scan an organization's runs, tasks, templates and activity feed for its files (or "
        "one process run's, with --run), carrying on its unfinished scan if there is one. "
        "Without --user the scan is the operator's, like the workers' own: whoever runs "
        "manage.py holds the database and the key to every organization's token, so no "
        "organization access can bind them, and any organization may be named. With --user "
        "the scan is started for that staff user, as on the scan page: they need the "
        "permission to start scans, only the organizations they reach may be named, and the "
        "scan is recorded as theirs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", required=True, help="the organization's name, Tallyfy id or pk"
        )
        parser.add_argument(
            "--user",
            default="",
            metavar="USERNAME",
            help="start the scan for this staff user, within the organizations they reach",
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
        user: str,
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
        starter = _starter(user) if user else None
        among = organizations_for(starter) if starter else Organization.objects.all()
        found = list(among.filter(lookup)[:2])
        if len(found) != 1:
            reach = f" among those {starter} may reach" if starter else ""
            raise CommandError(f"No single organization is named {organization!r}{reach}.")
        if run and refresh:
            raise CommandError("--refresh reads a whole organization's changes: drop --run.")
        scan = scan_start(organization=found[0], user=starter, run_id=run, refresh=refresh)
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


def _starter(username: str) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"No user is named {username!r}.")
    if not (user.is_active and user.is_staff and user.has_perm("catalog.add_scan")):
        raise CommandError(
            f"{username} may not start scans: an active staff user with the permission to "
            "add scans is needed."
        )
    return user
