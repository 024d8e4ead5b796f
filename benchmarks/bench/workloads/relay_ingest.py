"""Relay ingest: notary-proved IBTPs committed by the relay through its HTTP API.

The workload of ``benchmarks/harness/workloads.py`` on the topology's relay (hub
``hub0``): two notary chains A and B, ``streams`` senders, each with its own gateway
key and service pair (even streams A -> B, odd B -> A), ``batch`` IBTPs per signed
``ibtp`` transaction, ``txs_per_request`` transactions per msgpack
``POST /v1/txs?wait=commit``. One benchmark transaction is one request; its units
are its IBTPs, confirmed when the response says every transaction was admitted
(the relay answers once their block is durable). A request refused as
MEMPOOL_FULL (6001) is resent (counted in ``ctx.state["retries"]``); any other
refusal fails the request with its code.

Request ``i`` is request ``i // streams`` of stream ``i % streams``: with a closed
loop of ``users = streams`` each virtual user is one stream, so each stream has one
request in flight, in nonce order. (Under an open loop a request also waits for
its stream's previous one to be answered; that wait counts in its latency.)

``prepare`` registers the chains and services (the topology's admin approves);
``before_run`` pre-generates this worker's streams' transactions, before any clock
starts. ``reference`` is the **crypto floor** of ``benchmarks/relay_ingest.py``:
IBTP/s that one core reaches doing only the signature work the relay does per IBTP
(notary recovery, the transaction signature's share, the relay-proof signature),
on 2,000 IBTPs of the same shape. ``floor_ratio`` = IBTP/s ÷ floor IBTP/s = floor
time per IBTP ÷ actual time per IBTP.

Params: ``requests`` (per stream, default 10), ``streams`` (8), ``batch`` (500),
``txs_per_request`` (2), ``notaries`` (1), ``seed``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from typing import Any

import httpx
import msgpack
import trio

from benchmarks.bench.workload import BenchContext, Failed
from benchmarks.harness.workloads import (
    BenchKeys,
    TxJob,
    build_ibtp_tx,
    build_ingest_workload,
    make_keys,
    make_streams,
    setup_txs,
    stream_jobs,
)
from relay.crypto import Account
from relay.errors import Code
from relay.ibtp import TxStatus
from relay.ledger.types import encode_tx

MSGPACK = "application/msgpack"


def _p(ctx: BenchContext, key: str, default: int) -> int:
    return int(ctx.params.get(key, default))


def _keys(ctx: BenchContext) -> BenchKeys:
    keys = make_keys(
        _p(ctx, "streams", 8), _p(ctx, "notaries", 1), str(ctx.params.get("seed", "bench"))
    )
    admin = Account.from_key(bytes.fromhex(ctx.endpoints["admin_key"][2:]))
    return dataclasses.replace(keys, admin=admin)


async def _post(client: httpx.AsyncClient, url: str, txs: list[bytes]) -> list[dict[str, Any]]:
    """POST ``txs`` (wait=commit), resending what MEMPOOL_FULL refused; the results of
    every transaction, or Failed with the first other refusal's code."""
    done: list[dict[str, Any]] = []
    retries = 0
    while txs:
        r = await client.post(
            url,
            content=msgpack.packb(txs, use_bin_type=True),
            headers={"content-type": MSGPACK, "accept": MSGPACK},
        )
        doc = msgpack.unpackb(r.content, raw=False)
        results = doc.get("results", []) if isinstance(doc, dict) else []
        ok = 0
        for res in results:
            if not res.get("ok"):
                break
            ok += 1
        done += results[:ok]
        if ok == len(txs):
            return done
        bad = results[ok] if ok < len(results) else doc
        code = bad.get("code") if isinstance(bad, dict) else None
        if code != Code.MEMPOOL_FULL:
            raise Failed(code or f"http-{r.status_code}", str(bad))
        retries += 1
        txs = txs[ok:]
        await trio.sleep(0.01)
    return done


