"""Use cases: look up a file, open it, delete it (write-ahead logged), settle the log.

Views, commands and tasks call these, never `TallyfyClient` directly. The deletion log is
written and settled here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now
from django.utils import timezone

import tallyfy_api
from evidence.services import seal_append
from files.conf import conf
from files.evidence import DELETIONS
from files.models import GONE_STATES, UNSETTLED_STATES, DeletionState, DeletionTicket, FileDeletion
from organizations.clients import tallyfy_client
from organizations.conf import conf as organizations_conf
from organizations.models import Organization
from organizations.tokens import TokenDecryptionError
from sql_names import column, table
from tallyfy_api.base_urls import DisallowedBaseURL
from tallyfy_api.names import display_name
from throttling.services import slot_prepaid, slot_reserve_with

logger = logging.getLogger(__name__)

LOGO_SUBJECT_TYPE = "Organization"
_TICKET_KEPT = timedelta(days=1)


class DeletionRefused(Exception):
    """Nothing was recorded and nothing was sent; the message says why, in plain words."""


class ConfirmationMismatch(DeletionRefused):
    """The re-typed name or id is not the file the confirm page showed."""


class ConfirmationExpired(DeletionRefused):
    """The confirm page's ticket is unknown, someone else's, another file's, or too old."""


class NotDeletable(DeletionRefused):
    """The file must not be deleted: a logo, another id than asked for, or changed since."""


class DeletionConflict(DeletionRefused):
    """Another deletion of this file is in flight or already removed it (`deletion`, when
    its row exists), or this very confirmation was already submitted."""

    def __init__(self, message: str, *, deletion: FileDeletion | None) -> None:
        super().__init__(message)
        self.deletion = deletion


def file_lookup(*, organization: Organization, asset_id: str) -> tallyfy_api.Asset:
    return tallyfy_client(organization=organization).get_asset(asset_id)


def file_open(*, organization: Organization, asset_id: str, inline: bool) -> tallyfy_api.Download:
    """An open download; the caller closes it."""
    return tallyfy_client(organization=organization).open_download(asset_id, inline=inline)


# The metadata a look-up read, kept server-side in the user's session for the detail page it
# redirects to: one entry, used once, for this long at most.
_SEEN_KEY = "files_seen"
SEEN_SECONDS = 60
_SEEN_MAX_CHARS = 64 * 1024


def file_seen_keep(
    *, session: SessionBase, organization: Organization, asset_id: str, asset: tallyfy_api.Asset
) -> None:
    """Keep what the look-up read of `asset_id` for the detail page it redirects to. A
    snapshot too large to keep in a session is not kept (the detail page reads it again)."""
    raw = json.dumps(asset.raw, ensure_ascii=False)
    if len(raw) > _SEEN_MAX_CHARS:
        session.pop(_SEEN_KEY, None)
        return
    session[_SEEN_KEY] = {
        "organization": organization.pk,
        "org_id": organization.org_id,
        "asset_id": asset_id,
        "raw": raw,
        "at": time.time(),
    }


def file_lookup_for_page(
    *, session: SessionBase, organization: Organization, asset_id: str
) -> tallyfy_api.Asset:
    """The file's metadata for its detail page: what this session's look-up has just read of
    this very file (used once, within SEEN_SECONDS), else read from Tallyfy now."""
    seen = session.pop(_SEEN_KEY, None) if _SEEN_KEY in session else None
    if (
        isinstance(seen, dict)
        and seen.get("organization") == organization.pk
        and seen.get("org_id") == organization.org_id
        and seen.get("asset_id") == asset_id
        and 0 <= time.time() - float(seen.get("at", 0)) <= SEEN_SECONDS
    ):
        try:
            return tallyfy_api.Asset.from_payload({"data": json.loads(seen["raw"])})
        except (ValueError, TypeError, tallyfy_api.TallyfyError):
            pass  # read it again
    return file_lookup(organization=organization, asset_id=asset_id)


@dataclass(frozen=True)
class FileProbe:
    """What the file's inline download says about it, read from the headers only; or, when
    Tallyfy has no inline body for it, its type guessed from its file name (size unknown)."""

    content_type: str
    content_length: int | None


