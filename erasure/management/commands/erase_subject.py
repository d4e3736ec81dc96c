"""`manage.py erase_subject`: an erasure request from a shell, for operators, through the same
services as the admin's pages (intake, discovery, review, approval, following, receipt); see
`--help` for the two invocations and the exit statuses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

import tallyfy_api
from catalog.leases import LEASE, LeaseLost, ScanBusy, ScanWaiting
from catalog.models import Scan, ScanState
from catalog.scans import full_scan_due, scan_advance, scan_start
from erasure import approval, following, review, services
from erasure.conf import conf
from erasure.discovery import discovery_preview, erasure_request_discover, index_refresh_due
from erasure.models import (
    Decision,
    Discovery,
    ErasureRequest,
    LeaveOutReason,
    LegalBasis,
    RequestState,
    Rule,
    SearchOutcome,
)
from erasure.outcomes import Outcome, file_outcomes, tally
from erasure.selectors import (
    kept_asset_ids,
    kept_findings,
    latest_discovery,
    may_approve,
    may_send,
)
from erasure.subjects import Subject, mask_email, normalize_emails
from jobs import shell
from jobs.models import DeletionJob, JobState
from organizations.models import Organization
from organizations.selectors import within_reach

# Exit statuses, as documented in --help and the README (the same numbers as delete_files').
EXIT_DONE = 0
EXIT_FILES_NOT_GONE = 1
EXIT_BAD_INPUT = 2
EXIT_AWAITING_APPROVAL = 3
EXIT_NOT_CONFIRMED = 4
EXIT_STOPPED = 5
EXIT_CANDIDATES_UNDECIDED = 6

DEFAULT_LEGAL_BASIS = LegalBasis.CONSENT_WITHDRAWN
CANDIDATE_CHOICES = {"keep": Decision.KEEP, "leave-out": Decision.LEAVE_OUT}

HELP = f"""\
Erase a data subject's files from one organization (GDPR Art. 17) as the admin's erasure
requests do: the same request, discovery, review, two-person approval, deletion job, deletion
log and receipt. It takes two invocations by two staff users, since a second person always
approves an erasure.

