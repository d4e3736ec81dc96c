"""Creating and changing organizations (validation, the token rule and token encryption),
and checking that an organization's token works."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

import tallyfy_api
from organizations.clients import tallyfy_client
from organizations.models import Organization, OrganizationAccess
from organizations.tokens import encrypt_token


def organization_access_give_all(*, user: AbstractBaseUser) -> None:
    """The user reaches every organization, those added later included."""
    OrganizationAccess.objects.update_or_create(user=user, defaults={"all_organizations": True})


@sensitive_variables("token")
def organization_create(
    *,
    name: str,
    org_id: str,
    api_base_url: str,
    token: str,
    organization: Organization | None = None,
) -> Organization:
    """Validate, encrypt the token and save, into `organization` when given (an unsaved
    instance others already refer to, such as the admin's inlines). Raises ValidationError
    keyed by argument name."""
    organization = organization if organization is not None else Organization()
    _assign(organization, name=name, org_id=org_id, api_base_url=api_base_url)
    _validate(organization, stored=None, token=token)
    _set_token(organization, token)
    organization.save()
    return organization


@sensitive_variables("token")
def organization_update(
    *, organization: Organization, name: str, org_id: str, api_base_url: str, token: str | None
) -> Organization:
    """Validate and save; a blank or None `token` keeps the stored one, unless the API base
    URL or the Tallyfy organization id changes, which requires the token to be entered again.
    Raises ValidationError keyed by argument name.
    """
    stored = Organization.objects.get(pk=organization.pk)
    _assign(organization, name=name, org_id=org_id, api_base_url=api_base_url)
    _validate(organization, stored=stored, token=token)
    if token:
        _set_token(organization, token)
    organization.save()
    return organization


@sensitive_variables("token")
def organization_validate(
    *,
    organization: Organization | None,
    name: str,
    org_id: str,
    api_base_url: str,
    token: str | None,
) -> None:
    """Raise the ValidationError that creating (`organization` None) or updating would raise,
    saving nothing: for forms, which show it field by field."""
    stored = Organization.objects.get(pk=organization.pk) if organization else None
    candidate = copy.copy(stored) if stored else Organization()
    _assign(candidate, name=name, org_id=org_id, api_base_url=api_base_url)
    _validate(candidate, stored=stored, token=token)


def token_must_be_entered(*, stored: Organization | None, org_id: str, api_base_url: str) -> bool:
    """A new organization needs a token; so does one whose token would go somewhere new."""
    if stored is None:
        return True
    return (org_id.strip(), _normalized_url(api_base_url)) != (
        stored.org_id,
        _normalized_url(stored.api_base_url),
    )


def _normalized_url(url: str) -> str:
    return url.strip().rstrip("/")


def _assign(organization: Organization, *, name: str, org_id: str, api_base_url: str) -> None:
    organization.name = name.strip()
    organization.org_id = org_id.strip()
    organization.api_base_url = _normalized_url(api_base_url)


@sensitive_variables("token")
def _validate(
    organization: Organization, *, stored: Organization | None, token: str | None
) -> None:
    errors: dict[str, list[str]] = {}
    try:
        organization.full_clean(exclude=["token_ciphertext", "token_last4"])
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    duplicate = (
        Organization.objects.filter(org_id=organization.org_id)
        .exclude(pk=stored.pk if stored else None)
        .first()
    )
    if organization.org_id and duplicate is not None:
        errors.setdefault("org_id", []).append(
            f"{duplicate.name} already uses Tallyfy organization id {organization.org_id}: "
            "change that organization instead of adding it twice."
        )
    must_enter = token_must_be_entered(
        stored=stored, org_id=organization.org_id, api_base_url=organization.api_base_url
    )
    if must_enter and not (token and token.strip()):
        errors.setdefault("token", []).append(
            "Enter the organization's Tallyfy access token."
            if stored is None
            else "Enter the access token again: the API base URL or the Tallyfy organization id "
            "changed, and the stored token is never sent anywhere new without being entered anew."
        )
    if errors:
        raise ValidationError(errors)


@sensitive_variables("token")
def _set_token(organization: Organization, token: str) -> None:
    token = token.strip()
    organization.token_ciphertext = encrypt_token(token)
    organization.token_last4 = token[-4:]


def organization_check_connection(*, organization: Organization) -> str:
    """Whether the token works for this organization: asks for one process run, and records
    the time of a successful answer in `last_connected_at`.

    Raises AuthenticationFailed (401: token rejected), PermissionDenied (403: no access to this
    organization), EndpointNotFound (wrong base URL), NotFound (another 404), ServerError or
    ConnectionFailed (Tallyfy unavailable), and the rest of the family.
    """
    client = tallyfy_client(organization=organization)
    try:
        client.list_runs(per_page=1)
    except tallyfy_api.NotFound as exc:
        # The runs list exists for every organization. A 404 that is a web page, or any 404
        # from a base URL without `/api` (which only api.tallyfy.com does without), means the
        # base URL does not reach Tallyfy's API.
        base = urlsplit(organization.api_base_url)
        has_api = base.path.rstrip("/").endswith("/api") or base.hostname == "api.tallyfy.com"
        if not exc.json_body or not has_api:
            raise tallyfy_api.EndpointNotFound(
                exc.message, status=exc.status, request_id=exc.request_id, code=exc.code
            ) from exc
        raise
    now = timezone.now()
    Organization.objects.filter(pk=organization.pk).update(last_connected_at=now)
    organization.last_connected_at = now
    return "The token works: Tallyfy accepted it for this organization."
