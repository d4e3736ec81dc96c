"""Which organizations a user may reach: the one rule every list, page, action and command
of the panel applies (organizations.models.OrganizationAccess says how it is configured)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from organizations.models import Organization, OrganizationAccess

_CACHE = "_organization_reach"


def _reach(user: AbstractBaseUser | AnonymousUser) -> frozenset[int] | None:
    """None for every organization, else the ids reached; kept on the user object (one
    request's), so a page that filters several querysets asks once."""
    cached = getattr(user, _CACHE, False)
    if cached is not False:
        return cached
    reach: frozenset[int] | None
    if not user.is_authenticated or not user.is_active:
        reach = frozenset()
    elif user.is_superuser:
        reach = None
    else:
        rows = OrganizationAccess.objects.filter(Q(user=user) | Q(group__user=user))
        if rows.filter(all_organizations=True).exists():
            reach = None
        else:
            reach = frozenset(
                rows.filter(organizations__isnull=False).values_list("organizations", flat=True)
            )
    setattr(user, _CACHE, reach)
    return reach


def reaches_all_organizations(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _reach(user) is None


def organizations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Organization]:
    """The organizations `user` may reach."""
    reach = _reach(user)
    if reach is None:
        return Organization.objects.all()
    return Organization.objects.filter(pk__in=reach)


def organization_within_reach(
    user: AbstractBaseUser | AnonymousUser, pk: int
) -> Organization | None:
    """The organization `pk` if `user` may reach it, else None: one query, where reading what
    the user reaches (`organizations_for`) and then the organization would take two or three."""
    if getattr(user, _CACHE, False) is not False or user.is_superuser or not user.is_active:
        return organizations_for(user).filter(pk=pk).first()
    rows = OrganizationAccess.objects.filter(Q(user=user) | Q(group__user=user)).filter(
        Q(all_organizations=True) | Q(organizations=OuterRef("pk"))
    )
    return Organization.objects.filter(Exists(rows), pk=pk).first()


def may_reach(user: AbstractBaseUser | AnonymousUser, organization: Any) -> bool:
    """Whether `user` may reach the organization (an Organization or its primary key)."""
    reach = _reach(user)
    pk = getattr(organization, "pk", organization)
    return reach is None or pk in reach


def within_reach[M: Model](
    queryset: QuerySet[M],
    user: AbstractBaseUser | AnonymousUser,
    *,
    field: str = "organization",
) -> QuerySet[M]:
    """`queryset` limited to rows whose `field` (a foreign key to Organization) `user` reaches."""
    reach = _reach(user)
    if reach is None:
        return queryset
    return queryset.filter(**{f"{field}__in": reach})
