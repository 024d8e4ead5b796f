"""A synthetic target: no network, a latency drawn per transaction, an optional stall.

For the harness's own tests and for checking a machine's load generator: the
latency a transaction takes is ``latency`` seconds (``params.latency``, default
1 ms; ``jitter``: ± that share, uniform), and between ``stall_at`` and
``stall_at + stall`` seconds after ``before_run`` every transaction waits for the
stall to end (as a target pausing for a GC or a leader election would).
``fail_every`` = n makes every n-th transaction fail with code ``"synthetic"``.
``concurrency`` (default unlimited) is how many transactions the target serves at
once; beyond it they queue.
"""

from __future__ import annotations

import random
from typing import Any

import trio

from benchmarks.bench.workload import BenchContext, Failed


def before_run(ctx: BenchContext) -> None:
    p = ctx.params
    ctx.state["t0"] = trio.current_time()
    ctx.state["rng"] = random.Random(int(p.get("seed", 1)) + ctx.worker)
    limit = int(p.get("concurrency", 0))
    ctx.state["limit"] = trio.CapacityLimiter(limit) if limit else None


async def run(ctx: BenchContext, i: int) -> int:
    p: dict[str, Any] = ctx.params
    s = ctx.state
    fail_every = int(p.get("fail_every", 0))
    limit = s["limit"]
    if limit is not None:
        await limit.acquire_on_behalf_of(i)
    try:
        stall_at, stall = float(p.get("stall_at", 0)), float(p.get("stall", 0))
        now = trio.current_time() - s["t0"]
        if stall and stall_at <= now < stall_at + stall:
            await trio.sleep(stall_at + stall - now)
        latency = float(p.get("latency", 0.001))
        jitter = float(p.get("jitter", 0.0))
        await trio.sleep(max(0.0, latency * (1 + jitter * (2 * s["rng"].random() - 1))))
    finally:
        if limit is not None:
            limit.release_on_behalf_of(i)
    if fail_every and i % fail_every == fail_every - 1:
        raise Failed("synthetic", f"transaction {i} failed on purpose")
    return int(p.get("units", 1))


def reference(ctx: BenchContext) -> dict[str, Any] | None:
    if "reference_per_s" not in ctx.params:
        return None
    return {"per_s": float(ctx.params["reference_per_s"]), "what": "given in params"}
