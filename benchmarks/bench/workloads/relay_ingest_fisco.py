"""Relay ingest of FISCO-proved IBTPs through the API (real proofs, the relay verifies).

Chain ``F`` is registered as a FISCO BCOS chain (family ``fisco``) in crypto mode
``params.mode`` (``secp256k1``: keccak-256 + ECDSA; ``sm``: 国密 SM3 + SM2), its
trust root (docs/fisco.md §4) group 1, chain 1, the 4 PBFT sealers of
``benchmarks/verify_fisco.py`` (TEST keys from public seeds) from height 0; chain
``B`` is a notary chain, the destination. Each of ``streams`` streams has its own
gateway key of ``F`` and its own service pair (``hub0:F:0x<service k>`` ->
``hub0:B:svc<k>``), and carries ``blocks`` blocks of ``receipts`` receipts, every
receipt proven (receipt + its Merkle levels + header + the seals of 3 of 4 sealers,
the PBFT quorum), ``receipts`` IBTPs per signed ``ibtp`` transaction,
``txs_per_request`` transactions per ``POST /v1/txs?wait=commit``. Request ``i`` is
request ``i // streams`` of stream ``i % streams`` (:mod:`proved_ingest`).

The **floor** (``reference``) is what no relay can skip per IBTP, on one core: the
FISCO proof floor of ``verify_fisco.py`` (``Hash(receipt)`` and one hash per Merkle
level, the receipt's RLP parse; per header, amortised over its block, its hash, its
RLP parse and one signature check per seal — libsecp256k1 recovery, or GmSSL SM2
verify), plus the transaction signature's share and the relay-proof signature, as in
``relay_ingest_evm``. ``floor_ratio`` = IBTP/s ÷ floor IBTP/s.
"""

from __future__ import annotations

from typing import Any, cast

from adapters.fisco.hashing import CryptoMode
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
from benchmarks.verify_fisco import (
    Workload,
    broker_address,
    make_workload,
    run_floor,
    sealer_trust_root,
    service_address,
)
from relay.ledger.types import Transaction

__all__ = ["after_run", "before_run", "prepare", "reference", "run"]

SRC, DST = "F", "B"
SEED = "bench-fisco"


def _mode(ctx: BenchContext) -> CryptoMode:
    mode = str(ctx.params.get("mode", "secp256k1"))
    if mode not in ("secp256k1", "sm"):
        raise ValueError(f'params.mode is "secp256k1" or "sm", not {mode!r}')
    return cast(CryptoMode, mode)


def _setup_txs(ctx: BenchContext) -> list[Transaction]:
    src_chain = {
        "family": "fisco",
        "trust_root": sealer_trust_root(_mode(ctx)),
        "broker": broker_address(),
        "name": "bench FISCO chain",
    }
    services = [service_address(f"svc{k}") for k in range(len(gateways(ctx, SEED)))]
    return setup_txs(ctx, seed=SEED, src=SRC, src_chain=src_chain, services=services, dst=DST)


async def prepare(ctx: BenchContext) -> dict[str, Any]:
    await post_setup(ctx, _setup_txs(ctx))
    return {}


def _workload(ctx: BenchContext, k: int, blocks: int) -> Workload:
    hub = ctx.endpoints.get("hub_id", "hub0")
    return make_workload(
        _mode(ctx),
        blocks,
        param(ctx, "receipts", 200),
        hub=hub,
        chain=SRC,
        dst=f"{hub}:{DST}:svc{k}",
        service=f"svc{k}",
    )


def before_run(ctx: BenchContext) -> None:
    blocks = param(ctx, "blocks", 10)
    streams = {k: _workload(ctx, k, blocks).ibtps for k in my_streams(ctx)}
    init_streams(ctx, gateways(ctx, SEED), streams, param(ctx, "receipts", 200))


def reference(ctx: BenchContext) -> dict[str, Any]:
    hub = ctx.endpoints.get("hub_id", "hub0")
    w = _workload(ctx, 0, 2)
    n = len(w.ibtps)
    proof_s = min(run_floor(w) for _ in range(3)) / n
    tx_s, sign_s = signature_shares(
        gateways(ctx, SEED)[0], hub, DST, w.ibtps, param(ctx, "receipts", 200)
    )
    per = proof_s + tx_s + sign_s
    return {
        "per_s": round(1 / per, 1),
        "what": f"crypto + proof floor ({w.mode}), one core: receipt and Merkle-level hashes, "
        "receipt RLP parse, per block header hash + parse + one signature check per seal, "
        "tx signature share, relay-proof signature per IBTP (best of 3)",
        "mode": w.mode,
        "proof_us": round(proof_s * 1e6, 2),
        "tx_sig_us": round(tx_s * 1e6, 3),
        "sign_us": round(sign_s * 1e6, 2),
    }
