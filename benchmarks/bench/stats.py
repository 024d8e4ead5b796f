"""What a benchmark run measured, as mergeable data (pure: no trio, no clock, no I/O).

A :class:`Recorder` takes one call per transaction outcome, each with the times the
runner read from its clock; it never reads a clock itself, so tests feed it exact
times. Latency is always *completion time - intended send time*: a transaction
the generator could not send on time (the target stalled, a connection limit was
reached) carries its wait in its latency, so a stall shows in p99 and max instead
of vanishing (no coordinated omission).

What is kept:

* ``latency``: an HDR histogram (microseconds, 1 µs .. 1 h, 3 significant digits)
  of the **confirmed** transactions of the measured window;
* ``latency_all``: the same, with failed transactions at their time to failure and
  timed-out ones at their timeout (a lower bound): percentiles over every
  transaction, not only the good ones (Caliper averages over successes only);
* ``send_lag``: actual send time - intended time (how far the generator fell
  behind its schedule: the generator's own health);
* counts: sent, confirmed (and confirmed *units*: a transaction may carry many,
  e.g. IBTPs in one request), failed by code, timed out;
* a per-second timeline, by second of the run (warm-up included, marked).

Everything merges exactly (:meth:`Recorder.merge`; histograms through HDR's
encode/decode), so load-generator processes and remote workers each keep their
own recorder and the coordinator adds them up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

#: Histogram range, in microseconds: 1 µs .. 1 hour.
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
DIGITS = 3
#: The per-second histograms keep 2 significant digits (1%): ~25 kB each, not ~200.
SECOND_DIGITS = 2
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def to_us(seconds: float) -> int:
    """A duration in whole microseconds within the histogram's range."""
    return min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6)))


class LatencyHistogram:
    """An HDR histogram of durations given in seconds (kept in microseconds)."""

    __slots__ = ("digits", "hist")

    def __init__(self, digits: int = DIGITS) -> None:
        self.digits = digits
        self.hist = HdrHistogram(LOWEST_US, HIGHEST_US, digits)

    def record(self, seconds: float, count: int = 1) -> None:
        self.hist.record_value(to_us(seconds), count)

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def percentile_s(self, p: float) -> float:
        """The value at percentile ``p`` (0..100), in seconds; 0 when empty."""
        if not self.count:
            return 0.0
        return float(self.hist.get_value_at_percentile(p)) / 1e6

    def max_s(self) -> float:
        return float(self.hist.get_max_value()) / 1e6 if self.count else 0.0

    def min_s(self) -> float:
        return float(self.hist.get_min_value()) / 1e6 if self.count else 0.0

    def mean_s(self) -> float:
        return float(self.hist.get_mean_value()) / 1e6 if self.count else 0.0

    def summary_ms(self) -> dict[str, float]:
        """``p50_ms``, ``p90_ms``, ``p99_ms``, ``p99.9_ms``, ``max_ms``, ``mean_ms``."""
        out = {f"p{p:g}_ms": round(self.percentile_s(p) * 1e3, 3) for p in PERCENTILES}
        out["max_ms"] = round(self.max_s() * 1e3, 3)
        out["mean_ms"] = round(self.mean_s() * 1e3, 3)
        return out

    def cdf(self) -> list[tuple[float, float]]:
        """``(seconds, fraction ≤ it)`` at every distinct recorded value (the plot's CDF)."""
        total = self.count
        out: list[tuple[float, float]] = []
        seen = 0
        for item in self.hist.get_recorded_iterator():
            seen += item.count_added_in_this_iter_step
            out.append((item.value_iterated_to / 1e6, seen / total))
        return out

    def add(self, other: LatencyHistogram) -> None:
        self.hist.add(other.hist)

    def encode(self) -> str:
        """HDR's compressed base64 form (exact: decoding gives the same counts back)."""
        if not self.count:
            return ""
        return bytes(self.hist.encode()).decode("ascii")

    @classmethod
    def decode(cls, text: str, digits: int = DIGITS) -> LatencyHistogram:
        h = cls(digits)
        if text:
            h.hist.add(HdrHistogram.decode(text.encode("ascii")))
        return h


