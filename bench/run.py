"""make bench: every benchmark, one table, and a JSON record under bench/results/.

Comparisons are measured in the same run and given as ratios: absolute times on a shared
machine are noisy. PostgreSQL is used where it answers (the production database); the
deletion-log benchmark also runs on SQLite.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import deletion, downloads, load
from bench.harness import PYTHON, ROOT, panel, sandbox

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
RESULTS = ROOT / "bench" / "results"


def postgres_url(name: str) -> str | None:
    """A database of its own for the benchmarks, created on first use, or None."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL unavailable ({exc}); running on SQLite only.", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def log_scale(database_url: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [PYTHON, "-m", "bench.log_scale", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ("figure", "ours", "reference", "ratio", "target", "met")
    cells = [
        [str(row.get(h, "")) if row.get(h) is not None else "" for h in headers] for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for c in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    pg = postgres_url("tallyfy_bench")
    panel_db = pg or f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
    rows: list[dict[str, Any]] = []
    with sandbox() as box, panel(box, panel_db) as site:
        rows += downloads.run(box, site)
        rows += deletion.run(box, site)
        rows += load.run(box, site)
    rows += log_scale(f"sqlite:///{ROOT / 'var' / 'bench-log.sqlite3'}")
    pg_log = postgres_url("tallyfy_bench_log")
    if pg_log:
        rows += log_scale(pg_log)
    print_table(rows)
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
        "panel_database": "postgresql" if pg else "sqlite",
        "rows": rows,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nWritten to {RESULTS / (stamp + '.json')}")


if __name__ == "__main__":
    main()
