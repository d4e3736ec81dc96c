"""make bench: every benchmark, one table, and a JSON record under bench/results/.

Comparisons are measured in the same run and given as ratios: absolute times on a shared
machine are noisy. PostgreSQL is used where it answers (the production database); the
deletion-log benchmark also runs on SQLite.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import catalog_scan as catalog_scan_bench
from bench import chaos, deletion, downloads, erasure, jobs, load
from bench.harness import ROOT, panel, python_json, sandbox

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


LOG_SIZES = (10_000, 1_000_000)
LOG_TARGET_MS = 200


def log_pages(database_url: str, rows: int) -> dict[str, float]:
    return python_json("-m", "bench.log_scale", database_url, str(rows), timeout=3600)


def log_scale(vendor: str, database_url_for: Callable[[int], str | None]) -> list[dict[str, Any]]:
    """Each size in a database of its own, filled once and kept between runs."""
    urls = {rows: database_url_for(rows) for rows in LOG_SIZES}
    if None in urls.values():
        return []
    small, large = (log_pages(urls[rows], rows) for rows in LOG_SIZES)  # type: ignore[arg-type]
    return at_scale(f"deletion log ({vendor})", "rows", small=small, large=large)


def at_scale(
    what: str, unit: str, *, small: dict[str, float], large: dict[str, float]
) -> list[dict[str, Any]]:
    """A row a page: its time at 1,000,000 against 10,000, under the pages' target."""
    return [
        {
            "figure": f"{what}, {page}: 1,000,000 vs 10,000 {unit}",
            "ours": f"{large[page]:.1f} ms",
            "reference": f"{small[page]:.1f} ms",
            "ratio": round(large[page] / small[page], 2),
            "target": f"< {LOG_TARGET_MS} ms and ratio <= 2",
            "met": large[page] < LOG_TARGET_MS and large[page] / small[page] <= 2,
        }
        for page in large
    ]


CATALOG_SIZES = (10_000, 1_000_000)


def catalog_scale(
    vendor: str, database_url_for: Callable[[int], str | None]
) -> list[dict[str, Any]]:
    """The file index's pages at 10,000 and 1,000,000 files, each size in its own database."""
    urls = {rows: database_url_for(rows) for rows in CATALOG_SIZES}
    if None in urls.values():
        return []
    small, large = (
        python_json("-m", "bench.catalog_scale", urls[rows], str(rows), timeout=3600)  # type: ignore[arg-type]
        for rows in CATALOG_SIZES
    )
    return at_scale(f"file index ({vendor})", "files", small=small, large=large)


def catalog_scan(admin_url: str | None) -> list[dict[str, Any]]:
    """A scan of 2,000 runs and 10,000 files, paced by the organization's rate limit (600 a
    minute) against the sandbox enforcing 600 a minute at 50 ms a call: on a PostgreSQL
    database of its own (dropped afterwards), or on SQLite when PostgreSQL does not answer."""
    args = [str(n) for n in (catalog_scan_bench.RUNS, catalog_scan_bench.FILES)]
    args += [str(n) for n in (catalog_scan_bench.LATENCY_MS, catalog_scan_bench.RATE)]
    if admin_url is None:
        database = f"sqlite:///{ROOT / 'var' / 'bench-scan.sqlite3'}"
        (ROOT / "var" / "bench-scan.sqlite3").unlink(missing_ok=True)
        result = python_json("-m", "bench.catalog_scan", database, *args, timeout=3600)
    else:
        with jobs.own_database(admin_url, "tallyfy_bench_scan") as database:
            result = python_json("-m", "bench.catalog_scan", database, *args, timeout=3600)
    return catalog_scan_bench.rows(result, vendor="sqlite" if admin_url is None else "postgresql")


def erasure_bench(admin_url: str | None) -> list[dict[str, Any]]:
    """Issue 21's headline: one guest of the scan benchmark's generated organization erased
    from an empty index, against the minimum: on a PostgreSQL database of its own (dropped
    afterwards), or on SQLite when PostgreSQL does not answer (where the scan's index writes,
    not the rate, set the pace)."""
    args = [str(n) for n in (catalog_scan_bench.RUNS, catalog_scan_bench.FILES)]
    args += [str(n) for n in (catalog_scan_bench.LATENCY_MS, catalog_scan_bench.RATE)]
    if admin_url is None:
        path = ROOT / "var" / "bench-erasure.sqlite3"
        path.unlink(missing_ok=True)
        result = python_json("-m", "bench.erasure", f"sqlite:///{path}", *args, timeout=3600)
    else:
        with jobs.own_database(admin_url, "tallyfy_bench_erasure") as database:
            result = python_json("-m", "bench.erasure", database, *args, timeout=3600)
    return erasure.rows(result, vendor="sqlite" if admin_url is None else "postgresql")


