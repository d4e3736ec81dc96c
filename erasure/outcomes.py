"""What became of each file a request kept for deletion, read from its deletion jobs and the
deletion log: the request's page, the follow-up sweep and the receipt all read it here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models

from erasure.models import ErasureJob, ErasureRequest, Finding
from erasure.selectors import kept_findings
from files.models import DeletionState
from jobs.models import FileState, JobFile, PreviewState


class Outcome(models.TextChoices):
    DELETED = "deleted", "deleted"
    ALREADY_GONE = "already_gone", "already gone: Tallyfy has no such file"
    NOT_DELETABLE = "not_deletable", "not deletable"
    FAILED = "failed", "failed: Tallyfy did not delete it"
    UNCERTAIN = "uncertain", "uncertain: Tallyfy may have deleted it"
    NOT_ATTEMPTED = "not_attempted", "not attempted"
    IN_PROGRESS = "in_progress", "being deleted"


GONE = (Outcome.DELETED, Outcome.ALREADY_GONE)
# Certain and final, the file still there: the request can only be closed with exceptions.
EXCEPTIONS = (Outcome.NOT_DELETABLE,)
# Worth trying again (Retry failed files).
RETRYABLE = (Outcome.FAILED, Outcome.UNCERTAIN, Outcome.NOT_ATTEMPTED)


@dataclass
class FileOutcome:
    asset_id: str
    file_name: str
    run_name: str
    task_name: str
    rules: list[str] = field(default_factory=list)
    outcome: Outcome = Outcome.NOT_ATTEMPTED
    note: str = ""
    at: datetime | None = None
    tallyfy_request_id: str = ""
    log_row_id: int | None = None
    job_id: int | None = None


def file_outcomes(request: ErasureRequest) -> list[FileOutcome]:
    """One entry per file kept, in the order found, from the latest job that held it."""
    outcomes: dict[str, FileOutcome] = {}
    finding: Finding
    for finding in kept_findings(request).exclude(asset_id="").order_by("pk"):
        entry = outcomes.setdefault(
            finding.asset_id,
            FileOutcome(
                asset_id=finding.asset_id,
                file_name=finding.file_name,
                run_name=finding.run_name,
                task_name=finding.task_name,
            ),
        )
        entry.rules.append(finding.get_rule_display())
    jobs = ErasureJob.objects.filter(request=request).values("job")
    held = (
        JobFile.objects.filter(job__in=jobs, asset_id__in=outcomes)
        .select_related("deletion")
        .order_by("job_id", "id")
    )
    for job_file in held:  # a later job (a retry) overrides an earlier one
        entry = outcomes[job_file.asset_id]
        entry.job_id = job_file.job_id
        _read(entry, job_file)
    return list(outcomes.values())


def _read(entry: FileOutcome, job_file: JobFile) -> None:
    entry.outcome, entry.note = _outcome(job_file)
    deletion = job_file.deletion
    entry.at = (deletion.finished_at if deletion else None) or job_file.finished_at
    entry.tallyfy_request_id = deletion.request_id if deletion else ""
    entry.log_row_id = deletion.pk if deletion else None
    if job_file.file_name and not entry.file_name:
        entry.file_name = job_file.file_name


def _outcome(job_file: JobFile) -> tuple[Outcome, str]:
    state, deletion = job_file.state, job_file.deletion
    if state == FileState.WAITING:
        return Outcome.IN_PROGRESS, ""
    if state == FileState.NOT_ATTEMPTED:
        return Outcome.NOT_ATTEMPTED, "Its job was cancelled before it."
    if state == FileState.REFUSED:
        return Outcome.FAILED, f"Refused before sending: {job_file.note}"
    if state == FileState.LEFT_OUT:
        if job_file.preview == PreviewState.NOT_FOUND:
            return Outcome.ALREADY_GONE, job_file.note
        if job_file.preview == PreviewState.NOT_DELETABLE:
            return Outcome.NOT_DELETABLE, job_file.note
        return Outcome.FAILED, job_file.note  # unreadable: nothing was sent
    if deletion is None:
        return Outcome.IN_PROGRESS, ""
    by_state = {
        DeletionState.DELETED: Outcome.DELETED,
        DeletionState.ALREADY_GONE: Outcome.ALREADY_GONE,
        DeletionState.FAILED: Outcome.FAILED,
        DeletionState.UNKNOWN: Outcome.UNCERTAIN,
        DeletionState.PENDING: Outcome.IN_PROGRESS,
    }
    return by_state[DeletionState(deletion.state)], deletion.outcome


@dataclass(frozen=True)
class Tally:
    gone: int
    exceptions: int
    retryable: int
    in_progress: int

    @property
    def settled(self) -> bool:
        return self.in_progress == 0


def tally(outcomes: list[FileOutcome]) -> Tally:
    return Tally(
        gone=sum(o.outcome in GONE for o in outcomes),
        exceptions=sum(o.outcome in EXCEPTIONS for o in outcomes),
        retryable=sum(o.outcome in RETRYABLE for o in outcomes),
        in_progress=sum(o.outcome == Outcome.IN_PROGRESS for o in outcomes),
    )
