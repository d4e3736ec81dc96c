from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from erasure.models import ErasureRequest, RequestEvent, RequestState
from organizations.models import Organization
from tests.erasure.conftest import SUBJECT_EMAIL, make_request
from tests.fixtures.accounts import signed_in

LIST = "admin:erasure_erasurerequest_changelist"
ADD = "admin:erasure_erasurerequest_add"


def change_url(request: ErasureRequest) -> str:
    return reverse("admin:erasure_erasurerequest_change", args=[request.pk])


def test_list_is_masked_and_overdue_first(organization: Organization, handler: User) -> None:
    make_request(organization=organization, by=handler, reference="SOON", received_days_ago=3)
    make_request(organization=organization, by=handler, reference="LATE", received_days_ago=45)
    page = signed_in(handler).get(reverse(LIST)).content.decode()
    assert "j***@example.com" in page
    assert SUBJECT_EMAIL not in page
    assert page.index("LATE") < page.index("SOON")
    assert "overdue by" in page


def test_request_page_shows_the_subject_only_to_handlers(
    organization: Organization, handler: User, onlooker: User
) -> None:
    request = make_request(organization=organization, by=handler)
    assert SUBJECT_EMAIL in signed_in(handler).get(change_url(request)).content.decode()
    response = signed_in(onlooker).get(change_url(request))
    assert response.status_code == 200
    page = response.content.decode()
    assert "j***@example.com" in page
    assert SUBJECT_EMAIL not in page
    assert "Jane Guest" not in page


def test_filtering_on_the_ciphertext_is_refused(organization: Organization, handler: User) -> None:
    make_request(organization=organization, by=handler)
    response = signed_in(handler).get(reverse(LIST), {"subject_ciphertext__startswith": "g"})
    assert response.status_code in (302, 400)


def add_form(organization: Organization, user: User, **changes: str) -> dict[str, str]:
    now = timezone.localtime()
    data = {
        "organization": str(organization.pk),
        "subject_emails": f"{SUBJECT_EMAIL}\njane@example.org",
        "subject_name": "Jane Guest",
        "reference": "TICKET-9",
        "legal_basis": "consent_withdrawn",
        "received_at_0": now.date().isoformat(),
        "received_at_1": "00:00:00",
        "verified_by": str(user.pk),
        "verification_method": "Called back on the number on file.",
        "verified_at_0": now.date().isoformat(),
        "verified_at_1": "00:00:00",
        "assignee": "",
    }
    return {**data, **changes}


