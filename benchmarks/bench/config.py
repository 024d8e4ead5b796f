"""The benchmark file (``relayhub bench run FILE``), on relayhub's one config layer.

```toml
[bench]
name = "latency-fixed-rate"
description = "end-to-end EVM -> EVM transfers at a fixed rate"

[topology]
mode = "embedded"            # "embedded" (the harness starts it), "endpoints", "none"
processes = true             # relay, chains and gateways as OS processes
chains = ["chainA", "chainB"]

[workload]
module = "benchmarks.bench.workloads.e2e_transfer"
params = { src = "chainA", dst = "chainB" }

[rate]
mode = "fixed"               # "fixed", "closed", "ramp", "search"
rate = 100.0

[run]
duration = "30s"
warmup = "5s"
drain = "20s"

[workers]
processes = 2                # load-generator processes (0: in this process)
```

Every key, its type, default and meaning: ``relayhub config docs`` (docs/bench.md).
Unknown keys are errors, durations carry a unit, and the cross-key rules (a
fixed rate needs ``rate``, a run needs ``duration`` or ``count``...) are checked
by :func:`check_bench` when the file is loaded, so ``relayhub config check``
reports them too. A *suite* file (``[suite] configs = [...]``) lists bench
files to run one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.config import (
    ConfigError,
    ConfigKind,
    check_host_port,
    check_http_url,
    check_positive,
    load_mapping,
    read_toml,
    setting,
)

RATE_MODES = ("fixed", "closed", "ramp", "search")
TOPOLOGY_MODES = ("embedded", "endpoints", "none")


def _check_hosts(value: tuple[str, ...]) -> str | None:
    for v in value:
        problem = check_host_port(v)
        if problem:
            return f"{v!r}: {problem}"
    return None


def _check_url_or_empty(value: str) -> str | None:
    return check_http_url(value) if value else None


@dataclass(frozen=True, slots=True)
class BenchSection:
    """``[bench]``: what the benchmark is."""

    name: str = setting(doc="the benchmark's name (file names of its report)")
    description: str = setting("", "one line saying what it measures")
    tags: tuple[str, ...] = setting((), "labels (e.g. `soak`, `slow`): `bench list` shows them")


@dataclass(frozen=True, slots=True)
class TopologySection:
    """``[topology]``: what the load is sent to."""

    mode: str = setting(
        "none",
        '"embedded": the harness starts relay, chains and gateways; "endpoints": a '
        'running deployment; "none": the workload needs no network',
        choices=TOPOLOGY_MODES,
    )
    processes: bool = setting(
        True, "embedded: each relay, chain and gateway its own OS process (else one process)"
    )
    chains: tuple[str, ...] = setting(
        ("chainA", "chainB"), "embedded: the dev chains, each with a gateway ([] = relay only)"
    )
    families: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "doc": 'embedded: chain name -> family ("fabric", "fisco"; unnamed chains are "evm")'
        },
    )
    block_interval: float = setting(
        0.05, "embedded: the dev chains' block interval", duration=True, check=check_positive
    )
    timeout_blocks: int = setting(
        100_000, "embedded: the relay's default interchain timeout, in relay blocks", min=1
    )
    accounts: int = setting(129, "embedded: funded accounts per dev chain", min=2, max=2048)
    relay: str = setting("", "endpoints: the relay API URL", check=_check_url_or_empty)
    admin_key: Path | None = setting(None, "endpoints: a hub admin's key file, for workloads")
    chain_rpc: dict[str, Any] = field(
        default_factory=dict, metadata={"doc": "endpoints: chain name -> JSON-RPC URL"}
    )
    metrics: tuple[str, ...] = setting(
        (), "extra /metrics URLs to scrape (gateways' admin endpoints)"
    )


@dataclass(frozen=True, slots=True)
class WorkloadSection:
    """``[workload]``: the module whose hooks make the transactions."""

    module: str = setting(doc="Python module with run(ctx, i) and optional hooks (docs/bench.md)")
    params: dict[str, Any] = field(
        default_factory=dict, metadata={"doc": "a table handed to the workload as ctx.params"}
    )


@dataclass(frozen=True, slots=True)
class RateSection:
    """``[rate]``: when transactions are sent."""

    mode: str = setting(
        "fixed",
        '"fixed": open loop at `rate`; "closed": `users` virtual users; "ramp": open loop '
        'from `start` to `end` over warm-up + duration; "search": maximum-rate search',
        choices=RATE_MODES,
    )
    rate: float = setting(0.0, "fixed: transactions per second", min=0)
    users: int = setting(1, "closed: virtual users", min=1, max=100_000)
    think: float = setting(0.0, "closed: pause between a user's transactions", duration=True)
    start: float = setting(0.0, "ramp: first rate; search: first step's rate", min=0)
    end: float = setting(0.0, "ramp: last rate", min=0)
    factor: float = setting(1.5, "search: rate multiplier after a passing step", min=1.01)
    step: float = setting(10.0, "search: length of each step", duration=True, check=check_positive)
    max_steps: int = setting(10, "search: steps before refinement", min=1, max=100)
    refine: int = setting(2, "search: bisection steps after the first failing one", min=0, max=20)
    max_rate: float = setting(1e6, "search: never offer more than this", check=check_positive)
    tracking: float = setting(
        0.95, "search: a step passes if confirmed TPS >= tracking x offered rate", min=0.1, max=1
    )
    p99_max: float = setting(
        2.0, "search: ... and p99 latency <= this", duration=True, check=check_positive
    )
    max_error_ratio: float = setting(
        0.0, "search: ... and (failed + timed out) <= this share of the sent", min=0, max=1
    )


@dataclass(frozen=True, slots=True)
class RunSection:
    """``[run]``: the run's shape."""

    duration: float | None = setting(None, "measured load for this long", duration=True)
    count: int = setting(0, "or this many measured transactions (0: by duration)", min=0)
    warmup: float = setting(0.0, "load before the measured window, left out", duration=True)
    drain: float = setting(
        10.0, "after sending stops, in-flight transactions count for this long", duration=True
    )
    tx_timeout: float = setting(
        30.0, "a transaction running longer counts as timed out", duration=True, min=0.001
    )
    max_in_flight: int = setting(
        10_000, "open loop: transactions in flight per worker at most", min=1
    )


