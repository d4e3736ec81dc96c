from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from jobs.conf import conf
from organizations.conf import conf as organizations_conf


@register()
def worker_timeout_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    timeout = conf.JOBS_WORKER_TIMEOUT_SECONDS
    deadline = organizations_conf.TALLYFY_CALL_DEADLINE
    if timeout >= 2 * deadline and timeout > 2 * conf.JOBS_HEARTBEAT_SECONDS:
        return []
    return [
        Warning(
            f"JOBS_WORKER_TIMEOUT_SECONDS ({timeout:g}) is under twice TALLYFY_CALL_DEADLINE "
            f"({deadline:g}) or JOBS_HEARTBEAT_SECONDS: a call to Tallyfy could outlast the "
            "claim of the worker that started it, and another worker could act on the same file.",
            hint="Set JOBS_WORKER_TIMEOUT_SECONDS to at least twice TALLYFY_CALL_DEADLINE.",
            id="jobs.W001",
        )
    ]
