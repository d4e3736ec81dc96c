"""The admin's filters by organization and by user, offering only what the user may reach."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.db.models import Field
from django.http import HttpRequest

from organizations.selectors import organizations_for, reaches_all_organizations


class ReachableOrganizationFilter(RelatedFieldListFilter):
    """`list_filter = [("organization", ReachableOrganizationFilter)]`."""

    def field_choices(
        self, field: Field, request: HttpRequest, model_admin: Any
    ) -> list[tuple[Any, str]]:
        ordering = self.field_admin_ordering(field, request, model_admin)
        reachable = organizations_for(request.user)
        if ordering:
            reachable = reachable.order_by(*ordering)
        return [(organization.pk, str(organization)) for organization in reachable]


class ReachablePeopleFilter(RelatedOnlyFieldListFilter):
    """A filter by user offering, to someone who reaches only some organizations, only the
    users found in the rows they may see (not the names of other organizations' staff); to
    everyone else, every user, as Django's own filter does (without a pass over the rows)."""

    def field_choices(
        self, field: Field, request: HttpRequest, model_admin: Any
    ) -> list[tuple[Any, str]]:
        if reaches_all_organizations(request.user):
            return RelatedFieldListFilter.field_choices(self, field, request, model_admin)
        return super().field_choices(field, request, model_admin)
