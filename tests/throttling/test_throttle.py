from __future__ import annotations

import bisect
import itertools
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations.models import Organization
from tests.fixtures.organizations import make_organization
from tests.processes import ROOT, on_test_database_env
from throttling import services
from throttling.models import RateLimit
from throttling.services import hold_remaining, slot_reserve, throttle_for

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several processes on one PostgreSQL"
)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")


def set_rate(organization: Organization, per_minute: int | None) -> None:
    RateLimit.objects.update_or_create(
        organization=organization, defaults={"per_minute": per_minute}
    )


def in_threads(count: int, work: Callable[[], None]) -> None:
    """`work` in `count` threads at once, each with its own database connection."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def assert_spaced(slots: list[float], interval: float) -> None:
    ordered = sorted(slots)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    # Slots are stored to the microsecond.
    assert min(gaps) >= interval - 2e-6, sorted(gaps)[:5]


def python_in_a_process(code: str, *args: str) -> subprocess.Popen[str]:
    script = "import django; django.setup()\n" + code
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=on_test_database_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_an_organizations_requests_are_one_interval_apart(organization: Organization) -> None:
    set_rate(organization, 600)
    slots = [slot_reserve(organization_id=organization.pk, max_wait=None).slot for _ in range(5)]
    assert_spaced(slots, 0.1)


def test_an_organization_without_a_rate_of_its_own_gets_the_default_rate(
    organization: Organization, settings: object
) -> None:
    settings.TALLYFY_DEFAULT_RATE_PER_MINUTE = 120  # type: ignore[attr-defined]
    set_rate(organization, None)
    first, second = (
        slot_reserve(organization_id=organization.pk, max_wait=None).slot for _ in range(2)
    )
    assert second - first == pytest.approx(0.5, abs=1e-5)


def test_max_wait_returns_the_delay_and_takes_no_slot(organization: Organization) -> None:
    set_rate(organization, 60)
    throttle = throttle_for(organization)
    assert throttle.acquire(max_wait=None) is None
    first = throttle.acquire(max_wait=0)
    second = throttle.acquire(max_wait=0.001)
    assert first is not None
    assert second is not None
    assert 0.5 < first <= 1.0
    assert 0.5 < second <= 1.0  # not 2 s away: the first call left its slot free


def test_max_wait_none_waits_for_the_slot(organization: Organization) -> None:
    set_rate(organization, 240)
    throttle = throttle_for(organization)
    # Timed from before the first slot: the time the first call spends after taking its slot
    # (a commit on a busy machine) is part of the 0.25 s between the two slots.
    started = time.monotonic()
    throttle.acquire(max_wait=None)
    assert throttle.acquire(max_wait=None) is None
    assert time.monotonic() - started >= 0.24


def test_a_429_holds_back_the_organizations_next_request(organization: Organization) -> None:
    throttle = throttle_for(organization)
    throttle.pushed_back(retry_after=30)
    delay = throttle_for(organization).acquire(max_wait=0)
    assert delay is not None
    assert 29 < delay <= 30


def test_a_shorter_retry_after_does_not_cut_a_hold_short(organization: Organization) -> None:
    throttle = throttle_for(organization)
    throttle.pushed_back(retry_after=30)
    throttle.pushed_back(retry_after=1)
    delay = throttle.acquire(max_wait=0)
    assert delay is not None
    assert delay > 29


def test_a_hold_applies_to_the_organization_only(organization: Organization) -> None:
    other = make_organization(name="Other", org_id="other")
    throttle_for(organization).pushed_back(retry_after=30)
    assert throttle_for(other).acquire(max_wait=0) is None


@pytest.mark.django_db(transaction=True)
def test_the_throttle_refuses_to_run_inside_a_callers_transaction() -> None:
    throttle = throttle_for(make_organization())
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        throttle.acquire(max_wait=None)


@pytest.mark.django_db(transaction=True)
def test_threads_take_distinct_slots_one_interval_apart() -> None:
    organization = make_organization()
    set_rate(organization, 1200)
    slots: list[float] = []

    def reserve() -> None:
        for _ in range(25):
            slots.append(slot_reserve(organization_id=organization.pk, max_wait=None).slot)

    in_threads(4, reserve)
    assert len(slots) == 100
    assert_spaced(slots, 0.05)


@pytest.mark.parametrize("background", [False, True], ids=["pages", "jobs"])
@pytest.mark.django_db(transaction=True)
def test_threads_with_calls_in_flight_reach_the_rate_and_never_pass_it(background: bool) -> None:
    """Slots pace starts: four callers whose calls take 200 ms (more than the 100 ms interval)
    together start one request every 100 ms, which one caller alone could not; in the jobs'
    lane too, though there they queue for no slot beyond the next."""
    organization = make_organization()
    set_rate(organization, 600)
    throttle = throttle_for(organization, background=background)
    window = 3.0
    started = time.time()
    starts: list[float] = []

    def call_repeatedly() -> None:
        while True:
            throttle.acquire(max_wait=None)
            now = time.time()
            if now >= started + window:
                return
            starts.append(now)
            time.sleep(0.2)  # the call to Tallyfy

    in_threads(4, call_repeatedly)
    assert 0.7 * 30 <= len(starts) <= 31


@pytest.mark.django_db(transaction=True)
def test_a_429_reported_while_a_request_waits_for_its_slot_delays_that_request() -> None:
    organization = make_organization()
    set_rate(organization, 60)
    throttle = throttle_for(organization)
    throttle.acquire(max_wait=None)
    waited: list[float] = []

    def next_request() -> None:
        started = time.monotonic()
        throttle.acquire(max_wait=None)  # its slot is a second away
        waited.append(time.monotonic() - started)

    worker = threading.Thread(target=lambda: (next_request(), connection.close()))
    worker.start()
    time.sleep(0.2)
    throttle.pushed_back(retry_after=3)
    worker.join(30)
    assert waited[0] >= 2.5


@pytest.mark.django_db(transaction=True)
def test_a_429_in_one_process_holds_back_another() -> None:
    organization = make_organization()
    throttle_for(organization)
    process = python_in_a_process(
        "from files.models import Organization\n"
        "from throttling.services import throttle_for\n"
        f"throttle_for(Organization.objects.get(pk={organization.pk})).pushed_back(retry_after=30)\n"
    )
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    delay = throttle_for(organization).acquire(max_wait=0)
    assert delay is not None
    assert delay > 20


@pytest.mark.django_db(transaction=True)
def test_two_processes_at_once_take_distinct_slots_one_interval_apart(tmp_path: Path) -> None:
    organization = make_organization()
    set_rate(organization, 1200)
    # Each process says it is ready, then both start together however long Django took to
    # start in each on a busy machine, and reserve for three seconds.
    code = (
        "import json, pathlib, sys, time\n"
        "from throttling.services import slot_reserve\n"
        f"ready = pathlib.Path({str(tmp_path)!r})\n"
        "(ready / sys.argv[1]).touch()\n"
        "while len(list(ready.iterdir())) < 2:\n"
        "    time.sleep(0.01)\n"
        "until = time.time() + 3\n"
        "slots = []\n"
        "while time.time() < until:\n"
        f"    slots.append(slot_reserve(organization_id={organization.pk}, max_wait=None).slot)\n"
        "    time.sleep(0.002)  # a caller makes its request between two reservations\n"
        "print(json.dumps(slots))\n"
    )
    processes = [python_in_a_process(code, name) for name in ("one", "two")]
    results = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in results]
    first, second = (json.loads(out.splitlines()[-1]) for out, _ in results)
    owner = {slot: 1 for slot in first} | {slot: 2 for slot in second}
    ordered = [owner[slot] for slot in sorted(owner)]
    switches = sum(a != b for a, b in itertools.pairwise(ordered))
    assert switches >= 10  # the two really reserved at the same time
    assert len(owner) == len(first) + len(second)
    assert_spaced(first + second, 0.05)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_reservation_waits_out_a_locked_sqlite_database() -> None:
    organization = make_organization()
    throttle = throttle_for(organization)
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 100")
    other = sqlite3.connect(
        connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, other.rollback)
    release.start()
    try:
        started = time.monotonic()
        assert throttle.acquire(max_wait=None) is None
        assert time.monotonic() - started >= 0.9
    finally:
        release.join()
        other.close()
        connection.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_locked_sqlite_database_is_an_operational_error_without_the_retry() -> None:
    """What the retry is for: without it the same lock fails the reservation."""
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 100")
    other = sqlite3.connect(
        connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"), transaction.atomic():
            pass
    finally:
        other.rollback()
        other.close()
        connection.close()


# --- the database's clock ---


def run_clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """This process's clock, as another machine's that is `seconds` off."""
    real_time, real_now = time.time, timezone.now
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=seconds))


def most_in_any_window(starts: list[float], seconds: float) -> int:
    ordered = sorted(starts)
    return max(bisect.bisect_right(ordered, start + seconds) - n for n, start in enumerate(ordered))


def test_a_machine_whose_clock_runs_ahead_starts_no_more_requests_than_the_bound(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(organization, 60)
    real_time = time.time
    starts: list[float] = []

    def reserve_five() -> None:
        for _ in range(5):
            reservation = slot_reserve(organization_id=organization.pk, max_wait=None)
            starts.append(real_time() + reservation.wait)  # when the caller's sleep ends

    reserve_five()
    run_clock_off_by(monkeypatch, 5.0)
    reserve_five()
    assert most_in_any_window(starts, 5.0) <= 5 / 1 + 1


def test_a_machine_whose_clock_runs_behind_waits_only_for_its_slot(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(organization, 60)
    slot_reserve(organization_id=organization.pk, max_wait=None)
    run_clock_off_by(monkeypatch, -5.0)
    assert slot_reserve(organization_id=organization.pk, max_wait=None).wait <= 1.0


def test_a_429_on_a_machine_whose_clock_runs_ahead_holds_back_for_its_retry_after(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as skewed:
        run_clock_off_by(skewed, 10.0)
        throttle_for(organization).pushed_back(retry_after=30)
    delay = throttle_for(organization).acquire(max_wait=0)
    assert delay is not None
    assert 29 < delay <= 30


def test_a_machine_whose_clock_runs_ahead_still_sees_the_hold(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttle_for(organization).pushed_back(retry_after=30)
    run_clock_off_by(monkeypatch, 60.0)
    assert 29 < hold_remaining(organization_id=organization.pk) <= 30


# --- pages before jobs ---


def test_a_background_caller_takes_no_slot_more_than_one_interval_ahead(
    organization: Organization,
) -> None:
    set_rate(organization, 60)
    for _ in range(2):  # the slot due now and the one after it
        assert slot_reserve(organization_id=organization.pk, max_wait=None, background=True).taken
    third = slot_reserve(organization_id=organization.pk, max_wait=None, background=True)
    assert (third.taken, round(third.wait)) == (False, 2)


def test_a_page_queues_for_a_slot_further_ahead_than_background_callers_may(
    organization: Organization,
) -> None:
    set_rate(organization, 60)
    for _ in range(2):
        slot_reserve(organization_id=organization.pk, max_wait=None, background=True)
    page = slot_reserve(organization_id=organization.pk, max_wait=10)
    assert (page.taken, round(page.wait)) == (True, 2)


@pytest.mark.django_db(transaction=True)
def test_a_page_waits_at_most_two_intervals_behind_many_background_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organization = make_organization()
    set_rate(organization, 600)
    background = throttle_for(organization, background=True)
    # Each thread as if in a process of its own: none waits for another's turn.
    monkeypatch.setattr(services, "_background_turn", lambda _: threading.Lock())
    stop = threading.Event()
    started = itertools.count()

    def job_thread() -> None:
        while not stop.is_set():
            background.acquire(max_wait=None)
            next(started)
            time.sleep(0.05)  # the call to Tallyfy

    jobs = threading.Thread(target=lambda: in_threads(24, job_thread))
    jobs.start()
    try:
        time.sleep(1.0)  # every job thread has come to the book
        waits = []
        for _ in range(5):
            page = slot_reserve(organization_id=organization.pk, max_wait=10)
            waits.append(page.wait)
            time.sleep(page.wait + 0.1)
    finally:
        stop.set()
        jobs.join(60)
    assert next(started) > 20
    assert max(waits) <= 2 * 0.1 + 1e-3


@pytest.mark.django_db(transaction=True)
def test_a_background_caller_looks_at_a_full_book_without_waiting_for_its_lock() -> None:
    organization = make_organization()
    set_rate(organization, 60)
    for _ in range(2):
        slot_reserve(organization_id=organization.pk, max_wait=None)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with transaction.atomic():
            RateLimit.objects.select_for_update().get(organization=organization)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        reservation = slot_reserve(organization_id=organization.pk, max_wait=None, background=True)
        looked = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)
    assert not reservation.taken
    assert looked < 5  # the row stays locked for 10 s


@pytest.mark.django_db(transaction=True)
def test_background_threads_of_one_process_look_for_slots_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organization = make_organization()
    throttle_for(organization).pushed_back(retry_after=1.0)
    looking: set[int] = set()
    reserve = services.slot_reserve

    def watched(**kwargs: Any) -> services.Reservation:
        looking.add(threading.get_ident())
        return reserve(**kwargs)

    monkeypatch.setattr(services, "slot_reserve", watched)
    background = throttle_for(organization, background=True)
    jobs = threading.Thread(target=lambda: in_threads(8, lambda: background.acquire(max_wait=None)))
    jobs.start()
    time.sleep(0.5)
    during_the_hold = len(looking)
    jobs.join(60)
    assert (during_the_hold, len(looking)) == (1, 8)


# --- a slot taken with a write, used by the next request ---


def next_slot_at(organization: Organization) -> object:
    return RateLimit.objects.get(organization=organization).next_slot_at


def test_a_slot_taken_with_a_write_commits_both_and_serves_the_next_request_only(
    organization: Organization,
) -> None:
    set_rate(organization, 60)
    written, reservation = services.slot_reserve_with(
        organization_id=organization.pk,
        max_wait=5,
        write=lambda: make_organization(name="Written", org_id="written"),
    )
    assert reservation.taken
    assert Organization.objects.filter(pk=written.pk).exists()
    booked = next_slot_at(organization)
    throttle = throttle_for(organization)
    with services.slot_prepaid(organization_id=organization.pk, reservation=reservation):
        assert throttle.acquire(max_wait=0) is None  # the slot taken with the write
        assert next_slot_at(organization) == booked
        later = throttle.acquire(max_wait=0)  # the next takes its own, a second later
    assert later is not None
    assert 0.5 < later <= 1.0


def test_a_failed_write_takes_no_slot(organization: Organization) -> None:
    set_rate(organization, 60)
    slot_reserve(organization_id=organization.pk, max_wait=None)
    booked = next_slot_at(organization)

    def write() -> None:
        make_organization(name="Rolled back", org_id="rolled-back")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        services.slot_reserve_with(organization_id=organization.pk, max_wait=5, write=write)
    assert next_slot_at(organization) == booked
    assert not Organization.objects.filter(org_id="rolled-back").exists()


def test_a_prepaid_slot_is_the_organizations_own(organization: Organization) -> None:
    set_rate(organization, 60)
    other = make_organization(name="Other", org_id="other")
    set_rate(other, 60)
    _, reservation = services.slot_reserve_with(
        organization_id=organization.pk, max_wait=5, write=lambda: None
    )
    throttle_for(other).acquire(max_wait=0)
    with services.slot_prepaid(organization_id=organization.pk, reservation=reservation):
        wait = throttle_for(other).acquire(max_wait=0)
    assert wait is not None  # the other organization's next slot, not this one's
    assert 0.5 < wait <= 1.0


def test_a_slot_too_far_away_for_a_page_is_not_taken_and_the_write_stands(
    organization: Organization,
) -> None:
    throttle_for(organization).pushed_back(retry_after=30)
    written, reservation = services.slot_reserve_with(
        organization_id=organization.pk,
        max_wait=5,
        write=lambda: make_organization(name="Written", org_id="written"),
    )
    assert not reservation.taken
    assert Organization.objects.filter(pk=written.pk).exists()
    with services.slot_prepaid(organization_id=organization.pk, reservation=reservation):
        wait = throttle_for(organization).acquire(max_wait=0)
    assert wait is not None
    assert 29 < wait <= 30


# --- what a reservation asks the database ---


def test_a_reservation_locks_the_book_and_reads_the_time_in_one_statement(
    organization: Organization,
) -> None:
    set_rate(organization, 600)
    slot_reserve(organization_id=organization.pk, max_wait=None)  # the book exists
    with CaptureQueriesContext(connection) as queries:
        reservation = slot_reserve(organization_id=organization.pk, max_wait=None)
    assert reservation.taken
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 2, statements  # the book locked with the time; the slot taken
    assert "RETURNING" in statements[0]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_database_time_of_a_reservation_is_read_once_the_book_is_locked() -> None:
    """Read before waiting for the lock, the time would be early by the wait, and the slot
    could start less than an interval after the one before it."""
    organization = make_organization()
    set_rate(organization, 600)
    slot_reserve(organization_id=organization.pk, max_wait=None)
    time.sleep(0.2)  # the next free slot is in the past
    locked, released = threading.Event(), []

    def lock_the_book_and_change_nothing() -> None:
        try:
            with transaction.atomic():
                RateLimit.objects.select_for_update().get(organization=organization)
                locked.set()
                time.sleep(0.5)
                released.append(services._database_now())
        finally:
            connection.close()

    holder = threading.Thread(target=lock_the_book_and_change_nothing)
    holder.start()
    assert locked.wait(10)
    reservation = slot_reserve(organization_id=organization.pk, max_wait=None)
    holder.join(10)
    assert reservation.slot >= released[0]