def sqlite_log_url(rows: int) -> str:
    return f"sqlite:///{ROOT / 'var' / f'bench-log-{rows}.sqlite3'}"


def postgres_log_url(rows: int) -> str | None:
    return postgres_url(f"tallyfy_bench_log_{rows}")


# BENCH_EVIDENCE_ROWS: the largest log verified and exported (1,000,000 takes long on a
# shared machine; the smaller size shows whether memory stays flat as the log grows).
EVIDENCE_SIZES = (10_000, int(os.environ.get("BENCH_EVIDENCE_ROWS", "100000")))


def sqlite_evidence_url(rows: int) -> str:
    return f"sqlite:///{ROOT / 'var' / f'bench-evidence-{rows}.sqlite3'}"


def evidence(vendor: str, database_url_for: Callable[[int], str | None]) -> list[dict[str, Any]]:
    """Sealing a deletion, the access log on a file's pages, and verify and export at size."""
    urls = {rows: database_url_for(rows) for rows in (0, *EVIDENCE_SIZES)}
    if None in urls.values():
        return []

    def run(rows: int, what: str) -> dict[str, float]:
        return python_json("-m", "bench.evidence", urls[rows], str(rows), what, timeout=7200)  # type: ignore[arg-type]

    seal, access = run(0, "seal"), run(0, "access")
    found = [
        {
            "figure": f"evidence ({vendor}): settling a deletion, sealed vs not",
            "ours": f"{seal['settle_sealed_ms']:.2f} ms",
            "reference": f"{seal['settle_plain_ms']:.2f} ms",
            "ratio": round(seal["settle_sealed_ms"] / seal["settle_plain_ms"], 2),
            "target": "sealing adds < 10 ms a deletion",
            "met": seal["settle_sealed_ms"] - seal["settle_plain_ms"] < 10,
        }
    ]
    for page in ("detail", "download"):
        on, off = access[f"{page}_on"], access[f"{page}_off"]
        found.append(
            {
                "figure": f"evidence ({vendor}): file {page}, access log on vs off",
                "ours": f"{on:.1f} ms",
                "reference": f"{off:.1f} ms",
                "ratio": round(on / off, 3),
                "target": "adds < 20 ms",
                "met": on - off < 20,
            }
        )
    found.append(
        {
            "figure": f"evidence ({vendor}): recording one file access",
            "ours": f"{access['record']:.2f} ms",
            "reference": "",
            "ratio": None,
            "target": "< 5 ms",
            "met": access["record"] < 5,
        }
    )
    small, large = EVIDENCE_SIZES
    for rows in EVIDENCE_SIZES:
        run(rows, "fill")  # its own process: the measurements' peak memory is theirs alone
    for what, name in (("verify", "verify_deletion_log"), ("export", "CSV export")):
        at_small, at_large = run(small, what), run(large, what)
        found.append(
            {
                "figure": f"evidence ({vendor}): {name}, {large:,} rows vs {small:,}",
                "ours": f"{at_large['seconds']:.1f} s, {at_large['peak_mib']:.0f} MiB",
                "reference": f"{at_small['seconds']:.1f} s, {at_small['peak_mib']:.0f} MiB",
                "ratio": round(at_large["peak_mib"] / at_small["peak_mib"], 2),
                "target": "peak memory flat (ratio < 1.5)",
                "met": at_large["peak_mib"] / at_small["peak_mib"] < 1.5,
            }
        )
    return found


