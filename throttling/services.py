"""One request rate per organization towards Tallyfy, shared by every thread, process and machine.

Each organization has a slot book in the database (`RateLimit`): the earliest time its next
request may start (`next_slot_at`) and, after a 429, the time until which it must wait
(`held_until`). A request reserves the slot max(now, next_slot_at, held_until) and moves
`next_slot_at` one interval (60 s / rate) past it, in one short transaction of its own that
holds the row: a row lock on PostgreSQL, the write lock BEGIN IMMEDIATE takes on SQLite.
It then sleeps until its slot outside any transaction. This is GCRA without a burst allowance:
every caller, of either lane below, takes its slot from the one book, so slots are at least one
interval apart whoever takes them and any window of T seconds holds at most T / interval + 1
request starts for the organization.

The clock. "now" is the database's, read inside the transaction that holds the row, after the
lock is taken: PostgreSQL's clock_timestamp(); SQLite's 'now', the clock of the machine its file is
on, which is every caller's (SQLite serves one machine). Reservations, holds and what is left of
a hold are computed on it alone, and a caller sleeps for (slot - now) as a duration, timed by its
monotonic clock, never comparing a slot with its own wall clock. So a machine whose clock is
wrong neither starts early (over the rate) nor waits for its clock's error.

Two lanes: pages before jobs. A page's call (`background=False`) has a person waiting and a
finite wait budget; a job's or a scan's (`background=True`) has neither. Pages queue: they
reserve the next free slot however far ahead it is, within their `max_wait`. Background callers
never queue: they take a slot only when it is due or at most one interval ahead; otherwise they
reserve nothing, sleep until it is about one interval away (plus a random part of an interval,
so waiters come back spread out rather than together) and look again. Their reservations thus
never reach more than two intervals past now, and a page waits at most two intervals behind
running jobs however many job threads there are, then behind other pages only. Nothing is set
aside for pages: a lone job thread whose calls are shorter than an interval finds its next slot
at most one interval ahead and loses nothing, and job threads with calls in flight keep the book
full. Pages can delay jobs only while people keep the book full, a small share at human rates; a
share reserved for pages would cost jobs that share all the time and still leave a page queued
behind every slot the jobs had already reserved.

Waiting costs little: a background caller's look is an unlocked read, so waiters do not queue
on the row lock (on SQLite, the database's write lock), and the background threads of one
process take turns, so the database sees one waiter per process rather than one per thread.
That turn lives in process memory only to save queries; the bound and the lanes hold without it.

Slots pace request *starts*, not completions: a caller holds nothing while its request is in
flight, so N callers whose calls take longer than an interval keep N requests in flight and
together reach the rate.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from django.db import OperationalError, connection, transaction
from django.db.models import Model

from sql_names import table as sql_table
from throttling.models import RateLimit

# How long a reservation keeps retrying while SQLite reports "database is locked" (another
# process held the write lock past the connection's busy timeout) before it gives up.
LOCKED_RETRY_SECONDS = 60.0

_NOW = {
    "postgresql": "clock_timestamp()",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
}


@dataclass(frozen=True)
class Reservation:
    slot: float  # when the request may start, seconds since the epoch on the database's clock
    wait: float  # seconds from the reservation until the slot
    taken: bool
    interval: float  # seconds between two slots of the organization


def slot_reserve(
    *, organization_id: int, max_wait: float | None, background: bool = False
) -> Reservation:
    """Find the organization's next free slot and take it, unless it is more than `max_wait` s
    away, or (`background`) more than one interval away: then take nothing. Commits at once;
    refuses to run inside a transaction."""

    def refused(wait: float, interval: float) -> bool:
        return (max_wait is not None and wait > max_wait) or (background and wait > interval)

    def reserve() -> Reservation:
        with transaction.atomic(durable=True):
            return _reserve_locked(organization_id, refused=refused)

    if background:
        glance = _glance(organization_id)
        if glance is not None and refused(glance.wait, glance.interval):
            return glance
    return _retry_while_locked(reserve)


def slot_reserve_with[T](
    *, organization_id: int, max_wait: float, write: Callable[[], T]
) -> tuple[T, Reservation]:
    """`write`, then the organization's next slot for a page's request (as `slot_reserve` with
    `max_wait`), in one durable transaction: what `write` records is committed together with
    the slot, before the request is sent. The slot row is locked last, after `write`, so it
    is held for as short a time as `slot_reserve` holds it. Use the slot with `slot_prepaid`.
    An exception from `write` rolls both back; SQLite's "database is locked" retries both."""

    def reserve() -> tuple[T, Reservation]:
        with transaction.atomic(durable=True):
            written = write()
            return written, _reserve_locked(
                organization_id, refused=lambda wait, interval: wait > max_wait
            )

    return _retry_while_locked(reserve)


