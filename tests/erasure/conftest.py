"""Erasure requests as tests make them, and staff users with the app's permissions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from catalog.models import Scan, ScanState
from erasure import services
from erasure.models import ErasureRequest, LegalBasis
from organizations.models import Organization
from tests.fixtures.accounts import reach_all

SUBJECT_EMAIL = "jane.guest@example.com"


def make_erasure_staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="erasure", codename__in=codenames)
    )
    return reach_all(user)


def make_request(
    *,
    organization: Organization,
    by: User,
    emails: list[str] | None = None,
    received_days_ago: int = 2,
    reference: str = "TICKET-1",
) -> ErasureRequest:
    received = timezone.now() - timedelta(days=received_days_ago)
    return services.erasure_request_create(
        organization=organization,
        emails=emails or [SUBJECT_EMAIL],
        name="Jane Guest",
        reference=reference,
        legal_basis=LegalBasis.CONSENT_WITHDRAWN,
        received_at=received,
        verified_by=by,
        verification_method="Replied from the address on file.",
        verified_at=received,
        created_by=by,
    )


@pytest.fixture
def handler(db: None) -> User:
    return make_erasure_staff(
        "handler",
        "view_erasurerequest",
        "add_erasurerequest",
        "change_erasurerequest",
        "handle_erasurerequest",
    )


@pytest.fixture
def onlooker(db: None) -> User:
    """May see the list and a request's page, but not the subject in full."""
    return make_erasure_staff("onlooker", "view_erasurerequest")


# The organization's task lists, and a run's (`GET …/tasks`, `GET …/runs/{id}/tasks`).
TASK_LISTS = re.compile(r".*/organizations/[^/]+/(runs/[^/]+/)?tasks")
EMPTY_PAGE = {"data": [], "meta": {"pagination": {"total": 0, "count": 0, "links": {}}}}


def index_completed(organization: Organization, *, ago: timedelta = timedelta(0)) -> Scan:
    """A whole scan of the organization that ended `ago`: the index as fresh as that."""
    at = timezone.now() - ago
    return Scan.objects.create(
        organization=organization, state=ScanState.DONE, started_at=at, finished_at=at
    )


@pytest.fixture
def fresh_index(organization: Organization) -> Scan:
    """The organization's index just completed: discovery searches it without a refresh."""
    return index_completed(organization)


@pytest.fixture
def no_guest_tasks(http: responses.RequestsMock) -> responses.RequestsMock:
    """Tallyfy has no task assigned to the subject as a guest."""
    http.add(responses.GET, TASK_LISTS, json=EMPTY_PAGE)
    return http


HANDLING = ("view_erasurerequest", "add_erasurerequest", "change_erasurerequest")


def with_perms(user: User, *perms: str) -> User:
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # a fresh permission cache


@pytest.fixture
def sender(db: None) -> User:
    user = make_erasure_staff("sender", *HANDLING, "handle_erasurerequest")
    return with_perms(user, "files.lookup_file", "files.delete_file")


@pytest.fixture
def checker(db: None) -> User:
    """May approve, and change nothing of a request (as the demo's approver)."""
    user = make_erasure_staff("checker", "view_erasurerequest", "handle_erasurerequest")
    return with_perms(user, "jobs.approve_deletionjob")