def guarded(name: str, benchmark: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A benchmark's rows, or one row saying how it failed: the others still report."""
    try:
        return benchmark()
    except Exception as exc:
        detail = getattr(exc, "stderr", "") or ""
        return [
            {
                "figure": name,
                "ours": f"failed: {exc!r} {detail[-300:]}",
                "reference": "",
                "ratio": None,
                "target": "",
                "met": False,
            }
        ]


def _needs_postgresql() -> list[dict[str, Any]]:
    raise RuntimeError("this benchmark runs its workers on PostgreSQL, which did not answer")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | ours | reference | ratio | target | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = "" if row.get("ratio") is None else str(row["ratio"])
        met = {True: "yes", False: "**no**", None: ""}[row.get("met")]
        lines.append(
            f"| {row['figure']} | {row['ours']} | {row['reference']} | {ratio} | "
            f"{row['target']} | {met} |"
        )
    return "\n".join(lines) + "\n"


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


PANEL_BENCHMARKS = {"downloads": downloads, "deletion": deletion, "load": load}
ALL = (*PANEL_BENCHMARKS, "log", "catalog", "scan", "erasure", "jobs", "chaos", "evidence")


def main(selected: list[str]) -> None:
    unknown = set(selected) - set(ALL)
    if unknown:
        sys.exit(f"Unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(ALL)}.")
    chosen = selected or list(ALL)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (ROOT / "var").mkdir(exist_ok=True)  # the benchmarks' SQLite databases
    # BENCH_DATABASE: a name of its own when two checkouts benchmark on one server at once.
    bench_database = os.environ.get("BENCH_DATABASE", "tallyfy_bench")
    pg = postgres_url(bench_database)
    panel_db = pg or f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
    rows: list[dict[str, Any]] = []
    on_panel = [name for name in PANEL_BENCHMARKS if name in chosen]
    if on_panel:
        with sandbox() as box, panel(box, panel_db) as site:
            for name in on_panel:
                benchmark = PANEL_BENCHMARKS[name]
                rows += guarded(name, lambda b=benchmark: b.run(box, site))
    if "log" in chosen:
        rows += guarded("log, sqlite", lambda: log_scale("sqlite", sqlite_log_url))
        rows += guarded("log, postgresql", lambda: log_scale("postgresql", postgres_log_url))
    if "catalog" in chosen:
        rows += guarded(
            "file index, sqlite",
            lambda: catalog_scale(
                "sqlite", lambda n: f"sqlite:///{ROOT / 'var' / f'bench-catalog-{n}.sqlite3'}"
            ),
        )
        rows += guarded(
            "file index, postgresql",
            lambda: catalog_scale(
                "postgresql", lambda n: postgres_url(f"tallyfy_bench_catalog_{n}")
            ),
        )
    if "scan" in chosen:
        rows += guarded("file index scan", lambda: catalog_scan(PG_ADMIN_URL if pg else None))
    if "erasure" in chosen:
        rows += guarded("erasure", lambda: erasure_bench(PG_ADMIN_URL if pg else None))
    if "jobs" in chosen:
        if pg is None:
            rows += guarded("jobs", _needs_postgresql)
        else:
            rows += guarded("jobs", lambda: jobs.run(PG_ADMIN_URL))
    if "chaos" in chosen:
        if pg is None:
            rows += guarded("chaos", _needs_postgresql)
        else:
            rows += guarded("chaos", lambda: chaos.run(PG_ADMIN_URL))
    # BENCH_EVIDENCE_ON=sqlite or postgresql: the evidence benchmark on one database only.
    evidence_on = os.environ.get("BENCH_EVIDENCE_ON", "sqlite postgresql").split()
    if "evidence" in chosen and "sqlite" in evidence_on:
        rows += guarded("evidence, sqlite", lambda: evidence("sqlite", sqlite_evidence_url))
    if "evidence" in chosen and "postgresql" in evidence_on:
        rows += guarded(
            "evidence, postgresql",
            lambda: evidence(
                "postgresql", lambda n: postgres_url(f"{bench_database}_evidence_{n}")
            ),
        )
    print_table(rows)
    record = result_record(rows, panel_database="postgresql" if pg else "sqlite")
    stamp = result_write(record)
    if not selected:  # only a full run stands for "the latest"
        (RESULTS / "latest.json").write_text(json.dumps(record, indent=2) + "\n")
        (RESULTS / "latest.md").write_text(markdown_table(rows))
    print(f"\nWritten to {RESULTS / (stamp + '.json')}")


def result_record(rows: list[dict[str, Any]], **about: str) -> dict[str, Any]:
    """A run's rows with the machine they were measured on and `about` the run."""
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # other work on a shared machine slows what is timed (memory is not affected)
            "load_average_at_end": [round(n, 1) for n in os.getloadavg()],
        },
        # BENCH_NOTE: how the run was made, when that matters to reading it
        **({"note": os.environ["BENCH_NOTE"]} if os.environ.get("BENCH_NOTE") else {}),
        **about,
        "rows": rows,
    }


def result_write(record: dict[str, Any]) -> str:
    """`record` as bench/results/STAMP.json; the stamp."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")
    return stamp


if __name__ == "__main__":
    main(sys.argv[1:])
