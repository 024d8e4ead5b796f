"""``relayhub bench run``: one bench file from topology to result (the coordinator).

1. start the system under test (:func:`benchmarks.bench.topo.open_system`);
2. the workload's ``prepare`` and ``reference`` (the floor, before the load);
3. start the load generators (:mod:`benchmarks.bench.worker`): in this process,
   ``[workers] processes`` child processes and/or ``remote`` workers, all of them
   set up (``before_run``) before the first phase's clock starts;
4. run the phases — one, or the steps of a maximum-rate search — while sampling
   every process's CPU and memory and scraping ``/metrics`` before and after each;
5. ``reference`` again after the load, ``after_run`` on every worker;
6. return the result document (:func:`run_bench`), which :mod:`benchmarks.bench.report`
   writes as JSON, CSV and HTML.

``floor_ratio`` is one definition everywhere: reference (floor) time per unit ÷
actual time per unit, i.e. confirmed units/s ÷ the reference's units/s; 1.0 means
at the floor, lower is slower.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from benchmarks.bench.config import BenchFile, quick_variant
from benchmarks.bench.rate import MaxRateSearch, Step
from benchmarks.bench.resources import MACHINE_OTHERS, ResourceSampler, metrics_delta, scrape
from benchmarks.bench.runner import Shape
from benchmarks.bench.stats import Recorder, merged
from benchmarks.bench.topo import System, open_system
from benchmarks.bench.worker import (
    InProcessWorkers,
    ProcessWorkers,
    RemoteWorkers,
    shape_dict,
)
from benchmarks.bench.workload import BenchContext, load_workload

#: Seconds between the coordinator fixing a phase's start and the start itself.
START_LEAD_S = 0.5


@dataclass
class Phase:
    name: str
    rate: dict[str, Any]
    shape: Shape
    recorder: Recorder
    metrics: dict[str, float]
    started_s: float  # since the run's start (wall clock)


ProgressFn = Callable[[str, float, float], None]


class Workers:
    """All load generators of a run together (each kind is one worker group)."""

    def __init__(self, groups: list[Any]) -> None:
        self.groups = groups

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def pids(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in self.groups:
            out.update(g.pids)
        return out

    async def setup(self, msg: dict[str, Any]) -> None:
        n, base = self.count, 0
        for g in self.groups:
            # Each group numbers its workers from 0; give every worker its global number.
            if isinstance(g, InProcessWorkers):
                await g.session.setup({**msg, "worker": base, "workers": n}, g.topology)
            else:
                replies = await g._all(
                    [
                        {**msg, "type": "setup", "worker": base + k, "workers": n}
                        for k in range(g.count)
                    ],
                    "ready",
                )
                for k, r in enumerate(replies):
                    if g.local[k]:  # a pid on another host is no process of ours
                        g.pids.setdefault(f"loadgen-{base + k}", int(r.get("pid", 0)))
            base += g.count

    async def phase(self, msg: dict[str, Any]) -> list[Recorder]:
        out: list[Recorder] = []

        async def one(g: Any) -> None:
            out.extend(await g.phase(msg))

        async with trio.open_nursery() as nursery:
            for g in self.groups:
                nursery.start_soon(one, g)
        return out

    async def bye(self) -> None:
        for g in self.groups:
            await g.bye()

    async def aclose(self) -> None:
        for g in self.groups:
            await g.aclose()


@asynccontextmanager
async def open_workers(cfg: BenchFile, topology: Any) -> AsyncIterator[Workers]:
    groups: list[Any] = []
    try:
        if cfg.workers.processes == 0 and not cfg.workers.remote:
            groups.append(InProcessWorkers(topology))
        if cfg.workers.processes:
            groups.append(await ProcessWorkers.start(cfg.workers.processes))
        if cfg.workers.remote:
            groups.append(await RemoteWorkers.connect(cfg.workers.remote))
        yield Workers(groups)
    finally:
        with trio.CancelScope(shield=True):
            for g in groups:
                await g.aclose()


def rate_of(cfg: BenchFile) -> dict[str, Any]:
    r = cfg.rate
    if r.mode == "closed":
        return {"mode": "closed", "users": r.users, "think": r.think}
    if r.mode == "ramp":
        over = cfg.run.warmup + (cfg.run.duration or 0.0)
        return {"mode": "ramp", "start": r.start, "end": r.end, "over": over}
    return {"mode": "fixed", "rate": r.rate}


def shape_of(cfg: BenchFile, *, duration: float | None = None) -> Shape:
    run = cfg.run
    return Shape(
        duration=duration if duration is not None else run.duration,
        count=None if duration is not None else (run.count or None),
        warmup=run.warmup,
        drain=run.drain,
        tx_timeout=run.tx_timeout,
        max_in_flight=run.max_in_flight,
    )


def search_rule(cfg: BenchFile) -> MaxRateSearch:
    r = cfg.rate
    return MaxRateSearch(
        start=r.start,
        factor=r.factor,
        max_rate=r.max_rate,
        max_steps=r.max_steps,
        refine=r.refine,
        tracking=r.tracking,
        p99_max=r.p99_max,
        max_error_ratio=r.max_error_ratio,
    )


async def _scrape_all(system: System) -> dict[str, dict[str, float]]:
    return {name: await scrape(url) for name, url in system.metrics.items()}


def _delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, a in after.items():
        for k, v in metrics_delta(before.get(name, {}), a).items():
            out[f"{name}:{k}"] = v
    return out


async def run_bench(
    cfg: BenchFile,
    *,
    quick: bool = False,
    progress: ProgressFn | None = None,
    keep_workdir: Path | None = None,
) -> dict[str, Any]:
    """Run ``cfg`` and return its result document (plain JSON data)."""
    if quick:
        cfg = quick_variant(cfg)
    workload = load_workload(cfg.workload.module)
    started_wall = time.time()
    workdir = keep_workdir or Path(tempfile.mkdtemp(prefix=f"bench-{cfg.bench.name}-"))
    phases: list[Phase] = []
    steps: list[Step] = []
    refs: dict[str, Any] = {}
    try:
        async with open_system(cfg.topology, workdir) as system:
            ctx = BenchContext(
                params=dict(cfg.workload.params),
                endpoints=system.endpoints,
                worker=-1,
                workers=0,
                quick=quick,
                topology=system.topology,
            )
            shared = await workload.call("prepare", ctx) or {}
            ctx.shared.update(shared)
            refs["before"] = await workload.call("reference", ctx)
            async with open_workers(cfg, system.topology) as workers:
                await workers.setup(
                    {
                        "module": cfg.workload.module,
                        "params": dict(cfg.workload.params),
                        "endpoints": system.endpoints,
                        "shared": dict(ctx.shared),
                        "quick": quick,
                    }
                )
                pids = {**system.pids, **workers.pids, "coordinator": os.getpid()}
                sampler = ResourceSampler(pids, cfg.report.sample_interval)
                async with trio.open_nursery() as nursery:
                    if cfg.report.resources:
                        await nursery.start(sampler.serve)

                    async def phase(name: str, rate: dict[str, Any], shape: Shape) -> Phase:
                        before = await _scrape_all(system)
                        start_wall = time.time() + START_LEAD_S
                        msg = {"rate": rate, "shape": shape_dict(shape), "start_wall": start_wall}
                        total = shape.warmup + (shape.duration or math.nan)
                        async with trio.open_nursery() as inner:
                            if progress is not None:
                                inner.start_soon(_tick, progress, name, start_wall, total)
                            recs = await workers.phase(msg)
                            inner.cancel_scope.cancel()
                        after = await _scrape_all(system)
                        p = Phase(
                            name,
                            rate,
                            shape,
                            merged(recs),
                            _delta(before, after),
                            start_wall - started_wall,
                        )
                        phases.append(p)
                        return p

                    if cfg.rate.mode == "search":
                        rule = search_rule(cfg)
                        while (r := rule.next_rate(steps)) is not None:
                            n = len(steps) + 1
                            p = await phase(
                                f"step {n} at {r:g}/s",
                                {"mode": "fixed", "rate": r},
                                shape_of(cfg, duration=cfg.rate.step),
                            )
                            s = p.recorder.summary()
                            steps.append(
                                Step(
                                    r,
                                    float(s["confirmed_tps"]),
                                    p.recorder.latency.percentile_s(99),
                                    int(s["failed"]) + int(s["timed_out"]),
                                    int(s["sent"]),
                                )
                            )
                    else:
                        await phase("main", rate_of(cfg), shape_of(cfg))
                    nursery.cancel_scope.cancel()
                await workers.bye()
            refs["after"] = await workload.call("reference", ctx)
    finally:
        if keep_workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return result_document(cfg, quick, started_wall, phases, steps, refs, sampler, workers.count)


async def _tick(progress: ProgressFn, name: str, start_wall: float, total: float) -> None:
    while True:
        progress(name, time.time() - start_wall, total)
        await trio.sleep(0.25)


def _reference(refs: dict[str, Any]) -> dict[str, Any] | None:
    got = [r for r in (refs.get("before"), refs.get("after")) if isinstance(r, dict)]
    if not got:
        return None
    per_s = [float(r["per_s"]) for r in got if r.get("per_s")]
    return {
        "what": got[0].get("what", ""),
        "per_s": round(sum(per_s) / len(per_s), 2) if per_s else None,
        "before": refs.get("before"),
        "after": refs.get("after"),
    }


def result_document(
    cfg: BenchFile,
    quick: bool,
    started_wall: float,
    phases: list[Phase],
    steps: list[Step],
    refs: dict[str, Any],
    sampler: ResourceSampler,
    workers: int,
) -> dict[str, Any]:
    """The run as plain data: what ``report`` writes and ``compare`` reads."""
    search = None
    headline_phase = phases[-1] if phases else None
    if steps:
        rule = search_rule(cfg)
        best = rule.best(steps)
        if best is not None:
            headline_phase = phases[steps.index(best)]
        search = {
            "rule": dataclasses.asdict(rule),
            "steps": [{**dataclasses.asdict(s), "passed": s.passes(rule)} for s in steps],
            "max_rate": best.rate if best else None,
            "best_step": steps.index(best) + 1 if best else None,
        }
    summary = headline_phase.recorder.summary() if headline_phase else {}
    ref = _reference(refs)
    floor_ratio = None
    if ref and ref.get("per_s") and summary.get("confirmed_units_per_s"):
        floor_ratio = round(summary["confirmed_units_per_s"] / ref["per_s"], 4)
    lat = summary.get("latency", {})
    headline: dict[str, Any] = {
        "bench": cfg.bench.name,
        "quick": quick,
        "send_tps": summary.get("send_tps"),
        "confirmed_tps": summary.get("confirmed_tps"),
        "confirmed_units_per_s": summary.get("confirmed_units_per_s"),
        "p50_ms": lat.get("p50_ms"),
        "p90_ms": lat.get("p90_ms"),
        "p99_ms": lat.get("p99_ms"),
        "p99.9_ms": lat.get("p99.9_ms"),
        "max_ms": lat.get("max_ms"),
        "sent": summary.get("sent"),
        "confirmed": summary.get("confirmed"),
        "failed": summary.get("failed"),
        "timed_out": summary.get("timed_out"),
    }
    if ref is not None:
        headline["reference_per_s"] = ref.get("per_s")
        headline["floor_ratio"] = floor_ratio
    if search is not None:
        headline["max_rate"] = search["max_rate"]
    others = sampler.summary().get(MACHINE_OTHERS)
    if others is not None:  # a busy neighbour moves every absolute figure
        headline["others_cores"] = round(others["cpu_mean_percent"] / 100, 2)
    return {
        "format": "relayhub-bench/1",
        "bench": cfg.bench.name,
        "description": cfg.bench.description,
        "config": str(cfg.path),
        "quick": quick,
        "started": datetime.datetime.fromtimestamp(started_wall, datetime.UTC).isoformat(),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "workload": {"module": cfg.workload.module, "params": dict(cfg.workload.params)},
        "topology": dataclasses.asdict(cfg.topology) | {"admin_key": None},
        "workers": workers,
        "headline": headline,
        "summary": summary,
        "reference": ref,
        "floor_ratio": floor_ratio,
        "search": search,
        "phases": [
            {
                "name": p.name,
                "rate": p.rate,
                "shape": shape_dict(p.shape),
                "started_s": round(p.started_s, 3),
                "summary": p.recorder.summary(),
                "timeline": p.recorder.timeline(),
                "latency_cdf": _thin(p.recorder.latency.cdf()),
                "latency_hdr": p.recorder.latency.encode(),
                "metrics": p.metrics,
            }
            for p in phases
        ],
        "resources": {"rows": sampler.rows, "summary": sampler.summary()},
    }


def _thin(cdf: list[tuple[float, float]], points: int = 400) -> list[list[float]]:
    """At most ``points`` CDF points (every k-th, the last one kept)."""
    if len(cdf) <= points:
        return [[round(s, 6), round(f, 6)] for s, f in cdf]
    k = math.ceil(len(cdf) / points)
    keep = cdf[::k] + ([cdf[-1]] if (len(cdf) - 1) % k else [])
    return [[round(s, 6), round(f, 6)] for s, f in keep]
