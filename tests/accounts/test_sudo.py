from __future__ import annotations

import re
import time

import pytest
import responses
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.second_factor import VERIFIED_AT_KEY
from files.models import FileDeletion
from organizations.models import Organization
from tests.accounts.conftest import signed_in_with_app, totp_code
from tests.fixtures.files import ASSET, ASSET_ID, ASSET_URL, FILE_URL, confirm_page, file_page_url

SUDO = reverse("admin:accounts_sudo")


def age_second_factor(client: Client, seconds: float) -> None:
    session = client.session
    session[VERIFIED_AT_KEY] = time.time() - seconds
    session.save()


def delete_form(user: User, organization: Organization) -> dict[str, str]:
    ticket = confirm_page(user=user, organization=organization)
    return {"reason": "GDPR-7", "confirmation": "report_q1.pdf", "ticket": ticket}


@pytest.mark.django_db(transaction=True)
def test_a_stale_second_factor_is_asked_again_and_the_form_is_kept(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    client, device = signed_in_with_app(deleter)
    age_second_factor(client, 16 * 60)
    url = file_page_url("delete", organization)
    form = delete_form(deleter, organization)
    asked = client.post(url, form)
    assert asked.status_code == 302
    assert asked["Location"].startswith(f"{SUDO}?form=")
    assert FileDeletion.objects.count() == 0  # nothing recorded, nothing sent
    page = client.get(asked["Location"])
    assert page.status_code == 200
    assert "Confirm it is you" in page.content.decode()
    confirmed = client.post(asked["Location"], {"code": totp_code(device, steps_ahead=1)})
    body = confirmed.content.decode()
    assert f'action="{url}"' in body
    kept = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body))
    assert kept.pop("csrfmiddlewaretoken")  # a fresh one
    assert kept == form
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    done = client.post(url, kept)
    deletion = FileDeletion.objects.get()
    assert done["Location"] == reverse("admin:files_filedeletion_change", args=[deletion.pk])
    assert (deletion.asset_id, deletion.reason) == (ASSET_ID, "GDPR-7")


def test_a_kept_form_is_sent_on_once(organization: Organization, deleter: User) -> None:
    client, device = signed_in_with_app(deleter)
    age_second_factor(client, 16 * 60)
    asked = client.post(file_page_url("delete", organization), delete_form(deleter, organization))
    client.post(asked["Location"], {"code": totp_code(device, steps_ahead=1)})
    again = client.get(asked["Location"])
    assert again["Location"] == reverse("admin:index")


def test_a_wrong_code_keeps_asking(organization: Organization, deleter: User) -> None:
    client, _ = signed_in_with_app(deleter)
    age_second_factor(client, 16 * 60)
    asked = client.post(file_page_url("delete", organization), delete_form(deleter, organization))
    response = client.post(asked["Location"], {"code": "000000"})
    assert "That code is not right" in response.content.decode()
    assert 'name="ticket"' not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_fresh_second_factor_is_not_asked_again(
    http: responses.RequestsMock, organization: Organization, deleter: User
) -> None:
    client, _ = signed_in_with_app(deleter)
    age_second_factor(client, 14 * 60)
    http.get(ASSET_URL, json={"data": ASSET})
    http.delete(FILE_URL, body="")
    response = client.post(
        file_page_url("delete", organization), delete_form(deleter, organization)
    )
    assert response["Location"].startswith("/admin/files/filedeletion/")
    assert FileDeletion.objects.count() == 1


def test_the_age_is_a_setting(settings: object, organization: Organization, deleter: User) -> None:
    settings.TALLYFY_SUDO_SECONDS = 60  # type: ignore[attr-defined]
    client, _ = signed_in_with_app(deleter)
    age_second_factor(client, 61)
    asked = client.post(file_page_url("delete", organization), delete_form(deleter, organization))
    assert asked["Location"].startswith(SUDO)


def test_confirming_a_job_asks_for_a_fresh_second_factor(deleter: User) -> None:
    client, _ = signed_in_with_app(deleter)
    age_second_factor(client, 16 * 60)
    response = client.post(reverse("admin:jobs_confirm", args=[1]), {"reason": "x"})
    assert response["Location"].startswith(SUDO)


def test_approving_a_job_asks_for_a_fresh_second_factor(approver: User) -> None:
    client, _ = signed_in_with_app(approver)
    age_second_factor(client, 16 * 60)
    response = client.post(reverse("admin:jobs_approve", args=[1]))
    assert response["Location"].startswith(SUDO)


def test_a_user_without_a_second_factor_is_not_asked(settings: object, deleter: User) -> None:
    settings.TALLYFY_TWO_FACTOR_REQUIRED = False  # type: ignore[attr-defined]
    client = Client()
    client.force_login(deleter)
    response = client.post(reverse("admin:jobs_confirm", args=[1]), {"reason": "x"})
    assert response.status_code == 404  # the view itself answered: no such job
