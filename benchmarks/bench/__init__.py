"""``relayhub bench``: the HyperBench-style benchmark harness (docs/bench.md).

* :mod:`benchmarks.bench.stats` — HDR latency histograms, counts, per-second timeline,
  exact merging (pure);
* :mod:`benchmarks.bench.rate` — open-loop schedules (fixed rate, linear ramp), the
  closed loop's virtual users, the maximum-rate search rule (pure);
* :mod:`benchmarks.bench.runner` — the trio load loops, run shape (warm-up, duration or
  count, drain, per-transaction timeout).
"""