@contextmanager
def slot_prepaid(*, organization_id: int, reservation: Reservation) -> Iterator[None]:
    """The next `acquire` of the organization's page throttle in this block uses `reservation`
    (taken by `slot_reserve_with`) instead of taking a slot of its own: it sleeps what is left
    of the reservation's wait, timed from when it was made. Later acquires take their own."""
    if not reservation.taken:
        yield
        return
    token = _prepaid.set(_Prepaid(organization_id, reservation, time.monotonic()))
    try:
        yield
    finally:
        _prepaid.reset(token)


@dataclass
class _Prepaid:
    organization_id: int
    reservation: Reservation
    reserved_at: float  # time.monotonic() when the reservation was made
    used: bool = False


_prepaid: ContextVar[_Prepaid | None] = ContextVar("throttling_prepaid_slot", default=None)


def _reserve_locked(
    organization_id: int, *, refused: Callable[[float, float], bool]
) -> Reservation:
    """Inside a transaction: lock the organization's slot book, then take its next slot
    unless `refused(wait, interval)`."""
    locked = _lock_with_now(organization_id)
    if locked is None:
        rate_limit, _ = RateLimit.objects.select_for_update().get_or_create(
            organization_id=organization_id
        )
        now = _database_now()
    else:
        rate_limit, now = locked
    reservation = _next_slot(rate_limit, now=now)
    if refused(reservation.wait, reservation.interval):
        return reservation
    _next_slot_move(organization_id, _datetime(reservation.slot + reservation.interval))
    return replace(reservation, taken=True)


def _next_slot_move(organization_id: int, moment: datetime) -> None:
    """Written out, as the lock is: every request to Tallyfy runs it, and the ORM takes
    longer to build it than the database takes to run it."""
    table = sql_table(RateLimit)
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {table} SET "next_slot_at" = %s WHERE "organization_id" = %s',  # noqa: S608
            [connection.ops.adapt_datetimefield_value(moment), organization_id],
        )


def hold_extend(*, organization_id: int, seconds: float) -> None:
    """Hold back every request of the organization for `seconds` from now. A hold already longer
    is kept: a later 429 with a shorter Retry-After does not cut an earlier one short."""

    def extend() -> None:
        with transaction.atomic(durable=True):
            rate_limit, _ = RateLimit.objects.select_for_update().get_or_create(
                organization_id=organization_id
            )
            until = _datetime(_database_now() + max(0.0, seconds))
            if rate_limit.held_until is None or rate_limit.held_until < until:
                rate_limit.held_until = until
                rate_limit.save(update_fields=["held_until"])

    _retry_while_locked(extend)


def hold_remaining(*, organization_id: int) -> float:
    """Seconds until the organization's hold ends (0 when it is not held back)."""
    held_until = (
        RateLimit.objects.filter(organization_id=organization_id)
        .values_list("held_until", flat=True)
        .first()
    )
    if held_until is None:
        return 0.0
    return max(0.0, _seconds(held_until) - _database_now())


