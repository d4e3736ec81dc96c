"""`ClientConfig`: where a client may send its token and how long and how much any call may
take. Built once, from the settings, by whoever makes clients; this package reads no settings."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ClientConfig:
    """The bounds of every call a client makes.

    `allowed_hosts` may receive the token over https; `insecure_hosts` over plain http too (the
    local sandbox). `call_deadline` bounds one attempt, connect to last byte; a download's body
    must instead bring `download_min_rate` bytes a second over each such span. `wait_budget`
    caps the seconds one call spends waiting (Retry-After, throttle slots, backoff between
    retries); None waits as long as needed.
    """

    allowed_hosts: tuple[str, ...]
    insecure_hosts: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    call_deadline: float = 30.0
    download_min_rate: int = 8 * 1024
    max_body_bytes: int = MIB
    max_list_body_bytes: int = 16 * MIB
    retry_after_cap: float = 30.0
    backoff: float = 0.5
    wait_budget: float | None = None
