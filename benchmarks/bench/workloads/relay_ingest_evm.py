"""Relay ingest of EVM-proved IBTPs through the API (real proofs, the relay verifies).

Chain ``E`` is registered as an EVM chain in seal mode (4 validators, threshold 3,
the test keys of ``benchmarks/verify_evm.py``); chain ``B`` is a notary chain, the
destination. Each of ``streams`` streams has its own gateway key of ``E`` and its
own service pair (``hub0:E:0x<service k>`` -> ``hub0:B:svc<k>``), and carries
``blocks`` blocks of ``receipts`` receipts, every receipt proven (receipt + MPT
proof + header + 3 seals), ``receipts`` IBTPs per signed ``ibtp`` transaction,
``txs_per_request`` transactions per ``POST /v1/txs?wait=commit``. Request ``i`` is
request ``i // streams`` of stream ``i % streams`` (one in flight per stream under
a closed loop of ``users = streams``), as in :mod:`relay_ingest`.

The **floor** (``reference``) is what no relay can skip per IBTP, on one core:
the EVM proof floor of ``verify_evm.py`` (keccak of every proof node, one seal
set per header amortised over its block, the ABI decode of the event), plus the
transaction signature's share and the relay-proof signature (as in the notary
floor). ``floor_ratio`` = IBTP/s ÷ floor IBTP/s.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import trio

from benchmarks.bench.workload import BenchContext, Failed
from benchmarks.bench.workloads.relay_ingest import _post
from benchmarks.harness.workloads import derive_account
from benchmarks.verify_evm import (
    EVM_CHAIN_ID,
    THRESHOLD,
    broker_address,
    make_workload,
    run_floor,
    service_address,
    validator_accounts,
)
from relay.crypto import Account, recover_address
from relay.ibtp import TxStatus, encode_ibtp
from relay.ibtp.digest import compute_signed_digest
from relay.ledger.types import Transaction, encode_tx, sign_tx

SRC, DST = "E", "B"


def _p(ctx: BenchContext, key: str, default: int) -> int:
    return int(ctx.params.get(key, default))


def _gateways(ctx: BenchContext) -> list[Account]:
    return [derive_account("bench-evm", f"gateway-{k}") for k in range(_p(ctx, "streams", 4))]


def setup_txs(ctx: BenchContext) -> list[Transaction]:
    hub = ctx.endpoints["hub_id"]
    admin = Account.from_key(bytes.fromhex(ctx.endpoints["admin_key"][2:]))
    op_e, op_b = derive_account("bench-evm", "operator-E"), derive_account("bench-evm", "op-B")
    notary = derive_account("bench-evm", "notary-B")
    gws = _gateways(ctx)
    nonce: dict[str, int] = {}
    txs = []

    def tx(acct: Account, kind: str, body: object) -> None:
        nonce[acct.address] = nonce.get(acct.address, 0) + 1
        txs.append(sign_tx(acct, hub, nonce[acct.address], kind, body))

    tx(
        op_e,
        "chain.register",
        {
            "id": SRC,
            "family": "evm",
            "trust_root": {
                "evm_chain_id": EVM_CHAIN_ID,
                "mode": "seal",
                "validators": [v.address for v in validator_accounts()],
                "threshold": THRESHOLD,
            },
            "broker": broker_address(),
            "gateways": [g.address for g in gws],
            "name": "bench EVM chain",
        },
    )
    tx(
        op_b,
        "chain.register",
        {
            "id": DST,
            "family": "notary",
            "trust_root": {"keys": [notary.address], "threshold": 1},
            "broker": "broker-B",
            "gateways": [op_b.address],
            "name": "bench destination",
        },
    )
    tx(admin, "chain.approve", {"id": SRC})
    tx(admin, "chain.approve", {"id": DST})
    for k in range(len(gws)):
        tx(op_e, "service.register", {"service": f"{hub}:{SRC}:{service_address(f'svc{k}')}"})
        tx(op_b, "service.register", {"service": f"{hub}:{DST}:svc{k}"})
    return txs


async def prepare(ctx: BenchContext) -> dict[str, Any]:
    url = f"{ctx.endpoints['relay']}/v1/txs?wait=commit"
    async with httpx.AsyncClient(timeout=120) as client:
        await _post(client, url, [encode_tx(t) for t in setup_txs(ctx)])
    return {}


def before_run(ctx: BenchContext) -> None:
    hub = ctx.endpoints["hub_id"]
    gws = _gateways(ctx)
    blocks, receipts = _p(ctx, "blocks", 10), _p(ctx, "receipts", 200)
    per_request = _p(ctx, "txs_per_request", 2)
    requests: dict[int, list[tuple[list[bytes], int]]] = {}
    for k, gw in enumerate(gws):
        if k % ctx.workers != ctx.worker:
            continue
        w = make_workload(
            blocks, receipts, hub=hub, chain=SRC, dst=f"{hub}:{DST}:svc{k}", service=f"svc{k}"
        )
        ibtps = [encode_ibtp(ibtp) for ibtp, _ in w.ibtps]
        txs = [
            encode_tx(sign_tx(gw, hub, n + 1, "ibtp", ibtps[lo : lo + receipts]))
            for n, lo in enumerate(range(0, len(ibtps), receipts))
        ]
        requests[k] = [
            (txs[n : n + per_request], receipts * len(txs[n : n + per_request]))
            for n in range(0, len(txs), per_request)
        ]
    ctx.state.update(
        requests=requests,
        answered={k: 0 for k in requests},
        turn={k: trio.Event() for k in requests},
        streams=len(gws),
        client=httpx.AsyncClient(timeout=600),
        url=f"{ctx.endpoints['relay']}/v1/txs?wait=commit",
    )


async def run(ctx: BenchContext, i: int) -> int:
    s = ctx.state
    k, n = i % s["streams"], i // s["streams"]
    reqs = s["requests"].get(k)
    if reqs is None:
        raise Failed("not-my-stream", f"request {i}: stream {k} belongs to another worker")
    if n >= len(reqs):
        raise Failed("exhausted", f"stream {k} has only {len(reqs)} requests (params.blocks)")
    while s["answered"][k] < n:
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
    hub = ctx.endpoints.get("hub_id", "hub0")
    receipts = _p(ctx, "receipts", 200)
    w = make_workload(2, receipts, hub=hub, chain=SRC, dst=f"{hub}:{DST}:svc0", service="svc0")
    n = len(w.ibtps)
    proof_s = min(run_floor(w) for _ in range(3)) / n
    gw = _gateways(ctx)[0]
    ibtps = [encode_ibtp(ibtp) for ibtp, _ in w.ibtps]
    txs = [
        sign_tx(gw, hub, 1 + j, "ibtp", ibtps[j * receipts : (j + 1) * receipts]) for j in (0, 1)
    ]
    relay_key = derive_account("bench-evm", "relay-floor")
    digests = [compute_signed_digest(hub, DST, ibtp, TxStatus.BEGIN) for ibtp, _ in w.ibtps]
    tx_times, sign_times = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        for t in txs:
            recover_address(t.hash, t.sig)
        t1 = time.perf_counter()
        for d in digests:
            relay_key.sign(d)
        t2 = time.perf_counter()
        tx_times.append((t1 - t0) / n)
        sign_times.append((t2 - t1) / n)
    per = proof_s + min(tx_times) + min(sign_times)
    return {
        "per_s": round(1 / per, 1),
        "what": "crypto + proof floor, one core: proof node keccaks, seal set per block, event "
        "ABI decode, tx signature share, relay-proof signature per IBTP (best of 3)",
        "proof_us": round(proof_s * 1e6, 2),
        "tx_sig_us": round(min(tx_times) * 1e6, 3),
        "sign_us": round(statistics.fmean(sign_times) * 1e6, 2),
    }