def file_probe(*, organization: Organization, asset: tallyfy_api.Asset) -> FileProbe:
    """The file's type and size from its inline download's headers (one call; the body is
    never read). Where inline answers 404, the type is the file name's, and no other call is
    made: the attachment (`/dl`) is never fetched just to learn a type."""
    try:
        download = tallyfy_client(organization=organization).open_download(
            asset.id, inline=True, fallback=False
        )
    except tallyfy_api.NotFound:
        guessed, _ = mimetypes.guess_type(asset.filename, strict=True)
        return FileProbe(guessed or "", None)
    try:
        return FileProbe(download.content_type, download.content_length)
    finally:
        download.close()


def _confirmation_matches(*, ticket: DeletionTicket, confirmation: str) -> bool:
    typed = confirmation.strip()
    return bool(typed) and typed in {
        ticket.asset_id,
        ticket.file_name,
        display_name(ticket.file_name),
    }


def file_deletion_refusal(*, asset: tallyfy_api.Asset, asset_id: str) -> str | None:
    """Why this file must not be deleted, or None. The confirm page shows it; `file_delete`
    checks it again before anything is recorded or sent."""
    if asset.id != asset_id:
        return (
            f"Tallyfy answered with file {asset.id} when asked for file {asset_id}, so "
            "nothing can be deleted safely: nothing was recorded or sent."
        )
    if asset.is_link:
        return (
            "Not deletable: a link, not a file. This id names a link to elsewhere, not a file "
            "stored in Tallyfy, so there is nothing to delete. Nothing was recorded or sent."
        )
    if asset.subject_type == LOGO_SUBJECT_TYPE:
        return (
            "This is the organization's logo: Tallyfy does not let it be deleted through its "
            "API. Nothing was recorded or sent."
        )
    return None


def deletion_ticket_issue(
    *, user: AbstractBaseUser, organization: Organization, asset: tallyfy_api.Asset
) -> str:
    """A one-time key for the confirm page about to show `asset`; old tickets are dropped."""
    DeletionTicket.objects.filter(issued_at__lt=timezone.now() - _TICKET_KEPT).delete()
    ticket = DeletionTicket.objects.create(
        key=secrets.token_urlsafe(32),
        user=user,
        organization=organization,
        asset_id=asset.id,
        file_name=asset.filename,
    )
    return ticket.key


def _ticket_for(
    *, key: str, user: AbstractBaseUser, organization: Organization, asset_id: str
) -> DeletionTicket:
    """The confirm page's ticket, read with whether another deletion claims the file
    (`claimed_by`: that row's key, or None). Every deletion's POST asks it, so the query is
    written out: built by the ORM, its subquery took longer than the database takes to answer."""
    found = DeletionTicket.objects.raw(
        _ticket_sql(),
        [
            organization.org_id,
            asset_id,
            *_CLAIMING_STATES,
            key,
            user.pk,
            organization.pk,
            asset_id,
        ],
    )
    ticket = next(iter(found), None)
    if ticket is None or ticket.issued_at < timezone.now() - timedelta(
        seconds=conf.TALLYFY_CONFIRM_PAGE_SECONDS
    ):
        raise ConfirmationExpired(
            "This confirmation page has expired or was not issued to you for this file. "
            "Check the file below and confirm again."
        )
    return ticket


_CLAIMING_STATES = (*UNSETTLED_STATES, *GONE_STATES)


@cache
def _ticket_sql() -> str:
    # Table and column names come from the models (sql_names), values are parameters.
    states = ", ".join(["%s"] * len(_CLAIMING_STATES))
    claimed_by = (
        f"SELECT {column(FileDeletion, 'id')} FROM {table(FileDeletion)} "  # noqa: S608
        f"WHERE {column(FileDeletion, 'org_id')} = %s AND {column(FileDeletion, 'asset_id')} = %s "
        f"AND {column(FileDeletion, 'state')} IN ({states}) LIMIT 1"
    )
    mine = " AND ".join(
        f"{column(DeletionTicket, field)} = %s"
        for field in ("key", "user", "organization", "asset_id")
    )
    return (
        f"SELECT {table(DeletionTicket)}.*, ({claimed_by}) AS claimed_by "  # noqa: S608
        f"FROM {table(DeletionTicket)} WHERE {mine}"
    )


def _ticket_use(ticket: DeletionTicket) -> None:
    """Use the ticket up, or raise DeletionConflict if another request already has."""
    now = timezone.now()
    taken = DeletionTicket.objects.filter(pk=ticket.pk, used_at__isnull=True).update(used_at=now)
    if taken:
        ticket.used_at = now
        return
    ticket.refresh_from_db()
    raise _resubmitted(ticket)