@dataclass(frozen=True, slots=True)
class QuickSection:
    """``[quick]``: what ``--quick`` changes (unset keys: as in ``[run]`` / ``[rate]``)."""

    duration: float | None = setting(None, "measured duration", duration=True)
    count: int = setting(0, "measured transactions (0: keep)", min=0)
    warmup: float | None = setting(None, "warm-up", duration=True)
    drain: float | None = setting(None, "drain window", duration=True)
    step: float | None = setting(None, "search step length", duration=True)
    max_steps: int = setting(0, "search steps (0: keep)", min=0)
    refine: int = setting(-1, "search refinement steps (-1: keep)", min=-1)
    params: dict[str, Any] = field(
        default_factory=dict, metadata={"doc": "keys merged into [workload.params]"}
    )


@dataclass(frozen=True, slots=True)
class WorkersSection:
    """``[workers]``: who generates the load."""

    processes: int = setting(0, "load-generator processes on this host (0: in this process)", min=0)
    remote: tuple[str, ...] = setting(
        (), 'remote `relayhub bench worker`s, "host:port" each', check=_check_hosts
    )


@dataclass(frozen=True, slots=True)
class ReportSection:
    """``[report]``: what is written besides the JSON."""

    html: bool = setting(True, "the HTML report with plots")
    csv: bool = setting(True, "timeline and resource CSV files")
    resources: bool = setting(True, "sample CPU and memory of every process (psutil)")
    sample_interval: float = setting(
        1.0, "resource sampling interval", duration=True, check=check_positive
    )


@dataclass(frozen=True, slots=True)
class BenchFile:
    bench: BenchSection
    topology: TopologySection = field(default_factory=TopologySection)
    workload: WorkloadSection = field(default_factory=lambda: WorkloadSection(module=""))
    rate: RateSection = field(default_factory=RateSection)
    run: RunSection = field(default_factory=RunSection)
    quick: QuickSection = field(default_factory=QuickSection)
    workers: WorkersSection = field(default_factory=WorkersSection)
    report: ReportSection = field(default_factory=ReportSection)
    #: The file it was read from (set by :func:`load_bench_file`).
    path: Path = field(default=Path("."), metadata={"config": False})


