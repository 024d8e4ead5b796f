"""Rate control: when each transaction is meant to be sent (pure: no clock, no I/O).

Open-loop controllers are **schedules**: transaction ``i`` (0, 1, 2, ... over the
whole run, all workers together) is due ``time_of(i)`` seconds after the run's
start, whatever happened to the transactions before it. The runner sleeps until
that time and measures latency from it, so a target that stalls cannot slow the
offered load down and hide its own stall.

* :class:`FixedRate` — ``rate`` per second: ``time_of(i) = i / rate``;
* :class:`LinearRamp` — the rate grows linearly from ``start`` to ``end`` over
  ``over`` seconds, then stays at ``end``; ``time_of`` inverts the integral of the
  rate, so the i-th send happens exactly when the ramp has offered i transactions;
* :class:`FixedLoad` — closed loop: ``users`` virtual users, each sending its next
  transaction when its previous one ended (after ``think`` seconds). The offered
  load adapts to the target: latency is from the actual send (there is no
  schedule), which is why the open loop is the one to quote latency from.

:class:`MaxRateSearch` is the rule of the maximum-rate search, as a pure function
of the steps measured so far (:meth:`MaxRateSearch.next_rate`).

Workers split a schedule by index: worker ``k`` of ``n`` sends the transactions
``i ≡ k (mod n)`` (:func:`indices`), at the same global times.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class Schedule(Protocol):
    """An open-loop schedule: seconds after the start at which transaction ``i`` is due."""

    def time_of(self, i: int) -> float: ...

    def rate_at(self, t: float) -> float: ...


@dataclass(frozen=True, slots=True)
class FixedRate:
    rate: float

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("rate must be more than zero")

    def time_of(self, i: int) -> float:
        return i / self.rate

    def rate_at(self, t: float) -> float:
        return self.rate


@dataclass(frozen=True, slots=True)
class LinearRamp:
    """Rate ``start + (end - start) * t / over`` for ``t < over``, then ``end``."""

    start: float
    end: float
    over: float

    def __post_init__(self) -> None:
        if self.start < 0 or not self.end > 0 or not self.over > 0:
            raise ValueError("a ramp needs start >= 0, end > 0 and a positive length")

    def offered_by(self, t: float) -> float:
        """Transactions offered in ``[0, t)`` (the integral of the rate)."""
        a = (self.end - self.start) / self.over
        if t <= self.over:
            return self.start * t + a * t * t / 2
        return self.offered_by(self.over) + self.end * (t - self.over)

    def time_of(self, i: int) -> float:
        a = (self.end - self.start) / self.over
        at_end = self.offered_by(self.over)
        if i >= at_end:
            return self.over + (i - at_end) / self.end
        if i <= 0:
            return 0.0
        if a == 0:
            return i / self.start
        # a/2 t^2 + start t - i = 0, the positive root (stable form for small a)
        return 2 * i / (self.start + math.sqrt(self.start * self.start + 2 * a * i))

    def rate_at(self, t: float) -> float:
        if t >= self.over:
            return self.end
        return self.start + (self.end - self.start) * t / self.over


@dataclass(frozen=True, slots=True)
class FixedLoad:
    """Closed loop: ``users`` virtual users, ``think`` seconds between a user's calls."""

    users: int
    think: float = 0.0

    def __post_init__(self) -> None:
        if self.users < 1 or self.think < 0:
            raise ValueError("a closed loop needs at least one user and think >= 0")


def indices(worker: int, workers: int, start: int = 0) -> Iterator[int]:
    """The transaction indices worker ``worker`` of ``workers`` sends, from ``start``."""
    if not 0 <= worker < workers:
        raise ValueError(f"worker {worker} of {workers}")
    first = start + (worker - start) % workers
    i = first
    while True:
        yield i
        i += workers


def first_index_at(schedule: Schedule, t: float) -> int:
    """The first index due at or after ``t`` seconds (the first measured one after a
    warm-up of ``t``), by bisection over ``time_of``."""
    if t <= 0:
        return 0
    lo, hi = 0, 1
    while schedule.time_of(hi) < t:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if schedule.time_of(mid) < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def users_of(worker: int, workers: int, users: int) -> list[int]:
    """The virtual users (0..users-1) worker ``worker`` of ``workers`` runs."""
    return [u for u in range(users) if u % workers == worker]


# --- maximum-rate search ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One measured step of a search: the rate offered and what came of it."""

    rate: float
    confirmed_tps: float
    p99_s: float
    errors: int  # failed + timed out
    sent: int

    def passes(self, rule: MaxRateSearch) -> bool:
        """The step kept up: confirmed TPS ≥ ``tracking`` x offered rate, p99 within
        ``p99_max`` and failed + timed out ≤ ``max_error_ratio`` of the sent."""
        return (
            self.sent > 0
            and self.confirmed_tps >= rule.tracking * self.rate
            and self.p99_s <= rule.p99_max
            and self.errors <= rule.max_error_ratio * self.sent
        )


@dataclass(frozen=True, slots=True)
class MaxRateSearch:
    """The search rule. Steps of fixed-rate open-loop load, each ``step`` seconds:

    1. start at ``start`` per second and multiply the rate by ``factor`` after every
       step that passes (:meth:`Step.passes`), until one fails, the rate would pass
       ``max_rate``, or ``max_steps`` steps ran;
    2. then bisect between the best passing rate and the first failing one,
       ``refine`` more steps;
    3. the result is the passing step with the highest rate: its offered rate is the
       **maximum sustainable rate**, its confirmed TPS and p99 are reported with it.

    If even the first step fails, the result is that no rate passed (``None``).
    """

    start: float
    factor: float = 1.5
    max_rate: float = 1e6
    max_steps: int = 12
    refine: int = 2
    tracking: float = 0.95
    p99_max: float = 2.0
    max_error_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not self.start > 0 or not self.factor > 1 or self.max_steps < 1 or self.refine < 0:
            raise ValueError("a search needs start > 0, factor > 1, max_steps >= 1, refine >= 0")

    def next_rate(self, steps: Sequence[Step]) -> float | None:
        """The rate of the next step after ``steps``, or None when the search is over."""
        if not steps:
            return self.start
        if len(steps) >= self.max_steps + self.refine:
            return None
        passing = [s for s in steps if s.passes(self)]
        failing = [s for s in steps if not s.passes(self)]
        if not failing:
            if len(steps) >= self.max_steps:
                return None
            nxt = round(steps[-1].rate * self.factor, 2)
            return nxt if nxt <= self.max_rate else None
        if not passing:
            return None
        growth = next(n for n, s in enumerate(steps) if not s.passes(self)) + 1
        if len(steps) >= growth + self.refine:
            return None
        lo = max(s.rate for s in passing)
        hi = min((s.rate for s in failing if s.rate > lo), default=None)
        if hi is None:
            return None
        return round((lo + hi) / 2, 2)

    def best(self, steps: Sequence[Step]) -> Step | None:
        passing = [s for s in steps if s.passes(self)]
        return max(passing, key=lambda s: s.rate) if passing else None
