"""The admin's organization filter, offering only the organizations the user may reach."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import RelatedFieldListFilter
from django.db.models import Field
from django.http import HttpRequest

from organizations.selectors import organizations_for


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
