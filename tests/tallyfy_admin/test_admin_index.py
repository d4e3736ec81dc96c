"""The admin index lists the product's apps first, by use, then the framework's."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from admin_pages.app_list import app_list_tables
from tests.fixtures.accounts import make_staff, signed_in


def test_the_products_apps_come_first_in_the_order_of_their_use(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index"))
    apps = [app["app_label"] for app in page.context["app_list"]]
    ours = ["erasure", "catalog", "files", "jobs", "organizations"]
    assert apps[: len(ours)] == ours
    assert {"auth", "axes"} <= set(apps[len(ours) :])


def _sidebar(client: Client, url: str) -> str:
    body = client.get(url).content.decode()
    return body.split('id="nav-sidebar"')[1].split("</nav>")[0]


@pytest.mark.django_db
def test_a_user_who_may_only_look_up_files_finds_the_page_in_the_sidebar_and_index() -> None:
    client = signed_in(make_staff("looker", "lookup_file"))
    lookup = reverse("admin:files_lookup")
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{lookup}"' in index.split('id="content-main"')[1]
    assert f'href="{lookup}"' in _sidebar(client, reverse("admin:password_change"))
    assert reverse("admin:jobs_create") not in index  # deleting many needs the delete permission
    app_page = client.get(reverse("admin:app_list", kwargs={"app_label": "files"}))
    assert app_page.status_code == 200
    assert f'href="{lookup}"' in app_page.content.decode()


@pytest.mark.django_db
def test_the_sidebar_marks_the_page_being_viewed_and_its_app_only() -> None:
    client = signed_in(make_staff("deleter", "lookup_file", "delete_file", "view_filedeletion"))
    sidebar = _sidebar(client, reverse("admin:files_lookup"))
    assert sidebar.count('aria-current="page"') == 1
    assert f'<a href="{reverse("admin:files_lookup")}" aria-current="page">' in sidebar
    assert sidebar.count("current-app") == 1
    assert 'class="app-files module current-app"' in sidebar
    log = reverse("admin:files_filedeletion_changelist")
    sidebar = _sidebar(client, log)
    assert f'<a href="{log}" aria-current="page">' in sidebar
    assert 'class="model-filedeletion current-model"' in sidebar
    assert "model-lookup current-model" not in sidebar


def test_the_index_offers_view_or_change_links_for_lists_but_not_for_the_panels_pages(
    admin_client: Client,
) -> None:
    body = admin_client.get(reverse("admin:index")).content.decode()
    row = body.split('<tr class="model-lookup">')[1].split("</tr>")[0]
    assert "changelink" not in row
    assert "viewlink" not in row
    log_row = body.split('<tr class="model-filedeletion">')[1].split("</tr>")[0]
    assert "viewlink" in log_row  # the log is read-only, even to a superuser


def test_the_app_list_escapes_every_value_it_is_given() -> None:
    hostile = '"><script>x</script>'
    html = app_list_tables(
        [
            {
                "app_label": "files",
                "app_url": f"/admin/files/{hostile}",
                "name": hostile,
                "current": True,
                "models": [
                    {
                        "model_name": hostile,
                        "name": hostile,
                        "admin_url": f"/a/{hostile}",
                        "add_url": f"/b/{hostile}",
                        "perms": {"view": True},
                        "view_only": True,
                        "current": True,
                    }
                ],
            }
        ],
        show_changelinks=True,
    )
    assert "<script>" not in html
    # The app's name and URL; the row's class, id, name and three links with their two labels.
    assert html.count("&lt;script&gt;") == 10
    assert 'aria-current="page"' in html
    assert 'class="viewlink"' in html


def test_a_user_who_sees_no_app_is_told_so() -> None:
    assert app_list_tables([]) == "<p>You don’t have permission to view or edit anything.</p>"  # noqa: RUF001
