from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, register


@register()
def token_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    keys = settings.TALLYFY_TOKEN_KEYS
    if not keys:
        return [
            Error(
                "TALLYFY_TOKEN_KEYS is empty.", hint="Set at least one Fernet key.", id="files.E001"
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(f"Key {position} of TALLYFY_TOKEN_KEYS is not a Fernet key.", id="files.E002")
            )
    return errors
