"""The organizations' settings: where tokens may go, how they are kept, and the bounds of every
call to Tallyfy (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env

MIB = 1024 * 1024


class OrganizationsSettings:
    TALLYFY_DEFAULT_API_BASE_URL = Setting(env.str, "https://go.tallyfy.com/api")
    TALLYFY_ALLOWED_API_HOSTS = Setting(env.list, ["go.tallyfy.com", "api.tallyfy.com"])
    # Hosts reachable over plain http, loopback included: only for the local sandbox.
    TALLYFY_INSECURE_API_HOSTS = Setting(env.list, [])
    # Fernet keys, newest first: the first encrypts, every one decrypts (rotate_token_keys).
    TALLYFY_TOKEN_KEYS = Setting(env.list, [])
    TALLYFY_CONNECT_TIMEOUT = Setting(env.float, 5.0)
    TALLYFY_READ_TIMEOUT = Setting(env.float, 30.0)
    # One attempt of a call, connect to last byte; a download's body instead must bring
    # TALLYFY_DOWNLOAD_MIN_RATE bytes a second over each such span spent waiting on Tallyfy.
    TALLYFY_CALL_DEADLINE = Setting(env.float, 30.0)
    TALLYFY_DOWNLOAD_MIN_RATE = Setting(env.int, 8 * 1024)
    TALLYFY_MAX_BODY_BYTES = Setting(env.int, MIB)
    TALLYFY_MAX_LIST_BODY_BYTES = Setting(env.int, 16 * MIB)
    # Seconds one call from a page may spend waiting (Retry-After, retries) before it gives up.
    TALLYFY_INTERACTIVE_WAIT_LIMIT = Setting(env.float, 10.0)
    TALLYFY_RETRY_AFTER_CAP = Setting(env.float, 30.0)
    TALLYFY_RETRY_BACKOFF = Setting(env.float, 0.5)


conf = OrganizationsSettings()
