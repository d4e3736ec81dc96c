"""What the commands that run deletion jobs from a shell share (`delete_files`,
`erase_subject`): their exit statuses, the options and watcher of a job's work (waiting for a
worker, or doing it in this process, with progress lines), the typed count, and how names from
Tallyfy are printed safely."""

from __future__ import annotations

import contextlib
import threading
import time
from argparse import RawDescriptionHelpFormatter
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Q
from django.urls import reverse

from files.models import DeletionState, FileDeletion
from jobs import services, work
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


class ShellCommand(BaseCommand):
    """A command whose `--help` keeps its description's lines as written (exit statuses,
    examples)."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser


class JobWatcher:
    """Waits for the workers to do a step of the job, or does it here, printing progress."""

    def __init__(
        self, command: BaseCommand, job: DeletionJob, worker_wait: float, progress_every: float
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
            self.command.stderr.write(f"{row.state}: {row.asset_id}: {printable(row.outcome)}")
        for f in job.files.filter(state=FileState.REFUSED):
            self.write(f"refused: {f.asset_id}: {printable(f.note)}")
        if troubled:
            return EXIT_FILES_FAILED
        if job.state not in FINISHED_STATES:
            self.command.stderr.write(
                f"The job was {job.get_state_display().lower()} before it finished."
                + (f" {printable(job.pause_reason)}" if job.pause_reason else "")
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


def organization_reachable(name_or_id: str, *, user: AbstractBaseUser) -> Organization:
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


def cut(text: str, width: int) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def printable(text: str) -> str:
    """Names and messages come from Tallyfy: escape control characters (a terminal escape in a
    file name would act on the operator's terminal)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
