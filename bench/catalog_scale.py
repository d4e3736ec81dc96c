"""The file index's admin pages at a given number of indexed files.

Runs in its own process per database (Django's settings are read once):
    python -m bench.catalog_scale DATABASE_URL ROWS
fills the index to ROWS (kept between runs, so each size needs its own database) and prints
the median time of each page, in milliseconds, as one JSON object.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta

from bench.log_scale import configure, median_ms

_WORDS = ["invoice", "passport", "contract", "résumé", "évaluation", "receipt", "scan", "notes"]
_PEOPLE = ["jane", "john", "zoe", "ana", "bjorn", "chen", "olu", "maria", "li", "sam"]


def fill_to(total: int) -> None:
    from catalog.folding import fold
    from catalog.models import AttachedTo, IndexedFile
    from organizations.models import Organization
    from organizations.services import organization_create

    have = IndexedFile.objects.count()
    if have > total:
        raise SystemExit(f"this database already holds {have} files, more than {total}")
    if have == total:
        return
    org = Organization.objects.filter(name="Bench").first() or organization_create(
        name="Bench",
        org_id="b" * 32,
        api_base_url="https://go.tallyfy.com/api",
        token="never-used-by-this-benchmark",
    )
    rng = random.Random(have)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    batch: list[IndexedFile] = []
    for n in range(have, total):
        name = f"{rng.choice(_WORDS)}_{n}.pdf"
        run = n // 5
        batch.append(
            IndexedFile(
                organization=org,
                key=f"{n:032x}",
                asset_id=f"{n:032x}",
                file_name=name,
                file_name_folded=fold(name),
                attached_to=AttachedTo.TASK,
                run_id=f"{run:032x}",
                run_name=f"Onboarding: {rng.choice(_PEOPLE)} #{run}",
                run_status=rng.choice(["active", "complete", "archived"]),
                template_name=f"Template {run % 40}",
                uploaded_at=start + timedelta(minutes=n * 2),
                uploader_email=f"{rng.choice(_PEOPLE)}{n % 5000}@example.com",
            )
        )
        if len(batch) == 10_000:
            IndexedFile.objects.bulk_create(batch)
            batch.clear()
    IndexedFile.objects.bulk_create(batch)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE catalog_indexedfile")
        else:
            cursor.execute("ANALYZE")


def measure(rows: int) -> dict[str, float]:
    """Each page asks for what both sizes hold: the middle file's name, its uploader's email,
    the month it was uploaded in, and a word one file in eight has in its name."""
    from django.contrib.auth.models import User
    from django.test import Client

    from catalog.models import IndexedFile

    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    listing = "/admin/catalog/indexedfile/"
    middle = IndexedFile.objects.get(key=f"{rows // 2:032x}")
    month = middle.uploaded_at
    for query in (f"q={middle.file_name}", f"q={middle.uploader_email}"):
        page = client.get(f"{listing}?{query}").content.decode()
        assert middle.file_name in page, f"{query} does not list the file it should"
    return {
        "first page": median_ms(client, listing),
        "searched by name": median_ms(client, f"{listing}?q={middle.file_name}"),
        "searched by uploader": median_ms(client, f"{listing}?q={middle.uploader_email}"),
        "filtered by date": median_ms(
            client, f"{listing}?uploaded_at__year={month.year}&uploaded_at__month={month.month}"
        ),
        "searched by a common word": median_ms(client, f"{listing}?q={_WORDS[0]}"),
    }


def main() -> None:
    database_url, rows = sys.argv[1], int(sys.argv[2])
    configure(database_url)
    fill_to(rows)
    vacuum_analyze()
    print(json.dumps(measure(rows)))


if __name__ == "__main__":
    main()