def _resubmitted(ticket: DeletionTicket) -> DeletionConflict:
    when = _when(ticket.used_at)
    if ticket.deletion is None:
        return DeletionConflict(
            f"This confirmation was already submitted at {when}; that deletion is under way. "
            "Nothing more was sent.",
            deletion=None,
        )
    return DeletionConflict(
        f"This confirmation was already submitted at {when}: "
        f"{_describe_other(ticket.deletion)} Nothing more was sent.",
        deletion=ticket.deletion,
    )


def _refuse_if_claimed(*, organization: Organization, asset_id: str) -> None:
    """No second deletion of a file while one is in flight, or once the log says it is gone."""
    other = (
        FileDeletion.objects.filter(
            org_id=organization.org_id, asset_id=asset_id, state__in=_CLAIMING_STATES
        )
        .order_by("-started_at", "-id")
        .first()
    )
    if other is not None:
        raise DeletionConflict(f"{_describe_other(other)} Nothing was sent.", deletion=other)


def _describe_other(deletion: FileDeletion) -> str:
    who, when = deletion.username or "Someone", _when(deletion.started_at)
    match deletion.state:
        case DeletionState.PENDING:
            return f"{who} started deleting this file at {when}; it is still in progress."
        case DeletionState.UNKNOWN:
            return (
                f"{who} tried to delete this file at {when} and the outcome is not yet known; "
                "reconcile_deletions will ask Tallyfy again."
            )
        case DeletionState.DELETED:
            return f"{who} deleted this file at {when}."
        case _:
            return f"{who} found this file already gone from Tallyfy at {when}."


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "?"


@dataclass(frozen=True)
class DeletionOutcome:
    """How one deletion ended, before it is written to its row."""

    state: DeletionState
    outcome: str
    error: tallyfy_api.TallyfyError | None = None
    status: int | None = None
    request_id: str = ""


def file_delete(
    *,
    organization: Organization,
    asset_id: str,
    user: AbstractBaseUser,
    reason: str,
    confirmation: str,
    ticket: str,
    on_settled: Callable[[FileDeletion], None] | None = None,
) -> FileDeletion:
    """Delete a file permanently, in the steps the README's "How a deletion works" gives.

    Checked before anything is recorded or sent: the confirm page's one-time `ticket`, the
    re-typed name or id against what that page showed, no other deletion of the file in flight
    or already done. Then the metadata is snapshotted, checked (the id Tallyfy answers for is
    the id asked for; not a logo), a `pending` row committed, the DELETE sent, and the row
    settled once. Every refusal raises a DeletionRefused with nothing recorded and nothing sent.
    `on_settled(row)` (the caller's own record of the attempt) runs in the transaction that
    settles the row, so that it costs no commit of its own.
    """
    if connection.in_atomic_block:
        raise RuntimeError("file_delete must not run inside a transaction: its row must commit.")
    shown = _ticket_for(key=ticket, user=user, organization=organization, asset_id=asset_id)
    if shown.used_at is not None:
        raise _resubmitted(shown)
    if not _confirmation_matches(ticket=shown, confirmation=confirmation):
        raise ConfirmationMismatch(
            f"Type the file name ({display_name(shown.file_name)}) or its id ({shown.asset_id}) "
            "exactly."
        )
    if shown.claimed_by is not None:
        _refuse_if_claimed(organization=organization, asset_id=asset_id)
    return _delete_checked(
        client=tallyfy_client(organization=organization),
        organization=organization,
        asset_id=asset_id,
        user=user,
        reason=reason,
        shown_name=shown.file_name,
        before_read=lambda: _ticket_use(shown),
        on_row=lambda deletion: _ticket_link(shown, deletion),
        on_settled=on_settled,
    )


# --- the steps of a deletion, for a deletion job's worker ---
# A job's worker runs these one by one so that it can check, between any two, that it still
# holds the file (jobs.machine): the confirmation and approval of the job stand for the confirm
# page's, and the rules after the page's own checks are the same as `file_delete`'s.


def deletion_of_job(*, job_id: int, org_id: str, asset_id: str) -> FileDeletion | None:
    """The job's own row for the file, if it has one: a job never gets two."""
    return FileDeletion.objects.filter(job_id=job_id, org_id=org_id, asset_id=asset_id).first()


