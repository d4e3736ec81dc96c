"""`manage.py delete_files`: a deletion job from a shell, for operators. The same job, workers,
rate limit and log as the admin's "Delete many files"; see `--help` for the exit statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError, CommandParser

from jobs import services, work
from jobs.lines import ParsedFiles, files_from_csv, files_from_text
from jobs.models import DeletionJob, JobState, PreviewState
from jobs.shell import (
    EXIT_BAD_INPUT,
    EXIT_DONE,
    EXIT_NEEDS_APPROVAL,
    EXIT_NOT_CONFIRMED,
    EXIT_STOPPED,
    JobWatcher,
    ShellCommand,
    add_work_arguments,
    ask_count,
    cut,
    job_admin_path,
    organization_reachable,
)

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


class Command(ShellCommand):
    help = HELP

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
        organization = organization_reachable(options["organization"], user=user)
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
        self.watcher = JobWatcher(self, job, options["worker_wait"], options["progress_every"])
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
                    cut(f.file_name, 40),
                    f"{f.subject_type} {f.subject_id}".strip()[:45],
                    f.uploaded_at.strftime("%Y-%m-%d %H:%M") if f.uploaded_at else "",
                    cut(f.note, 70),
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
