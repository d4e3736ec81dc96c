"""A scan of a generated organization (default 2,000 runs, 10,000 files) against the sandbox.

    python -m bench.catalog_scan [RUNS FILES LATENCY_MS]
prints, as one JSON object: calls made per 1,000 files (the cost Tallyfy's rate limit turns
into time), files indexed per minute as measured, and the ceiling at 600 requests a minute
(600 / calls per file). Until the shared throttle exists the scan is not paced, so the
measured rate is bounded by the latency alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench.log_scale import configure

RATE_LIMIT = 600  # requests a minute


def main() -> None:
    runs, files, latency_ms = (int(arg) for arg in (sys.argv[1:] or ["2000", "10000", "50"]))
    database = Path(tempfile.mkdtemp()) / "scan.sqlite3"
    configure(f"sqlite:///{database}")
    from django.conf import settings

    from catalog import services
    from catalog.models import IndexedFile
    from files.organizations import organization_create
    from sandbox.faults import FaultPlan, Faults
    from sandbox.places import generate_organization
    from sandbox.server import make_server, start_in_thread
    from sandbox.store import Store

    store = Store(":memory:")
    org_id, token = generate_organization(store, runs=runs, files=files)
    server = make_server(store=store, faults=FaultPlan(Faults(latency_ms=latency_ms)))
    start_in_thread(server)
    settings.TALLYFY_INSECURE_API_HOSTS = [server.base_url.split("/")[2]]
    organization = organization_create(
        name="Generated", org_id=org_id, api_base_url=server.base_url, token=token
    )
    started = time.monotonic()
    scan = services.scan_run(scan_id=services.scan_start(organization=organization).pk)
    minutes = (time.monotonic() - started) / 60
    found = IndexedFile.objects.filter(is_link=False).count()
    server.shutdown()
    per_file = scan.calls_made / found
    print(
        json.dumps(
            {
                "files": found,
                "runs": scan.runs_read,
                "calls": scan.calls_made,
                "calls per 1,000 files": round(1000 * per_file, 1),
                "files per minute (measured)": round(found / minutes),
                "files per minute at 600 req/min (ceiling)": round(RATE_LIMIT / per_file),
                "latency_ms": latency_ms,
            }
        )
    )


if __name__ == "__main__":
    main()
