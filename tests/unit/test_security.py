from __future__ import annotations

import logging
import os
import re
import secrets
import time

import pytest
import responses
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from files import services
from files.forms import OrganizationForm
from files.models import Organization
from files.tokens import TokenDecryptionError
from tests.conftest import ASSET_ID, BASE_URL, ORG_ID, TOKEN, confirm_page, make_organization
from tests.processes import manage

ASSET_URL = f"{BASE_URL}/organizations/{ORG_ID}/assets/{ASSET_ID}"
ASSET = {"id": ASSET_ID, "filename": "report_q1.pdf", "subject": {"id": "r", "type": "Run"}}


def production_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TALLYFY_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "files-admin.example.com",
        "DATABASE_URL": "sqlite:////tmp/tallyfy-admin-deploy-check.sqlite3",
        **extra,
    }


def test_deploy_check_passes_with_production_variables() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (1 silenced)" in result.stdout


def test_deploy_check_silences_nothing_once_preload_is_chosen() -> None:
    env = production_env(DJANGO_SECURE_HSTS_PRELOAD="true")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_security_settings(settings: object) -> None:
    from django.conf import settings as s

    assert s.SECURE_HSTS_INCLUDE_SUBDOMAINS
    assert s.SESSION_COOKIE_HTTPONLY
    assert s.SESSION_COOKIE_AGE == 30 * 60
    assert s.SESSION_TOUCH_INTERVAL <= 60
    assert s.SESSION_ABSOLUTE_LIFETIME.total_seconds() == 12 * 3600


def test_secret_key_fallbacks_keep_sessions_valid(settings: object, viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    old_key = settings.SECRET_KEY  # type: ignore[attr-defined]
    settings.SECRET_KEY = "a-brand-new-key-" + secrets.token_urlsafe(30)  # type: ignore[attr-defined]
    settings.SECRET_KEY_FALLBACKS = [old_key]  # type: ignore[attr-defined]
    assert client.get(reverse("admin:index")).status_code == 200


# --- brute force ---


def login(client: Client, username: str, password: str) -> object:
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password},
        REMOTE_ADDR="203.0.113.9",
    )


def test_sixth_failed_login_is_locked_out_and_logged(
    viewer: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    for _ in range(4):
        assert login(client, "viewer", "wrong").status_code == 200
    with caplog.at_level(logging.WARNING):
        assert login(client, "viewer", "wrong").status_code == 429  # the 5th failure locks
        response = login(client, "viewer", "pw-for-tests-only")  # even the right password now
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-ins" in body
    assert "Try again in 15 minutes" in body
    assert any("locked out" in r.getMessage().lower() for r in caplog.records)


def test_lockout_is_per_username_and_address(viewer: User) -> None:
    client = Client()
    for _ in range(5):
        login(client, "viewer", "wrong")
    other_address = client.post(
        reverse("admin:login"),
        {"username": "viewer", "password": "pw-for-tests-only"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert other_address.status_code == 302


def test_a_spoofed_forwarded_for_does_not_escape_the_lockout(viewer: User) -> None:
    client = Client()
    for n in range(6):
        response = client.post(
            reverse("admin:login"),
            {"username": "viewer", "password": "wrong"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    assert response.status_code == 429


def test_behind_trusted_proxies_the_forwarded_address_counts(
    viewer: User, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    client = Client()
    for n in range(5):  # the attacker varies the part of the header the proxy did not write
        client.post(
            reverse("admin:login"),
            {"username": "viewer", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 81.2.69.160",
        )
    attacker = client.post(
        reverse("admin:login"),
        {"username": "viewer", "password": "pw-for-tests-only"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="9.9.9.9, 81.2.69.160",
    )
    assert attacker.status_code == 429
    someone_else = client.post(
        reverse("admin:login"),
        {"username": "viewer", "password": "pw-for-tests-only"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="81.2.69.161",
    )
    assert someone_else.status_code == 302


# --- sessions ---


def test_session_ends_after_the_absolute_lifetime(viewer: User, settings: object) -> None:
    client = Client()
    client.force_login(viewer)
    assert client.get(reverse("admin:index")).status_code == 200
    session = client.session
    session["_session_started_at"] = time.time() - 12 * 3600 - 1
    session.save()
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(
    "name",
    [
        "admin:index",
        "files:lookup",
        "admin:files_filedeletion_changelist",
        "admin:files_organization_changelist",
    ],
)
def test_logout_is_on_every_page(
    admin_client: Client, organization: Organization, name: str
) -> None:
    body = admin_client.get(reverse(name)).content.decode()
    assert 'id="logout-form"' in body


# --- CSP ---


@pytest.mark.parametrize(
    "name",
    [
        "admin:index",
        "files:lookup",
        "admin:files_filedeletion_changelist",
        "admin:files_organization_add",
        "admin:login",
    ],
)
def test_every_page_has_a_strict_csp_with_a_fresh_nonce(
    admin_client: Client, db: None, name: str
) -> None:
    client = Client() if name == "admin:login" else admin_client
    first = client.get(reverse(name))
    second = client.get(reverse(name))
    assert first.status_code == 200
    policy = first["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    nonces = [re.search(r"'nonce-([^']+)'", r["Content-Security-Policy"]) for r in (first, second)]
    assert nonces[0]
    assert nonces[1]
    assert nonces[0].group(1) != nonces[1].group(1)
    html = first.content.decode()
    for script in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in script or f'nonce="{nonces[0].group(1)}"' in script, script
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handlers would be blocked"


# --- outbound calls ---


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://go.tallyfy.com/api", "must use https"),
        ("https://evil.example/api", "not an allowed Tallyfy API host"),
        ("http://127.0.0.1:8001/api", "not an allowed Tallyfy API host"),
        ("https://go.tallyfy.com.evil.example/api", "not an allowed Tallyfy API host"),
    ],
)
def test_disallowed_base_url_is_rejected_at_save(db: None, url: str, error: str) -> None:
    form = OrganizationForm(data={"name": "X", "org_id": ORG_ID, "api_base_url": url, "token": "t"})
    assert not form.is_valid()
    assert error in str(form.errors["api_base_url"])


def test_disallowed_base_url_is_rejected_at_call_time(organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(api_base_url="https://evil.example/api")
    organization.refresh_from_db()
    from files.base_urls import DisallowedBaseURL

    with pytest.raises(DisallowedBaseURL):
        services.file_lookup(organization=organization, asset_id=ASSET_ID)


def test_sandbox_host_is_allowed_only_when_configured(db: None, settings: object) -> None:
    data = {
        "name": "S",
        "org_id": ORG_ID,
        "api_base_url": "http://127.0.0.1:8001/api",
        "token": "t",
    }
    assert not OrganizationForm(data=data).is_valid()
    settings.TALLYFY_INSECURE_API_HOSTS = ["127.0.0.1"]  # type: ignore[attr-defined]
    assert OrganizationForm(data=data).is_valid()


# --- tokens ---


def test_token_is_encrypted_at_rest_and_decrypts(organization: Organization) -> None:
    stored = Organization.objects.values_list("token_ciphertext", flat=True).get()
    assert TOKEN not in stored
    assert organization.access_token() == TOKEN
    assert organization.token_hint == "…abcd"


def test_token_is_never_shown_back(admin_client: Client, organization: Organization) -> None:
    for name, args in (
        ("admin:files_organization_change", [organization.pk]),
        ("admin:files_organization_changelist", []),
    ):
        body = admin_client.get(reverse(name, args=args)).content.decode()
        assert TOKEN not in body
        assert organization.token_ciphertext not in body
        assert "…abcd" in body


def test_blank_token_keeps_the_stored_one(organization: Organization) -> None:
    form = OrganizationForm(
        instance=organization,
        data={"name": "Acme", "org_id": ORG_ID, "api_base_url": BASE_URL, "token": ""},
    )
    assert form.is_valid()
    form.save()
    organization.refresh_from_db()
    assert organization.access_token() == TOKEN


def test_undecryptable_token_raises_a_clear_error(
    organization: Organization, settings: object
) -> None:
    settings.TALLYFY_TOKEN_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    with pytest.raises(TokenDecryptionError, match="organization 'Acme'"):
        organization.access_token()


def test_undecryptable_token_is_a_message_and_nothing_is_sent(
    organization: Organization, viewer: User, settings: object
) -> None:
    settings.TALLYFY_TOKEN_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    client = Client()
    client.force_login(viewer)
    response = client.get(
        reverse("files:detail", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
    )
    assert "cannot be decrypted" in " ".join(str(m) for m in response.context["messages"])


def test_rotated_key_set_decrypts_old_tokens_and_rotation_reencrypts(
    organization: Organization, settings: object
) -> None:
    old_key = settings.TALLYFY_TOKEN_KEYS[0]  # type: ignore[attr-defined]
    new_key = Fernet.generate_key().decode()
    settings.TALLYFY_TOKEN_KEYS = [new_key, old_key]  # type: ignore[attr-defined]
    organization.refresh_from_db()
    assert organization.access_token() == TOKEN
    call_command("rotate_token_keys")
    settings.TALLYFY_TOKEN_KEYS = [new_key]  # type: ignore[attr-defined]
    organization.refresh_from_db()
    assert organization.access_token() == TOKEN


@pytest.mark.django_db(transaction=True)
def test_token_never_reaches_logs_or_the_deletion_log(
    http: responses.RequestsMock, caplog: pytest.LogCaptureFixture, deleter: User
) -> None:
    org = make_organization()
    http.get(ASSET_URL, status=401, json={"message": "Unauthenticated."})
    with caplog.at_level(logging.DEBUG):
        deletion = services.file_delete(
            organization=org,
            asset_id=ASSET_ID,
            user=deleter,
            reason="r",
            confirmation=ASSET_ID,
            ticket=confirm_page(user=deleter, organization=org),
        )
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(value) for value in deletion.__dict__.values())


# --- injection ---


def test_file_names_and_reasons_are_escaped_when_shown(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "<img src=x onerror=alert(1)>.pdf"}})
    client = Client()
    client.force_login(viewer)
    body = client.get(
        reverse("files:detail", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
    ).content.decode()
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in body


@pytest.mark.django_db(transaction=True)
def test_log_lines_escape_values_from_tallyfy(
    http: responses.RequestsMock, caplog: pytest.LogCaptureFixture, deleter: User
) -> None:
    org = make_organization()
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": "x\nFORGED deletion 99 deleted"}})
    http.delete(
        f"{BASE_URL}/organizations/{ORG_ID}/file/{ASSET_ID}",
        status=403,
        json={"message": "no\nFORGED line"},
    )
    with caplog.at_level(logging.INFO):
        services.file_delete(
            organization=org,
            asset_id=ASSET_ID,
            user=deleter,
            reason="evil\nFORGED reason",
            confirmation=ASSET_ID,
            ticket=confirm_page(
                user=deleter,
                organization=org,
                asset={**ASSET, "filename": "x\nFORGED deletion 99 deleted"},
            ),
        )
    assert all("\n" not in record.getMessage() for record in caplog.records)


def test_idle_clock_is_pushed_ahead_by_activity_at_most_once_a_minute(viewer: User) -> None:
    from django.contrib.sessions.models import Session

    client = Client()
    client.force_login(viewer)
    client.get(reverse("admin:index"))
    first_expiry = Session.objects.get().expire_date
    client.get(reverse("admin:index"))
    assert Session.objects.get().expire_date == first_expiry  # no write within the minute
    session = client.session
    session["_session_touched_at"] = time.time() - 61
    session.save()
    saved_expiry = Session.objects.get().expire_date
    client.get(reverse("admin:index"))
    assert Session.objects.get().expire_date > saved_expiry


def test_idle_session_expires(viewer: User) -> None:
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = Client()
    client.force_login(viewer)
    client.get(reverse("admin:index"))
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(reverse("admin:index")).status_code == 302
