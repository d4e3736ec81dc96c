"""What a user reads when a call to Tallyfy fails: plain words, never a stack trace."""

from __future__ import annotations

import math

from files import tallyfy
from files.base_urls import DisallowedBaseURL
from files.models import FileDeletion, Organization
from files.tokens import TokenDecryptionError

# Failures a view shows as a message rather than a server error.
USER_FACING_ERRORS = (tallyfy.TallyfyError, TokenDecryptionError, DisallowedBaseURL)


def describe_failure(exc: Exception, *, organization: Organization, asset_id: str = "") -> str:
    if not isinstance(exc, tallyfy.TallyfyError):
        return str(exc)
    text, quote_tallyfy = _explain(
        exc, org=f"{organization.name} ({organization.org_id})", asset_id=asset_id
    )
    said = f" Tallyfy said: “{exc.message}”." if quote_tallyfy and exc.message else ""
    ref = f" Request id {exc.request_id}." if exc.request_id else ""
    return f"{text}{said}{ref}"


def _explain(exc: tallyfy.TallyfyError, *, org: str, asset_id: str) -> tuple[str, bool]:
    """What happened in plain words, and whether Tallyfy's own message adds anything."""
    match exc:
        case tallyfy.AuthenticationFailed():
            return (
                f"Tallyfy rejected the access token of {org} (HTTP 401). It may have expired: "
                "personal tokens last six months and end when their user logs out of Tallyfy. "
                "Enter a new token on the organization's page.",
                True,
            )
        case tallyfy.PermissionDenied():
            return (
                f"The token's user has no permission for this in {org} (HTTP 403): the token "
                "may belong to another organization, or its user may not have this right.",
                True,
            )
        case tallyfy.EndpointNotFound():
            return (
                f"The API base URL of {org} does not reach Tallyfy's API (HTTP 404, endpoint "
                "not found). Use https://go.tallyfy.com/api (with /api) or "
                "https://api.tallyfy.com.",
                False,
            )
        case tallyfy.NotFound() if not asset_id:
            return (
                f"Tallyfy answered 404 for {org}: check the organization id and the API base URL.",
                True,
            )
        case tallyfy.NotFound():
            return (
                f"Tallyfy has no file {asset_id} in {org} (HTTP 404): it does not exist or "
                "was deleted.",
                False,
            )
        case tallyfy.RateLimited(retry_after=wait):
            when = f"in {math.ceil(wait)} seconds" if wait else "in a minute"
            return f"Tallyfy is rate limiting requests for {org}. Try again {when}.", False
        case tallyfy.ServerError() | tallyfy.ConnectionFailed():
            return (
                f"Tallyfy is unavailable right now: {exc.message} Try again in a few minutes.",
                False,
            )
        case tallyfy.UnexpectedResponse():
            return f"Tallyfy's answer for {org} was not what its API promises.", True
        case _:
            return f"Tallyfy refused the request for {org}.", True


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
