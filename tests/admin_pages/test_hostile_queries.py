"""Query strings and searches staff may send (by hand, or an old bookmark) that the stock
admin answers with a 500: each gets the list back with a clear message, nothing else, on every
model's list the admin serves (the framework's and the libraries' included)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

LISTS = [
    "admin:files_filedeletion_changelist",
    "admin:jobs_deletionjob_changelist",
    "admin:catalog_scan_changelist",
    "admin:catalog_indexedfile_changelist",
]

EVERY_LIST = sorted(
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
    for model in admin.site._registry
)
SEARCHABLE = sorted(
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
    for model, model_admin in admin.site._registry.items()
    if model_admin.search_fields
)
DATED = sorted(
    (
        f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist",
        model_admin.date_hierarchy,
    )
    for model, model_admin in admin.site._registry.items()
    if model_admin.date_hierarchy
)


def messages_of(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("changelist", LISTS)
@pytest.mark.parametrize(
    "params",
    [
        {"started_at__year": "99999"},
        {"started_at__year": "2025", "started_at__month": "1", "started_at__day": "9" * 25},
        {"uploaded_at__year": "99999"},
        {"created_at__year": "-1"},
    ],
)
def test_an_impossible_date_gives_the_list_and_a_message(
    admin_client: Client, changelist: str, params: dict[str, str]
) -> None:
    response = admin_client.get(reverse(changelist), params, follow=True)
    assert response.status_code == 200
    assert any("left out" in message for message in messages_of(response))


@pytest.mark.parametrize("changelist", LISTS)
def test_a_lookup_no_filter_offers_is_refused(admin_client: Client, changelist: str) -> None:
    response = admin_client.get(reverse(changelist), {"file_name__regex": "("}, follow=True)
    assert (response.status_code, response.redirect_chain[-1][0]) == (200, reverse(changelist))
    assert messages_of(response) == [
        "The list offers no filter “file_name__regex”: it was left out."
    ]


@pytest.mark.parametrize("changelist", LISTS)
def test_a_search_of_too_many_words_says_so(admin_client: Client, changelist: str) -> None:
    words = " ".join(f"w{n}" for n in range(1500))
    response = admin_client.get(reverse(changelist), {"q": words}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "A search takes at most 32 words; that one had 1,500, so the list is shown unsearched."
    ]


def test_the_lists_own_filters_still_work(admin_client: Client, organization: object) -> None:
    url = reverse("admin:files_filedeletion_changelist")
    response = admin_client.get(url, {"state__exact": "deleted", "started_at__year": "2026"})
    assert (response.status_code, messages_of(response)) == (200, [])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a regex PostgreSQL refuses")
def test_a_regex_lookup_never_reaches_the_database(admin_client: Client) -> None:
    response = admin_client.get(
        reverse("admin:files_filedeletion_changelist"), {"file_name__regex": "("}, follow=True
    )
    assert response.status_code == 200


@pytest.mark.parametrize("changelist", SEARCHABLE)
def test_every_searchable_list_refuses_a_search_of_1300_words(
    admin_client: Client, changelist: str
) -> None:
    words = " ".join(f"w{n}" for n in range(1300))
    response = admin_client.get(reverse(changelist), {"q": words}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "A search takes at most 32 words; that one had 1,300, so the list is shown unsearched."
    ]


@pytest.mark.parametrize("changelist", EVERY_LIST)
@pytest.mark.parametrize("lookup", ["id__regex", "pk__in"])
def test_every_list_refuses_a_lookup_no_filter_offers(
    admin_client: Client, changelist: str, lookup: str
) -> None:
    response = admin_client.get(reverse(changelist), {lookup: "("}, follow=True)
    assert (response.status_code, response.redirect_chain[-1][0]) == (200, reverse(changelist))
    assert messages_of(response) == [f"The list offers no filter “{lookup}”: it was left out."]


@pytest.mark.parametrize(("changelist", "field"), DATED)
@pytest.mark.parametrize(
    "parts", [{"year": "99999"}, {"year": "2025", "month": "1", "day": "9" * 25}]
)
def test_every_dated_list_refuses_a_date_that_cannot_be(
    admin_client: Client, changelist: str, field: str, parts: dict[str, str]
) -> None:
    params = {f"{field}__{part}": value for part, value in parts.items()}
    response = admin_client.get(reverse(changelist), params, follow=True)
    assert response.status_code == 200
    assert any("left out" in message for message in messages_of(response))


@pytest.mark.parametrize("changelist", EVERY_LIST)
def test_every_filter_a_list_offers_is_taken(
    admin_client: Client, changelist: str, organization: object
) -> None:
    page = admin_client.get(reverse(changelist))
    assert page.status_code == 200
    sidebar = page.content.decode().partition('id="changelist-filter"')[2]
    links = {unescape(href) for href in re.findall(r'href="(\?[^"]*)"', sidebar)}
    for link in links:
        response = admin_client.get(reverse(changelist) + link)
        assert (link, response.status_code, messages_of(response)) == (link, 200, [])
