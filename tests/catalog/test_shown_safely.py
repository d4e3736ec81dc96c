"""Values from Tallyfy in the index's list: only web links are links, and nothing in a name
reorders or hides the text."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import Organization
from tests.fixtures.catalog import index_file

CHANGELIST = "admin:catalog_indexedfile_changelist"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:x",
        "file:///etc/passwd",
        "ms-msdt:/id PCWDiagnostic /skip force",
        "data:text/html,x",
    ],
)
def test_a_link_of_another_scheme_is_text_not_a_link(
    admin_client: Client, organization: Organization, url: str
) -> None:
    index_file(organization, "offer", key="l" * 32, is_link=True, asset_id="", link_url=url)
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "(link, not a Tallyfy file:" in body
    assert not re.search(r'href="(javascript|file|ms-msdt|data):', body, re.IGNORECASE)


def test_a_web_link_stays_a_link(admin_client: Client, organization: Organization) -> None:
    url = "https://drive.example.com/offer"
    index_file(organization, "offer", key="l" * 32, is_link=True, asset_id="", link_url=url)
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert f'<a href="{url}" rel="noreferrer noopener">' in body


def test_bidi_controls_in_run_task_and_template_names_are_not_shown(
    admin_client: Client, organization: Organization
) -> None:
    index_file(
        organization,
        "a.pdf",
        run_id="a1" * 16,
        run_name="Onboarding \u202efdp.exe",
        task_name="Collect \u2066ID",
        template_name="Hiring \u202e",
    )
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert not any(char in body for char in "\u202e\u2066")
    assert "Onboarding fdp.exe: Collect ID" in body
