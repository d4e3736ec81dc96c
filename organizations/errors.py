"""What a user reads when a call to Tallyfy fails: plain words, never a stack trace."""

from __future__ import annotations

import math

from django.utils.html import format_html
from django.utils.safestring import SafeString

import tallyfy_api
from organizations.models import Organization
from organizations.tokens import TokenDecryptionError
from tallyfy_api.base_urls import DisallowedBaseURL

# Failures a view shows as a message rather than a server error.
USER_FACING_ERRORS = (tallyfy_api.TallyfyError, TokenDecryptionError, DisallowedBaseURL)


def describe_failure(
    exc: Exception, *, organization: Organization, asset_id: str = ""
) -> SafeString:
    """One message: what happened, Tallyfy's own words when they add something, and the
    request id on a details line of its own."""
    org = f"{organization.name} ({organization.org_id})"
    if isinstance(exc, TokenDecryptionError):
        return format_html(
            "The stored access token of {} cannot be decrypted (the key it was saved with "
            "is gone). Enter the token again on the organization's page.",
            org,
        )
    if isinstance(exc, DisallowedBaseURL):
        return format_html(
            "Nothing was sent: the API base URL of {} is not one this panel may send tokens "
            "to. {} Correct it on the organization's page.",
            org,
            str(exc),
        )
    if not isinstance(exc, tallyfy_api.TallyfyError):
        return format_html("{}", str(exc))
    text, quote_tallyfy = _explain(exc, org=org, asset_id=asset_id)
    said = tallyfy_said(exc.message) if quote_tallyfy else ""
    return with_details(f"{text}{said}", request_id=exc.request_id)


def tallyfy_said(message: str) -> str:
    """Tallyfy said: “Unauthenticated.” — one full stop, inside the quotes or after them."""
    message = message.strip()
    if not message:
        return ""
    end = "" if message[-1] in ".!?…" else "."
    return f" Tallyfy said: “{message}”{end}"


def with_details(text: str, *, request_id: str) -> SafeString:
    if not request_id:
        return format_html("{}", text)
    return format_html('{}<span class="message-details">Request id: {}</span>', text, request_id)


def _explain(exc: tallyfy_api.TallyfyError, *, org: str, asset_id: str) -> tuple[str, bool]:
    """What happened in plain words, and whether Tallyfy's own message adds anything."""
    match exc:
        case tallyfy_api.AuthenticationFailed():
            return (
                f"Tallyfy rejected the access token of {org} (HTTP 401). It may have expired: "
                "personal tokens last six months and end when their user logs out of Tallyfy. "
                "Enter a new token on the organization's page.",
                True,
            )
        case tallyfy_api.PermissionDenied():
            return (
                f"The token's user has no permission for this in {org} (HTTP 403): the token "
                "may belong to another organization, or its user may not have this right.",
                True,
            )
        case tallyfy_api.EndpointNotFound():
            return (
                f"The API base URL of {org} does not reach Tallyfy's API (HTTP 404, endpoint "
                "not found). Use https://go.tallyfy.com/api (with /api) or "
                "https://api.tallyfy.com.",
                False,
            )
        case tallyfy_api.NotFound() if not asset_id:
            return (
                f"Tallyfy answered 404 for {org}: check the organization id and the API base URL.",
                True,
            )
        case tallyfy_api.NotFound():
            return (
                f"Tallyfy has no file {asset_id} in {org} (HTTP 404): it does not exist or "
                "was deleted.",
                False,
            )
        case tallyfy_api.RateLimited(retry_after=wait):
            when = f"in {math.ceil(wait)} seconds" if wait else "in a minute"
            return f"Tallyfy is rate limiting requests for {org}. Try again {when}.", False
        case tallyfy_api.ServerError() | tallyfy_api.ConnectionFailed():
            return (
                f"Tallyfy is unavailable right now: {exc.message} Try again in a few minutes.",
                False,
            )
        case tallyfy_api.UnexpectedResponse():
            return f"Tallyfy's answer for {org} was not what its API promises.", True
        case _:
            return f"Tallyfy refused the request for {org}.", True
