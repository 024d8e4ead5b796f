"""What the ingest workloads of proved IBTPs share (``relay_ingest_evm``, ``relay_ingest_fisco``).

One source chain ``src`` of a proving family and one notary destination chain
``dst``; each of ``streams`` streams has its own gateway key of ``src`` and its own
service pair (``hub:src:<service k>`` -> ``hub:dst:svc<k>``). A family's module
builds the proven IBTPs of each stream (indices 1, 2, ... in order) and this module
does the rest: the registrations, the signed ``ibtp`` transactions (``per_tx`` IBTPs
each, ``txs_per_request`` per ``POST /v1/txs?wait=commit``), the load (request ``i``
is request ``i // streams`` of stream ``i % streams``, one in flight per stream, as
in :mod:`relay_ingest`) and the floor's signature shares.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import trio

from benchmarks.bench.workload import BenchContext
from benchmarks.bench.workloads.relay_ingest import _post, send_stream_request
from benchmarks.bench.workloads.relay_ingest import after_run as after_run  # the same hook
from benchmarks.harness.workloads import derive_account
from relay.crypto import Account, recover_address
from relay.ibtp import IBTP, TxStatus, encode_ibtp
from relay.ibtp.digest import compute_signed_digest
from relay.ledger.types import Transaction, encode_tx, sign_tx


def param(ctx: BenchContext, key: str, default: int) -> int:
    return int(ctx.params.get(key, default))


def gateways(ctx: BenchContext, seed: str) -> list[Account]:
    """One gateway key of the source chain per stream (TEST keys from ``seed``)."""
    return [derive_account(seed, f"gateway-{k}") for k in range(param(ctx, "streams", 4))]


def setup_txs(
    ctx: BenchContext,
    *,
    seed: str,
    src: str,
    src_chain: Mapping[str, Any],
    services: Sequence[str],
    dst: str,
) -> list[Transaction]:
    """Register and approve ``src`` (``src_chain``: its ``chain.register`` body but
    ``id`` and ``gateways``) and the notary chain ``dst``, then per stream ``k`` the
    services ``hub:src:<services[k]>`` and ``hub:dst:svc<k>``."""
    hub = ctx.endpoints["hub_id"]
    admin = Account.from_key(bytes.fromhex(ctx.endpoints["admin_key"][2:]))
    op_src, op_dst = derive_account(seed, f"operator-{src}"), derive_account(seed, f"op-{dst}")
    notary = derive_account(seed, f"notary-{dst}")
    gws = gateways(ctx, seed)
    nonce: dict[str, int] = {}
    txs = []

    def tx(acct: Account, kind: str, body: object) -> None:
        nonce[acct.address] = nonce.get(acct.address, 0) + 1
        txs.append(sign_tx(acct, hub, nonce[acct.address], kind, body))

    tx(op_src, "chain.register", {**src_chain, "id": src, "gateways": [g.address for g in gws]})
    tx(
        op_dst,
        "chain.register",
        {
            "id": dst,
            "family": "notary",
            "trust_root": {"keys": [notary.address], "threshold": 1},
            "broker": f"broker-{dst}",
            "gateways": [op_dst.address],
            "name": "bench destination",
        },
    )
    tx(admin, "chain.approve", {"id": src})
    tx(admin, "chain.approve", {"id": dst})
    for k in range(len(gws)):
        tx(op_src, "service.register", {"service": f"{hub}:{src}:{services[k]}"})
        tx(op_dst, "service.register", {"service": f"{hub}:{dst}:svc{k}"})
    return txs


async def post_setup(ctx: BenchContext, txs: list[Transaction]) -> None:
    url = f"{ctx.endpoints['relay']}/v1/txs?wait=commit"
    async with httpx.AsyncClient(timeout=120) as client:
        await _post(client, url, [encode_tx(t) for t in txs])


def sign_ibtp_txs(gw: Account, hub: str, ibtps: Sequence[IBTP], per_tx: int) -> list[Transaction]:
    """``ibtps`` in ``ibtp`` transactions of ``per_tx`` each, nonces 1, 2, ..."""
    raw = [encode_ibtp(ibtp) for ibtp in ibtps]
    return [
        sign_tx(gw, hub, n + 1, "ibtp", raw[lo : lo + per_tx])
        for n, lo in enumerate(range(0, len(raw), per_tx))
    ]


def init_streams(
    ctx: BenchContext, gws: Sequence[Account], ibtps: Mapping[int, Sequence[IBTP]], per_tx: int
) -> None:
    """``ctx.state`` for :func:`run`: the requests of this worker's streams (``ibtps``:
    stream -> its proven IBTPs in order), signed now, before any clock starts."""
    hub = ctx.endpoints["hub_id"]
    per_request = param(ctx, "txs_per_request", 2)
    requests: dict[int, list[tuple[list[bytes], int]]] = {}
    for k, stream in ibtps.items():
        txs = [encode_tx(t) for t in sign_ibtp_txs(gws[k], hub, stream, per_tx)]
        requests[k] = [
            (txs[n : n + per_request], per_tx * len(txs[n : n + per_request]))
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


def my_streams(ctx: BenchContext) -> list[int]:
    """The streams this worker sends (stream ``k`` belongs to worker ``k % workers``)."""
    return [k for k in range(param(ctx, "streams", 4)) if k % ctx.workers == ctx.worker]


async def run(ctx: BenchContext, i: int) -> int:
    return await send_stream_request(ctx, i, "params.blocks")


def signature_shares(
    gw: Account, hub: str, dst: str, ibtps: Sequence[IBTP], per_tx: int, repeat: int = 3
) -> tuple[float, float]:
    """Seconds per IBTP, each the best of ``repeat`` passes, on one core: the recovery
    of the ``ibtp`` transactions' signatures (``per_tx`` IBTPs each) and the relay-proof
    signature (``sign`` of the BEGIN digest for chain ``dst``)."""
    txs = sign_ibtp_txs(gw, hub, ibtps, per_tx)
    relay_key = derive_account("bench-ingest", "relay-floor")
    digests = [compute_signed_digest(hub, dst, ibtp, TxStatus.BEGIN) for ibtp in ibtps]
    n = len(ibtps)
    tx_s = sign_s = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in txs:
            recover_address(t.hash, t.sig)
        t1 = time.perf_counter()
        for d in digests:
            relay_key.sign(d)
        t2 = time.perf_counter()
        tx_s, sign_s = min(tx_s, (t1 - t0) / n), min(sign_s, (t2 - t1) / n)
    return tx_s, sign_s
