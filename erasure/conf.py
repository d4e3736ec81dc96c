"""The erasure requests' settings (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env


class ErasureSettings:
    # Discovery first refreshes the organization's index (a scan) when its last whole scan
    # ended longer ago than this, or never did; the request waits in "discovering" meanwhile.
    ERASURE_INDEX_MAX_AGE_SECONDS = Setting(env.int, 24 * 60 * 60)
    # Bounds of the guest-task search: pages read of each list, and runs whose tasks are
    # listed one by one besides the organization's list.
    ERASURE_GUEST_TASK_MAX_PAGES = Setting(env.int, 50)
    ERASURE_GUEST_TASK_MAX_RUNS = Setting(env.int, 50)


conf = ErasureSettings()