def check_bench(cfg: BenchFile, where: str) -> None:
    """The rules that span keys; a ConfigError listing every broken one."""
    problems = []
    r, run, t = cfg.rate, cfg.run, cfg.topology
    if not cfg.workload.module:
        problems.append("workload.module: required (a Python module path)")
    if r.mode == "fixed" and not r.rate > 0:
        problems.append('rate.rate: required (more than zero) with mode = "fixed"')
    if r.mode == "ramp" and not r.end > 0:
        problems.append('rate.end: required (more than zero) with mode = "ramp"')
    if r.mode == "search" and not r.start > 0:
        problems.append('rate.start: required (more than zero) with mode = "search"')
    if r.mode != "search" and run.duration is None and run.count == 0:
        problems.append("run: set duration or count")
    if r.mode == "ramp" and run.duration is None:
        problems.append('run.duration: required with mode = "ramp" (the ramp spans it)')
    if t.mode == "endpoints" and not t.relay:
        problems.append('topology.relay: required with mode = "endpoints"')
    if problems:
        raise ConfigError([f"{where}: {p}" for p in problems])


def load_bench_file(path: Path) -> BenchFile:
    """A bench file, loaded and checked (every problem at once)."""
    doc = read_toml(path)
    if not isinstance(doc.get("bench"), dict):
        raise ConfigError([f"{path}: bench: required (a table with name = ...)"])
    cfg = load_mapping(BenchFile, doc, file=str(path), base=path.parent)
    cfg = _with_path(cfg, path)
    check_bench(cfg, str(path))
    return cfg


def _with_path(cfg: BenchFile, path: Path) -> BenchFile:
    import dataclasses

    return dataclasses.replace(cfg, path=path)


def quick_variant(cfg: BenchFile) -> BenchFile:
    """``cfg`` as ``--quick`` runs it: ``[quick]``'s keys over ``[run]`` and ``[rate]``."""
    import dataclasses

    q = cfg.quick
    run = cfg.run
    if q.duration is not None or q.count:
        run = dataclasses.replace(
            run,
            duration=q.duration if q.duration is not None else (None if q.count else run.duration),
            count=q.count if q.count else (0 if q.duration is not None else run.count),
        )
    if q.warmup is not None:
        run = dataclasses.replace(run, warmup=q.warmup)
    if q.drain is not None:
        run = dataclasses.replace(run, drain=q.drain)
    rate = cfg.rate
    if q.step is not None:
        rate = dataclasses.replace(rate, step=q.step)
    if q.max_steps:
        rate = dataclasses.replace(rate, max_steps=q.max_steps)
    if q.refine >= 0:
        rate = dataclasses.replace(rate, refine=q.refine)
    workload = dataclasses.replace(cfg.workload, params={**cfg.workload.params, **q.params})
    return dataclasses.replace(cfg, run=run, rate=rate, workload=workload)


BENCH_KIND = ConfigKind(
    "bench",
    "bench",
    load_bench_file,
    lambda: (
        ("`[bench]`", "bench.", BenchSection),
        ("`[topology]`", "topology.", TopologySection),
        ("`[workload]`", "workload.", WorkloadSection),
        ("`[rate]`", "rate.", RateSection),
        ("`[run]`", "run.", RunSection),
        ("`[quick]`", "quick.", QuickSection),
        ("`[workers]`", "workers.", WorkersSection),
        ("`[report]`", "report.", ReportSection),
    ),
)


# --- suites ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteSection:
    """``[suite]``: bench files run one after the other."""

    name: str = setting(doc="the suite's name")
    configs: tuple[Path, ...] = setting(doc="bench files, relative to this file")
    skip_tags: tuple[str, ...] = setting(
        (), "leave out configs carrying one of these tags (e.g. `soak`)"
    )


@dataclass(frozen=True, slots=True)
class SuiteFile:
    suite: SuiteSection


def load_suite_file(path: Path) -> SuiteSection:
    doc = read_toml(path)
    if not isinstance(doc.get("suite"), dict):
        raise ConfigError([f"{path}: suite: required (a table)"])
    suite = load_mapping(SuiteFile, doc, file=str(path), base=path.parent).suite
    problems = []
    for p in suite.configs:
        if not p.exists():
            problems.append(f"{path}: suite.configs: {p} not found")
        else:
            try:
                load_bench_file(p)
            except ConfigError as exc:
                problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return suite


SUITE_KIND = ConfigKind(
    "bench-suite", "suite", load_suite_file, lambda: (("`[suite]`", "suite.", SuiteSection),)
)
