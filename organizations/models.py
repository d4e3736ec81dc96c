"""A Tallyfy organization the panel speaks to: its id, API base URL and encrypted token."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from organizations.conf import conf
from organizations.tokens import decrypt_token
from tallyfy_api.base_urls import DisallowedBaseURL, check_api_base_url
from tallyfy_api.ids import ID_PATTERN

validate_tallyfy_id = RegexValidator(
    rf"\A{ID_PATTERN}\Z", "Use 1 to 255 letters, digits, '-' or '_' (a Tallyfy id)."
)


def validate_api_base_url(value: str) -> None:
    try:
        check_api_base_url(
            value,
            allowed_hosts=conf.TALLYFY_ALLOWED_API_HOSTS,
            insecure_hosts=conf.TALLYFY_INSECURE_API_HOSTS,
        )
    except DisallowedBaseURL as exc:
        raise ValidationError(str(exc)) from exc


def default_api_base_url() -> str:
    return conf.TALLYFY_DEFAULT_API_BASE_URL


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    org_id = models.CharField(
        "Tallyfy organization id", max_length=255, validators=[validate_tallyfy_id]
    )
    api_base_url = models.CharField(
        "API base URL",
        max_length=500,
        default=default_api_base_url,
        validators=[validate_api_base_url],
        help_text="https://go.tallyfy.com/api (documented) or https://api.tallyfy.com.",
    )
    token_ciphertext = models.TextField(editable=False)
    token_last4 = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set by organizations.services.organization_check_connection, never by a form.
    last_connected_at = models.DateTimeField(
        "last successful connection", null=True, blank=True, editable=False
    )

    class Meta:
        db_table = "files_organization"  # the table it was created with, kept
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def token_hint(self) -> str:
        return f"…{self.token_last4}" if self.token_last4 else "(not set)"

    def access_token(self) -> str:
        return decrypt_token(self.token_ciphertext, owner=f"organization {self.name!r}")


class OrganizationAccess(models.Model):
    """The organizations one user, or the members of one group, may reach in the panel.

    A user reaches the union of their own row and their groups' rows; a superuser reaches
    every organization. A user with no row and no group row reaches none: a new user sees
    nothing until given organizations (or *all organizations*). Users who existed before
    organization access came got a row with *all organizations* on, so an upgrade changed
    nothing until configured (organizations/migrations/0002_organization_access.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="organization_access",
    )
    group = models.OneToOneField(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="organization_access",
    )
    all_organizations = models.BooleanField(
        default=False,
        help_text="Every organization, today's and those added later.",
    )
    organizations = models.ManyToManyField(
        Organization,
        blank=True,
        related_name="+",
        help_text="The organizations reached when “all organizations” is off.",
    )

    class Meta:
        verbose_name = "organization access"
        verbose_name_plural = "organization access"
        default_permissions = ()
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="organization_access_one_holder",
                violation_error_message="Organization access belongs to a user or a group.",
            ),
        ]

    def __str__(self) -> str:
        holder = self.user if self.user_id else self.group
        return f"organization access of {holder}"