async def prepare(ctx: BenchContext) -> dict[str, Any]:
    hub = ctx.endpoints["hub_id"]
    url = f"{ctx.endpoints['relay']}/v1/txs?wait=commit"
    async with httpx.AsyncClient(timeout=120) as client:
        await _post(client, url, [encode_tx(tx) for tx in setup_txs(_keys(ctx), hub)])
    return {"hub_id": hub}


def before_run(ctx: BenchContext) -> None:
    keys = _keys(ctx)
    hub = ctx.endpoints["hub_id"]
    streams = make_streams(keys, hub)
    batch, per_request = _p(ctx, "batch", 500), _p(ctx, "txs_per_request", 2)
    ibtps = _p(ctx, "requests", 10) * per_request * batch
    mine = [s for s in streams if s.k % ctx.workers == ctx.worker]
    jobs: list[list[TxJob]] = [
        [dataclasses.replace(j, hub_id=hub) for j in stream_jobs(keys, s, ibtps, batch)]
        for s in mine
    ]
    flat = [j for js in jobs for j in js]
    procs = max(1, multiprocessing.cpu_count())
    if procs > 1 and len(flat) > 1:
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            built = pool.map(build_ibtp_tx, flat, chunksize=max(1, len(flat) // (procs * 8)))
    else:
        built = [build_ibtp_tx(j) for j in flat]
    requests: dict[int, list[tuple[list[bytes], int]]] = {}
    pos = 0
    for s, js in zip(mine, jobs, strict=True):
        txs, counts = built[pos : pos + len(js)], [j.count for j in js]
        pos += len(js)
        requests[s.k] = [
            (txs[n : n + per_request], sum(counts[n : n + per_request]))
            for n in range(0, len(txs), per_request)
        ]
    ctx.state.update(
        requests=requests,
        answered={k: 0 for k in requests},
        turn={k: trio.Event() for k in requests},
        streams=len(streams),
        client=httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=len(mine) + 2)),
        url=f"{ctx.endpoints['relay']}/v1/txs?wait=commit",
    )


async def run(ctx: BenchContext, i: int) -> int:
    return await send_stream_request(ctx, i, "params.requests")


async def send_stream_request(ctx: BenchContext, i: int, count_param: str) -> int:
    """Request ``i``: request ``i // streams`` of stream ``i % streams``, after the stream's
    previous one; its IBTPs must all come back BEGIN and new. ``count_param`` names the
    parameter that sets a stream's request count (for the error when it runs out)."""
    s = ctx.state
    k, n = i % s["streams"], i // s["streams"]
    reqs = s["requests"].get(k)
    if reqs is None:
        raise Failed("not-my-stream", f"request {i}: stream {k} belongs to another worker")
    if n >= len(reqs):
        raise Failed("exhausted", f"stream {k} has only {len(reqs)} requests ({count_param})")
    while s["answered"][k] < n:  # the stream's previous request first (nonce order)
        await s["turn"][k].wait()
    txs, ibtps = reqs[n]
    try:
        results = await _post(s["client"], s["url"], txs)
    finally:
        s["answered"][k] = n + 1
        s["turn"][k].set()
        s["turn"][k] = trio.Event()
    for res in results:
        for item in res.get("results", []):
            if item[1] != TxStatus.BEGIN or item[2]:
                raise Failed("unexpected-outcome", str(item))
    return ibtps


async def after_run(ctx: BenchContext) -> None:
    client = ctx.state.get("client")
    if client is not None:
        await client.aclose()


def reference(ctx: BenchContext) -> dict[str, Any]:
    from benchmarks.bench.floors import measure_floor

    w = build_ingest_workload(
        2000, min(_p(ctx, "streams", 8), 4), _p(ctx, "batch", 500), _p(ctx, "notaries", 1), 1
    )
    floor = measure_floor(w)
    return {
        "per_s": round(floor.per_s, 1),
        "what": "crypto floor, one core: notary recovery + tx signature share + relay-proof "
        "signature per IBTP (best of 3 over 2,000 IBTPs)",
        "notary_us": round(floor.notary_s * 1e6, 2),
        "tx_sig_us": round(floor.tx_s * 1e6, 3),
        "sign_us": round(floor.sign_s * 1e6, 2),
    }
