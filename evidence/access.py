"""The pages' one call to record a file access: who and from where, read off the request."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.client_ip import client_ip
from evidence.models import EventAction
from evidence.services import record_access


def access_recorded(
    request: HttpRequest, *, organization: object, asset_id: str, inline: bool | None = None
) -> None:
    """`inline` None: the file's details were shown; True: the file inline; False: downloaded."""
    action = {
        None: EventAction.FILE_VIEWED,
        True: EventAction.FILE_INLINE,
        False: EventAction.FILE_DOWNLOADED,
    }[inline]
    record_access(
        action=action,
        user=request.user,
        organization_id=organization.pk,
        org_id=organization.org_id,
        asset_id=asset_id,
        address=client_ip(request),
    )
