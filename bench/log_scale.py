"""Benchmark 3: the deletion log's admin pages at a given number of rows.

Runs in its own process per database (Django's settings are read once):
    python -m bench.log_scale DATABASE_URL ROWS
fills the log to ROWS (kept between runs, so each size needs its own database) and prints
the median time of each page, in milliseconds, as one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

RUNS = 7


def configure(database_url: str) -> None:
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tallyfy_admin.settings",
            "DJANGO_ENV_FILE": "",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "TALLYFY_TOKEN_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": database_url,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            # force_login gives no second factor; the pages measured are not about sign-in
            "TALLYFY_TWO_FACTOR_REQUIRED": "false",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill_to(total: int) -> None:
    """Add made-up deletions until the log holds `total` rows (kept between runs)."""
    from django.contrib.auth.models import User

    from files.models import DeletionState, FileDeletion
    from organizations.models import Organization
    from organizations.services import organization_create

    have = FileDeletion.objects.count()
    if have > total:
        raise SystemExit(f"this database already holds {have} rows, more than {total}")
    if have == total:
        return
    rng = random.Random(have)
    orgs = []
    for n in range(3):
        org = Organization.objects.filter(name=f"Org {n}").first() or organization_create(
            name=f"Org {n}",
            org_id=f"{n:032x}",
            api_base_url="https://go.tallyfy.com/api",
            token="never-used-by-this-benchmark",
        )
        orgs.append(org)
    users = [User.objects.get_or_create(username=f"staff{n}")[0] for n in range(5)]
    states = (
        [DeletionState.DELETED] * 90
        + [DeletionState.ALREADY_GONE] * 5
        + [DeletionState.FAILED] * 4
        + [DeletionState.UNKNOWN]
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch: list[FileDeletion] = []
    for n in range(have, total):
        org, user = orgs[n % 3], users[n % 5]
        when = start + timedelta(seconds=n * 90 + rng.randrange(60))
        asset_id = f"{rng.getrandbits(128):032x}"
        batch.append(
            FileDeletion(
                organization=org,
                org_id=org.org_id,
                asset_id=asset_id,
                file_name=f"file-{n}.pdf",
                subject_type="Run",
                subject_id=f"{n % 997:032x}",
                uploaded_at=when - timedelta(days=30),
                metadata={
                    "id": asset_id,
                    "filename": f"file-{n}.pdf",
                    "version": 1,
                    "subject": {"id": f"{n % 997:032x}", "type": "Run"},
                },
                user=user,
                username=user.username,
                reason=f"GDPR-{n}",
                state=rng.choice(states),
                http_status=200,
                attempts=1,
                started_at=when,
                finished_at=when + timedelta(seconds=1),
            )
        )
        if len(batch) == 10_000:
            FileDeletion.objects.bulk_create(batch)
            batch.clear()
    FileDeletion.objects.bulk_create(batch)


def vacuum_analyze() -> None:
    """Do for PostgreSQL what autovacuum does in production.

    A log filled in one go and measured at once has no statistics and no visibility map (and
    autovacuum may be off, as on the machines the benchmarks run on). Without statistics the
    planner guesses an asset id matches 5,000 rows of a million and reads the whole log in
    date order; without the visibility map the capped count reads the table, not the index.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE files_filedeletion")


def median_ms(client: Any, url: str) -> float:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure() -> dict[str, float]:
    from django.contrib.auth.models import User
    from django.test import Client

    from files.models import FileDeletion

    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    listing = "/admin/files/filedeletion/"
    sample = FileDeletion.objects.order_by("-started_at", "-id").values(
        "pk", "asset_id", "file_name"
    )[5000]
    return {
        "list, first page": median_ms(client, listing),
        "list, page 150": median_ms(client, f"{listing}?p=150"),
        "list, filtered by state": median_ms(client, f"{listing}?state__exact=failed"),
        "list, searched by asset id": median_ms(client, f"{listing}?q={sample['asset_id']}"),
        "list, searched by file name": median_ms(client, f"{listing}?q={sample['file_name']}"),
        "detail page": median_ms(client, f"{listing}{sample['pk']}/change/"),
    }


def main() -> None:
    database_url, rows = sys.argv[1], int(sys.argv[2])
    configure(database_url)
    fill_to(rows)
    vacuum_analyze()
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
