"""The chaos driver: deletion jobs run by real `run_worker` processes over the sandbox while
the sandbox answers 5xx, 429, stalls past the client's timeout and loses DELETE answers, a
worker is SIGKILLed and restarted, the workers' database connections are cut (PostgreSQL),
jobs are paused, resumed and cancelled at random, and one worker's clock runs ahead.

Then the faults stop, the workers are left to finish, are stopped, `reconcile_deletions` runs,
and the invariants (tests/chaos/invariants.py) are checked on a snapshot.

Every random choice comes from one `random.Random(seed)`: the same seed gives the same plan
(which jobs, which files, which fault and action when), though not the same interleaving of
the processes. The caller must be configured for the workers' database, and the sandbox must
be allowed as an insecure API host.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.core.management import call_command
from django.db import connection

from devtools.processes import ROOT, RUN_WORKER
from organizations.models import Organization
from tests.chaos import invariants
from tests.chaos import jobs_adapter as jobs

WORKER_COMMAND = [sys.executable, *RUN_WORKER]
CALM = {
    "unavailable_share": 0.0,
    "rate_limit_share": 0.0,
    "rate_limit_next": 0,
    "retry_after": "1",
    "stall_share": 0.0,
    "stall_ms": 0,
    "lose_delete": "",
    "lose_delete_next": 0,
    "latency_ms": 0,
}


class SandboxLink(Protocol):
    org_id: str
    base_url: str

    def control(self, action: str, payload: dict[str, Any] | None = None) -> Any: ...


@dataclass
class ChaosConfig:
    seed: int
    duration: float = 30.0  # seconds of chaos, then the faults stop
    workers: int = 3
    jobs: int = 6
    files: int = 300
    # The last worker's clock is this far off (0: none), ahead or behind as the seed decides:
    # ahead, it takes every other worker for dead (and, through the rate book, which uses the
    # workers' clocks, holds them back); behind, every other worker takes it for dead.
    skew_seconds: float = 8.0
    kills: bool = True
    db_cuts: bool = True  # PostgreSQL only
    faults: bool = True
    pauses: bool = True
    settle_timeout: float = 60.0  # the longest wait for the workers to become idle
    read_timeout: float = 1.0  # the workers' read timeout; stalls and lost answers outlast it
    heartbeat: float = 0.5
    worker_timeout: float = 3.0
    sweep: float = 1.0
    retry_backoff: float = 0.5  # JOBS_RETRY_BACKOFF_SECONDS: a failed file's first wait
    log_dir: Path = field(default_factory=lambda: ROOT / "var" / "chaos")


@dataclass
class ChaosReport:
    seed: int
    config: dict[str, Any]
    events: Counter[str] = field(default_factory=Counter)
    injected: dict[str, Any] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    job_states: dict[int, str] = field(default_factory=dict)
    log_states: dict[str, int] = field(default_factory=dict)
    files: int = 0
    deleted_in_tallyfy: int = 0
    idle: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    rate_book_ahead: float = 0.0
    log_dir: str = ""
    timeline: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(self.violations.values())

    def failed_invariants(self) -> list[str]:
        return [number for number, found in self.violations.items() if found]

    def summary(self) -> str:
        failed = self.failed_invariants()
        verdict = "all invariants hold" if not failed else f"FAILED invariants {failed}"
        return (
            f"chaos seed {self.seed}: {verdict}; {self.files} files in {len(self.job_states)} "
            f"jobs, {self.deleted_in_tallyfy} deleted in Tallyfy; jobs {dict(self.job_states)}; "
            f"log {self.log_states}; events {dict(self.events)}; sandbox {self.injected}; "
            f"idle: {self.idle}; seconds {self.seconds}; logs in {self.log_dir}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "passed": self.passed,
            "failed_invariants": self.failed_invariants(),
            "violations": {k: v[:50] for k, v in self.violations.items()},
            "violation_counts": {k: len(v) for k, v in self.violations.items()},
            "events": dict(self.events),
            "sandbox_faults": self.injected,
            "jobs": {str(k): v for k, v in self.job_states.items()},
            "log_states": self.log_states,
            "files": self.files,
            "deleted_in_tallyfy": self.deleted_in_tallyfy,
            "idle": self.idle,
            "seconds": self.seconds,
            "rate_book_ahead_seconds": round(self.rate_book_ahead, 1),
            "config": self.config,
        }


class WorkerSlot:
    """One `run_worker` process, restarted in place after a kill; the same clock each time."""

    def __init__(self, index: int, env: dict[str, str], log_dir: Path) -> None:
        self.index = index
        self.env = env
        self.log = log_dir / f"worker-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n=== start {self.starts} ===\n".encode())
            self.process = subprocess.Popen(
                WORKER_COMMAND, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self, timeout: float = 60) -> bool:
        """SIGTERM (the worker finishes its task first); False when it had to be killed."""
        if not self.alive:
            return True
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        return True


def worker_environment(
    config: ChaosConfig, sandbox: SandboxLink, base: dict[str, str]
) -> dict[str, str]:
    host = sandbox.base_url.split("/")[2]
    return {
        **base,
        **jobs.worker_settings(
            heartbeat=config.heartbeat,
            timeout=config.worker_timeout,
            sweep=config.sweep,
            retry_backoff=config.retry_backoff,
        ),
        "TALLYFY_INSECURE_API_HOSTS": host,
        "TALLYFY_READ_TIMEOUT": str(config.read_timeout),
        "TALLYFY_CONNECT_TIMEOUT": "2",
        "TALLYFY_RETRY_AFTER_CAP": "1",
        "TALLYFY_RETRY_BACKOFF": "0.05",
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def weather(rng: random.Random, config: ChaosConfig) -> tuple[str, dict[str, Any]]:
    """A random mix of the sandbox's faults for the next few seconds."""
    late = int(config.read_timeout * 1000 * 1.5)
    mixes: dict[str, dict[str, Any]] = {
        "calm": {},
        "5xx": {"unavailable_share": rng.uniform(0.05, 0.3)},
        "429": {"rate_limit_share": rng.uniform(0.02, 0.1), "retry_after": "1"},
        # more 429s in a row than the client retries: the call gives up rate limited
        "429 burst": {"rate_limit_next": rng.randint(8, 30), "retry_after": "0"},
        "stalls": {"stall_share": rng.uniform(0.05, 0.2), "stall_ms": late},
        "lost deletes": {"lose_delete": "drop", "lose_delete_next": rng.randint(2, 8)},
        "late deletes": {
            "lose_delete": "timeout",
            "lose_delete_next": rng.randint(2, 8),
            "lose_delete_delay": late / 1000,
        },
        "storm": {
            "unavailable_share": 0.1,
            "rate_limit_share": 0.03,
            "stall_share": 0.05,
            "stall_ms": late,
            "lose_delete": "drop",
            "lose_delete_next": rng.randint(2, 6),
        },
    }
    name = rng.choice(sorted(mixes))
    return name, {**CALM, **mixes[name]}


