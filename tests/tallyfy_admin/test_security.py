from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from accounts.conf import conf as accounts_conf
from accounts.middleware import SESSION_TOUCH_INTERVAL
from files import services
from files.models import FileDeletion
from organizations.checks import api_hosts_check
from organizations.conf import conf as organizations_conf
from organizations.forms import OrganizationForm
from organizations.models import Organization
from organizations.services import organization_update
from organizations.tokens import TokenDecryptionError
from tallyfy_admin.log_format import EscapingFormatter
from tallyfy_api.base_urls import DisallowedBaseURL, check_api_base_url
from tallyfy_api.names import display_name
from tests.fixtures.files import ASSET_ID, confirm_page, mock_file_probe
from tests.fixtures.organizations import BASE_URL, ORG_ID, TOKEN, make_organization
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
    assert SESSION_TOUCH_INTERVAL <= 60
    assert accounts_conf.DJANGO_SESSION_ABSOLUTE_SECONDS == 12 * 3600


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
    settings.DJANGO_PROXY_COUNT = 1  # type: ignore[attr-defined]
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
        "admin:files_lookup",
        "admin:files_filedeletion_changelist",
        "admin:organizations_organization_changelist",
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
        "admin:files_lookup",
        "admin:files_filedeletion_changelist",
        "admin:organizations_organization_add",
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
    settings.TALLYFY_INSECURE_API_HOSTS = ["127.0.0.1:8001"]  # type: ignore[attr-defined]
    assert OrganizationForm(data=data).is_valid()


@pytest.mark.parametrize(
    ("insecure_hosts", "url", "allowed"),
    [
        (["127.0.0.1:8001"], "http://127.0.0.1:8001/api", True),
        (["127.0.0.1:8001"], "http://127.0.0.1:8002/api", False),
        (["127.0.0.1:8001"], "http://127.0.0.1/api", False),
        (["127.0.0.1"], "http://127.0.0.1/api", True),
        (["127.0.0.1"], "http://127.0.0.1:8001/api", False),
        (["[::1]:8001"], "http://[::1]:8001/api", True),
        (["localhost:8001"], "http://LOCALHOST:8001/api", True),
    ],
)
def test_insecure_hosts_are_matched_with_their_port(
    insecure_hosts: list[str], url: str, allowed: bool
) -> None:
    try:
        check_api_base_url(url, allowed_hosts=["go.tallyfy.com"], insecure_hosts=insecure_hosts)
    except DisallowedBaseURL:
        assert not allowed
    else:
        assert allowed


def test_allowed_hosts_are_matched_on_the_https_port_unless_one_is_given() -> None:
    with pytest.raises(DisallowedBaseURL):
        check_api_base_url("https://go.tallyfy.com:8443/api", allowed_hosts=["go.tallyfy.com"])
    assert check_api_base_url(
        "https://go.tallyfy.com:8443/api/", allowed_hosts=["go.tallyfy.com:8443"]
    ) == ("https://go.tallyfy.com:8443/api")


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "http://[127.0.0.1]:1/api",
        "https://go.tallyfy.com\uff03/api",
        "https://go.tallyfy.com:99999/api",
        "https://go.tallyfy.com:port/api",
    ],
)
def test_an_unreadable_base_url_is_disallowed_not_an_error(url: str) -> None:
    with pytest.raises(DisallowedBaseURL, match="cannot be read as a URL"):
        check_api_base_url(url, allowed_hosts=["go.tallyfy.com"], insecure_hosts=["[::1]"])


# --- tokens ---


def test_token_is_encrypted_at_rest_and_decrypts(organization: Organization) -> None:
    stored = Organization.objects.values_list("token_ciphertext", flat=True).get()
    assert TOKEN not in stored
    assert organization.access_token() == TOKEN
    assert organization.token_hint == "…abcd"


def test_token_is_never_shown_back(admin_client: Client, organization: Organization) -> None:
    for name, args in (
        ("admin:organizations_organization_change", [organization.pk]),
        ("admin:organizations_organization_changelist", []),
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
    organization_update(organization=organization, **form.organization_fields())
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
        reverse("admin:files_detail", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
    )
    assert "cannot be decrypted" in " ".join(str(m) for m in response.context["messages"])


def test_rotated_key_set_decrypts_old_tokens_and_rotation_reencrypts(
    organization: Organization, settings: object
) -> None:
    old_key = organizations_conf.TALLYFY_TOKEN_KEYS[0]
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
    mock_file_probe(http)
    client = Client()
    client.force_login(viewer)
    body = client.get(
        reverse("admin:files_detail", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
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


# --- names from Tallyfy that hide or reorder text ---

RLO_NAME = "invoice_\u202efdp.exe"


def test_bidi_and_c1_characters_are_dropped_from_shown_names() -> None:
    assert display_name("a\u202ab\u202dc\u2066d\u2069e\u200ef\u200fg\u061ch\x85i\x9fj") == (
        "abcdefghij"
    )


def test_the_detail_page_shows_no_bidi_override(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(ASSET_URL, json={"data": {**ASSET, "filename": RLO_NAME}})
    mock_file_probe(http)
    client = Client()
    client.force_login(viewer)
    response = client.get(
        reverse("admin:files_detail", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
    )
    body = response.content.decode()
    assert "\u202e" not in body
    assert "invoice_fdp.exe" in body
    assert "invoice_\\u202efdp.exe" in body  # the raw metadata, escaped


def test_content_disposition_carries_no_bidi_override(
    http: responses.RequestsMock, organization: Organization, viewer: User
) -> None:
    http.get(
        f"{BASE_URL}/organizations/{ORG_ID}/file/{ASSET_ID}/dl",
        body=b"MZ",
        headers={"Content-Disposition": "attachment; filename*=UTF-8''invoice_%E2%80%AEfdp.exe"},
    )
    client = Client()
    client.force_login(viewer)
    response = client.get(
        reverse("admin:files_download", kwargs={"org_pk": organization.pk, "asset_id": ASSET_ID})
    )
    assert response["Content-Disposition"] == 'attachment; filename="invoice_fdp.exe"'


def test_the_deletion_log_shows_no_bidi_override(
    admin_client: Client, organization: Organization, admin_user: User
) -> None:
    FileDeletion.objects.create(
        organization=organization,
        org_id=ORG_ID,
        asset_id=ASSET_ID,
        file_name=RLO_NAME,
        user=admin_user,
        username="admin",
        reason="r",
    )
    body = admin_client.get(reverse("admin:files_filedeletion_changelist")).content.decode()
    assert "invoice_fdp.exe" in body
    assert "\u202e" not in body


# --- sign-in ---


def test_an_unsafe_next_after_sign_in_lands_on_the_admin_index(viewer: User) -> None:
    response = Client().post(
        f"{reverse('admin:login')}?next=https://evil.example/",
        {"username": "viewer", "password": "pw-for-tests-only", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def change_password(client: Client, old_password: str) -> HttpResponse:
    new_password = "a-new-long-password-9481"
    return client.post(
        reverse("admin:password_change"),
        {
            "old_password": old_password,
            "new_password1": new_password,
            "new_password2": new_password,
        },
        REMOTE_ADDR="203.0.113.9",
    )


def test_wrong_current_passwords_lock_the_session_out(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    for _ in range(4):
        assert change_password(client, "a-guess").status_code == 200
    assert change_password(client, "a-guess").status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # signed out
    assert login(client, "viewer", "pw-for-tests-only").status_code == 429


def test_wrong_current_passwords_count_with_failed_sign_ins(viewer: User) -> None:
    client = Client()
    for _ in range(4):
        login(client, "viewer", "wrong")
    client.force_login(viewer)
    assert change_password(client, "a-guess").status_code == 429


def test_the_right_current_password_changes_it(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    response = change_password(client, "pw-for-tests-only")
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("a-new-long-password-9481")


def test_the_lockout_line_names_the_address_the_lock_applies_to(
    viewer: User, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DJANGO_PROXY_COUNT = 1  # type: ignore[attr-defined]
    client = Client()
    with caplog.at_level(logging.WARNING, logger="accounts.lockout"):
        for _ in range(5):
            client.post(
                reverse("admin:login"),
                {"username": "viewer", "password": "wrong"},
                REMOTE_ADDR="10.0.0.2",
                HTTP_X_FORWARDED_FOR="81.2.69.160",
            )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "accounts.lockout"]
    assert "81.2.69.160" in line
    assert "10.0.0.2" not in line


# --- log lines ---


def test_log_records_are_one_line_with_control_characters_escaped() -> None:
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "ua=%s", ("\x1b[31mred\nFORGED\x85",), None
    )
    assert formatter.format(record) == "INFO ua=\\x1b[31mred\\nFORGED\\x85"


def test_tracebacks_keep_their_lines_indented_and_escaped() -> None:
    formatter = EscapingFormatter("%(message)s")
    try:
        raise ValueError("bad\nFORGED \x1b[2J")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    first, *rest = formatter.format(record).splitlines()
    assert first == "failed"
    assert all(line.startswith("  ") for line in rest)
    assert "\x1b" not in "".join(rest)


def test_every_logger_writes_through_the_escaping_formatter() -> None:
    script = (
        "import logging\n"
        "for name in ('django.server', 'django.request', 'accounts.lockout', 'gunicorn'):\n"
        "    logging.getLogger(name).warning('ua=%s', '\\x1b[31mred')\n"
    )
    result = manage("shell", "-c", script, env=production_env(DJANGO_DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr + result.stdout
    assert result.stderr.count("ua=\\x1b[31mred") == 4, result.stderr


# --- configuration checks ---


def test_deploy_check_warns_about_insecure_api_hosts_in_production() -> None:
    env = production_env(TALLYFY_INSECURE_API_HOSTS="127.0.0.1:8001")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "organizations.W001" in result.stderr + result.stdout


def test_an_insecure_host_without_a_port_is_a_check_warning(settings: object) -> None:
    settings.TALLYFY_INSECURE_API_HOSTS = ["127.0.0.1", "localhost:8001"]  # type: ignore[attr-defined]
    assert [message.id for message in api_hosts_check()] == ["organizations.W002"]


def test_unreadable_api_host_entries_are_a_check_error(settings: object) -> None:
    settings.TALLYFY_INSECURE_API_HOSTS = ["127.0.0.1:port", "127.0.0.1:8001"]  # type: ignore[attr-defined]
    assert [error.id for error in api_hosts_check()] == ["organizations.E003"]


# --- secrets on disk ---


def test_sqlite_database_files_are_private_to_the_user(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    path = tmp_path / "private.sqlite3"
    options = {"init_command": "PRAGMA journal_mode=WAL;"}
    settings_dict = connections.configure_settings(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": options}}
    )["default"]
    database = DatabaseWrapper(settings_dict, alias="private")
    old_umask = os.umask(0o022)
    try:
        with django_db_blocker.unblock(), database.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x)")
            cursor.execute("INSERT INTO t VALUES (1)")
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    finally:
        os.umask(old_umask)
        database.close()
    assert modes == {
        "private.sqlite3": "0o600",
        "private.sqlite3-wal": "0o600",
        "private.sqlite3-shm": "0o600",
    }
