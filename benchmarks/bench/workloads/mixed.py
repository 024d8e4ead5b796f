"""A mix of workloads in one run: ``params.parts`` lists them, each with a weight.

```toml
[workload]
module = "benchmarks.bench.workloads.mixed"

[[workload.params.parts]]
module = "benchmarks.bench.workloads.e2e_transfer"
weight = 3
params = { src = "chainA", dst = "chainB" }
```

Transaction ``i`` goes to the part whose share of the weights it falls in
(``i mod total weight``, parts in order), so the mix is exact over every
``total weight`` consecutive transactions and the same on every worker. Each
part gets its own context (its own ``params`` and ``state``; the same endpoints,
worker number and shared data) and its hooks run as they would alone; failures
are counted under ``<part number>:<code>``. The reference is the first part's that
has one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmarks.bench.workload import BenchContext, Failed, Workload, load_workload


def _parts(ctx: BenchContext) -> list[tuple[Workload, BenchContext, int]]:
    if "parts" in ctx.state:
        parts: list[tuple[Workload, BenchContext, int]] = ctx.state["parts"]
        return parts
    out = []
    for n, spec in enumerate(ctx.params.get("parts", [])):
        if not isinstance(spec, dict) or "module" not in spec:
            raise Failed("config", f"params.parts[{n}]: a table with module (and weight, params)")
        sub = dataclasses.replace(ctx, params=dict(spec.get("params", {})), state={})
        out.append((load_workload(str(spec["module"])), sub, int(spec.get("weight", 1))))
    if not out:
        raise Failed("config", "params.parts: at least one part")
    ctx.state["parts"] = out
    ctx.state["slots"] = [k for k, (_, _, w) in enumerate(out) for _ in range(w)]
    return out


async def _each(ctx: BenchContext, hook: str) -> list[Any]:
    return [await w.call(hook, sub) for w, sub, _ in _parts(ctx)]


async def prepare(ctx: BenchContext) -> dict[str, Any]:
    shared: dict[str, Any] = {}
    for r in await _each(ctx, "prepare"):
        shared.update(r or {})
    return shared


async def before_run(ctx: BenchContext) -> None:
    parts = _parts(ctx)
    for w, sub, _ in parts:
        sub.shared = ctx.shared
        await w.call("before_run", sub)
    ctx.state["targets"] = [w.target(sub) for w, sub, _ in parts]


async def run(ctx: BenchContext, i: int) -> int:
    slots: list[int] = ctx.state["slots"]
    k = slots[i % len(slots)]
    try:
        units: int = await ctx.state["targets"][k](i)
    except Failed as exc:
        raise Failed(f"{k}:{exc.code}", str(exc)) from None
    return units


async def after_run(ctx: BenchContext) -> None:
    await _each(ctx, "after_run")


async def reference(ctx: BenchContext) -> dict[str, Any] | None:
    for w, sub, _ in _parts(ctx):
        if w.hook("reference") is not None:
            ref: dict[str, Any] | None = await w.call("reference", sub)
            return ref
    return None