def deletion_record_pending(
    *,
    organization: Organization,
    asset: tallyfy_api.Asset,
    user: AbstractBaseUser | None,
    username: str,
    reason: str,
    job_id: int,
) -> FileDeletion:
    """The job's `pending` row for a file whose metadata was just read (or read by its job's
    recent preview) and checked; the caller commits it before sending the DELETE. Raises
    DeletionConflict when another deletion of the file is in flight or already removed it."""
    _refuse_if_claimed(organization=organization, asset_id=asset.id)
    try:
        with transaction.atomic():
            return FileDeletion.objects.create(
                **_snapshot(
                    organization=organization,
                    asset=asset,
                    user=user,
                    username=username,
                    reason=reason,
                ),
                job_id=job_id,
                state=DeletionState.PENDING,
            )
    except IntegrityError:
        _refuse_if_claimed(organization=organization, asset_id=asset.id)
        raise


def deletion_record_unsent(
    *,
    organization: Organization,
    asset_id: str,
    user: AbstractBaseUser | None,
    username: str,
    reason: str,
    error: tallyfy_api.TallyfyError,
    job_id: int,
    file_name: str = "",
) -> FileDeletion:
    """A job's file whose metadata read was answered with certainty (404: already gone; 400:
    refused): no DELETE is sent, and the row says so, with the name the job's preview read."""
    return _record_unsent(
        organization=organization,
        asset_id=asset_id,
        file_name=file_name,
        user=user,
        username=username,
        reason=reason,
        error=error,
        job_id=job_id,
    )


def deletion_send(
    *,
    client: tallyfy_api.TallyfyClient,
    deletion: FileDeletion,
    uncertain: tallyfy_api.TallyfyError | None = None,
) -> tuple[int, DeletionOutcome]:
    """Send the `pending` row's DELETE (retries included) and say how it ended; the row is not
    written: the caller settles it with `deletion_settle`."""
    return _send_delete(client=client, deletion=deletion, uncertain=uncertain)


STOPPED = "the worker that was deleting it stopped"


def deletion_check_in_flight(
    *, client: tallyfy_api.TallyfyClient, deletion: FileDeletion
) -> DeletionOutcome | None:
    """For a `pending` row whose DELETE may have been sent by a worker that stopped: a 404
    settles it `deleted`, a check that fails otherwise `unknown`; None means Tallyfy still has
    the file, and only then may the row's holder send the DELETE again, as a retry of an
    uncertain attempt (`deletion_send(..., uncertain=stopped_error())`). A 429 is raised
    (RateLimited): nothing was learnt, and the row stays `pending` for a later check."""
    try:
        client.get_asset(deletion.asset_id)
    except tallyfy_api.RateLimited:
        raise
    except tallyfy_api.TallyfyError as exc:
        return _check_verdict(error=stopped_error(), check_error=exc)
    return None


def stopped_error() -> tallyfy_api.ConnectionFailed:
    return tallyfy_api.ConnectionFailed(STOPPED)


def deletion_settle(
    *, deletion: FileDeletion, attempts: int, result: DeletionOutcome
) -> FileDeletion:
    """Write a `pending` row's final state, once."""
    return _settle(deletion=deletion, attempts=attempts, result=result)


def outcome_is_rate_limited(result: DeletionOutcome) -> bool:
    """A refusal by 429 only: Tallyfy certainly did nothing, and the DELETE may be sent again
    later."""
    return result.state == DeletionState.FAILED and isinstance(
        result.error, tallyfy_api.RateLimited
    )


