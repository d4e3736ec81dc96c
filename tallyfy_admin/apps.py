from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class TallyfyAdminConfig(AdminConfig):
    default_site = "tallyfy_admin.admin_site.TallyfyAdminSite"
