"""Benchmark: the evidence chain's costs, in a process of its own per measurement.

    python -m bench.evidence DATABASE_URL ROWS fill   (the log filled to ROWS rows, sealed)
    python -m bench.evidence DATABASE_URL ROWS verify|export
    python -m bench.evidence DATABASE_URL 0 seal|access

- verify / export: `verify_deletion_log` and `export_deletion_log --format csv` over ROWS
  sealed rows: seconds and the process's peak resident memory (ru_maxrss), which stays flat
  as ROWS grows when they stream.
- seal: settling a deletion through files.services (which seals it), against the same
  settling UPDATE without the seal, each in its transaction: milliseconds a deletion.
- access: a file's detail page and its download through the panel's views (Tallyfy mocked in
  process, so what is compared is the panel's own work), with EVIDENCE_ACCESS_LOG on and off;
  and recording one access alone (what the log adds to a page, without the pages' noise).
Prints one JSON object on its last line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from io import StringIO
from typing import Any

from bench.log_scale import configure

RUNS = 31


def sealed_fill(rows: int) -> None:
    """The log filled to `rows` settled rows (bench.log_scale), then sealed in one pass, as
    the application would have sealed them one by one (kept between runs)."""
    from django.db import transaction

    from bench import log_scale
    from evidence.canonical import GENESIS, chained, encode, record_hash
    from evidence.models import ChainHead, Seal
    from files.evidence import DELETIONS
    from files.models import UNSETTLED_STATES, FileDeletion

    log_scale.fill_to(rows)
    settled = FileDeletion.objects.exclude(state__in=UNSETTLED_STATES)
    if Seal.objects.filter(kind=DELETIONS.name).count() == settled.count():
        return  # sealed by an earlier run
    last = Seal.objects.order_by("-seq").first()
    seq, head = (last.seq, bytes.fromhex(last.seal)) if last else (0, GENESIS)
    sealed = set(Seal.objects.values_list("object_id", flat=True)) if last else set()
    todo = settled.order_by("pk")
    batch: list[Seal] = []
    with transaction.atomic():
        for record in todo.iterator(chunk_size=5000):
            if record.pk in sealed:
                continue
            row_hash = record_hash(
                encode(kind=DELETIONS.name, object_id=record.pk, facts=DELETIONS.facts(record))
            )
            seal = chained(head, row_hash)
            seq += 1
            batch.append(
                Seal(
                    seq=seq,
                    kind=DELETIONS.name,
                    object_id=record.pk,
                    row_hash=row_hash.hex(),
                    prev_seal=head.hex(),
                    seal=seal.hex(),
                )
            )
            head = seal
            if len(batch) == 5000:
                Seal.objects.bulk_create(batch)
                batch.clear()
        Seal.objects.bulk_create(batch)
        if not ChainHead.objects.exists():
            ChainHead.objects.create(pk=1, seq=seq, seal=head.hex())


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_command(*args: str) -> dict[str, float]:
    from django.core.management import call_command

    before = peak_mib()
    started = time.perf_counter()
    if args[0] == "export_deletion_log":
        call_command(*args, "--output", os.devnull, stderr=StringIO())
    else:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    return {
        "seconds": time.perf_counter() - started,
        "peak_mib": peak_mib(),
        "peak_mib_before": before,
    }


def seal_cost() -> dict[str, float]:
    """ms a deletion: settled and sealed (the service) against settled alone."""
    from django.db import transaction

    from files import services
    from files.models import DeletionState, FileDeletion
    from organizations.services import organization_create

    org = organization_create(
        name=f"Seal bench {time.time_ns()}",
        org_id=f"{time.time_ns():032x}",
        api_base_url="https://go.tallyfy.com/api",
        token="never-used",
    )

    def pending(n: int) -> FileDeletion:
        return FileDeletion.objects.create(
            organization=org,
            org_id=org.org_id,
            asset_id=f"{time.time_ns():x}{n}",
            file_name="a.pdf",
            metadata={"id": n, "filename": "a.pdf"},
            username="bench",
            reason="bench",
        )

    outcome = services.DeletionOutcome(DeletionState.DELETED, "done", None, 200, "rq")
    sealed, plain = [], []
    for n in range(RUNS * 3):
        row = pending(n)
        started = time.perf_counter()
        services.deletion_settle(deletion=row, attempts=1, result=outcome)
        sealed.append(time.perf_counter() - started)
        row = pending(n)
        started = time.perf_counter()
        with transaction.atomic():
            FileDeletion.objects.filter(pk=row.pk).update(
                state=DeletionState.DELETED, outcome="done", http_status=200, attempts=1
            )
        plain.append(time.perf_counter() - started)
    return {
        "settle_sealed_ms": statistics.median(sealed) * 1000,
        "settle_plain_ms": statistics.median(plain) * 1000,
    }


def access_cost() -> dict[str, float]:
    """Median ms of the detail page and the download, access log on and off, interleaved."""
    import responses
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from organizations.services import organization_create

    # An organization of this run's own: the token key is made afresh by each process.
    org_id, asset_id = f"{time.time_ns():032x}", "c" * 32
    org = organization_create(
        name=f"Access bench {org_id}",
        org_id=org_id,
        api_base_url="https://go.tallyfy.com/api",
        token="t",
    )
    admin, _ = User.objects.get_or_create(
        username="bench-access", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    api = f"https://go.tallyfy.com/api/organizations/{org_id}"
    base = f"{api}/file/{asset_id}"
    asset = {"id": asset_id, "filename": "report.pdf", "subject": {"id": "s", "type": "Run"}}
    body = b"%PDF-1.7\n" + b"x" * 100_000
    pages = {
        "detail": f"/admin/tallyfy-files/{org.pk}/{asset_id}/",
        "download": f"/admin/tallyfy-files/{org.pk}/{asset_id}/download/",
    }
    timings: dict[str, list[float]] = {f"{p}_{s}": [] for p in pages for s in ("on", "off")}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{api}/assets/{asset_id}", json={"data": asset})
        mock.get(base, body=body, content_type="application/pdf")  # the detail page's probe
        mock.get(f"{base}/dl", body=body, content_type="application/pdf")
        for run in range(RUNS + 2):
            for state in ("on", "off"):
                settings.EVIDENCE_ACCESS_LOG = state == "on"
                for page, url in pages.items():
                    started = time.perf_counter()
                    response = client.get(url)
                    if response.streaming:
                        b"".join(response.streaming_content)
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, (url, response.status_code)
                    if run >= 2:  # the first runs warm caches
                        timings[f"{page}_{state}"].append(elapsed)
    # What the access log adds to a page, alone: one access recorded, as the page records it.
    from evidence.models import EventAction
    from evidence.services import record_access

    settings.EVIDENCE_ACCESS_LOG = True
    timings["record"] = []
    for _ in range(RUNS * 3):
        started = time.perf_counter()
        record_access(
            action=EventAction.FILE_VIEWED,
            user=admin,
            organization_id=org.pk,
            org_id=org_id,
            asset_id=asset_id,
            address="192.0.2.1",
        )
        timings["record"].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def main() -> None:
    database_url, rows, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    configure(database_url)
    result: dict[str, Any]
    if what == "fill":
        sealed_fill(rows)
        result = {"rows": rows}
    elif what in ("verify", "export"):
        if what == "verify":
            result = timed_command("verify_deletion_log")
        else:
            result = timed_command("export_deletion_log", "--format", "csv")
    elif what == "seal":
        result = seal_cost()
    elif what == "access":
        result = access_cost()
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