def _delete_checked(
    *,
    client: tallyfy_api.TallyfyClient,
    organization: Organization,
    asset_id: str,
    user: AbstractBaseUser,
    reason: str,
    shown_name: str,
    before_read: Callable[[], None],
    on_row: Callable[[FileDeletion], None],
    on_settled: Callable[[FileDeletion], None] | None,
) -> FileDeletion:
    """Snapshot and check the metadata, commit a `pending` row, send the DELETE, settle it.

    Each request to Tallyfy takes its rate slot in the transaction that commits what must be
    recorded before it is sent: `before_read` (the ticket spent) with the metadata read's, the
    `pending` row and `on_row` (the ticket linked to it) with the DELETE's. `on_settled` runs
    where the row gets its final state."""
    _, read_slot = slot_reserve_with(
        organization_id=organization.pk, max_wait=_page_wait(), write=before_read
    )
    try:
        with slot_prepaid(organization_id=organization.pk, reservation=read_slot):
            asset = client.get_asset(asset_id)
    except tallyfy_api.TallyfyError as exc:
        return _record_unsent(
            organization=organization,
            asset_id=asset_id,
            file_name=shown_name,
            user=user,
            username=user.get_username(),
            reason=reason,
            error=exc,
            job_id=None,
            on_row=lambda deletion: _each(deletion, on_row, on_settled),
        )
    refusal = file_deletion_refusal(asset=asset, asset_id=asset_id)
    if refusal is None and asset.filename != shown_name:
        refusal = (
            f"The file is now named {asset.filename} in Tallyfy, not {shown_name} as "
            "shown when you confirmed. Nothing was recorded or sent: check it and confirm again."
        )
    if refusal is not None:
        raise NotDeletable(refusal)

    def record_pending() -> FileDeletion:
        deletion = FileDeletion.objects.create(
            **_snapshot(
                organization=organization,
                asset=asset,
                user=user,
                username=user.get_username(),
                reason=reason,
            ),
            state=DeletionState.PENDING,
        )
        on_row(deletion)
        return deletion

    try:
        deletion, delete_slot = slot_reserve_with(
            organization_id=organization.pk, max_wait=_page_wait(), write=record_pending
        )
    except IntegrityError:
        _refuse_if_claimed(organization=organization, asset_id=asset_id)
        raise
    logger.info("deletion %s pending: org=%r asset=%r", deletion.pk, organization.org_id, asset_id)
    with slot_prepaid(organization_id=organization.pk, reservation=delete_slot):
        attempts, result = _send_delete(client=client, deletion=deletion)
    return _settle(deletion=deletion, attempts=attempts, result=result, on_settled=on_settled)


def _each(deletion: FileDeletion, *callbacks: Callable[[FileDeletion], None] | None) -> None:
    for callback in callbacks:
        if callback is not None:
            callback(deletion)


def _page_wait() -> float:
    """The longest a page's request waits for its rate slot (as the pages' client does)."""
    return organizations_conf.TALLYFY_INTERACTIVE_WAIT_LIMIT


def _ticket_link(ticket: DeletionTicket, deletion: FileDeletion) -> None:
    DeletionTicket.objects.filter(pk=ticket.pk).update(deletion=deletion)


def _send_delete(
    *,
    client: tallyfy_api.TallyfyClient,
    deletion: FileDeletion,
    uncertain: tallyfy_api.TallyfyError | None = None,
) -> tuple[int, DeletionOutcome]:
    """Send the DELETE, retrying uncertain attempts after a check. Once any attempt was
    uncertain (`uncertain` says one was before this call) it may have been applied, so every
    ending but a 2xx or a 404 is `unknown`."""
    max_attempts = max(1, conf.TALLYFY_DELETE_ATTEMPTS)
    for attempt in range(1, max_attempts + 1):
        try:
            deleted = client.delete_file(deletion.asset_id)
        except tallyfy_api.NotFound as exc:
            if uncertain:
                return attempt, _outcome(
                    DeletionState.DELETED,
                    "Gone: confirmed by 404 after an uncertain attempt.",
                    exc,
                )
            return attempt, _outcome(
                DeletionState.ALREADY_GONE,
                "Tallyfy answered 404: the file was already gone before this deletion.",
                exc,
            )
        except (tallyfy_api.ServerError, tallyfy_api.ConnectionFailed) as exc:
            uncertain = exc
            verdict = _verify_after_uncertain(client=client, deletion=deletion, error=exc)
            if verdict is not None:
                return attempt, verdict
            if attempt < max_attempts:
                time.sleep(organizations_conf.TALLYFY_RETRY_BACKOFF * 2 ** (attempt - 1))
            continue
        except tallyfy_api.TallyfyError as exc:
            if uncertain:
                return attempt, _outcome(
                    DeletionState.UNKNOWN,
                    f"Uncertain: an earlier attempt got no clear answer ({uncertain.message}) "
                    f"and may still have been applied; the retry then got HTTP {exc.status}. "
                    "reconcile_deletions will ask Tallyfy again.",
                    exc,
                )
            return attempt, _refused(exc)
        return attempt, DeletionOutcome(
            DeletionState.DELETED,
            f"Tallyfy confirmed the deletion (HTTP {deleted.status}).",
            None,
            deleted.status,
            deleted.request_id,
        )
    assert uncertain is not None
    return max_attempts, _outcome(
        DeletionState.UNKNOWN,
        f"Uncertain: {max_attempts} attempts got no clear answer and the file was still in "
        "Tallyfy at the last check, but an attempt may still be applied. reconcile_deletions "
        "will ask Tallyfy again.",
        uncertain,
    )


