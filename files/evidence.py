"""The deletion log's part in the evidence chain: which rows are sealed, and which of their
facts. A row is sealed once it is settled (deleted, already gone, failed), in the
transaction that settles it; `pending` and `unknown` rows may still change, and are not."""

from __future__ import annotations

from django.db.models import Q

from evidence.kinds import SealedKind
from files import log_search
from files.models import UNSETTLED_STATES, FileDeletion


def deletion_facts(deletion: FileDeletion) -> dict[str, object]:
    """Every column but `user_id`: the account may be deleted later (the column is then
    cleared, the one change the database allows to a settled row); `username` says who."""
    return {
        "organization": deletion.organization_id,
        "org_id": deletion.org_id,
        "asset_id": deletion.asset_id,
        "file_name": deletion.file_name,
        "subject_type": deletion.subject_type,
        "subject_id": deletion.subject_id,
        "uploaded_at": deletion.uploaded_at,
        "metadata": deletion.metadata,
        "username": deletion.username,
        "reason": deletion.reason,
        "state": deletion.state,
        "http_status": deletion.http_status,
        "error_message": deletion.error_message,
        "outcome": deletion.outcome,
        "request_id": deletion.request_id,
        "attempts": deletion.attempts,
        "job_id": deletion.job_id,
        "started_at": deletion.started_at,
        "finished_at": deletion.finished_at,
    }


DELETIONS = SealedKind(
    name="file_deletion",
    model=FileDeletion,
    settled=~Q(state__in=UNSETTLED_STATES),
    facts=deletion_facts,
    search=log_search.matching,
)