class DatabaseThrottle:
    """One organization's throttle (the Tallyfy client's `Throttle` protocol, met by shape),
    over its slot book in the database, in the pages' lane or (`background`) the jobs' lane."""

    def __init__(self, *, organization_id: int, background: bool = False) -> None:
        self.organization_id = organization_id
        self.background = background

    def acquire(self, *, max_wait: float | None) -> float | None:
        """As Throttle.acquire. A 429 reported while this call sleeps towards its slot puts the
        slot inside the hold: the call then reserves again after the hold, and with `max_wait`
        returns the seconds still to wait if that is beyond what is left of `max_wait`.
        Background calls that wait as long as needed take turns within the process, so the
        database sees one of them looking for a slot per process, not one per thread."""
        if self.background and max_wait is None:
            with _background_turn(self.organization_id):
                return self._acquire(max_wait=None)
        prepaid = _prepaid.get()
        if (
            not self.background
            and prepaid is not None
            and not prepaid.used
            and prepaid.organization_id == self.organization_id
        ):
            prepaid.used = True
            return self._use_prepaid(prepaid, max_wait=max_wait)
        return self._acquire(max_wait=max_wait)

    def _use_prepaid(self, prepaid: _Prepaid, *, max_wait: float | None) -> float | None:
        """Sleep until a slot taken in advance; a 429 reported meanwhile sends the call back to
        taking a slot of its own, after the hold."""
        started = time.monotonic()
        wait = prepaid.reservation.wait - (started - prepaid.reserved_at)
        if wait <= 0:
            return None
        if max_wait is not None and wait > max_wait:
            return wait
        time.sleep(wait)
        if hold_remaining(organization_id=self.organization_id) <= 0:
            return None
        left = None if max_wait is None else max(0.0, max_wait - (time.monotonic() - started))
        return self._acquire(max_wait=left)

    def _acquire(self, *, max_wait: float | None) -> float | None:
        started = time.monotonic()
        while True:
            left = None if max_wait is None else max(0.0, max_wait - (time.monotonic() - started))
            reservation = slot_reserve(
                organization_id=self.organization_id, max_wait=left, background=self.background
            )
            if not reservation.taken:
                if left is not None and reservation.wait > left:
                    return reservation.wait
                time.sleep(
                    max(0.0, reservation.wait - reservation.interval)
                    + random.uniform(0.0, reservation.interval)  # noqa: S311 (spreading, not secrecy)
                )
                continue
            if reservation.wait <= 0:
                return None
            time.sleep(reservation.wait)
            if hold_remaining(organization_id=self.organization_id) <= 0:
                return None

    def pushed_back(self, *, retry_after: float) -> None:
        hold_extend(organization_id=self.organization_id, seconds=retry_after)


def throttle_for(organization: Model, *, background: bool = False) -> DatabaseThrottle:
    """The throttle of `organization` (a files.Organization; only its key is read), shared with
    every other process that asks for it, in the jobs' lane when `background`. Its slot book is
    created by the first request that needs it."""
    return DatabaseThrottle(organization_id=organization.pk, background=background)


_background_turns: dict[int, threading.Lock] = {}
_background_turns_guard = threading.Lock()


def _background_turn(organization_id: int) -> threading.Lock:
    with _background_turns_guard:
        return _background_turns.setdefault(organization_id, threading.Lock())


def _next_slot(rate_limit: RateLimit, *, now: float) -> Reservation:
    """The slot the organization's next request would get, as yet untaken."""
    slot = max(now, _seconds(rate_limit.next_slot_at), _seconds(rate_limit.held_until))
    return Reservation(
        slot=slot, wait=slot - now, taken=False, interval=60.0 / rate_limit.effective_per_minute
    )


def _glance(organization_id: int) -> Reservation | None:
    """The next slot as it stands, read without taking the row; None if it has no slot book."""
    rate_limit = RateLimit.objects.filter(organization_id=organization_id).first()
    if rate_limit is None:
        return None
    return _next_slot(rate_limit, now=_database_now())


def _lock_with_now(organization_id: int) -> tuple[RateLimit, float] | None:
    """Inside a transaction: lock the organization's slot book and read the database's time,
    in one statement; None when it has no slot book yet. The statement is an UPDATE that
    changes nothing, for its RETURNING is computed once the row is locked (on PostgreSQL, a
    SELECT … FOR UPDATE computes its columns before waiting for the lock)."""
    table = sql_table(RateLimit)
    now = _NOW[connection.vendor].replace("%", "%%")
    # Only the organization's key comes from outside, and it is a parameter.
    sql = (
        f'UPDATE {table} SET "next_slot_at" = "next_slot_at" WHERE "organization_id" = %s '  # noqa: S608
        f'RETURNING "organization_id", "per_minute", "next_slot_at", "held_until", {now} '
        'AS "database_now"'
    )
    found = list(RateLimit.objects.raw(sql, [organization_id]))
    if not found:
        return None
    (rate_limit,) = found
    return rate_limit, _epoch(rate_limit.database_now)


def _database_now() -> float:
    """The database's time now, seconds since the epoch."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_NOW[connection.vendor]}")
        (moment,) = cursor.fetchone()
    return _epoch(moment)


def _epoch(moment: datetime | str) -> float:
    if isinstance(moment, str):  # SQLite: UTC, to the millisecond
        moment = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return moment.timestamp()


def _retry_while_locked[T](operation: Callable[[], T]) -> T:
    deadline = time.monotonic() + LOCKED_RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            return operation()
        except OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def _datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