@dataclass
class Second:
    """One second of the run (by the second its event happened in)."""

    offered: int = 0  # transactions intended in this second
    sent: int = 0
    confirmed: int = 0
    units: int = 0
    failed: int = 0
    timed_out: int = 0
    latency: LatencyHistogram = field(default_factory=lambda: LatencyHistogram(SECOND_DIGITS))

    def add(self, other: Second) -> None:
        self.offered += other.offered
        self.sent += other.sent
        self.confirmed += other.confirmed
        self.units += other.units
        self.failed += other.failed
        self.timed_out += other.timed_out
        self.latency.add(other.latency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "sent": self.sent,
            "confirmed": self.confirmed,
            "units": self.units,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "latency": self.latency.encode(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Second:
        return cls(
            offered=int(d["offered"]),
            sent=int(d["sent"]),
            confirmed=int(d["confirmed"]),
            units=int(d["units"]),
            failed=int(d["failed"]),
            timed_out=int(d["timed_out"]),
            latency=LatencyHistogram.decode(d["latency"], SECOND_DIGITS),
        )


class Recorder:
    """Outcomes of one phase of a run, relative to its start ``t0`` (a runner's clock).

    ``measure_from`` / ``measure_to`` bound the measured window by *intended* send
    time: transactions intended before ``measure_from`` are the warm-up (run, shown
    in the timeline, left out of every figure); the runner stops sending at
    ``measure_to`` and then drains.
    """

    def __init__(self, t0: float, measure_from: float, measure_to: float = math.inf) -> None:
        self.t0 = t0
        self.measure_from = measure_from
        self.measure_to = measure_to
        self.latency = LatencyHistogram()
        self.latency_all = LatencyHistogram()
        self.send_lag = LatencyHistogram()
        self.sent = 0
        self.confirmed = 0
        self.units = 0
        self.failed: dict[str, int] = {}
        self.timed_out = 0
        self.warmup_sent = 0
        #: First intended time and last completion of the measured transactions.
        self.first_intended = math.inf
        self.last_sent = -math.inf
        self.last_done = -math.inf
        self.seconds: dict[int, Second] = {}

    # --- recording --------------------------------------------------------------

    def measured(self, intended: float) -> bool:
        return intended >= self.measure_from

    def _second(self, t: float) -> Second:
        s = math.floor(t - self.t0)
        sec = self.seconds.get(s)
        if sec is None:
            sec = self.seconds[s] = Second()
        return sec

    def on_sent(self, intended: float, sent: float) -> None:
        self._second(intended).offered += 1
        self._second(sent).sent += 1
        if not self.measured(intended):
            self.warmup_sent += 1
            return
        self.sent += 1
        self.first_intended = min(self.first_intended, intended)
        self.last_sent = max(self.last_sent, sent)
        self.send_lag.record(max(sent - intended, 0.0))

    def on_confirmed(self, intended: float, done: float, units: int = 1) -> None:
        sec = self._second(done)
        sec.confirmed += 1
        sec.units += units
        sec.latency.record(done - intended)
        if self.measured(intended):
            self.confirmed += 1
            self.units += units
            self.latency.record(done - intended)
            self.latency_all.record(done - intended)
            self.last_done = max(self.last_done, done)

    def on_failed(self, intended: float, done: float, code: str) -> None:
        self._second(done).failed += 1
        if self.measured(intended):
            self.failed[code] = self.failed.get(code, 0) + 1
            self.latency_all.record(done - intended)
            self.last_done = max(self.last_done, done)

    def on_timed_out(self, intended: float, done: float) -> None:
        self._second(done).timed_out += 1
        if self.measured(intended):
            self.timed_out += 1
            self.latency_all.record(done - intended)

    # --- figures --------------------------------------------------------------------

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def window_s(self) -> tuple[float, float]:
        """(send window, confirm window) in seconds. The send window is the measured
        window's length when the run had a duration, else from the first measured
        intended time to the last send plus one mean spacing; the confirm window runs
        from the same start to the last counted completion (the drain included)."""
        if self.sent == 0:
            return 0.0, 0.0
        start = self.first_intended
        if math.isfinite(self.measure_to):
            send_w = self.measure_to - self.measure_from
        elif self.sent > 1:
            send_w = (self.last_sent - start) * self.sent / (self.sent - 1)
        else:
            send_w = 0.0
        send_w = max(send_w, 1e-9)
        done_w = max(self.last_done - start, send_w) if math.isfinite(self.last_done) else send_w
        return send_w, done_w

    def summary(self) -> dict[str, Any]:
        """The headline figures (plain JSON values)."""
        send_w, done_w = self.window_s()
        out: dict[str, Any] = {
            "sent": self.sent,
            "confirmed": self.confirmed,
            "confirmed_units": self.units,
            "failed": self.failed_total,
            "failed_by_code": dict(sorted(self.failed.items())),
            "timed_out": self.timed_out,
            "in_flight_lost": max(
                self.sent - self.confirmed - self.failed_total - self.timed_out, 0
            ),
            "warmup_sent": self.warmup_sent,
            "send_window_s": round(send_w, 3),
            "confirm_window_s": round(done_w, 3),
            "send_tps": round(self.sent / send_w, 2) if self.sent else 0.0,
            "confirmed_tps": round(self.confirmed / done_w, 2) if self.sent else 0.0,
            "confirmed_units_per_s": round(self.units / done_w, 2) if self.sent else 0.0,
            "latency": self.latency.summary_ms(),
            "latency_all": self.latency_all.summary_ms(),
            "send_lag": self.send_lag.summary_ms(),
        }
        return out

    def timeline(self) -> list[dict[str, Any]]:
        """One row per second of the run, from 0 to the last second with an event."""
        if not self.seconds:
            return []
        rows = []
        for s in range(min(0, min(self.seconds)), max(self.seconds) + 1):
            sec = self.seconds.get(s, Second())
            rows.append(
                {
                    "second": s,
                    "warmup": s + self.t0 < self.measure_from,
                    "offered": sec.offered,
                    "sent": sec.sent,
                    "confirmed": sec.confirmed,
                    "units": sec.units,
                    "failed": sec.failed,
                    "timed_out": sec.timed_out,
                    "p50_ms": round(sec.latency.percentile_s(50) * 1e3, 3),
                    "p99_ms": round(sec.latency.percentile_s(99) * 1e3, 3),
                    "max_ms": round(sec.latency.max_s() * 1e3, 3),
                }
            )
        return rows

    # --- merging ----------------------------------------------------------------------

    def merge(self, other: Recorder) -> None:
        """Add ``other`` (another worker's recorder of the same phase, on the same clock
        and ``t0``; :func:`merged` rebases recorders of different clocks first)."""
        self.latency.add(other.latency)
        self.latency_all.add(other.latency_all)
        self.send_lag.add(other.send_lag)
        self.sent += other.sent
        self.confirmed += other.confirmed
        self.units += other.units
        for code, n in other.failed.items():
            self.failed[code] = self.failed.get(code, 0) + n
        self.timed_out += other.timed_out
        self.warmup_sent += other.warmup_sent
        self.first_intended = min(self.first_intended, other.first_intended)
        self.last_sent = max(self.last_sent, other.last_sent)
        self.last_done = max(self.last_done, other.last_done)
        for s, sec in other.seconds.items():
            mine = self.seconds.get(s)
            if mine is None:
                self.seconds[s] = mine = Second()
            mine.add(sec)

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain data (msgpack/JSON): histograms HDR-encoded, and every
        time relative to ``t0`` (``t0`` becomes 0). Clocks of different processes
        differ (trio's even by a random offset); their phases start at the same
        instant, so times relative to it compare across workers."""
        t0 = self.t0

        def rel(x: float) -> float | None:
            return x - t0 if math.isfinite(x) else None

        return {
            "t0": 0.0,
            "measure_from": self.measure_from - t0,
            "measure_to": rel(self.measure_to),
            "latency": self.latency.encode(),
            "latency_all": self.latency_all.encode(),
            "send_lag": self.send_lag.encode(),
            "sent": self.sent,
            "confirmed": self.confirmed,
            "units": self.units,
            "failed": dict(self.failed),
            "timed_out": self.timed_out,
            "warmup_sent": self.warmup_sent,
            "first_intended": rel(self.first_intended),
            "last_sent": rel(self.last_sent),
            "last_done": rel(self.last_done),
            "seconds": {str(s): sec.to_dict() for s, sec in self.seconds.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Recorder:
        def num(x: float | None, default: float) -> float:
            return default if x is None else float(x)

        rec = cls(float(d["t0"]), float(d["measure_from"]), num(d["measure_to"], math.inf))
        rec.latency = LatencyHistogram.decode(d["latency"])
        rec.latency_all = LatencyHistogram.decode(d["latency_all"])
        rec.send_lag = LatencyHistogram.decode(d["send_lag"])
        rec.sent, rec.confirmed, rec.units = int(d["sent"]), int(d["confirmed"]), int(d["units"])
        rec.failed = {str(k): int(v) for k, v in d["failed"].items()}
        rec.timed_out, rec.warmup_sent = int(d["timed_out"]), int(d["warmup_sent"])
        rec.first_intended = num(d["first_intended"], math.inf)
        rec.last_sent = num(d["last_sent"], -math.inf)
        rec.last_done = num(d["last_done"], -math.inf)
        rec.seconds = {int(s): Second.from_dict(v) for s, v in d["seconds"].items()}
        return rec


def merged(recorders: Iterable[Recorder]) -> Recorder:
    """One recorder adding up ``recorders`` (all of the same phase, each on its own
    clock): every one is first made relative to its ``t0`` (:meth:`Recorder.to_dict`)."""
    items = [Recorder.from_dict(r.to_dict()) for r in recorders]
    if not items:
        raise ValueError("nothing to merge")
    out = items[0]
    for r in items[1:]:
        out.merge(r)
    return out