def _refused(exc: tallyfy_api.TallyfyError) -> DeletionOutcome:
    """A first, certain refusal: nothing was deleted."""
    if isinstance(exc, tallyfy_api.RateLimited):
        wait = f" Try again in {exc.retry_after:.0f} seconds." if exc.retry_after else ""
        return _outcome(
            DeletionState.FAILED,
            f"Not deleted: Tallyfy is rate limiting this organization (HTTP 429), and a 429 "
            f"is never applied.{wait}",
            exc,
        )
    return _outcome(DeletionState.FAILED, "Tallyfy refused the deletion.", exc)


def _outcome(
    state: DeletionState, outcome: str, error: tallyfy_api.TallyfyError
) -> DeletionOutcome:
    return DeletionOutcome(state, outcome, error, error.status, error.request_id)


def _verify_after_uncertain(
    *, client: tallyfy_api.TallyfyClient, deletion: FileDeletion, error: tallyfy_api.TallyfyError
) -> DeletionOutcome | None:
    """After a DELETE with no clear answer: 404 settles it, 200 means try again."""
    try:
        client.get_asset(deletion.asset_id)
    except tallyfy_api.TallyfyError as exc:
        return _check_verdict(error=error, check_error=exc)
    return None


def _check_verdict(
    *, error: tallyfy_api.TallyfyError, check_error: tallyfy_api.TallyfyError
) -> DeletionOutcome:
    if isinstance(check_error, tallyfy_api.NotFound):
        return DeletionOutcome(
            DeletionState.DELETED,
            f"Gone: the DELETE got no clear answer ({error.message}); a check then answered 404.",
            error,
            check_error.status,
            error.request_id or check_error.request_id,
        )
    return DeletionOutcome(
        DeletionState.UNKNOWN,
        f"Uncertain: the DELETE got no clear answer ({error.message}) and the check "
        f"failed too ({check_error.message}). reconcile_deletions will ask again.",
        error,
        error.status,
        error.request_id,
    )


def _snapshot(
    *,
    organization: Organization,
    asset: tallyfy_api.Asset,
    user: AbstractBaseUser | None,
    username: str,
    reason: str,
) -> dict[str, object]:
    return {
        "organization": organization,
        "org_id": organization.org_id,
        "asset_id": asset.id,
        "user": user,
        "username": username,
        "reason": reason,
        "file_name": asset.filename,
        "subject_type": asset.subject_type,
        "subject_id": asset.subject_id,
        "uploaded_at": asset.uploaded_at,
        "metadata": asset.raw,
    }


def tallyfy_words(error: tallyfy_api.TallyfyError | None) -> str:
    """Tallyfy's own message, when it answered: the log shows it as Tallyfy's. Our words
    about a call that got no answer (refused, timed out) belong in the outcome instead."""
    return error.message if error is not None and error.status is not None else ""


def _record_unsent(
    *,
    organization: Organization,
    asset_id: str,
    file_name: str,
    user: AbstractBaseUser | None,
    username: str,
    reason: str,
    error: tallyfy_api.TallyfyError,
    job_id: int | None,
    on_row: Callable[[FileDeletion], None] | None = None,
) -> FileDeletion:
    """The metadata could not be read, so no DELETE was sent; the attempt is still recorded,
    naming the file as the user was shown it (when they were), with `on_row` in the same
    transaction."""
    gone = isinstance(error, tallyfy_api.NotFound)
    with transaction.atomic():
        deletion = FileDeletion.objects.create(
            organization=organization,
            org_id=organization.org_id,
            asset_id=asset_id,
            file_name=file_name,
            user=user,
            username=username,
            reason=reason,
            job_id=job_id,
            state=DeletionState.ALREADY_GONE if gone else DeletionState.FAILED,
            outcome=(
                "Not sent: Tallyfy answered 404 for the file's metadata; it was already gone."
                if gone
                else "Not sent: the file's metadata could not be read, so nothing was deleted."
                + ("" if error.status is not None else f" {error.message}")
            ),
            http_status=error.status,
            error_message=tallyfy_words(error),
            request_id=error.request_id,
            attempts=0,
            finished_at=timezone.now(),
        )
        if on_row is not None:
            on_row(deletion)
        _seal(deletion)
    return deletion


