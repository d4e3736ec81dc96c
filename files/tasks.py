"""What the workers' sweep does for the deletion log (settings.BACKGROUND_SWEEPS)."""

from __future__ import annotations

from itertools import islice

from files.models import UNSETTLED_STATES
from files.services import deletions_reconcile

# Rows a sweep settles at most: each asks Tallyfy once, within the organization's rate limit.
SWEEP_BATCH = 10


def deletions_reconcile_due() -> list[int]:
    """Settle what `reconcile_deletions` settles of the single-file deletions (unknown rows
    old enough, pending rows whose request can no longer be running), a few each sweep, so a
    deployment needs no cron for them. A job's rows are its workers' (jobs_wake_stalled).
    Returns the rows settled."""
    rows = islice(deletions_reconcile(), SWEEP_BATCH)
    return [row.pk for row in rows if row.state not in UNSETTLED_STATES]
