"""What a user reads when a call to Tallyfy fails: plain words, never a stack trace."""

from __future__ import annotations

from files import tallyfy
from files.base_urls import DisallowedBaseURL
from files.models import FileDeletion, Organization
from files.tokens import TokenDecryptionError

# Failures a view shows as a message rather than a server error.
USER_FACING_ERRORS = (tallyfy.TallyfyError, TokenDecryptionError, DisallowedBaseURL)


def describe_failure(exc: Exception, *, organization: Organization, asset_id: str = "") -> str:
    org = f"{organization.name} ({organization.org_id})"
    said = (
        f" Tallyfy said: “{exc.message}”."
        if isinstance(exc, tallyfy.TallyfyError) and exc.message
        else ""
    )
    ref = (
        f" Request id {exc.request_id}."
        if isinstance(exc, tallyfy.TallyfyError) and exc.request_id
        else ""
    )
    match exc:
        case tallyfy.AuthenticationFailed():
            text = (
                f"Tallyfy rejected the access token of {org} (HTTP 401). It may have expired: "
                "personal tokens last six months and end when their user logs out of Tallyfy. "
                "Enter a new token on the organization's page."
            )
        case tallyfy.PermissionDenied():
            text = f"The token's user has no permission for this in {org} (HTTP 403).{said}"
            said = ""
        case tallyfy.NotFound():
            text = (
                f"Tallyfy has no file {asset_id} in {org} (HTTP 404): it does not exist "
                "or was deleted."
            )
            said = ""
        case tallyfy.RateLimited(retry_after=wait):
            when = f"in {wait:.0f} seconds" if wait else "in a minute"
            text = f"Tallyfy is rate limiting requests for {org}. Try again {when}."
            said = ""
        case tallyfy.ServerError() | tallyfy.ConnectionFailed():
            text = f"Tallyfy is unavailable right now ({exc.message}) Try again in a few minutes."
            said = ""
        case tallyfy.TallyfyError():
            text = f"Tallyfy refused the request for {org}."
        case _:
            return str(exc)
    return f"{text}{said}{ref}"


_STATUS_HINTS = {
    401: "Tallyfy rejected the access token (HTTP 401); it may have expired. Enter a new token "
    "on the organization's page.",
    403: "The token's user has no permission to delete this file (HTTP 403).",
    422: "Tallyfy refused the request as invalid (HTTP 422).",
    429: "Tallyfy kept rate limiting the request (HTTP 429); try again in a minute.",
}


def describe_deletion_failure(deletion: FileDeletion) -> str:
    status = deletion.http_status
    hint = _STATUS_HINTS.get(status or 0)
    if hint is None:
        hint = (
            f"Tallyfy is unavailable (HTTP {status})."
            if status and status >= 500
            else f"Tallyfy answered HTTP {status}."
            if status
            else deletion.outcome
        )
    said = f" Tallyfy said: “{deletion.error_message}”." if deletion.error_message else ""
    return f"{hint}{said}"