def _settle(
    *,
    deletion: FileDeletion,
    attempts: int,
    result: DeletionOutcome,
    on_settled: Callable[[FileDeletion], None] | None = None,
) -> FileDeletion:
    """Write the final state once; a row that is no longer pending is never touched."""
    final = {
        "state": result.state,
        "outcome": result.outcome,
        "http_status": result.status,
        "error_message": tallyfy_words(result.error),
        "request_id": result.request_id,
        "attempts": attempts,
        "finished_at": None if result.state == DeletionState.UNKNOWN else timezone.now(),
    }
    return _settle_once(
        deletion=deletion, unsettled=(DeletionState.PENDING,), on_settled=on_settled, **final
    )


def _settle_once(
    *,
    deletion: FileDeletion,
    unsettled: tuple[DeletionState, ...],
    on_settled: Callable[[FileDeletion], None] | None = None,
    **final: object,
) -> FileDeletion:
    """`on_settled(row)` runs in the settling transaction once the row holds its final state,
    or after it, on the row as it stands, when another settled it first."""
    with transaction.atomic():
        written = _update_returning(deletion=deletion, unsettled=unsettled, final=final)
        settled = written is not None
        if settled and final["state"] not in UNSETTLED_STATES:
            seal_append(kind=DELETIONS, object_id=deletion.pk, written=written)
        if settled:
            for name, value in final.items():
                setattr(deletion, name, value)
            _each(deletion, on_settled)
    if not settled:
        deletion.refresh_from_db()
        _each(deletion, on_settled)
    logger.info("deletion %s %s", deletion.pk, deletion.state)
    return deletion


def _update_returning(
    *, deletion: FileDeletion, unsettled: tuple[DeletionState, ...], final: dict[str, object]
) -> FileDeletion | None:
    """The row moved to `final` if it is still in an `unsettled` state, as the database now
    holds it (read back by the UPDATE itself, for its seal), or None if another moved it.
    Every deletion settles through here, so the statement is written out: the ORM took longer
    to build the UPDATE and the read after it than the database takes to run them."""
    fields = [FileDeletion._meta.get_field(name) for name in final]
    values = [field.get_db_prep_save(final[field.name], connection) for field in fields]
    written = FileDeletion.objects.raw(
        _update_returning_sql(tuple(final), len(unsettled)),
        [*values, deletion.pk, *unsettled],
    )
    rows = list(written)  # read to the end, so that the statement finishes (SQLite) here
    return rows[0] if rows else None


@cache
def _update_returning_sql(names: tuple[str, ...], unsettled: int) -> str:
    changes = ", ".join(f"{column(FileDeletion, name, qualified=False)} = %s" for name in names)
    states = ", ".join(["%s"] * unsettled)
    return (
        f"UPDATE {table(FileDeletion)} SET {changes} "  # noqa: S608
        f"WHERE {column(FileDeletion, 'id')} = %s AND {column(FileDeletion, 'state')} "
        f"IN ({states}) RETURNING *"
    )


def _seal(deletion: FileDeletion) -> None:
    """Seal a row that has just settled, in the transaction that settled it."""
    seal_append(kind=DELETIONS, object_id=deletion.pk)


def deletion_reconcile(*, deletion: FileDeletion) -> FileDeletion:
    """Settle a `pending` or `unknown` row by asking Tallyfy whether the file is still there.

    404 → deleted; 200 → failed (it is still there); no clear answer → left as it is.
    """
    if deletion.state not in UNSETTLED_STATES:
        return deletion
    try:
        file_lookup(organization=deletion.organization, asset_id=deletion.asset_id)
    except tallyfy_api.NotFound as exc:
        state, outcome, status = (
            DeletionState.DELETED,
            "Gone: reconcile_deletions found the file answering 404.",
            exc.status,
        )
    except (tallyfy_api.TallyfyError, TokenDecryptionError, DisallowedBaseURL) as exc:
        logger.warning("deletion %s still unsettled: %r", deletion.pk, str(exc))
        return deletion
    else:
        state, outcome, status = (
            DeletionState.FAILED,
            "Not deleted: reconcile_deletions found the file still in Tallyfy.",
            200,
        )
    return _settle_once(
        deletion=deletion,
        unsettled=UNSETTLED_STATES,
        state=state,
        outcome=outcome,
        http_status=status,
        finished_at=timezone.now(),
    )


