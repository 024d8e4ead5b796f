"""The load loops: send transactions on a schedule or from virtual users, record outcomes.

Time is ``trio.current_time()`` throughout, so tests run the loops on trio's
virtual clock (``MockClock(autojump_threshold=0)``) and assert exact counts and
latencies. A *target* is ``async target(i) -> units`` (one transaction; returns the
units it carried, raises for a failure): :mod:`benchmarks.bench.workload` makes one
from a workload module's ``run(ctx, i)``.

Run shape (:class:`Shape`): a warm-up of ``warmup`` seconds (run, not counted),
then ``duration`` seconds or ``count`` transactions of measured load, then a drain
of at most ``drain`` seconds in which in-flight transactions still count; what is
still in flight after it counts as timed out, as does any transaction running
longer than ``tx_timeout``. Every loop therefore ends: it has a count or a
duration, and a deadline.

Open loop (:func:`run_open`): a transaction is started at its intended time, or as
soon after it as ``max_in_flight`` allows; its latency counts from the intended
time either way, so back-pressure shows in the figures instead of hiding there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from benchmarks.bench.rate import FixedLoad, Schedule, first_index_at, indices, users_of
from benchmarks.bench.stats import Recorder

log = logging.getLogger("relayhub.bench")
#: How many failures of each code a run logs (with their messages).
FAILURES_LOGGED_PER_CODE = 3

Target = Callable[[int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Shape:
    """How long a phase runs: ``duration`` seconds or ``count`` transactions (one of
    the two; both: whichever ends first), after ``warmup`` seconds."""

    duration: float | None = None
    count: int | None = None
    warmup: float = 0.0
    drain: float = 10.0
    tx_timeout: float = 30.0
    max_in_flight: int = 10_000

    def __post_init__(self) -> None:
        if self.duration is None and self.count is None:
            raise ValueError("a run needs a duration or a transaction count")
        if self.duration is not None and not self.duration > 0:
            raise ValueError("duration must be more than zero")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        if self.warmup < 0 or self.drain < 0 or not self.tx_timeout > 0:
            raise ValueError("warmup and drain >= 0, tx_timeout > 0")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")

    @property
    def measure_end(self) -> float:
        """Seconds after the start at which sending stops (inf: count-shaped)."""
        return math.inf if self.duration is None else self.warmup + self.duration


def failure_code(exc: BaseException) -> str:
    """The code a failed transaction is counted under: the exception's ``code``
    attribute (a relay error code, an HTTP status), else its class name."""
    code = getattr(exc, "code", None)
    if code is None or code == "":
        return type(exc).__name__
    return str(int(code)) if isinstance(code, int) else str(code)


class _Flights:
    """The transactions in flight of one loop, and their outcomes into ``rec``."""

    def __init__(self, rec: Recorder, target: Target, shape: Shape) -> None:
        self.rec, self.target, self.shape = rec, target, shape
        self.in_flight: dict[int, float] = {}
        self.idle = trio.Event()
        self.idle.set()
        self.limiter = trio.CapacityLimiter(shape.max_in_flight)
        #: failures logged so far, by code (the first few of each are logged)
        self.failures_logged: dict[str, int] = {}

    def begin(self, i: int, intended: float) -> None:
        """Count ``i`` as sent and in flight (before its task is spawned, so a drain
        that starts at once still sees it)."""
        self.rec.on_sent(intended, trio.current_time())
        self.in_flight[i] = intended
        if self.idle.is_set():
            self.idle = trio.Event()

    async def one(self, i: int, intended: float) -> None:
        """Run transaction ``i`` (already :meth:`begin`-ed) and record its outcome."""
        rec = self.rec
        try:
            with trio.move_on_after(self.shape.tx_timeout) as scope:
                units = await self.target(i)
            now = trio.current_time()
            if scope.cancelled_caught:
                rec.on_timed_out(intended, now)
            else:
                rec.on_confirmed(intended, now, 1 if units is None else int(units))
        except Exception as exc:
            code = failure_code(exc)
            rec.on_failed(intended, trio.current_time(), code)
            seen = self.failures_logged.get(code, 0)
            if seen < FAILURES_LOGGED_PER_CODE:  # what went wrong, not only how often
                self.failures_logged[code] = seen + 1
                log.warning("transaction %d failed (%s): %s", i, code, str(exc)[:500])
        finally:
            self.in_flight.pop(i, None)
            if not self.in_flight:
                self.idle.set()

    async def drain(self, until: float) -> None:
        """Wait for the in-flight transactions until ``until``; count the rest timed out."""
        with trio.move_on_at(until):
            while self.in_flight:
                await self.idle.wait()
        now = trio.current_time()
        for intended in self.in_flight.values():
            self.rec.on_timed_out(intended, now)
        self.in_flight.clear()


def _recorder(t0: float, shape: Shape) -> Recorder:
    return Recorder(t0, t0 + shape.warmup, t0 + shape.measure_end)


async def run_open(
    target: Target,
    schedule: Schedule,
    shape: Shape,
    *,
    worker: int = 0,
    workers: int = 1,
    start_at: float | None = None,
    recorder: Recorder | None = None,
) -> Recorder:
    """Open-loop load on ``schedule`` (this worker's share of it), from ``start_at``
    (a ``trio.current_time()``; default now)."""
    t0 = trio.current_time() if start_at is None else start_at
    rec = recorder if recorder is not None else _recorder(t0, shape)
    flights = _Flights(rec, target, shape)
    end = t0 + shape.measure_end
    last = None
    if shape.count is not None:
        last = first_index_at(schedule, shape.warmup) + shape.count  # exclusive
    async with trio.open_nursery() as nursery:
        for i in indices(worker, workers):
            if last is not None and i >= last:
                break
            intended = t0 + schedule.time_of(i)
            if intended >= end:
                break
            await trio.sleep_until(intended)
            await flights.limiter.acquire_on_behalf_of(i)
            flights.begin(i, intended)
            nursery.start_soon(_released, flights, i, intended)
        stop = trio.current_time() if math.isinf(end) else max(end, trio.current_time())
        await flights.drain(stop + shape.drain)
        nursery.cancel_scope.cancel()
    return rec


async def _released(flights: _Flights, i: int, intended: float) -> None:
    try:
        await flights.one(i, intended)
    finally:
        flights.limiter.release_on_behalf_of(i)


async def run_closed(
    target: Target,
    load: FixedLoad,
    shape: Shape,
    *,
    worker: int = 0,
    workers: int = 1,
    start_at: float | None = None,
    recorder: Recorder | None = None,
) -> Recorder:
    """Closed-loop load: this worker's share of ``load.users`` virtual users, each
    sending its next transaction when its last one ended. A count is shared out
    among the users; the i-th transaction of user ``u`` has index ``i * users + u``."""
    t0 = trio.current_time() if start_at is None else start_at
    rec = recorder if recorder is not None else _recorder(t0, shape)
    flights = _Flights(rec, target, shape)
    mine = users_of(worker, workers, load.users)
    end = t0 + shape.measure_end
    quota: dict[int, int | None] = {}
    for u in mine:
        if shape.count is None:
            quota[u] = None
        else:
            base, extra = divmod(shape.count, load.users)
            quota[u] = base + (1 if u < extra else 0)

    async def user(u: int) -> None:
        await trio.sleep_until(t0)
        j = 0
        measured = 0
        while True:
            now = trio.current_time()
            q = quota[u]
            if now >= end or (q is not None and measured >= q):
                return
            if now >= t0 + shape.warmup:
                measured += 1
            flights.begin(j * load.users + u, now)
            await flights.one(j * load.users + u, now)
            j += 1
            if load.think:
                await trio.sleep(load.think)

    async with trio.open_nursery() as nursery:
        users_done = trio.Event()

        async def all_users() -> None:
            async with trio.open_nursery() as inner:
                for u in mine:
                    inner.start_soon(user, u)
            users_done.set()

        nursery.start_soon(all_users)
        if math.isfinite(end):
            with trio.move_on_at(end):
                await users_done.wait()
        else:
            await users_done.wait()
        stop = max(trio.current_time(), end) if math.isfinite(end) else trio.current_time()
        await flights.drain(stop + shape.drain)
        nursery.cancel_scope.cancel()
    return rec
