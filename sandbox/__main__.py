"""python -m sandbox: serve a local Tallyfy file API (loopback by default)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from sandbox.faults import FaultPlan, Faults
from sandbox.places import populate
from sandbox.seed import DEMO_ORG_ID, DEMO_TOKEN, seed
from sandbox.server import make_server
from sandbox.store import Store


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default=env("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("SANDBOX_PORT", "8001")))
    parser.add_argument(
        "--db",
        default=env("SANDBOX_DB", "var/sandbox.sqlite3"),
        help="SQLite file for the sandbox's state, or :memory:",
    )
    parser.add_argument("--latency-ms", type=int, default=int(env("SANDBOX_LATENCY_MS", "0")))
    parser.add_argument(
        "--rate-limit-next", type=int, default=int(env("SANDBOX_RATE_LIMIT_NEXT", "0"))
    )
    parser.add_argument("--retry-after", default=env("SANDBOX_RETRY_AFTER", "1"))
    parser.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=int(env("SANDBOX_RATE_LIMIT_PER_MINUTE", "0")),
        help="answer 429 beyond this many API requests a minute per organization (0: no limit)",
    )
    parser.add_argument(
        "--unavailable-share", type=float, default=float(env("SANDBOX_UNAVAILABLE_SHARE", "0"))
    )
    parser.add_argument(
        "--lose-delete", choices=["", "drop", "timeout"], default=env("SANDBOX_LOSE_DELETE", "")
    )
    parser.add_argument(
        "--broken-downloads",
        default=env("SANDBOX_BROKEN_DOWNLOADS", ""),
        help="comma-separated asset ids whose download answers 500",
    )
    parser.add_argument(
        "--demo-runs",
        type=int,
        default=int(env("SANDBOX_DEMO_RUNS", "300")),
        help="generated process runs (with about four files each) in a fresh demo organization",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.db != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(args.db)), exist_ok=True)
    store = Store(args.db)
    if store.is_empty():
        seed(store)
        populate(store, org_id=DEMO_ORG_ID, runs=args.demo_runs, files=args.demo_runs * 4)
    faults = Faults()
    faults.update(
        {
            "latency_ms": args.latency_ms,
            "rate_limit_next": args.rate_limit_next,
            "retry_after": args.retry_after,
            "rate_limit_per_minute": args.rate_limit_per_minute,
            "unavailable_share": args.unavailable_share,
            "lose_delete": args.lose_delete,
            "broken_downloads": args.broken_downloads,
        }
    )
    server = make_server(args.host, args.port, store=store, faults=FaultPlan(faults))
    print(
        f"Tallyfy sandbox at {server.base_url} (organization {DEMO_ORG_ID}, token {DEMO_TOKEN})",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
