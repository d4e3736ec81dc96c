"""The single-file pages' and the deletion log's settings (see app_settings for how each is
read)."""

from __future__ import annotations

from app_settings import Setting, env


class FilesSettings:
    # DELETE attempts of one deletion when Tallyfy's answers leave it uncertain.
    TALLYFY_DELETE_ATTEMPTS = Setting(env.int, 3)
    # How old an `unknown` row must be before reconcile_deletions asks Tallyfy about it.
    TALLYFY_RECONCILE_AFTER_SECONDS = Setting(env.int, 5 * 60)
    # How long a confirm page can be acted on; each can be acted on once.
    TALLYFY_CONFIRM_PAGE_SECONDS = Setting(env.int, 60 * 60)


conf = FilesSettings()
