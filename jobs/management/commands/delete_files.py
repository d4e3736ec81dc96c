"""`manage.py delete_files`: a deletion job from a shell, for operators. The same job, workers,
rate limit and log as the admin's "Delete many files"; see `--help` for the exit statuses."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Q
from django.urls import reverse

from files.models import DeletionState, FileDeletion
from jobs import services, work
from jobs.lines import ParsedFiles, files_from_csv, files_from_text
from jobs.machine import FINISHED_STATES
from jobs.models import DeletionJob, FileState, JobFile, JobState, PreviewState
from organizations.models import Organization
from organizations.selectors import organizations_for

# Exit statuses, as documented in --help and the README.
EXIT_DONE = 0
EXIT_FILES_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NEEDS_APPROVAL = 3
EXIT_NOT_CONFIRMED = 4
EXIT_STOPPED = 5

HELP = """\
Delete many Tallyfy files as one deletion job, as the admin's "Delete many files" does: the
same job, preview, rate limit, workers and deletion log.

Steps: the job is created and previewed (one metadata call a file; nothing is deleted), the
preview is printed as a table, you confirm by typing the number of files to delete (or give
--yes), then progress is printed until the job ends, and a summary by final state.

Who does the work: the background workers (manage.py run_worker), when one takes the job
within --worker-wait seconds (checked again for the deletion). Otherwise this command does the
work itself, in this process, with the same code, rate limit and log, and says so; a worker
that starts meanwhile shares the job safely. Ctrl-C while this process does the deletions
pauses the job (files in flight finish; resume it in the admin); while workers do them, it only
stops watching.

--dry-run prints the preview and cancels the job: nothing is deleted and nothing is left to
confirm; the cancelled job stays in the admin as the record of the preview.

