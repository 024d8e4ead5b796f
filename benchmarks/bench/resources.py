"""Resource use of the processes under test (psutil) and the relay's ``/metrics``.

:class:`ResourceSampler` samples CPU (percent of one core: 200 = both cores of
this machine) and RSS of every named process, children included (the relay's
signer worker), every ``interval`` seconds. :func:`scrape` reads a Prometheus text
page into ``{sample name{labels}: value}``; :func:`metrics_delta` is what a phase
added to the counters (blocks committed, IBTPs, transactions accepted and
refused) and the mean of its histograms (block commit time, transactions per
block).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import trio
from prometheus_client.parser import text_string_to_metric_families

#: The pseudo-process of the sampler's rows: CPU the rest of the machine used meanwhile.
MACHINE_OTHERS = "other processes"


@dataclass
class ResourceSampler:
    pids: dict[str, int]
    interval: float = 1.0
    #: Rows ``{"t", "process", "cpu_percent", "rss_mb"}``; ``t`` seconds since the start.
    rows: list[dict[str, Any]] = field(default_factory=list)
    _procs: dict[str, psutil.Process] = field(default_factory=dict)
    _t0: float = 0.0

    def _tree_cpu_rss(self, p: psutil.Process, named: set[int]) -> tuple[float, float]:
        """CPU seconds and RSS of ``p`` and its children, less the subtrees of other
        named processes (the coordinator starts the relay and the load generators)."""
        cpu, rss = 0.0, 0.0
        todo = [p]
        while todo:
            q = todo.pop()
            try:
                t = q.cpu_times()
                cpu += t.user + t.system
                rss += q.memory_info().rss
                todo += [c for c in q.children() if c.pid not in named]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return cpu, rss

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._t0 = time.monotonic()
        last: dict[str, tuple[float, float]] = {}
        for name, pid in self.pids.items():
            try:
                self._procs[name] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
        named = {p.pid for p in self._procs.values()}
        cores = psutil.cpu_count() or 1
        self._sample(last, named, cores)  # the baselines
        psutil.cpu_percent(None)  # starts the machine-wide measurement
        task_status.started()
        try:
            while True:
                await trio.sleep(self.interval)
                self._sample(last, named, cores)
        finally:
            self._sample(last, named, cores)  # the tail end of the run (sync: no await)

    def _sample(self, last: dict[str, tuple[float, float]], named: set[int], cores: int) -> None:
        now = time.monotonic()
        t = round(now - self._t0, 3)
        ours = 0.0
        for name, p in self._procs.items():
            try:
                cpu, rss = self._tree_cpu_rss(p, named - {p.pid})
            except psutil.NoSuchProcess:
                continue
            if name not in last:
                last[name] = (now, cpu)
                continue
            t_prev, cpu_prev = last[name]
            if now - t_prev < 0.05:
                continue  # too short a window for a meaningful rate
            pct = (cpu - cpu_prev) / (now - t_prev) * 100
            ours += pct
            self.rows.append(
                {
                    "t": t,
                    "process": name,
                    "cpu_percent": round(pct, 1),
                    "rss_mb": round(rss / 2**20, 2),
                }
            )
            last[name] = (now, cpu)
        machine = psutil.cpu_percent(None) * cores
        if self.rows and self.rows[-1]["t"] == t:
            self.rows.append(
                {
                    "t": t,
                    "process": MACHINE_OTHERS,
                    "cpu_percent": round(max(machine - ours, 0.0), 1),
                    "rss_mb": 0.0,
                }
            )

    def summary(self) -> dict[str, dict[str, float]]:
        """Per process: mean and max CPU %, first, last and max RSS (MB), and the RSS
        change over the last 80% of the samples (the soak criterion: flat within 10%)."""
        out: dict[str, dict[str, float]] = {}
        for name in [*self.pids, MACHINE_OTHERS]:
            rows = [r for r in self.rows if r["process"] == name]
            if not rows:
                continue
            cpu = [r["cpu_percent"] for r in rows]
            rss = [r["rss_mb"] for r in rows]
            tail = rss[len(rss) // 5 :] or rss
            out[name] = {
                "cpu_mean_percent": round(sum(cpu) / len(cpu), 1),
                "cpu_max_percent": round(max(cpu), 1),
                "rss_first_mb": rss[0],
                "rss_last_mb": rss[-1],
                "rss_max_mb": max(rss),
                "rss_tail_growth": round((max(tail) - min(tail)) / max(min(tail), 1e-9), 4),
            }
        return out


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "le")
            if "le" in s.labels:
                continue  # buckets: the _sum and _count are enough here
            key = f"{s.name}{{{labels}}}" if labels else s.name
            if isinstance(s.value, int | float) and math.isfinite(s.value):
                out[key] = float(s.value)
    return out


async def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """The samples of one ``/metrics`` page; empty when it does not answer."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.get(url)
        r.raise_for_status()
    except httpx.HTTPError:
        return {}
    return parse_metrics(r.text)


def metrics_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """What the phase added to each ``relayhub_*`` counter (``_total``, ``_sum``,
    ``_count``), plus ``<histogram>_mean`` = added sum ÷ added count, and the final
    value (``@end``) of gauges of heights, lags, queues and sequence numbers."""
    out: dict[str, float] = {}
    for k, v in after.items():
        base = k.split("{", 1)[0]
        if not base.startswith("relayhub_"):
            continue
        if base.endswith(("_total", "_sum", "_count")):
            d = v - before.get(k, 0.0)
            if d:
                out[k] = round(d, 6)
        elif any(w in base for w in ("height", "lag", "parked", "mempool", "seq", "head")):
            out[f"{k}@end"] = v  # a gauge: its value when the phase ended
    for k in list(out):
        if k.split("{", 1)[0].endswith("_sum"):
            count = out.get(k.replace("_sum", "_count", 1))
            if count:
                out[k.replace("_sum", "_mean", 1)] = round(out[k] / count, 6)
    return out