def deletion_time_limit() -> timedelta:
    """The longest a deletion can still be running after its `pending` row was written.

    Each attempt is a DELETE and a check, each a call of the pages' client, bounded by
    `tallyfy_api.call_time_limit`; attempts are separated by backoff. Past this, the request that
    wrote the row is certainly gone, so settling its row cannot race with it.
    """
    per_call = tallyfy_api.call_time_limit(
        call_deadline=organizations_conf.TALLYFY_CALL_DEADLINE,
        wait_budget=organizations_conf.TALLYFY_INTERACTIVE_WAIT_LIMIT,
    )
    attempts = max(1, conf.TALLYFY_DELETE_ATTEMPTS)
    backoff = sum(organizations_conf.TALLYFY_RETRY_BACKOFF * 2**n for n in range(attempts))
    return timedelta(seconds=2 * attempts * per_call + backoff)


def deletions_reconcile(*, older_than: timedelta | None = None) -> Iterable[FileDeletion]:
    """Reconcile `unknown` rows older than `older_than`, and `pending` rows only once the
    attempt that wrote them can no longer be running (`deletion_time_limit`). A deletion job's
    `pending` rows are left to the job: its worker may wait on the rate limit for longer than
    any bound, and a stopped worker's rows are resumed by the next one."""
    older_than = (
        timedelta(seconds=conf.TALLYFY_RECONCILE_AFTER_SECONDS)
        if older_than is None
        else older_than
    )
    pending_age = max(older_than, deletion_time_limit())
    # The database's clock: a worker's that runs ahead must not take a pending row whose
    # request may still be running for one abandoned.
    unknown_before = ExpressionWrapper(Now() - older_than, output_field=DateTimeField())
    pending_before = ExpressionWrapper(Now() - pending_age, output_field=DateTimeField())
    unsettled = (
        FileDeletion.objects.filter(
            Q(state=DeletionState.UNKNOWN, started_at__lt=unknown_before)
            | Q(state=DeletionState.PENDING, job_id__isnull=True, started_at__lt=pending_before)
        )
        .select_related("organization")
        .order_by("started_at", "id")
    )
    for deletion in unsettled.iterator():
        yield deletion_reconcile(deletion=deletion)


class CheckTooEarly(Exception):
    """Tallyfy still has the file, but the uncertain DELETE may yet be applied."""


def deletion_check_now(*, deletion: FileDeletion) -> FileDeletion:
    """Ask Tallyfy at once about an `unknown` row, as a user asked to on its page.

    404 settles it `deleted`. 200 settles it `failed` only once the row is older than
    TALLYFY_RECONCILE_AFTER: before that an uncertain DELETE may still be applied, so the row
    stays `unknown` and CheckTooEarly says so. A row in any other state is returned as it is;
    Tallyfy's errors propagate (the row stays `unknown`).
    """
    if deletion.state != DeletionState.UNKNOWN:
        return deletion
    try:
        file_lookup(organization=deletion.organization, asset_id=deletion.asset_id)
    except tallyfy_api.NotFound as exc:
        return _settle_once(
            deletion=deletion,
            unsettled=(DeletionState.UNKNOWN,),
            state=DeletionState.DELETED,
            outcome="Gone: a check asked for on the log entry found the file answering 404.",
            http_status=exc.status,
            finished_at=timezone.now(),
        )
    settles_at = deletion.started_at + timedelta(seconds=conf.TALLYFY_RECONCILE_AFTER_SECONDS)
    if timezone.now() < settles_at:
        raise CheckTooEarly(
            f"Tallyfy still has the file, but the uncertain attempt may still be applied. "
            f"Check again after {_when(settles_at)}; reconcile_deletions will also ask then."
        )
    return _settle_once(
        deletion=deletion,
        unsettled=(DeletionState.UNKNOWN,),
        state=DeletionState.FAILED,
        outcome="Not deleted: a check asked for on the log entry found the file still in Tallyfy.",
        http_status=200,
        finished_at=timezone.now(),
    )