Exit status:
  0  the job finished and no file ended failed or unknown (or the dry run's preview was shown)
  1  the job finished and at least one file ended failed or unknown (see the deletion log;
     reconcile_deletions settles unknown ones)
  2  nothing was created: bad arguments, an unknown or ambiguous organization, a user who may
     not delete files, an unreadable ids file or bad lines in it (listed with line numbers)
  3  confirmed, but the job is above JOBS_APPROVAL_THRESHOLD files: a second staff user must
     approve it in the admin (the path is printed); the workers then run it
  4  not confirmed (wrong number typed, no answer) or nothing to delete: the job is cancelled,
     nothing was deleted
  5  the job stopped before it finished: paused or cancelled in the admin, paused by the
     worker (a refused token, too many failures, a creator who lost access: the reason is
     printed), interrupted (Ctrl-C), or the work could not go on (the reason is printed)
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization",
            required=True,
            metavar="ORG",
            help="the organization's name in the panel, or its Tallyfy organization id",
        )
        parser.add_argument(
            "--ids-file",
            required=True,
            metavar="FILE",
            help="file ids or Tallyfy file URLs, one a line; or a .csv with an id or url column",
        )
        parser.add_argument(
            "--reason", required=True, metavar="TEXT", help="ticket or GDPR request reference"
        )
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="the staff user the job and its log rows are recorded for (needs the delete "
            "permission)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the preview, then cancel the job"
        )
        parser.add_argument(
            "--yes", action="store_true", help="confirm without asking for the number of files"
        )
        add_work_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = _user(options["user"])
        organization = _organization(options["organization"], user=user)
        wanted = _read_ids(Path(options["ids_file"]))
        if wanted.bad:
            for bad in wanted.bad:
                self.stderr.write(f"line {bad.line}: {bad.reason} ({bad.text!r})")
            raise CommandError(
                f"{len(wanted.bad)} line(s) of {options['ids_file']} are not file ids or "
                "Tallyfy file URLs: nothing was created.",
                returncode=EXIT_BAD_INPUT,
            )
        if not options["reason"].strip():
            raise CommandError(
                "Give a reason: a ticket, GDPR request or incident reference.",
                returncode=EXIT_BAD_INPUT,
            )
        try:
            job = services.job_create(organization=organization, user=user, wanted=wanted)
        except services.JobRefused as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc
        merged = f" ({wanted.duplicates} repeated line(s) merged)" if wanted.duplicates else ""
        self.stdout.write(
            f"Deletion job {job.pk} for {organization.name}: {len(wanted.files)} file(s){merged}."
        )
        self.watcher = _Watcher(self, job, options["worker_wait"], options["progress_every"])
        status = self._run(job, user, options)
        if status != EXIT_DONE:
            raise SystemExit(status)

    def _run(self, job: DeletionJob, user: AbstractBaseUser, options: dict[str, Any]) -> int:
        try:
            self.watcher.preview()
        except KeyboardInterrupt:
            services.job_cancel(job=job, user=user)
            self.stderr.write("Interrupted during the preview: the job is cancelled.")
            return EXIT_STOPPED
        job.refresh_from_db()
        if job.state != JobState.PREVIEWED:
            self.stderr.write(
                f"The preview did not finish: the job is {job.get_state_display().lower()}."
            )
            return EXIT_STOPPED
        found = self._print_preview(job)
        if options["dry_run"]:
            self._cancel(job)
            self.stdout.write("Dry run: nothing was deleted; the job is cancelled.")
            return EXIT_DONE
        if found == 0:
            self._cancel(job)
            self.stdout.write("Nothing to delete: the job is cancelled.")
            return EXIT_NOT_CONFIRMED
        typed = found if options["yes"] else self._ask_count(found)
        if typed != found:
            self._cancel(job)
            self.stderr.write("Not confirmed: nothing was deleted; the job is cancelled.")
            return EXIT_NOT_CONFIRMED
        try:
            job = services.job_confirm(
                job=job, user=user, reason=options["reason"], typed_count=found
            )
        except services.JobRefused as exc:
            self.stderr.write(f"Not confirmed: {exc}")
            return EXIT_NOT_CONFIRMED
        if job.state == JobState.AWAITING_APPROVAL:
            self.stdout.write(
                f"Confirmed. {found} files is above the approval threshold: a second staff user "
                "with the permission to approve deletion jobs must approve it in the admin, at "
                f"{job_admin_path(job)}. The workers (run_worker) then run it."
            )
            return EXIT_NEEDS_APPROVAL
        self.stdout.write(f"Confirmed: deleting {found} file(s).")
        return self.watcher.deletion()

    def _cancel(self, job: DeletionJob) -> None:
        services.job_cancel(job=job, user=job.created_by)
        work.job_work(job_id=job.pk)  # ends it at once, whether or not a worker is running

    def _ask_count(self, found: int) -> int | None:
        return ask_count(f"Type the number of files to delete ({found}) to confirm: ")

    def _print_preview(self, job: DeletionJob) -> int:
        rows = [("line", "file id", "preview", "name", "attached to", "uploaded at", "note")]
        for f in job.files.order_by("line", "id"):
            rows.append(
                (
                    str(f.line),
                    f.asset_id,
                    f.get_preview_display(),
                    _cut(f.file_name, 40),
                    f"{f.subject_type} {f.subject_id}".strip()[:45],
                    f.uploaded_at.strftime("%Y-%m-%d %H:%M") if f.uploaded_at else "",
                    _cut(f.note, 70),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for number, row in enumerate(rows):
            line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
            if number == 0:
                self.stdout.write("  ".join("-" * w for w in widths).rstrip())
        progress = services.job_progress(job=job)
        counts = ", ".join(
            f"{count} {PreviewState(state).label.lower()}"
            for state, count in sorted(progress.preview.items())
        )
        self.stdout.write(f"Preview: {counts}.")
        return progress.to_delete


class _Watcher:
    """Waits for the workers to do a step of the job, or does it here, printing progress."""

    def __init__(
        self, command: Command, job: DeletionJob, worker_wait: float, progress_every: float
    ) -> None:
        self.command = command
        self.job = job
        self.worker_wait = max(0.0, worker_wait)
        self.progress_every = max(0.1, progress_every)
        self.here: threading.Thread | None = None

    def write(self, text: str) -> None:
        self.command.stdout.write(text)

    def preview(self) -> None:
        unresolved = Q(preview=PreviewState.UNRESOLVED)
        start = self.job.files.filter(unresolved).count()

        def taken() -> bool:
            files = JobFile.objects.filter(job=self.job)
            return (
                DeletionJob.objects.filter(pk=self.job.pk, state=JobState.PREVIEWED).exists()
                or files.filter(unresolved).count() < start
                or files.exclude(claimed_by="").exists()
            )

        self._take_or_work(taken, "preview", daemon=True)
        last = 0.0
        while self._state() == JobState.PREVIEWING:
            if time.monotonic() - last >= self.progress_every:
                last = time.monotonic()
                left = self.job.files.filter(unresolved).count()
                self.write(f"Preview: {start - left} of {start} file(s) read.")
            if self._stuck(unresolved):
                return
            time.sleep(0.2)

    def deletion(self) -> int:
        def taken() -> bool:
            return (
                DeletionJob.objects.filter(
                    pk=self.job.pk, state__in=[JobState.RUNNING, *FINISHED_STATES]
                ).exists()
                or FileDeletion.objects.filter(job_id=self.job.pk).exists()
            )

        self._take_or_work(taken, "deletions", daemon=False)
        last = 0.0
        try:
            while self._state() not in (*services.ENDED_STATES, JobState.PAUSED):
                if time.monotonic() - last >= self.progress_every:
                    last = time.monotonic()
                    self._progress()
                if self._stuck(Q(state=FileState.WAITING, preview=PreviewState.FOUND)):
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            return self._interrupted()
        self._join()
        self.job.refresh_from_db()
        self._progress()
        return self._summary()

    def _take_or_work(self, taken: Callable[[], bool], step: str, *, daemon: bool) -> None:
        """A preview thread may be left behind on Ctrl-C (it only reads); a deletion thread
        is always joined, so no DELETE is cut off after its row was committed."""
        deadline = time.monotonic() + self.worker_wait
        while time.monotonic() < deadline:
            if taken():
                self.write(f"A background worker is doing the {step}.")
                return
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        if taken():
            self.write(f"A background worker is doing the {step}.")
            return
        self.write(
            f"No background worker took the job within {self.worker_wait:g} s: doing the {step} "
            "in this process."
        )
        self._join()
        self.here = threading.Thread(
            target=self._work_here, name=f"delete-files-{self.job.pk}", daemon=daemon
        )
        self.here.start()

    def _work_here(self) -> None:
        try:
            work.job_work(job_id=self.job.pk)
        finally:
            connection.close()

    def _join(self) -> None:
        if self.here is not None:
            self.here.join()
            self.here = None

    def _state(self) -> str:
        return DeletionJob.objects.filter(pk=self.job.pk).values_list("state", flat=True).get()

    def _stuck(self, todo: Q) -> bool:
        """This process did the work and the step is still not over: no other live worker
        holds a file of the job, so nobody will finish it now."""
        if self.here is None or self.here.is_alive():
            return False
        self._join()
        if JobFile.objects.filter(job=self.job, claimed_by__in=work.live_workers()).exists():
            return False
        waiting = self.job.files.filter(todo).count()
        self.command.stderr.write(
            f"The work stopped with {waiting} file(s) still to do (see the messages above: "
            "Tallyfy may refuse this organization's token, or be unreachable). The job is left "
            f"as it is, at {job_admin_path(self.job)}; a worker (run_worker) carries on."
        )
        return True

    def _progress(self) -> None:
        self.job.refresh_from_db()
        progress = services.job_progress(job=self.job)
        rate = f"{progress.per_minute:,.0f} a minute" if progress.per_minute else "— a minute"
        left = services.job_time_left_text(progress.seconds_left)
        self.write(f"{progress.done:,} / {progress.to_delete:,} file(s) done, {rate}, {left} left.")

    def _interrupted(self) -> int:
        if self.here is not None:
            with contextlib.suppress(services.JobRefused):
                services.job_pause(job=self.job, user=self.job.created_by)
            self.command.stderr.write(
                "Interrupted: pausing the job (the files in flight finish); resume it at "
                f"{job_admin_path(self.job)}."
            )
            self._join()
        else:
            self.command.stderr.write(
                "Stopped watching: the workers carry on with the job, at "
                f"{job_admin_path(self.job)}."
            )
        return EXIT_STOPPED

    def _summary(self) -> int:
        job = self.job
        progress = services.job_progress(job=job)
        by_state, files = progress.log, progress.files
        parts = [
            f"{by_state[state]} {DeletionState(state).label.lower()}"
            for state in DeletionState.values
            if by_state[state]
        ]
        for state in (FileState.REFUSED, FileState.NOT_ATTEMPTED, FileState.LEFT_OUT):
            if files[state]:
                parts.append(f"{files[state]} {FileState(state).label.lower()}")
        self.write(
            f"Job {job.pk} {job.get_state_display().lower()}: {', '.join(parts) or 'nothing done'}."
        )
        troubled = FileDeletion.objects.filter(
            job_id=job.pk, state__in=[DeletionState.FAILED, DeletionState.UNKNOWN]
        ).order_by("pk")
        for row in troubled:
            self.command.stderr.write(f"{row.state}: {row.asset_id}: {_printable(row.outcome)}")
        for f in job.files.filter(state=FileState.REFUSED):
            self.write(f"refused: {f.asset_id}: {_printable(f.note)}")
        if troubled:
            return EXIT_FILES_FAILED
        if job.state not in FINISHED_STATES:
            self.command.stderr.write(
                f"The job was {job.get_state_display().lower()} before it finished."
                + (f" {_printable(job.pause_reason)}" if job.pause_reason else "")
            )
            return EXIT_STOPPED
        return EXIT_DONE


def add_work_arguments(parser: CommandParser) -> None:
    """The options of who does a job's work and how often progress is printed (also
    erase_subject's)."""
    parser.add_argument(
        "--worker-wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a background worker to take the job before doing the "
        "work in this process (default 10; 0 works here at once)",
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between progress lines (default 10)",
    )


def ask_count(prompt: str) -> int | None:
    """The number the operator typed, or None (no answer, not a number)."""
    try:
        answer = input(prompt)
    except (EOFError, KeyboardInterrupt):
        return None
    answer = answer.strip().replace(",", "")
    return int(answer) if answer.isdigit() else None


def job_admin_path(job: DeletionJob) -> str:
    return reverse("admin:jobs_detail", args=[job.pk])


def _organization(name_or_id: str, *, user: AbstractBaseUser) -> Organization:
    """Among the organizations `user` may reach: the job is theirs, as on its page."""
    named = Q(name__iexact=name_or_id) | Q(org_id=name_or_id)
    matches = list(organizations_for(user).filter(named))
    if not matches:
        raise CommandError(
            f"No organization is named {name_or_id!r} or has that Tallyfy organization id "
            f"among those {user} may reach.",
            returncode=EXIT_BAD_INPUT,
        )
    if len(matches) > 1:
        names = ", ".join(sorted(org.name for org in matches))
        raise CommandError(
            f"{name_or_id!r} names {len(matches)} organizations ({names}): give its name.",
            returncode=EXIT_BAD_INPUT,
        )
    return matches[0]


def _user(username: str) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"No user is named {username!r}.", returncode=EXIT_BAD_INPUT)
    if not (user.is_active and user.is_staff and user.has_perm("files.delete_file")):
        raise CommandError(
            f"{username} may not delete files: an active staff user with the permission to "
            "permanently delete Tallyfy files is needed.",
            returncode=EXIT_BAD_INPUT,
        )
    return user


def _read_ids(path: Path) -> ParsedFiles:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(
            f"Cannot read {path}: {exc.strerror}.", returncode=EXIT_BAD_INPUT
        ) from exc
    if path.suffix.lower() == ".csv":
        return files_from_csv(data)
    try:
        return files_from_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{path} is not UTF-8 text: save it as UTF-8.", returncode=EXIT_BAD_INPUT
        ) from exc


def _cut(text: str, width: int) -> str:
    text = _printable(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _printable(text: str) -> str:
    """Names and messages come from Tallyfy: escape control characters (a terminal escape in a
    file name would act on the operator's terminal)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
