"""Use cases: look up a file, open it, delete it (write-ahead logged), settle the log.

Views call these, never `TallyfyClient` directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from files import tallyfy
from files.base_urls import DisallowedBaseURL
from files.clients import tallyfy_client
from files.models import UNSETTLED_STATES, DeletionState, FileDeletion, Organization
from files.tokens import TokenDecryptionError

logger = logging.getLogger(__name__)


class ConfirmationMismatch(ValueError):
    """The re-typed name or id does not match the file about to be deleted."""


def file_lookup(*, organization: Organization, asset_id: str) -> tallyfy.Asset:
    return tallyfy_client(organization=organization).get_asset(asset_id)


def file_open(*, organization: Organization, asset_id: str, inline: bool) -> tallyfy.Download:
    """An open download; the caller closes it."""
    return tallyfy_client(organization=organization).open_download(asset_id, inline=inline)


def organization_check_connection(*, organization: Organization) -> str:
    """Whether the token works for this organization: asks for one process run.

    Raises AuthenticationFailed (401: token rejected), PermissionDenied (403: no access to this
    organization), EndpointNotFound (wrong base URL), NotFound (another 404), ServerError or
    ConnectionFailed (Tallyfy unavailable), and the rest of the family.
    """
    client = tallyfy_client(organization=organization)
    try:
        client.list_runs(per_page=1)
    except tallyfy.NotFound as exc:
        # The runs list exists for every organization. A 404 that is a web page, or any 404
        # from a base URL without `/api` (which only api.tallyfy.com does without), means the
        # base URL does not reach Tallyfy's API.
        base = urlsplit(organization.api_base_url)
        has_api = base.path.rstrip("/").endswith("/api") or base.hostname == "api.tallyfy.com"
        if not exc.json_body or not has_api:
            raise tallyfy.EndpointNotFound(
                exc.message, status=exc.status, request_id=exc.request_id, code=exc.code
            ) from exc
        raise
    return "The token works: Tallyfy accepted it for this organization."


def _confirmation_matches(*, asset: tallyfy.Asset, confirmation: str) -> bool:
    typed = confirmation.strip()
    return bool(typed) and typed in {asset.id, asset.filename}


@dataclass(frozen=True)
class _Outcome:
    state: DeletionState
    outcome: str
    error: tallyfy.TallyfyError | None = None
    status: int | None = None
    request_id: str = ""


def file_delete(
    *,
    organization: Organization,
    asset_id: str,
    user: AbstractBaseUser,
    reason: str,
    confirmation: str,
) -> FileDeletion:
    """Delete a file permanently, following DESIGN.md's steps.

    The metadata is snapshotted, then a `pending` row is committed, then the DELETE is sent,
    then the row is settled once. Raises ConfirmationMismatch (nothing recorded, nothing
    sent) when `confirmation` names neither the file nor its id.
    """
    if connection.in_atomic_block:
        raise RuntimeError("file_delete must not run inside a transaction: its row must commit.")
    client = tallyfy_client(organization=organization)
    try:
        asset = client.get_asset(asset_id)
    except tallyfy.TallyfyError as exc:
        return _record_unsent(
            organization=organization, asset_id=asset_id, user=user, reason=reason, error=exc
        )
    if not _confirmation_matches(asset=asset, confirmation=confirmation):
        raise ConfirmationMismatch(
            f"Type the file name ({asset.filename}) or its id ({asset.id}) exactly."
        )
    deletion = FileDeletion.objects.create(
        **_snapshot(organization=organization, asset=asset, user=user, reason=reason),
        state=DeletionState.PENDING,
    )
    logger.info("deletion %s pending: org=%r asset=%r", deletion.pk, organization.org_id, asset_id)
    attempts, result = _send_delete(client=client, deletion=deletion)
    return _settle(deletion=deletion, attempts=attempts, result=result)


def _send_delete(*, client: tallyfy.TallyfyClient, deletion: FileDeletion) -> tuple[int, _Outcome]:
    uncertain: tallyfy.TallyfyError | None = None
    max_attempts = max(1, settings.TALLYFY_DELETE_ATTEMPTS)
    for attempt in range(1, max_attempts + 1):
        try:
            deleted = client.delete_file(deletion.asset_id)
        except tallyfy.NotFound as exc:
            if uncertain:
                return attempt, _Outcome(
                    DeletionState.DELETED,
                    "Gone: confirmed by 404 after an uncertain attempt.",
                    exc,
                    exc.status,
                    exc.request_id,
                )
            return attempt, _Outcome(
                DeletionState.ALREADY_GONE,
                "Tallyfy answered 404: the file was already gone before this deletion.",
                exc,
                exc.status,
                exc.request_id,
            )
        except (tallyfy.ServerError, tallyfy.ConnectionFailed) as exc:
            uncertain = exc
            verdict = _verify_after_uncertain(client=client, deletion=deletion, error=exc)
            if verdict is not None:
                return attempt, verdict
            if attempt < max_attempts:
                time.sleep(settings.TALLYFY_RETRY_BACKOFF * 2 ** (attempt - 1))
            continue
        except tallyfy.TallyfyError as exc:
            return attempt, _Outcome(
                DeletionState.FAILED,
                "Tallyfy refused the deletion.",
                exc,
                exc.status,
                exc.request_id,
            )
        return attempt, _Outcome(
            DeletionState.DELETED,
            f"Tallyfy confirmed the deletion (HTTP {deleted.status}).",
            None,
            deleted.status,
            deleted.request_id,
        )
    assert uncertain is not None
    return max_attempts, _Outcome(
        DeletionState.FAILED,
        f"The file is still in Tallyfy after {max_attempts} uncertain attempts.",
        uncertain,
        uncertain.status,
        uncertain.request_id,
    )


def _verify_after_uncertain(
    *, client: tallyfy.TallyfyClient, deletion: FileDeletion, error: tallyfy.TallyfyError
) -> _Outcome | None:
    """After a DELETE with no clear answer: 404 settles it, 200 means try again."""
    try:
        client.get_asset(deletion.asset_id)
    except tallyfy.NotFound as exc:
        return _Outcome(
            DeletionState.DELETED,
            f"Gone: the DELETE got no clear answer ({error.message}); a check then answered 404.",
            error,
            exc.status,
            error.request_id or exc.request_id,
        )
    except tallyfy.TallyfyError as exc:
        return _Outcome(
            DeletionState.UNKNOWN,
            f"Uncertain: the DELETE got no clear answer ({error.message}) and the check "
            f"failed too ({exc.message}). reconcile_deletions will ask again.",
            error,
            error.status,
            error.request_id,
        )
    return None


def _snapshot(
    *,
    organization: Organization,
    asset: tallyfy.Asset | None,
    user: AbstractBaseUser,
    reason: str,
    asset_id: str = "",
) -> dict[str, object]:
    snapshot: dict[str, object] = {
        "organization": organization,
        "org_id": organization.org_id,
        "asset_id": asset.id if asset else asset_id,
        "user": user,
        "username": user.get_username(),
        "reason": reason,
    }
    if asset:
        snapshot.update(
            file_name=asset.filename,
            subject_type=asset.subject_type,
            subject_id=asset.subject_id,
            uploaded_at=asset.uploaded_at,
            metadata=asset.raw,
        )
    return snapshot


def _record_unsent(
    *,
    organization: Organization,
    asset_id: str,
    user: AbstractBaseUser,
    reason: str,
    error: tallyfy.TallyfyError,
) -> FileDeletion:
    """The metadata could not be read, so no DELETE was sent; the attempt is still recorded."""
    gone = isinstance(error, tallyfy.NotFound)
    return FileDeletion.objects.create(
        **_snapshot(
            organization=organization, asset=None, user=user, reason=reason, asset_id=asset_id
        ),
        state=DeletionState.ALREADY_GONE if gone else DeletionState.FAILED,
        outcome=(
            "Not sent: Tallyfy answered 404 for the file's metadata; it was already gone."
            if gone
            else "Not sent: the file's metadata could not be read."
        ),
        http_status=error.status,
        error_message=error.message,
        request_id=error.request_id,
        attempts=0,
        finished_at=timezone.now(),
    )


def _settle(*, deletion: FileDeletion, attempts: int, result: _Outcome) -> FileDeletion:
    """Write the final state once; a row that is no longer pending is never touched."""
    final = {
        "state": result.state,
        "outcome": result.outcome,
        "http_status": result.status,
        "error_message": result.error.message if result.error else "",
        "request_id": result.request_id,
        "attempts": attempts,
        "finished_at": None if result.state == DeletionState.UNKNOWN else timezone.now(),
    }
    return _settle_once(deletion=deletion, unsettled=(DeletionState.PENDING,), **final)


def _settle_once(
    *, deletion: FileDeletion, unsettled: tuple[DeletionState, ...], **final: object
) -> FileDeletion:
    settled = FileDeletion.objects.filter(pk=deletion.pk, state__in=unsettled).update(**final)
    if settled:
        for name, value in final.items():
            setattr(deletion, name, value)
    else:
        deletion.refresh_from_db()
    logger.info("deletion %s %s", deletion.pk, deletion.state)
    return deletion


def deletion_reconcile(*, deletion: FileDeletion) -> FileDeletion:
    """Settle a `pending` or `unknown` row by asking Tallyfy whether the file is still there.

    404 → deleted; 200 → failed (it is still there); no clear answer → left as it is.
    """
    if deletion.state not in UNSETTLED_STATES:
        return deletion
    try:
        file_lookup(organization=deletion.organization, asset_id=deletion.asset_id)
    except tallyfy.NotFound as exc:
        state, outcome, status = (
            DeletionState.DELETED,
            "Gone: reconcile_deletions found the file answering 404.",
            exc.status,
        )
    except (tallyfy.TallyfyError, TokenDecryptionError, DisallowedBaseURL) as exc:
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
    `tallyfy.call_time_limit`; attempts are separated by backoff. Past this, the request that
    wrote the row is certainly gone, so settling its row cannot race with it.
    """
    per_call = tallyfy.call_time_limit(
        call_deadline=settings.TALLYFY_CALL_DEADLINE,
        wait_budget=settings.TALLYFY_INTERACTIVE_WAIT_LIMIT,
    )
    attempts = max(1, settings.TALLYFY_DELETE_ATTEMPTS)
    backoff = sum(settings.TALLYFY_RETRY_BACKOFF * 2**n for n in range(attempts))
    return timedelta(seconds=2 * attempts * per_call + backoff)


def deletions_reconcile(*, older_than: timedelta | None = None) -> Iterable[FileDeletion]:
    """Reconcile `unknown` rows older than `older_than`, and `pending` rows only once the
    attempt that wrote them can no longer be running (`deletion_time_limit`)."""
    now = timezone.now()
    older_than = settings.TALLYFY_RECONCILE_AFTER if older_than is None else older_than
    pending_age = max(older_than, deletion_time_limit())
    unsettled = (
        FileDeletion.objects.filter(
            Q(state=DeletionState.UNKNOWN, started_at__lt=now - older_than)
            | Q(state=DeletionState.PENDING, started_at__lt=now - pending_age)
        )
        .select_related("organization")
        .order_by("started_at", "id")
    )
    for deletion in unsettled.iterator():
        yield deletion_reconcile(deletion=deletion)
