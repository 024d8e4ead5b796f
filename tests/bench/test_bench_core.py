"""The harness's measurement core: histograms, rate control, run shape and the
coordinated-omission correction, all on trio's virtual clock (exact times, no
waiting: nothing here asserts speed)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import trio

from benchmarks.bench.rate import (
    FixedLoad,
    FixedRate,
    LinearRamp,
    MaxRateSearch,
    Step,
    first_index_at,
    indices,
)
from benchmarks.bench.runner import Shape, failure_code, run_closed, run_open
from benchmarks.bench.stats import LatencyHistogram, Recorder, merged


def reference_percentile(sorted_values: list[int], p: float) -> int:
    """HDR's definition: the smallest value with at least round(p% of n) values <= it."""
    k = max(1, int(p / 100 * len(sorted_values) + 0.5))
    return sorted_values[k - 1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_percentiles_match_a_sorted_list(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(8, 1.5)) + 1 for _ in range(5000)]  # microseconds
    h = LatencyHistogram()
    for v in values:
        h.record(v / 1e6)
    ref = sorted(values)
    for p in (50, 90, 99, 99.9, 100):
        got = round(h.percentile_s(p) * 1e6)
        assert h.hist.values_are_equivalent(got, reference_percentile(ref, p)), p
    assert h.hist.values_are_equivalent(round(h.max_s() * 1e6), ref[-1])
    assert h.count == len(values)
    cdf = h.cdf()
    assert cdf[-1][1] == 1.0 and all(a[0] < b[0] for a, b in itertools.pairwise(cdf))


def test_recorders_merge_exactly_through_hdr_encoding() -> None:
    rng = random.Random(7)
    parts = [Recorder(0.0, 1.0, 11.0) for _ in range(3)]
    whole = Recorder(0.0, 1.0, 11.0)
    for n in range(3000):
        intended = n / 300
        done = intended + rng.expovariate(20)
        for r in (parts[n % 3], whole):
            r.on_sent(intended, intended)
            if n % 17 == 0:
                r.on_failed(intended, done, "6001")
            else:
                r.on_confirmed(intended, done, units=2)
    decoded = [Recorder.from_dict(p.to_dict()) for p in parts]
    m = merged(decoded)
    assert m.summary() == whole.summary()
    assert m.timeline() == whole.timeline()
    assert m.latency.encode() == whole.latency.encode()


def test_recorders_of_different_clocks_merge_by_their_start() -> None:
    # Two workers, the same phase: started at the same instant, read from clocks
    # 1,000 s apart (trio's clocks even differ by a random offset per process).
    a, b = Recorder(10.0, 11.0, 21.0), Recorder(1010.0, 1011.0, 1021.0)
    for n in range(100):
        for r in (a, b):
            t = r.t0 + 1 + n / 10
            r.on_sent(t, t)
            r.on_confirmed(t, t + 0.5)
    m = merged([a, b])
    assert m.summary()["send_window_s"] == 10.0 and m.summary()["confirm_window_s"] == 10.4
    assert m.summary()["send_tps"] == 20.0 and m.sent == 200
    assert [r["offered"] for r in m.timeline()] == [0] + [20] * 10 + [0]


async def instant(i: int) -> int:
    return 1


async def test_fixed_rate_sends_on_schedule(autojump_clock: trio.testing.MockClock) -> None:
    rec = await run_open(instant, FixedRate(200), Shape(duration=10, warmup=2, drain=1))
    s = rec.summary()
    assert s["sent"] == 2000 and s["confirmed"] == 2000 and s["warmup_sent"] == 400
    assert s["send_tps"] == 200.0
    assert s["send_lag"]["max_ms"] == 0.001  # the histogram's floor: 1 µs
    rows = [r for r in rec.timeline() if not r["warmup"]]
    assert [r["sent"] for r in rows] == [200] * 10


async def test_count_shape_and_worker_split(autojump_clock: trio.testing.MockClock) -> None:
    shape = Shape(count=999, warmup=1, drain=1)
    t0 = trio.current_time() + 1
    recs = [
        await run_open(instant, FixedRate(100), shape, worker=k, workers=3, start_at=t0)
        for k in range(3)
    ]
    assert sum(r.sent for r in recs) == 999
    assert first_index_at(FixedRate(100), 1.0) == 100
    assert list(zip(range(4), indices(1, 3), strict=False)) == [(0, 1), (1, 4), (2, 7), (3, 10)]