def test_intake_creates_the_request_through_the_service_without_logging_the_email(
    organization: Organization, handler: User, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = signed_in(handler).post(reverse(ADD), add_form(organization, handler))
    assert response.status_code == 302
    request = ErasureRequest.objects.get()
    assert request.subject_masked == "j***@example.com, j***@example.org"
    assert request.created_by == handler
    assert RequestEvent.objects.filter(request=request, to_state=RequestState.RECEIVED).exists()
    assert SUBJECT_EMAIL not in caplog.text


def test_a_superuser_who_sees_the_history_inline_adds_and_changes_a_request(
    organization: Organization,
) -> None:
    root = User.objects.create_superuser("root", password="pw-for-tests-only")
    history = {
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
    }
    client = signed_in(root)
    response = client.post(reverse(ADD), {**add_form(organization, root), **history})
    assert response.status_code == 302
    request = ErasureRequest.objects.get()
    change = reverse("admin:erasure_erasurerequest_change", args=[request.pk])
    events = RequestEvent.objects.filter(request=request).count()
    response = client.post(
        change, {**history, "events-INITIAL_FORMS": str(events), "assignee": str(root.pk)}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.assignee == root


def test_intake_refuses_a_bad_email_with_a_form_error(
    organization: Organization, handler: User
) -> None:
    response = signed_in(handler).post(
        reverse(ADD), add_form(organization, handler, subject_emails="not-an-email")
    )
    assert response.status_code == 200
    assert "is not an email address" in response.content.decode()
    assert not ErasureRequest.objects.exists()


def test_onlooker_cannot_take_or_change_requests(
    organization: Organization, handler: User, onlooker: User
) -> None:
    request = make_request(organization=organization, by=handler)
    client = signed_in(onlooker)
    assert client.post(reverse(ADD), add_form(organization, handler)).status_code == 403
    client.post(change_url(request), {"end_as": "cancelled", "end_reason": "No."})
    request.refresh_from_db()
    assert request.state == RequestState.RECEIVED


def test_extension_without_notice_date_is_a_form_error(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    due = request.due_at
    response = signed_in(handler).post(
        change_url(request),
        {"extension_months_requested": "1", "extension_reason_given": "Many runs."},
    )
    assert response.status_code == 200
    assert "Give the date the subject was told" in response.content.decode()
    request.refresh_from_db()
    assert request.due_at == due


def test_extension_with_notice_and_rejection_are_recorded(
    organization: Organization, handler: User
) -> None:
    request = make_request(organization=organization, by=handler)
    client = signed_in(handler)
    response = client.post(
        change_url(request),
        {
            "extension_months_requested": "1",
            "extension_reason_given": "Many runs.",
            "subject_told_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.extension_months == 1
    client.post(change_url(request), {"end_as": "rejected", "end_reason": ""})
    request.refresh_from_db()
    assert request.state == RequestState.RECEIVED
    client.post(change_url(request), {"end_as": "rejected", "end_reason": "Manifestly unfounded."})
    request.refresh_from_db()
    assert (request.state, request.state_reason) == (RequestState.REJECTED, "Manifestly unfounded.")
    notes = list(RequestEvent.objects.filter(request=request).values_list("by", "to_state"))
    assert notes[-1] == (handler.pk, RequestState.REJECTED)


def test_a_user_of_one_organization_sees_and_takes_no_request_of_another(
    organization: Organization, handler: User
) -> None:
    from organizations.models import OrganizationAccess
    from tests.fixtures.organizations import make_organization

    other = make_organization(name="Other", org_id="org-other")
    theirs = make_request(organization=other, by=handler, reference="THEIRS")
    mine = make_request(organization=organization, by=handler, reference="MINE")
    access, _ = OrganizationAccess.objects.update_or_create(
        user=handler, defaults={"all_organizations": False}
    )
    access.organizations.set([organization])
    client = signed_in(handler)
    listed = client.get(reverse("admin:erasure_erasurerequest_changelist")).content.decode()
    assert "MINE" in listed
    assert "THEIRS" not in listed
    page = reverse("admin:erasure_erasurerequest_change", args=[theirs.pk])
    assert client.get(page).status_code == 302  # the admin's "does not exist" redirect
    assert (
        client.get(reverse("admin:erasure_erasurerequest_change", args=[mine.pk])).status_code
        == 200
    )
    add = client.get(reverse("admin:erasure_erasurerequest_add")).content.decode()
    assert f'value="{organization.pk}"' in add
    assert f'value="{other.pk}"' not in add
    decide = reverse("admin:erasure_finding_decide", args=[theirs.pk, 1])
    assert client.post(decide, {"decision": "delete"}).status_code == 404


def test_the_admin_index_shows_its_assignee_the_requests_due_within_a_week(
    organization: Organization, handler: User, onlooker: User
) -> None:
    soon = make_request(
        organization=organization, by=handler, reference="SOON", received_days_ago=27
    )
    late = make_request(
        organization=organization, by=handler, reference="LATE", received_days_ago=40
    )
    later = make_request(
        organization=organization, by=handler, reference="LATER", received_days_ago=2
    )
    ErasureRequest.objects.filter(pk__in=[soon.pk, late.pk, later.pk]).update(assignee=handler)
    index = signed_in(handler).get(reverse("admin:index")).content.decode()
    assert "Your erasure requests due within 7 days" in index
    assert index.index(">LATE<") < index.index(">SOON<")
    assert "overdue" in index
    assert ">LATER<" not in index
    # Someone else's assignments are not theirs to see here.
    elsewhere = signed_in(onlooker).get(reverse("admin:index")).content.decode()
    assert "due within 7 days" not in elsewhere
