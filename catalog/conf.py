"""The index's settings (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env


class CatalogSettings:
    # A scan's failing step is tried again after CATALOG_SCAN_RETRY_SECONDS, doubled each
    # time (at most an hour); at CATALOG_SCAN_MAX_FAILURES failures in a row the scan fails.
    CATALOG_SCAN_MAX_FAILURES = Setting(env.int, 8)
    CATALOG_SCAN_RETRY_SECONDS = Setting(env.float, 30.0)
    # Files a scan missed that one step asks Tallyfy about (GET /assets/{id}, one call each).
    CATALOG_SCAN_CHECK_BATCH = Setting(env.int, 25)
    # Pages of one process run's tasks read at most, whatever the list claims (100 a page).
    CATALOG_RUN_TASK_PAGES = Setting(env.int, 50)
    # Calls a scan may make asking the feed about one task or run whose files have no
    # uploader, when the organization-wide feed was read only back to the last scan.
    CATALOG_UPLOADER_LOOKUPS = Setting(env.int, 100)
    # Days after a full scan from which a refresh (only what changed) suggests a full one.
    CATALOG_FULL_SCAN_DAYS = Setting(env.int, 7)


conf = CatalogSettings()