async def test_linear_ramp_offers_its_integral(autojump_clock: trio.testing.MockClock) -> None:
    ramp = LinearRamp(0, 100, 10)
    assert ramp.offered_by(10) == 500
    rec = await run_open(instant, ramp, Shape(duration=12, drain=1))
    rows = rec.timeline()
    for r in rows[:10]:
        s = r["second"]
        expect = ramp.offered_by(s + 1) - ramp.offered_by(s)
        assert abs(r["sent"] - expect) <= 1, (s, r["sent"], expect)
    assert [r["sent"] for r in rows[10:12]] == [100, 100]
    assert rec.sent == 700


async def test_closed_loop_users(autojump_clock: trio.testing.MockClock) -> None:
    async def ten_ms(i: int) -> int:
        await trio.sleep(0.01)
        return 1

    rec = await run_closed(ten_ms, FixedLoad(4), Shape(duration=1))
    assert rec.confirmed == 400
    assert rec.latency.percentile_s(99) == pytest.approx(0.01, rel=1e-3)
    counted = await run_closed(ten_ms, FixedLoad(3), Shape(count=10))
    assert counted.confirmed == 10


async def test_failures_by_code_timeouts_and_drain(autojump_clock: trio.testing.MockClock) -> None:
    class Refused(Exception):
        code = 6001

    async def flaky(i: int) -> int:
        if i % 4 == 0:
            raise Refused("mempool full")
        if i % 4 == 1:
            raise ValueError("bad")
        if i % 4 == 2:
            await trio.sleep(5)  # past tx_timeout
        return 3

    rec = await run_open(flaky, FixedRate(10), Shape(duration=4, tx_timeout=1, drain=2))
    s = rec.summary()
    assert s["sent"] == 40 and s["failed_by_code"] == {"6001": 10, "ValueError": 10}
    assert s["timed_out"] == 10 and s["confirmed"] == 10 and s["confirmed_units"] == 30
    # Every transaction is counted in latency_all, the timed-out ones at their timeout.
    assert rec.latency_all.count == 40 and rec.latency_all.max_s() == pytest.approx(1, rel=1e-3)

    async def slow(i: int) -> int:
        await trio.sleep(3)
        return 1

    start = trio.current_time()
    drained = await run_open(slow, FixedRate(10), Shape(duration=1, tx_timeout=10, drain=1))
    assert drained.timed_out == 10 and drained.confirmed == 0
    assert trio.current_time() - start == pytest.approx(2.0)  # 1 s of load + 1 s of drain
    assert failure_code(Refused()) == "6001" and failure_code(KeyError()) == "KeyError"


class StallingServer:
    """One request at a time, 1 ms each, except that it stalls from t=5 s to t=7 s."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lock = trio.Lock()

    async def __call__(self, i: int) -> int:
        async with self.lock:
            now = trio.current_time() - self.t0
            if 5 <= now < 7:
                await trio.sleep(7 - now)
            await trio.sleep(0.001)
        return 1


async def test_a_stall_shows_in_p99_where_a_naive_closed_loop_hides_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    t0 = trio.current_time()
    naive = await run_closed(StallingServer(t0), FixedLoad(1), Shape(duration=10), start_at=t0)
    # The naive loop waits out the stall with a single request: one slow sample.
    assert naive.latency.percentile_s(99) < 0.002
    assert naive.latency.max_s() == pytest.approx(2.0, rel=0.01)

    t1 = trio.current_time()
    for limit in (1, 10_000):  # one connection like the naive loop, or unbounded
        shape = Shape(duration=10, max_in_flight=limit)
        rec = await run_open(StallingServer(t1), FixedRate(100), shape, start_at=t1)
        # ~200 of the 1,000 requests were due during the stall: 20% waited, up to 2 s.
        assert rec.sent == 1000 and rec.confirmed == 1000
        assert rec.latency.percentile_s(90) > 0.2
        assert rec.latency.percentile_s(99) > 1.5
        assert rec.latency.max_s() == pytest.approx(2.0, rel=0.01)
        t1 = trio.current_time()


def test_max_rate_search_rule() -> None:
    capacity = 340.0

    def measure(rate: float) -> Step:
        tps = min(rate, capacity)
        return Step(rate, tps, 0.1 if rate <= capacity else 5.0, 0, int(rate * 10))

    rule = MaxRateSearch(start=50, factor=2, refine=3)
    steps: list[Step] = []
    while (r := rule.next_rate(steps)) is not None:
        steps.append(measure(r))
    rates = [s.rate for s in steps]
    assert rates[:4] == [50, 100, 200, 400]
    best = rule.best(steps)
    assert best is not None and 300 <= best.rate <= capacity
    assert len(steps) == 4 + 3
    assert rule.best([measure(1000)]) is None
    assert MaxRateSearch(start=1000).next_rate([measure(1000)]) is None
    assert not math.isnan(best.confirmed_tps)
