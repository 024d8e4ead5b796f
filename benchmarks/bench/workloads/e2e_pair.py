"""End-to-end interchain transfers between chains of any two families (EVM, Fabric,
FISCO), through each chain's service driver (``relayhub.drivers``).

One transaction of the benchmark is one AssetTransfer ``transfer`` of 1 token, in the
direction ``pairs[i % len(pairs)]`` (default both ways between ``a`` and ``b``):
source chain → source gateway → relay (BEGIN) → destination gateway → mint →
relay (SUCCESS). It is **confirmed** when the relay's record of it is final and
SUCCESS (the destination executed it and its receipt was proven), read by polling the
relay (``AsyncRelayClient.wait_final``: completion times are late by at most one
poll); any other final status counts as failed under its name. The source's callback
(its lock burned) lands after that and is not waited for — unlike the EVM-only
``e2e_transfer`` workload, which confirms on the source's callback event.

Each transfer is sent by one of the source chain's users, round robin over
``users`` of them (a Fabric user's transfers still share the service's out-counter:
two in one block conflict, and the driver endorses the loser again — Fabric's
MVCC, measured as it is).

The **reference** (before and after the load): local transactions on the chain
``reference_chain`` (default ``b``) through the same driver — ``reference_writes``
DataSwap ``set`` s of distinct keys, ``reference_concurrency`` in flight — so
``floor_ratio`` = round trips/s ÷ local transactions/s on that chain: how much of a
chain's own transaction rate is left for interchain round trips.
"""

from __future__ import annotations

from typing import Any

import trio

from benchmarks.bench.topo import topology_of
from benchmarks.bench.workload import BenchContext, Failed
from relay.ibtp import TxStatus
from relay.sdk.aio import AsyncRelayClient


def _pairs(ctx: BenchContext) -> list[tuple[str, str]]:
    a, b = str(ctx.params.get("a", "chainA")), str(ctx.params.get("b", "chainB"))
    raw = ctx.params.get("pairs")
    if raw is None:
        return [(a, b), (b, a)]
    return [(str(p[0]), str(p[1])) for p in raw]


async def before_run(ctx: BenchContext) -> None:
    topo = topology_of(ctx.endpoints)
    ctx.state.update(
        topo=topo,
        client=AsyncRelayClient(ctx.endpoints["relay"]),
        pairs=_pairs(ctx),
        users=int(ctx.params.get("users", 3)),
        timeout=float(ctx.params.get("wait", 60.0)),
    )


async def run(ctx: BenchContext, i: int) -> int:
    s = ctx.state
    topo = s["topo"]
    src, dst = s["pairs"][i % len(s["pairs"])]
    n = min(s["users"], len(topo.chains[src].users))
    user = (i // len(s["pairs"])) % n
    recipient = topo.chains[dst].users[0].address
    (ibtp_id,) = await topo.transfer_many(src, dst, [1], user=user, recipient=recipient)
    st = await s["client"].wait_final(ibtp_id, timeout=s["timeout"])
    if st.status != TxStatus.SUCCESS:
        raise Failed(st.status.name, f"{ibtp_id} ended {st.status.name}")
    return 1


async def after_run(ctx: BenchContext) -> None:
    s = ctx.state
    if "client" in s:
        await s["client"].aclose()
    if "topo" in s:
        await s["topo"].aclose()


async def reference(ctx: BenchContext) -> dict[str, Any]:
    """Local DataSwap writes on ``reference_chain`` (see the module doc)."""
    chain = str(ctx.params.get("reference_chain", ctx.params.get("b", "chainB")))
    count = int(ctx.params.get("reference_writes", 200))
    concurrency = int(ctx.params.get("reference_concurrency", 8))
    topo = topology_of(ctx.endpoints)
    driver = topo.driver(chain)
    keys = iter(range(count))
    try:
        t0 = trio.current_time()

        async def writer() -> None:
            for k in keys:
                await driver.data_set(f"reference-{trio.current_time():.6f}-{k}", b"x")

        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                for _ in range(concurrency):
                    nursery.start_soon(writer)
        elapsed = trio.current_time() - t0
    finally:
        await topo.aclose()
    return {
        "per_s": round(count / elapsed, 2),
        "what": f"local DataSwap writes on {chain} ({count}, {concurrency} in flight, same chain)",
        "writes": count,
        "seconds": round(elapsed, 3),
    }
