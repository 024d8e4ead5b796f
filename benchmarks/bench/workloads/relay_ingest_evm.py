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

The streams, registrations, load and signature shares are :mod:`proved_ingest`'s
(shared with ``relay_ingest_fisco``); the proofs are ``verify_evm.py``'s.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bench.workload import BenchContext
from benchmarks.bench.workloads.proved_ingest import (
    after_run,
    gateways,
    init_streams,
    my_streams,
    param,
    post_setup,
    run,
    setup_txs,
    signature_shares,
)
from benchmarks.verify_evm import (
    EVM_CHAIN_ID,
    THRESHOLD,
    broker_address,
    make_workload,
    run_floor,
    service_address,
    validator_accounts,
)
from relay.ledger.types import Transaction

__all__ = ["after_run", "before_run", "prepare", "reference", "run"]

SRC, DST = "E", "B"
SEED = "bench-evm"


def _setup_txs(ctx: BenchContext) -> list[Transaction]:
    src_chain = {
        "family": "evm",
        "trust_root": {
            "evm_chain_id": EVM_CHAIN_ID,
            "mode": "seal",
            "validators": [v.address for v in validator_accounts()],
            "threshold": THRESHOLD,
        },
        "broker": broker_address(),
        "name": "bench EVM chain",
    }
    services = [service_address(f"svc{k}") for k in range(len(gateways(ctx, SEED)))]
    return setup_txs(ctx, seed=SEED, src=SRC, src_chain=src_chain, services=services, dst=DST)


async def prepare(ctx: BenchContext) -> dict[str, Any]:
    await post_setup(ctx, _setup_txs(ctx))
    return {}


def _ibtps(ctx: BenchContext, k: int, blocks: int) -> Any:
    hub = ctx.endpoints.get("hub_id", "hub0")
    return make_workload(
        blocks,
        param(ctx, "receipts", 200),
        hub=hub,
        chain=SRC,
        dst=f"{hub}:{DST}:svc{k}",
        service=f"svc{k}",
    )


def before_run(ctx: BenchContext) -> None:
    blocks = param(ctx, "blocks", 10)
    streams = {k: [ibtp for ibtp, _ in _ibtps(ctx, k, blocks).ibtps] for k in my_streams(ctx)}
    init_streams(ctx, gateways(ctx, SEED), streams, param(ctx, "receipts", 200))


def reference(ctx: BenchContext) -> dict[str, Any]:
    hub = ctx.endpoints.get("hub_id", "hub0")
    w = _ibtps(ctx, 0, 2)
    n = len(w.ibtps)
    proof_s = min(run_floor(w) for _ in range(3)) / n
    ibtps = [ibtp for ibtp, _ in w.ibtps]
    tx_s, sign_s = signature_shares(
        gateways(ctx, SEED)[0], hub, DST, ibtps, param(ctx, "receipts", 200)
    )
    per = proof_s + tx_s + sign_s
    return {
        "per_s": round(1 / per, 1),
        "what": "crypto + proof floor, one core: proof node keccaks, seal set per block, event "
        "ABI decode, tx signature share, relay-proof signature per IBTP (best of 3)",
        "proof_us": round(proof_s * 1e6, 2),
        "tx_sig_us": round(tx_s * 1e6, 3),
        "sign_us": round(sign_s * 1e6, 2),
    }
