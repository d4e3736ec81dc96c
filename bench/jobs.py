"""Benchmark: deletion jobs run by `run_worker` processes against the sandbox's rate limit.

`run()` starts the sandbox (a process of its own), migrates a PostgreSQL database of its own
(named uniquely, dropped afterwards) and runs this module as a process configured for it
(`python -m bench.jobs PORT`), which starts and kills the workers and reads the job's tables,
the sandbox's request log and its rate-limit counters; it prints its figures as JSON.

The ceiling is not assumed: the calls each phase makes are counted in the sandbox's request
log (the deletion phase's from the moment the job is confirmed), and the ceiling is RATE
divided by the calls a file needs in that phase. A preview reads each file once; a deletion
needs one call (the DELETE) for a file whose preview is younger than
JOBS_SNAPSHOT_MAX_AGE_SECONDS when its turn comes (its age read from the job's tables:
`previewed_at` to its log row's `started_at`, which follows the read of a file read again, so a
file within one call of the limit may count as needing its read), and two (a read and the
DELETE) for an older one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bench.harness import PYTHON, ROOT, Sandbox, manage, panel_env, peak_rss_kib, sandbox
from devtools.processes import RUN_WORKER

if TYPE_CHECKING:
    from jobs.models import DeletionJob
    from organizations.models import Organization

RATE = 600  # requests a minute: the sandbox's limit and the organization's rate in the panel
LATENCY_MS = 50
# The sandbox's request log keeps its last 10,000 requests (sandbox/server.py RequestLog).
REQUEST_LOG_LIMIT = 10_000
FILES = int(os.environ.get("BENCH_JOBS_FILES", "1000"))
BIG = int(os.environ.get("BENCH_JOBS_BIG", "10000"))
FLAT_MIB = 10  # the most a 10x bigger job may add to the worker's peak memory


@contextlib.contextmanager
def own_database(admin_url: str, prefix: str = "tallyfy_bench_jobs") -> Iterator[str]:
    """A PostgreSQL database of its own on the shared server, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(admin_url: str) -> list[dict[str, Any]]:
    with own_database(admin_url) as database_url, sandbox() as box:
        env = panel_env(
            database_url,
            sandbox_port=box.port,
            DJANGO_SETTINGS_MODULE="tallyfy_admin.settings",
            JOBS_APPROVAL_THRESHOLD=str(10 * BIG),
        )
        manage("migrate", "--no-input", env=env, check=True)
        result = subprocess.run(
            [PYTHON, "-m", "bench.jobs", str(box.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
            timeout=3 * 3600,
        )
    return rows(json.loads(result.stdout.strip().splitlines()[-1]))


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    setting = f"{FILES:,} files, sandbox {RATE}/min and +{LATENCY_MS} ms"
    max_age = data["snapshot_max_age"]
    out: list[dict[str, Any]] = []
    for workers in (1, 2):
        run_ = data[f"workers_{workers}"]
        needed, calls = run_["needed"], run_["calls"]
        per_file = needed["calls"] / run_["files"]  # the fewest calls a file, counted
        ceiling = RATE / per_file
        ratio = run_["per_minute"] / ceiling
        share = run_["limited"] / run_["requests"] if run_["requests"] else 0.0
        answered = run_["requests"] - run_["limited"]
        label = f"deletion job, {setting}, {workers} worker process{'es' if workers > 1 else ''}"
        out += [
            {
                "figure": f"{label}: files deleted a minute vs ceiling ({RATE} ÷ {per_file:.2f} "
                f"calls a file needed: {needed['fresh']} of {run_['files']} previews younger "
                f"than {max_age:.0f} s at their DELETE, the oldest {needed['oldest_age']:.0f} s)",
                "ours": f"{run_['per_minute']:.1f}/min ({run_['seconds']:.0f} s)",
                "reference": f"{ceiling:.0f}/min",
                "ratio": round(ratio, 3),
                "target": ">= 0.95",
                "met": ratio >= 0.95,
            },
            {
                "figure": f"{label}: calls a file in the deletion phase, counted in the "
                "sandbox's request log, vs the fewest needed",
                "ours": f"{answered / run_['files']:.3f} answered ({calls['delete']} DELETEs and "
                f"{calls['metadata']} metadata reads sent, {calls['other']} other)",
                "reference": f"{per_file:.3f} ({needed['stale']} metadata reads needed)",
                "ratio": round(answered / needed["calls"], 3),
                "target": "metadata reads only for previews too old",
                # A DELETE answered 429 leaves its row pending: the file is checked (read)
                # before its DELETE is sent again.
                "met": calls["metadata"] <= needed["stale"] + run_["limited"],
            },
            {
                "figure": f"{label}: requests answered 429 while deleting",
                "ours": f"{100 * share:.2f}% ({run_['limited']} of {run_['requests']})",
                "reference": "",
                "ratio": None,
                "target": "<= 1%",
                "met": share <= 0.01,
            },
        ]
    preview = data["workers_1"]["preview"]
    share = preview["limited"] / preview["requests"] if preview["requests"] else 0.0
    reads = preview["calls"]["metadata"]
    out.append(
        {
            "figure": f"deletion job, {setting}, 1 worker: preview files read a minute vs "
            f"ceiling ({RATE} ÷ 1 call a file)",
            "ours": f"{preview['per_minute']:.1f}/min ({preview['seconds']:.0f} s; "
            f"{preview['requests_per_minute']:.0f} requests/min from the first to the last; "
            f"{reads / FILES:.3f} calls a file counted: {reads} metadata reads sent, "
            f"{preview['calls']['other']} other), {100 * share:.2f}% answered 429",
            "reference": f"{RATE}/min",
            "ratio": round(preview["per_minute"] / RATE, 3),
            "target": "",
            "met": None,
        }
    )
    kill = data["killed"]
    out += [
        {
            "figure": f"deletion job, {setting}: worker SIGKILLed half-way, a new one started: "
            "files with exactly one final log row",
            "ours": f"{kill['one_final_row']} of {kill['files']}",
            "reference": "all",
            "ratio": None,
            "target": "all",
            "met": kill["one_final_row"] == kill["files"] and kill["unsettled"] == 0,
        },
        {
            "figure": "worker SIGKILLed half-way: files sent a second DELETE",
            "ours": f"{kill['second_deletes']} (DELETEs sent: {kill['deletes']}; metadata "
            f"reads: {kill['metadata_reads']}, the checks of the files in flight at the kill "
            "and of any whose DELETE was answered 429)",
            "reference": "0",
            "ratio": None,
            "target": "0",
            "met": kill["second_deletes"] == 0,
        },
        {
            "figure": "worker SIGKILLed half-way: time lost vs the uninterrupted run",
            "ours": f"{kill['lost_seconds']:.0f} s (longest pause in requests "
            f"{kill['longest_pause']:.0f} s)",
            "reference": f"{kill['seconds']:.0f} s in all; worker lease "
            f"{kill['worker_timeout']:.0f} s + sweep {kill['sweep']:.0f} s",
            "ratio": None,
            "target": "",
            "met": None,
        },
    ]
    memory = data["memory"]
    small, big = memory[str(FILES)], memory[str(BIG)]

    def phases(run_: dict[str, Any]) -> str:
        needed, calls = run_["needed"], run_["calls"]
        text = (
            f"{run_['seconds']:.0f} s; preview {run_['preview_seconds']:.0f} s, then "
            f"{calls['delete']} DELETEs and {calls['metadata']} metadata reads"
        )
        if needed["stale"]:
            return (
                f"{text}: the preview outlasted the snapshot age, {needed['stale']} previews "
                f"older than {max_age:.0f} s at their DELETE (the oldest "
                f"{needed['oldest_age']:.0f} s)"
            )
        return f"{text}, every preview younger than {max_age:.0f} s"

    out.append(
        {
            "figure": f"deletion job: worker peak RSS growth, {BIG:,} vs {FILES:,} files "
            "(sandbox unlimited, no latency)",
            "ours": f"{big['growth_kib'] / 1024:.1f} MiB ({phases(big)})",
            "reference": f"{small['growth_kib'] / 1024:.1f} MiB ({phases(small)})",
            "ratio": None,
            "target": f"flat: within {FLAT_MIB} MiB",
            "met": big["growth_kib"] - small["growth_kib"] <= FLAT_MIB * 1024,
        }
    )
    return out


# --- the measuring process, configured for the benchmark's database ---


def log(text: str) -> None:
    print(f"[jobs bench] {text}", file=sys.stderr, flush=True)


def start_worker(name: str) -> subprocess.Popen[bytes]:
    """A `run_worker` process, returned once it takes tasks."""
    (ROOT / "var").mkdir(exist_ok=True)
    path = ROOT / "var" / f"bench-jobs-{name}.log"
    worker = subprocess.Popen(
        [PYTHON, *RUN_WORKER],
        cwd=ROOT,
        env={**os.environ, "DJANGO_LOG_LEVEL": "INFO"},
        stdout=path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: b"Starting worker" in path.read_bytes(), 120)
    return worker


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(120)


def kind(request: dict[str, Any]) -> str:
    """What a request to the sandbox was: a file's metadata read, a DELETE, or other."""
    if request["method"] == "GET" and "/assets/" in request["path"]:
        return "metadata"
    return "delete" if request["method"] == "DELETE" else "other"


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.2)


class Bench:
    def __init__(self, box: Sandbox) -> None:
        from django.contrib.auth import get_user_model

        from organizations.models import Organization
        from organizations.services import organization_create

        self.box = box
        self.user = get_user_model().objects.create_superuser("bench-jobs", "", None)
        self.org: Organization = Organization.objects.filter(name="Sandbox").first() or (
            organization_create(
                name="Sandbox", org_id=box.org_id, api_base_url=box.base_url, token=box.token
            )
        )

    def limits(self, *, limited: bool) -> None:
        """The organization's rate in the panel and the sandbox's limit: both RATE, or both
        out of the way."""
        from throttling.models import RateLimit

        RateLimit.objects.update_or_create(
            organization=self.org, defaults={"per_minute": RATE if limited else 1_000_000}
        )
        self.box.control(
            "faults",
            {
                "rate_limit_per_minute": RATE if limited else 0,
                "latency_ms": LATENCY_MS if limited else 0,
            },
        )

    def add_files(self, count: int) -> list[str]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda n: self.box.add_file(10, f"job-{n}.bin"), range(count)))

    def job(self, count: int, *, measured_preview: bool) -> tuple[DeletionJob, dict[str, Any]]:
        """A previewed job of `count` new files (the workers must be running)."""
        from jobs.lines import files_from_text
        from jobs.models import JobState
        from jobs.services import job_create

        ids = self.add_files(count)
        self.limits(limited=measured_preview)
        before = self.box.control("rate-limit")
        began = time.time()
        started = time.monotonic()
        job = job_create(
            organization=self.org, user=self.user, wanted=files_from_text("\n".join(ids))
        )
        wait_until(lambda: self.state(job) == JobState.PREVIEWED, 3600)
        seconds = time.monotonic() - started
        after = self.box.control("rate-limit")
        job.refresh_from_db()
        self.limits(limited=True)
        entries = self.box.control("requests")
        sent = sorted(r["at"] for r in entries if r["at"] >= began and r["method"] == "GET")
        span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
        return job, {
            "seconds": seconds,
            "per_minute": count * 60 / seconds,
            # From its first request to its last: without the time a worker takes to start.
            "requests_per_minute": (len(sent) - 1) * 60 / span if span else 0.0,
            "calls": self.calls(entries, since=began),
            **self.counted(before, after),
        }

    @staticmethod
    def calls(entries: list[dict[str, Any]], *, since: float) -> dict[str, int] | None:
        """The requests the sandbox logged from `since` on, by kind; None when its log may
        have dropped some of them (it keeps the last REQUEST_LOG_LIMIT)."""
        if len(entries) >= REQUEST_LOG_LIMIT and entries[0]["at"] >= since:
            return None
        counts = Counter(kind(r) for r in entries if r["at"] >= since)
        return {k: counts[k] for k in ("metadata", "delete", "other")}

    def journal_calls(self, ids: list[str]) -> dict[str, int]:
        """The requests the sandbox's per-file journal holds for these files, by kind."""
        read = self.box.control("journal", {"org_id": self.box.org_id, "asset_ids": ids})
        files = read["files"].values()
        if read["forgotten"] or any(f["dropped"] for f in files):
            raise RuntimeError("the sandbox's journal dropped requests")
        counts = Counter(e["kind"] for f in files for e in f["entries"])
        return {
            "metadata": counts["metadata"],
            "delete": counts["delete"],
            "other": sum(n for k, n in counts.items() if k not in ("metadata", "delete")),
        }

    @staticmethod
    def needed(job: DeletionJob) -> dict[str, Any]:
        """The fewest calls the job's deletions needed: one a file whose preview was younger
        than JOBS_SNAPSHOT_MAX_AGE_SECONDS when its log row was written, two (a read and the
        DELETE) for an older one."""
        from jobs.conf import conf

        max_age = conf.JOBS_SNAPSHOT_MAX_AGE_SECONDS
        ages = [
            (began - previewed).total_seconds()
            for previewed, began in job.files.filter(deletion__isnull=False).values_list(
                "previewed_at", "deletion__started_at"
            )
        ]
        fresh = sum(1 for age in ages if max_age > 0 and age < max_age)
        stale = len(ages) - fresh
        return {
            "fresh": fresh,
            "stale": stale,
            "calls": fresh + 2 * stale,
            "oldest_age": max(ages, default=0.0),
        }

    @staticmethod
    def counted(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
        return {
            "requests": after["requests"] - before["requests"],
            "limited": after["limited"] - before["limited"],
        }

    @staticmethod
    def state(job: DeletionJob) -> str:
        from jobs.models import DeletionJob

        return DeletionJob.objects.values_list("state", flat=True).get(pk=job.pk)

    def confirm(self, job: DeletionJob) -> int:
        from jobs.models import PreviewState
        from jobs.services import job_confirm

        found = job.files.filter(preview=PreviewState.FOUND).count()
        job_confirm(job=job, user=self.user, reason="benchmark", typed_count=found)
        return found

    def finished(self, job: DeletionJob) -> None:
        from jobs.models import JobState

        wait_until(lambda: self.state(job) == JobState.FINISHED, 3600)
        job.refresh_from_db()

    def workers(self, count: int) -> dict[str, Any]:
        from jobs.services import job_wake

        self.box.control("reset", {})
        workers = [start_worker(f"{count}-{n}") for n in range(count)]
        try:
            job, preview = self.job(FILES, measured_preview=count == 1)
            log(f"{count} worker(s): preview {preview}")
            before = self.box.control("rate-limit")
            confirmed = time.time()
            found = self.confirm(job)
            for _ in range(count - 1):
                job_wake(job=job)  # one wake-up a worker, as more tasks would give
            self.finished(job)
            after = self.box.control("rate-limit")
        finally:
            for worker in workers:
                stop(worker)
        calls = self.calls(self.box.control("requests"), since=confirmed)
        if calls is None:
            raise RuntimeError("the sandbox's request log dropped some of the deletion phase")
        seconds = (job.finished_at - job.started_at).total_seconds()
        result = {
            "files": found,
            "seconds": seconds,
            "per_minute": found * 60 / seconds,
            "preview": preview,
            "calls": calls,
            "needed": self.needed(job),
            **self.counted(before, after),
        }
        log(f"{count} worker(s): {result}")
        return result

    def killed(self, uninterrupted_per_minute: float) -> dict[str, Any]:
        from files.models import DeletionState, FileDeletion
        from jobs.conf import conf
        from jobs.models import FileState

        self.box.control("reset", {})
        first = start_worker("killed")
        workers = [first]
        try:
            job, _ = self.job(FILES, measured_preview=False)
            self.box.control("reset", {})  # the request log from here: the deletions only
            self.limits(limited=True)
            found = self.confirm(job)
            wait_until(lambda: job.files.filter(state=FileState.DONE).count() >= found // 2, 3600)
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            killed_at = time.time()
            log(f"killed the worker at {job.files.filter(state=FileState.DONE).count()} files")
            workers.append(start_worker("after-kill"))
            self.finished(job)
        finally:
            for worker in workers:
                stop(worker)
        seconds = (job.finished_at - job.started_at).total_seconds()
        rows = Counter(
            FileDeletion.objects.filter(job_id=job.pk).values_list("asset_id", flat=True)
        )
        final = Counter(
            FileDeletion.objects.filter(job_id=job.pk)
            .exclude(state__in=[DeletionState.PENDING, DeletionState.UNKNOWN])
            .values_list("asset_id", flat=True)
        )
        asked = list(job.files.values_list("asset_id", flat=True))
        sent = self.box.control("requests")
        deletes = Counter(r["path"].rsplit("/", 1)[-1] for r in sent if r["method"] == "DELETE")
        times = sorted(r["at"] for r in sent)
        pauses = [b - a for a, b in itertools.pairwise(times)]
        result = {
            "files": found,
            "seconds": seconds,
            "one_final_row": sum(1 for a in asked if rows[a] == 1 and final[a] == 1),
            "unsettled": sum(1 for a in asked if rows[a] != final[a]),
            "deletes": sum(deletes.values()),
            "metadata_reads": sum(1 for r in sent if kind(r) == "metadata"),
            "second_deletes": sum(1 for n in deletes.values() if n > 1),
            "lost_seconds": seconds - found * 60 / uninterrupted_per_minute,
            "longest_pause": max(pauses, default=0.0),
            "resumed_after": min((t for t in times if t > killed_at), default=killed_at)
            - killed_at,
            "worker_timeout": conf.JOBS_WORKER_TIMEOUT_SECONDS,
            "sweep": conf.JOBS_SWEEP_SECONDS,
            "states": dict(
                Counter(FileDeletion.objects.filter(job_id=job.pk).values_list("state", flat=True))
            ),
        }
        log(f"killed: {result}")
        return result

    def memory(self, count: int) -> dict[str, Any]:
        self.box.control("reset", {})
        self.limits(limited=False)
        worker = start_worker(f"memory-{count}")
        try:
            time.sleep(5)  # started and idle: its baseline
            baseline = peak_rss_kib(worker.pid)
            started = time.monotonic()
            job, preview = self.job(count, measured_preview=False)
            # The journal from here (bounded by files, not requests): the deletions only.
            self.box.control("reset", {})
            self.limits(limited=False)
            self.confirm(job)
            self.finished(job)
            seconds = time.monotonic() - started
            peak = peak_rss_kib(worker.pid)
        finally:
            stop(worker)
            self.limits(limited=True)
        result = {"baseline_kib": baseline, "peak_kib": peak, "growth_kib": peak - baseline}
        result["seconds"] = seconds
        result["preview_seconds"] = preview["seconds"]
        result["calls"] = self.journal_calls(list(job.files.values_list("asset_id", flat=True)))
        result["needed"] = self.needed(job)
        log(f"memory, {count} files: {result}")
        return result


def measure(port: int) -> dict[str, Any]:
    import django

    django.setup()
    box = Sandbox(process=None, port=port)  # type: ignore[arg-type]
    bench = Bench(box)
    one = bench.workers(1)
    from jobs.conf import conf

    return {
        "snapshot_max_age": conf.JOBS_SNAPSHOT_MAX_AGE_SECONDS,
        "workers_1": one,
        "workers_2": bench.workers(2),
        "killed": bench.killed(one["per_minute"]),
        "memory": {str(n): bench.memory(n) for n in (FILES, BIG)},
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
