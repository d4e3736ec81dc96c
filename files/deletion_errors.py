"""What a user reads about a deletion that failed, from its log row."""

from __future__ import annotations

from files.models import FileDeletion
from organizations.errors import tallyfy_said

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
    return f"{hint}{tallyfy_said(deletion.error_message)}"
