"""The admin index lists the product's apps first, by use, then the framework's."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def test_the_products_apps_come_first_in_the_order_of_their_use(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index"))
    apps = [app["app_label"] for app in page.context["app_list"]]
    ours = ["erasure", "catalog", "files", "jobs", "organizations"]
    assert apps[: len(ours)] == ours
    assert {"auth", "axes"} <= set(apps[len(ours) :])