def db_cut() -> int:
    """Terminate every other backend on this database (the workers'); how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


class ChaosRun:
    def __init__(
        self,
        config: ChaosConfig,
        *,
        sandbox: SandboxLink,
        organization: Organization,
        creator: AbstractBaseUser,
        approver: AbstractBaseUser,
        base_env: dict[str, str],
        say: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.sandbox = sandbox
        self.organization = organization
        self.creator = creator
        self.approver = approver
        self.rng = random.Random(config.seed)  # noqa: S311 (a replayable plan)
        self.say = say
        self.started = time.monotonic()
        self.report = ChaosReport(seed=config.seed, config=_plain(config))
        config.log_dir.mkdir(parents=True, exist_ok=True)
        self.report.log_dir = str(config.log_dir)
        env = worker_environment(config, sandbox, base_env)
        self.slots = [WorkerSlot(n, env, config.log_dir) for n in range(config.workers)]
        self.skew = config.skew_seconds * self.rng.choice((1, -1))
        self.report.config["skew_applied"] = self.skew
        if self.skew and config.workers > 1:
            skewed = self.slots[-1]
            skewed.env = {**env, "TEST_CLOCK_SKEW_SECONDS": str(self.skew)}
        self.job_ids: list[int] = []
        self.files: list[str] = []
        self.due: list[tuple[float, str, Any]] = []  # (when, action, argument)
        self.decided: dict[int, float] = {}  # job id -> when the driver acts on its state

    # --- the plan ---

    def at(self, when: float, action: str, argument: Any = None) -> None:
        self.due.append((when, action, argument))

    def now(self) -> float:
        return time.monotonic() - self.started

    def note(self, event: str, detail: str = "") -> None:
        self.report.events[event] += 1
        self.report.timeline.append(f"{self.now():6.1f}s {event} {detail}".rstrip())

    def plan(self) -> list[list[str]]:
        """The jobs' files (new files in the sandbox, disjoint, a few ids it never had) and
        the schedule of everything that happens during the chaos."""
        config, rng = self.config, self.rng
        sizes = _split(config.files, config.jobs, rng)
        lists = []
        for size in sizes:
            ids = [self._add_file(f"chaos-{len(self.files) + n}.txt") for n in range(size)]
            self.files += ids
            missing = [f"{rng.getrandbits(128):032x}" for _ in range(rng.randint(0, 2))]
            lists.append(ids + missing)
        for n in range(config.jobs):
            created = rng.uniform(0, config.duration * 0.5) if n else 0.0
            self.at(created, "create", n)
            if config.pauses and rng.random() < 0.35:
                # while its preview may still run, or at any time later
                early = rng.random() < 0.3
                delay = rng.uniform(0.1, 1.5) if early else rng.uniform(2, config.duration)
                self.at(min(created + delay, config.duration), "cancel", n)
        if config.faults:
            t = 0.0
            while t < config.duration:
                self.at(t, "weather")
                t += rng.uniform(2, 5)
        if config.kills:
            t = rng.uniform(3, 8)
            while t < config.duration:
                self.at(t, "kill", rng.randrange(config.workers))
                t += rng.uniform(5, 12)
        if config.db_cuts and connection.vendor == "postgresql":
            t = rng.uniform(4, 10)
            while t < config.duration:
                self.at(t, "cut")
                t += rng.uniform(6, 14)
        if config.pauses:
            t = rng.uniform(2, 4)
            while t < config.duration:
                self.at(t, "pause")
                t += rng.uniform(1.5, 4)
        self.due.sort(key=lambda item: item[0])
        return lists

    def _add_file(self, name: str) -> str:
        spec = {"org_id": self.sandbox.org_id, "filename": name, "content": "chaos"}
        return self.sandbox.control("files", spec)["id"]

    # --- running it ---

    def run(self) -> ChaosReport:
        seconds = self.report.seconds
        try:
            lists = self.plan()
            self.report.files = len(self.files)
            self.sandbox.control("faults", CALM)
            for slot in self.slots:
                slot.start()
            self.note("workers started", str(len(self.slots)))
            chaos_from = time.monotonic()
            self.chaos(lists)
            seconds["chaos"] = round(time.monotonic() - chaos_from, 1)
            settle_from = time.monotonic()
            self.sandbox.control("faults", CALM)
            self.note("faults off")
            self.report.idle = self.settle()
            seconds["settle"] = round(time.monotonic() - settle_from, 1)
            live = jobs.live_worker_ids(timeout=self.config.worker_timeout)
        finally:
            stopped = [slot.stop() for slot in self.slots]
        if not all(stopped):
            self.note("worker killed at stop", "it did not stop within 60 s of SIGTERM")
        self.report.rate_book_ahead = jobs.rate_book_ahead(organization=self.organization)
        call_command("reconcile_deletions", older_than=0, stdout=_Discard())
        self.check(live)
        seconds["total"] = round(self.now(), 1)
        return self.report

    def chaos(self, lists: list[list[str]]) -> None:
        end = self.config.duration
        while (now := self.now()) < end:
            while self.due and self.due[0][0] <= now:
                _, action, argument = self.due.pop(0)
                self.act(action, argument, lists)
            self.drive_jobs()
            self.revive()
            time.sleep(0.1)
        for _, action, argument in list(self.due):
            if action == "create":  # every planned job exists before the faults stop
                self.act(action, argument, lists)

    def act(self, action: str, argument: Any, lists: list[list[str]]) -> None:
        rng = self.rng
        match action:
            case "create":
                job_id = jobs.job_create(
                    organization=self.organization, user=self.creator, asset_ids=lists[argument]
                )
                self.job_ids.append(job_id)
                self.note("job created", f"{job_id} ({len(lists[argument])} lines)")
            case "weather":
                name, faults = weather(rng, self.config)
                self.sandbox.control("faults", faults)
                self.note(f"weather: {name}")
            case "kill":
                slot = self.slots[argument]
                if slot.alive:
                    slot.kill()
                    self.note("worker killed", f"{slot.index}")
                self.at(self.now() + rng.uniform(0.2, 3), "restart", argument)
                self.due.sort(key=lambda item: item[0])
            case "restart":
                slot = self.slots[argument]
                if not slot.alive:
                    slot.start()
                    self.note("worker restarted", f"{slot.index}")
            case "cut":
                self.note("database connections cut", str(db_cut()))
            case "pause":
                states = jobs.job_states()
                pausable = [j for j in self.job_ids if states.get(j) in jobs.CAN_PAUSE]
                if pausable:
                    job_id = rng.choice(pausable)
                    self._try("paused", job_id, lambda: jobs.job_pause(job_id=job_id))
                    self.at(self.now() + rng.uniform(0.5, 4), "resume", job_id)
                    self.due.sort(key=lambda item: item[0])
            case "resume":
                self._try("resumed", argument, lambda: jobs.job_resume(job_id=argument))
            case "cancel":
                if argument < len(self.job_ids):
                    job_id = self.job_ids[argument]
                    self._try("cancelled", job_id, lambda: jobs.job_cancel(job_id=job_id))

    def _try(self, event: str, job_id: int, action: Callable[[], None]) -> bool:
        try:
            action()
        except jobs.Refused as exc:
            self.note(f"{event}: refused", f"job {job_id}: {exc}")
            return False
        self.note(event, f"job {job_id}")
        return True

    def drive_jobs(self) -> None:
        """Confirm a previewed job and approve one awaiting approval, each after a short,
        random while, as people would."""
        states = jobs.job_states()
        for job_id in self.job_ids:
            state = states.get(job_id)
            if state not in jobs.WAITS_FOR_CONFIRMATION | jobs.WAITS_FOR_APPROVAL:
                self.decided.pop(job_id, None)
                continue
            when = self.decided.setdefault(job_id, self.now() + self.rng.uniform(0, 1.5))
            if self.now() < when:
                continue
            del self.decided[job_id]
            if state in jobs.WAITS_FOR_CONFIRMATION:
                self._try("confirmed", job_id, lambda j=job_id: self._confirm(j))
            else:
                self._try("approved", job_id, lambda j=job_id: self._approve(j))

    def _confirm(self, job_id: int) -> None:
        jobs.job_confirm(job_id=job_id, user=self.creator)

    def _approve(self, job_id: int) -> None:
        jobs.job_approve(job_id=job_id, user=self.approver)

    def revive(self) -> None:
        """A worker that ended by itself (not killed by the driver) is noted and restarted."""
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() not in (None, -signal.SIGKILL):
                self.note("worker exited by itself", f"{slot.index} (code {slot.process.poll()})")
                slot.start()

    def settle(self) -> str:
        """Wait, faults off, until the workers have nothing left: no job moving, no file
        claimed by a live worker, and nothing changed for a few seconds. Returns how it ended."""
        config = self.config
        for n, slot in enumerate(self.slots):
            if not slot.alive:
                self.act("restart", n, [])
        quiet_needed = max(3.0, config.worker_timeout + 2 * config.sweep)
        # A file waiting out its backoff after failures is not stuck: allow the longest wait.
        stuck_after = (
            config.skew_seconds
            + config.worker_timeout
            + jobs.longest_retry_wait(config.retry_backoff)
            + 10
        )
        deadline = time.monotonic() + config.settle_timeout
        last, since = None, time.monotonic()
        while True:
            self.drive_jobs()
            self.revive()
            states = jobs.job_states()
            moving = [j for j, s in states.items() if s not in jobs.ENDED | jobs.RESUMABLE]
            live = jobs.live_worker_ids(timeout=config.worker_timeout)
            held = sum(n for w, n in jobs.claims_by_worker().items() if w in live)
            fingerprint = (
                tuple(sorted(states.items())),
                tuple(sorted(Counter(f["state"] for f in jobs.job_files_snapshot()).items())),
                tuple(sorted(Counter(d["state"] for d in jobs.deletions_snapshot()).items())),
                self.sandbox.control("counts")["api_requests"],
            )
            if fingerprint != last:
                last, since = fingerprint, time.monotonic()
            quiet = time.monotonic() - since
            if not moving and not held and quiet >= quiet_needed:
                return f"idle after {quiet:.0f} s without change"
            if quiet >= stuck_after:
                return f"nothing changed for {quiet:.0f} s with jobs {moving} not at rest"
            if time.monotonic() > deadline:
                return f"settle timeout ({config.settle_timeout:.0f} s): jobs {moving} not at rest"
            time.sleep(0.5)

    def check(self, live_at_idle: set[str]) -> None:
        snapshot = take_snapshot(self.sandbox, self.job_ids, live_at_idle)
        self.report.violations = invariants.check_all(snapshot)
        self.report.job_states = {j["pk"]: j["state"] for j in snapshot.jobs}
        self.report.log_states = dict(Counter(d["state"] for d in snapshot.deletions))
        deletes = Counter(
            asset_id
            for asset_id, record in snapshot.journal.items()
            for entry in record["entries"]
            if entry["kind"] == "delete" and entry["status"] != 429
        )
        self.report.deleted_in_tallyfy = sum(
            1
            for record in snapshot.journal.values()
            if any(e["kind"] == "delete" and e["applied"] for e in record["entries"])
        )
        self.report.events["DELETEs (not 429) sent"] = deletes.total()
        self.report.events["files sent more than one DELETE"] = sum(
            1 for n in deletes.values() if n > 1
        )
        counts = self.sandbox.control("counts")
        self.report.injected = {
            **counts["injected"],
            "429 by the per-minute limit": counts["rate_limit_per_minute_429"],
            "api_requests": counts["api_requests"],
        }
        (self.config.log_dir / "timeline.txt").write_text("\n".join(self.report.timeline) + "\n")


def take_snapshot(sandbox: SandboxLink, job_ids: list[int], live_at_idle: set[str]) -> Any:
    all_jobs = [job for job in jobs.jobs_snapshot() if job["pk"] in set(job_ids)]
    job_files = [f for f in jobs.job_files_snapshot() if f["job_id"] in set(job_ids)]
    asset_ids = sorted({f["asset_id"] for f in job_files})
    journal = sandbox.control("journal", {"org_id": sandbox.org_id, "asset_ids": asset_ids})
    return invariants.Snapshot(
        jobs=all_jobs,
        job_files=job_files,
        deletions=[d for d in jobs.deletions_snapshot() if d["job_id"] in set(job_ids)],
        progress={job["pk"]: jobs.job_progress_counts(job_id=job["pk"]) for job in all_jobs},
        journal=journal["files"],
        live_at_idle=live_at_idle,
    )


def chaos_seed(default: int | None = None) -> int:
    """CHAOS_SEED from the environment, else `default`, else a fresh random one."""
    if os.environ.get("CHAOS_SEED"):
        return int(os.environ["CHAOS_SEED"])
    return default if default is not None else random.SystemRandom().randrange(1, 2**31)


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` random sizes of at least 5."""
    cuts = sorted(rng.sample(range(1, total - 5 * parts + parts), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total - 5 * parts + parts]
    return [b - a + 4 for a, b in itertools.pairwise(bounds)]


def _plain(config: ChaosConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass
