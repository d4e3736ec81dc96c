from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from organizations.conf import conf
from tallyfy_api.base_urls import parse_host_entry


@register()
def token_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    keys = conf.TALLYFY_TOKEN_KEYS
    if not keys:
        return [
            Error(
                "TALLYFY_TOKEN_KEYS is empty.",
                hint="Set at least one Fernet key.",
                id="organizations.E001",
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"Key {position} of TALLYFY_TOKEN_KEYS is not a Fernet key.",
                    id="organizations.E002",
                )
            )
    return errors


@register()
def api_hosts_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for setting in ("TALLYFY_ALLOWED_API_HOSTS", "TALLYFY_INSECURE_API_HOSTS"):
        for entry in getattr(conf, setting):
            try:
                _host, port = parse_host_entry(entry)
            except ValueError:
                messages.append(
                    Error(
                        f"{setting} holds {entry!r}, which is not a host or host:port.",
                        hint="Such an entry allows nothing.",
                        id="organizations.E003",
                    )
                )
                continue
            if setting == "TALLYFY_INSECURE_API_HOSTS" and port is None:
                # What .env files written before ports were matched hold: 127.0.0.1,localhost.
                messages.append(
                    Warning(
                        f"TALLYFY_INSECURE_API_HOSTS holds {entry!r} without a port: it allows "
                        "that host on port 80 only.",
                        hint="Name the sandbox's port, e.g. 127.0.0.1:8001.",
                        id="organizations.W002",
                    )
                )
    return messages


@register(Tags.security, deploy=True)
def insecure_api_hosts_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if conf.TALLYFY_INSECURE_API_HOSTS and not settings.DEBUG:
        return [
            Warning(
                "TALLYFY_INSECURE_API_HOSTS is set while DJANGO_DEBUG is false: tokens may be "
                "sent over plain http to "
                f"{', '.join(conf.TALLYFY_INSECURE_API_HOSTS)}.",
                hint="It is for the local sandbox only; leave it empty in production.",
                id="organizations.W001",
            )
        ]
    return []
