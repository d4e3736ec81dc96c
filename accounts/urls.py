"""Sign-in's own pages, served by the admin site (`tallyfy_admin.admin_site`)."""

from __future__ import annotations

from django.urls import path

from accounts import views

account_pages = [
    path("verify/", views.verify_view, name="accounts_verify"),
    path("", views.security_view, name="accounts_security"),
    path("app/", views.add_app_view, name="accounts_add_app"),
    path("passkey/", views.add_passkey_view, name="accounts_add_passkey"),
    path("recovery-codes/", views.recovery_codes_view, name="accounts_recovery_codes"),
    path("<str:kind>/<int:pk>/remove/", views.remove_device_view, name="accounts_remove_device"),
    path("users/<int:user_pk>/reset/", views.reset_user_view, name="accounts_reset_user"),
    path("confirm/", views.sudo_view, name="accounts_sudo"),
]