1. Intake (by USER, who may handle erasure requests and delete files):
     erase_subject --organization ORG --email EMAIL [--email EMAIL2] --reference REF
                   --user USER [--name NAME] [--candidates keep|leave-out] [--dry-run]
   The organization's file index is refreshed first when it has no completed scan or its
   last one ended more than ERASURE_INDEX_MAX_AGE_SECONDS ago (a scan run in this process,
   as scan_files does: a refresh of what changed, or a full scan when CATALOG_FULL_SCAN_DAYS
   have passed), so the search runs at once rather than waiting for the workers' scan.
   Then the request is created (received now, unless --received-at; the subject's identity
   attested by USER: --verified-how says how, or it reads "Attested by USER on the command
   line"), the subject's files are searched for with every rule (the index, and Tallyfy for
   the tasks assigned to them as a guest), and what each rule found is printed ("searched,
   none found", or why a rule could not be completed) with the files. Every file a rule
   about the subject found is kept for deletion; links are left out (nothing to delete).
   Candidates (an unknown uploader in a run or task where the subject uploaded) need
   --candidates: keep, or leave-out (as not about the subject); without it the command stops
   with the candidates printed and the request in review, for the admin's page. Then the
   request is sent for approval and the command prints its admin page and the second
   invocation to run.

2. Approval (by another user, who may approve deletion jobs and handle erasure requests):
     erase_subject --approve REQUEST_ID --user APPROVER [--yes]
   prints the files to delete and asks for their number to be typed (--yes skips that),
   approves, and follows the deletion job to its end: the background workers (run_worker) do
   the work when one takes the job within --worker-wait seconds, otherwise this process
   does, with the same code, rate limit and log (as delete_files). Ctrl-C while this process
   does the deletions pauses the job (resume it in the admin). Then the request is completed
   and the receipt's admin page and a summary are printed.

--dry-run (intake only) refreshes the index as above (a scan changes nothing in Tallyfy),
then searches with every rule and prints what each finds, recording nothing: no request,
discovery or history.

The subject's emails are printed to the operator who typed them only where a file name holds
one; the command's own messages give them masked (j***@example.com).

Exit status:
  0  approval: the request completed, every file kept is gone (deleted, or Tallyfy had no
     such file), or nothing was kept; intake with --dry-run: the findings were printed
  1  approval: the job ended with files not gone: failed or uncertain ones keep the request
     open (Retry failed files on its page), files Tallyfy refuses to delete complete it with
     exceptions; each is listed
  2  nothing was created or changed: bad arguments, an unknown or ambiguous organization, a
     user who may not do this, a request that is not awaiting approval or that the same user
     sent
  3  intake: the request is awaiting approval by a second user (its page's path is printed)
  4  approval not confirmed (wrong number typed, no answer): the request still awaits approval
  5  stopped: the index scan could not finish (nothing was created), or the deletion job
     stopped before it finished (paused or cancelled in the admin, paused by the worker with
     the reason printed, Ctrl-C, or the work could not go on)
  6  intake: candidates were found and --candidates was not given: the request is left in
     review with the other files decided; decide the candidates on its page

Default: --legal-basis {DEFAULT_LEGAL_BASIS.value}.
"""


class Command(shell.ShellCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="intake: the staff user who handles the request and sends it for approval; "
            "--approve: the second user, who approves it",
        )
        parser.add_argument(
            "--organization",
            metavar="ORG",
            help="the organization's name in the panel, or its Tallyfy organization id",
        )
        parser.add_argument(
            "--email",
            action="append",
            default=[],
            metavar="EMAIL",
            help="an email address of the subject (repeat for each)",
        )
        parser.add_argument("--name", default="", help="the subject's name (optional)")
        parser.add_argument(
            "--reference", metavar="REF", help="the requester's ticket or letter reference"
        )
        parser.add_argument(
            "--legal-basis",
            default=DEFAULT_LEGAL_BASIS.value,
            choices=LegalBasis.values,
            help=f"the Art. 17(1) ground (default {DEFAULT_LEGAL_BASIS.value})",
        )
        parser.add_argument(
            "--received-at",
            metavar="DATE",
            help="when the request was received, YYYY-MM-DD or ISO date and time (default now)",
        )
        parser.add_argument(
            "--verified-how",
            default="",
            metavar="TEXT",
            help="how the subject's identity was verified (default: attested by USER on the "
            "command line)",
        )
        parser.add_argument(
            "--candidates",
            choices=sorted(CANDIDATE_CHOICES),
            help="what to do with candidates (unknown uploader near the subject's uploads)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print what the rules find, then roll the request back",
        )
        parser.add_argument(
            "--approve",
            type=int,
            metavar="REQUEST_ID",
            help="approve this request awaiting approval and follow its deletion",
        )
        parser.add_argument(
            "--yes", action="store_true", help="approve without typing the number of files"
        )
        shell.add_work_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        approving = options["approve"] is not None
        status = self._approve(options) if approving else self._intake(options)
        if status != EXIT_DONE:
            raise SystemExit(status)

    # --- Intake: index, request, discovery, review, sent for approval -----------------------

    def _intake(self, options: dict[str, Any]) -> int:
        if options["yes"]:
            raise _bad("--yes is for --approve.")
        missing = [f"--{o}" for o in ("organization", "reference") if not options[o]]
        if not options["email"]:
            missing.append("--email")
        if missing:
            raise _bad(f"Give {', '.join(missing)} (or --approve REQUEST_ID).")
        user = _staff(options["user"], may=may_send, needs=_SENDER_NEEDS)
        organization = shell.organization_reachable(options["organization"], user=user)
        try:
            emails = list(normalize_emails(options["email"]))
        except ValidationError as exc:
            raise _bad(" ".join(exc.messages)) from exc
        received_at = _moment(options["received_at"])
        verified_how = options["verified_how"].strip() or (
            f"Attested by {user.get_username()} on the command line (erase_subject)."
        )
        if not options["reference"].strip():
            raise _bad("Give the requester's reference (the ticket or letter).")
        late = services.creation_errors(received_at=received_at, verified_at=None)
        if late:  # before the scan, which may take minutes
            raise _bad(" ".join(late.values()))
        self.stdout.write(
            f"Erasure of {', '.join(mask_email(e) for e in emails)} from {organization.name}."
        )
        if not self._index_fresh(organization, user):
            return EXIT_STOPPED

        if options["dry_run"]:
            self._print_preview(organization, Subject(emails=tuple(emails), name=options["name"]))
            self.stdout.write("Dry run: nothing was recorded (no request, discovery or history).")
            return EXIT_DONE
        try:
            request = services.erasure_request_create(
                organization=organization,
                emails=emails,
                name=options["name"],
                reference=options["reference"],
                legal_basis=options["legal_basis"],
                received_at=received_at,
                verified_by=user,
                verification_method=verified_how,
                verified_at=timezone.now(),
                created_by=user,
            )
        except ValidationError as exc:
            raise _bad(" ".join(exc.messages)) from exc
        self.stdout.write(f"Erasure request {request.pk} created ({request.reference}).")
        discovery = self._discover(request, user)
        self._print_discovery(discovery)
        request.refresh_from_db()
        if request.state != RequestState.REVIEW:
            self.stderr.write(
                f"The request is {request.get_state_display()}, not in review: carry it on at "
                f"{request_admin_path(request)}."
            )
            return EXIT_STOPPED
        undecided = self._review(discovery, user, options["candidates"])
        if undecided:
            self.stderr.write(
                f"{undecided} candidate(s) found (listed above): give --candidates keep or "
                "--candidates leave-out, or decide each on the request's page, "
                f"{request_admin_path(request)}. The request is left in review."
            )
            return EXIT_CANDIDATES_UNDECIDED
        try:
            approval.erasure_request_send(request=request, by=user)
        except ValidationError as exc:
            self.stderr.write(f"Not sent for approval: {' '.join(exc.messages)}")
            return EXIT_STOPPED
        kept = len(kept_asset_ids(request))
        self.stdout.write(
            f"Sent for approval: {kept} file(s) to delete. A second staff user who may approve "
            f"deletion jobs approves it on its page, {request_admin_path(request)}, or with\n"
            f"  manage.py erase_subject --approve {request.pk} --user APPROVER"
        )
        return EXIT_AWAITING_APPROVAL

    def _index_fresh(self, organization: Organization, user: AbstractBaseUser) -> bool:
        """Scan the organization here when discovery would have its index refreshed first
        (ERASURE_INDEX_MAX_AGE_SECONDS); False when the scan could not finish (said why)."""
        last = (
            Scan.objects.filter(organization=organization, run_id="", state=ScanState.DONE)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        if not index_refresh_due(organization):
            self.stdout.write(f"The file index was last completed at {last:%Y-%m-%d %H:%M %Z}.")
            return True
        hours = conf.ERASURE_INDEX_MAX_AGE_SECONDS / 3600
        why = "was never completed" if last is None else f"is older than {hours:g} hour(s)"
        refresh = not full_scan_due(organization=organization)
        scan = scan_start(organization=organization, user=user, refresh=refresh)
        self.stdout.write(
            f"The file index {why}: scan {scan.pk} ({'refresh' if scan.refresh else 'full'}) "
            "runs in this process first."
        )
        try:
            scan = scan_advance(scan_id=scan.pk)
        except KeyboardInterrupt:
            self.stderr.write(
                f"Interrupted during scan {scan.pk}: nothing was created; scan_files or the "
                "workers carry the scan on."
            )
            return False
        except (ScanWaiting, LeaseLost, ScanBusy) as exc:
            self.stderr.write(f"{exc} (a lease ends within {LEASE}): nothing was created.")
            return False
        except tallyfy_api.TallyfyError:
            scan.refresh_from_db()
            self.stderr.write(
                f"The scan stopped: {scan.last_error} Nothing was created; run the command "
                "again to carry the scan on."
            )
            return False
        if scan.state != ScanState.DONE:
            self.stderr.write(
                f"Scan {scan.pk} ended {scan.get_state_display().lower()}: "
                f"{scan.last_error or 'see its page'}. Nothing was created."
            )
            return False
        self.stdout.write(
            f"Scan {scan.pk} done: {scan.runs_read} runs read, {scan.files_found} files found, "
            f"{scan.calls_made} calls made."
        )
        return True

    def _discover(self, request: ErasureRequest, user: AbstractBaseUser) -> Discovery:
        try:
            searched = erasure_request_discover(request=request, by=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=EXIT_STOPPED) from exc
        if searched is None:  # a scan ended meanwhile, or another started: the workers go on
            raise CommandError(
                f"The request waits in discovering for the index to be refreshed; the workers "
                f"search once it is. Carry it on at {request_admin_path(request)}.",
                returncode=EXIT_STOPPED,
            )
        found = latest_discovery(request_id=request.pk)
        assert found is not None
        return found

    def _print_discovery(self, discovery: Discovery) -> None:
        if discovery.index_note:
            self.stderr.write(discovery.index_note)
        self._print_searches(
            (
                s.get_rule_display(),
                s.searched_for,
                s.outcome,
                s.get_outcome_display(),
                s.note,
                s.found,
            )
            for s in discovery.searches.all()
        )
        findings = discovery.findings.all().order_by("is_candidate", "rule", "file_name", "pk")
        self._print_files(
            (f.asset_id, f.file_name, f.run_name, f.task_name, f.get_rule_display(), f.is_link)
            for f in findings
        )

    def _print_preview(self, organization: Organization, subject: Subject) -> None:
        """The dry run: what each rule finds now, nothing recorded."""
        searches = discovery_preview(organization=organization, subject=subject)
        self._print_searches(
            (
                Rule(s.rule).label,
                s.searched_for,
                s.outcome,
                SearchOutcome(s.outcome).label,
                s.note,
                len(s.files),  # type: ignore[arg-type]
            )
            for s in searches
        )
        found = sorted(
            ((s, f) for s in searches for f in s.files),
            key=lambda pair: (pair[0].candidate, pair[0].rule, pair[1].file_name, pair[1].pk),
        )
        self._print_files(
            (f.asset_id, f.file_name, f.run_name, f.task_name, Rule(s.rule).label, f.is_link)
            for s, f in found
        )

    def _print_searches(self, searches: Iterable[tuple[str, str, str, str, str, int]]) -> None:
        self.stdout.write("Searched for the subject's files:")
        for rule, searched_for, outcome, outcome_label, note, found in searches:
            if outcome != SearchOutcome.SEARCHED:
                count = f"{outcome_label}: {note}"
            else:
                count = f"{found} found" if found else "searched, none found"
            self.stdout.write(f"  {rule} ({searched_for}): {count}")

    def _print_files(self, files: Iterable[tuple[str, str, str, str, str, bool]]) -> None:
        rows = [("file id", "name", "process run", "task", "found by")]
        for asset_id, name, run, task, rule, is_link in files:
            cut = shell.cut
            found_by = f"{rule} — a link, left out" if is_link else rule
            rows.append((asset_id, cut(name, 40), cut(run, 30), cut(task, 25), found_by))
        if len(rows) > 1:
            self._table(rows)

    def _review(self, discovery: Discovery, user: AbstractBaseUser, candidates: str | None) -> int:
        """Keep every file a rule about the subject found; candidates as `candidates` says.
        The number of candidates left undecided. One transaction: all decided or none, and one
        commit rather than one a file."""
        with transaction.atomic():
            return self._decide(discovery, user, candidates)

    def _decide(self, discovery: Discovery, user: AbstractBaseUser, candidates: str | None) -> int:
        undecided_findings = discovery.findings.filter(decision=Decision.UNDECIDED)
        findings = list(undecided_findings.select_related("discovery__request").order_by("pk"))
        about_subject = {f.indexed_file_id for f in findings if not f.is_candidate}
        decided: set[int | None] = set()
        undecided = 0
        for finding in findings:
            key = finding.indexed_file_id
            if key is not None and key in decided:
                continue  # one decision covers every finding of the file
            if not finding.is_candidate or key in about_subject:
                review.finding_decide(finding=finding, decision=Decision.KEEP, by=user)
            elif candidates is None:
                undecided += 1
                continue
            else:
                decision = CANDIDATE_CHOICES[candidates]
                reason = LeaveOutReason.NOT_ABOUT_SUBJECT if decision == Decision.LEAVE_OUT else ""
                review.finding_decide(finding=finding, decision=decision, reason=reason, by=user)
            decided.add(key)
        return undecided

    # --- Approval: a second user, then the deletion job and the request's end -----------------

    def _approve(self, options: dict[str, Any]) -> int:
        intake = [
            f"--{name.replace('_', '-')}"
            for name in ("organization", "reference", "name", "candidates", "received_at")
            if options[name]
        ]
        intake += ["--email"] if options["email"] else []
        intake += ["--dry-run"] if options["dry_run"] else []
        if intake:
            raise _bad(f"{', '.join(intake)} are for the intake, not --approve.")
        user = _staff(options["user"], may=may_approve, needs=_APPROVER_NEEDS)
        request = within_reach(ErasureRequest.objects.filter(pk=options["approve"]), user).first()
        if request is None:
            raise _bad(f"No erasure request {options['approve']} among those {user} may reach.")
        if request.state != RequestState.AWAITING_APPROVAL:
            raise _bad(
                f"Erasure request {request.pk} is {request.get_state_display()}, not awaiting "
                "approval: nothing was changed."
            )
        if request.sent_by_id == user.pk:
            raise _bad(
                "Nobody approves a request they sent for approval: another staff user runs "
                "--approve."
            )
        self.stdout.write(
            f"Erasure request {request.pk} ({request.reference}) of {request.organization.name}, "
            f"subject {request.subject_masked}, sent by {request.sent_by}."
        )
        found = self._print_kept(request)
        prompt = f"Type the number of files to delete ({found}) to approve: "
        typed = found if options["yes"] else shell.ask_count(prompt)
        if typed != found:
            self.stderr.write("Not confirmed: nothing was approved; the request awaits approval.")
            return EXIT_NOT_CONFIRMED
        try:
            job = approval.erasure_request_approve(request=request, by=user)
        except ValidationError as exc:
            raise _bad(" ".join(exc.messages)) from exc
        if job is None:
            self.stdout.write("Approved: no file to delete, the request is completed.")
            return self._ended(request)
        self.stdout.write(f"Approved: deletion job {job.pk} of {found} file(s).")
        status = self._follow_job(job, options)
        if status == EXIT_STOPPED:
            self.stderr.write(
                f"The request stays erasing, at {request_admin_path(request)}: the workers' "
                "sweep completes it once its job ends."
            )
            return status
        return self._ended(request)

    def _print_kept(self, request: ErasureRequest) -> int:
        rows = [("file id", "name", "process run", "task", "found by")]
        seen: set[str] = set()
        for finding in kept_findings(request).exclude(asset_id="").order_by("pk"):
            if finding.asset_id in seen:
                continue
            seen.add(finding.asset_id)
            rows.append(
                (
                    finding.asset_id,
                    shell.cut(finding.file_name, 40),
                    shell.cut(finding.run_name, 30),
                    shell.cut(finding.task_name, 25),
                    finding.get_rule_display(),
                )
            )
        if len(rows) > 1:
            self._table(rows)
        self.stdout.write(f"{len(seen)} file(s) to delete.")
        return len(seen)

    def _follow_job(self, job: DeletionJob, options: dict[str, Any]) -> int:
        watcher = shell.JobWatcher(self, job, options["worker_wait"], options["progress_every"])
        try:
            watcher.preview()
        except KeyboardInterrupt:
            self.stderr.write(
                f"Stopped watching the preview: the job goes on, at {shell.job_admin_path(job)}."
            )
            return EXIT_STOPPED
        job.refresh_from_db()
        if job.state not in (JobState.SCHEDULED, JobState.RUNNING, JobState.FINISHED):
            self.stderr.write(
                f"The preview did not finish: the job is {job.get_state_display().lower()}."
            )
            return EXIT_STOPPED
        return watcher.deletion()

    def _ended(self, request: ErasureRequest) -> int:
        request.refresh_from_db()
        following.erasure_request_follow(request)
        request.refresh_from_db()
        outcomes = file_outcomes(request)
        counts = tally(outcomes)
        self.stdout.write(
            f"Erasure request {request.pk} {request.get_state_display()}: {counts.gone} of "
            f"{len(outcomes)} file(s) gone."
        )
        for outcome in outcomes:
            if outcome.outcome not in (Outcome.DELETED, Outcome.ALREADY_GONE):
                self.stderr.write(
                    f"{outcome.outcome.label}: {outcome.asset_id}: {shell.printable(outcome.note)}"
                )
        if request.state == RequestState.COMPLETED:
            self.stdout.write(
                f"Receipt: {reverse('admin:erasure_request_receipt', args=[request.pk])}"
            )
            return EXIT_DONE
        if request.state == RequestState.COMPLETED_WITH_EXCEPTIONS:
            self.stdout.write(
                f"Receipt: {reverse('admin:erasure_request_receipt', args=[request.pk])}"
            )
        else:
            self.stderr.write(
                f"The request stays {request.get_state_display()}: retry the failed files or "
                f"close it with exceptions on its page, {request_admin_path(request)}."
            )
        return EXIT_FILES_NOT_GONE

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for number, row in enumerate(rows):
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
            if number == 0:
                self.stdout.write("  ".join("-" * w for w in widths).rstrip())


_SENDER_NEEDS = "who may handle erasure requests and delete files"
_APPROVER_NEEDS = "who may handle erasure requests and approve deletion jobs"


def request_admin_path(request: ErasureRequest) -> str:
    return reverse("admin:erasure_erasurerequest_change", args=[request.pk])


def _bad(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_BAD_INPUT)


def _staff(username: str, *, may: Any, needs: str) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise _bad(f"No user is named {username!r}.")
    if not may(user):
        raise _bad(f"{username} may not do this: an active staff user {needs} is needed.")
    return user


def _moment(text: str | None) -> datetime:
    if not text:
        return timezone.now()
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(f"--received-at {text!r} is not a date (YYYY-MM-DD) or ISO date and time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
