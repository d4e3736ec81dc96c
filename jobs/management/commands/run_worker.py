from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from jobs.conf import conf

logger = logging.getLogger(__name__)


class Command(DatabaseWorker):
    help = (
        "Run background tasks (django-tasks-db's db_worker, same options), and every few seconds "
        "run the sweeps in BACKGROUND_SWEEPS: they wake the deletion jobs and scans that need a "
        "worker and have none (their worker died, or their start time came). Run one or more "
        "per machine."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        sweeper = threading.Thread(
            target=self._sweep, args=(stop,), name="jobs-sweeper", daemon=True
        )
        sweeper.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()

    @staticmethod
    def _sweep(stop: threading.Event) -> None:
        while not stop.wait(conf.JOBS_SWEEP_SECONDS):
            for path in settings.BACKGROUND_SWEEPS:
                try:
                    woken = import_string(path)()
                    if woken:
                        logger.info("%s woke %s", path, woken)
                except Exception:
                    logger.exception("sweep %s failed", path)
                finally:
                    connection.close()
