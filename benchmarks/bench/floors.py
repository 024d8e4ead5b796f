"""Floors: the work no relay can skip, timed alone on one core, in the same run.

``floor_ratio`` everywhere = floor time per unit ÷ actual time per unit (= actual
units/s ÷ floor units/s): 1.0 means at the floor, lower is slower.

:func:`measure_floor` is the notary-ingest floor (``benchmarks/configs/
relay-ingest-notary.toml``): per IBTP

    m x recover_address(notary digest, notary sig)    (m notaries)
    + recover_address(tx hash, tx sig) / IBTPs per tx
    + sign(relay-proof digest)                         (1 relay validator)

``recover_address`` is coincurve's recovery plus the keccak of the public key that
gives the address compared with the registered keys; the digests themselves are
computed beforehand and not counted. Each part is the best of ``repeat`` passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack

from benchmarks.harness.workloads import IngestWorkload
from relay.crypto import recover_address
from relay.ibtp import TxStatus, compute_ibtp_hash, compute_notary_digest, decode_ibtp
from relay.ibtp.digest import compute_signed_digest
from relay.ledger.types import decode_tx


@dataclass
class Floor:
    per_ibtp_s: float
    notary_s: float
    tx_s: float
    sign_s: float
    sample_ibtps: int

    @property
    def per_s(self) -> float:
        return 1.0 / self.per_ibtp_s


def measure_floor(w: IngestWorkload, sample: int = 2000, repeat: int = 3) -> Floor:
    """Time the signature work alone on a sample of the workload's own IBTPs (one core);
    each part is the best of ``repeat`` passes (the floor is the least it can cost)."""
    txs = []
    n = 0
    for k in range(len(w.txs)):
        for raw in w.txs[k]:
            txs.append(decode_tx(raw))
            n += len(txs[-1].body)
            if n >= sample:
                break
        if n >= sample:
            break
    tx_checks = [(tx.hash, tx.sig) for tx in txs]
    notary_checks: list[tuple[bytes, bytes]] = []
    relay_digests: list[bytes] = []
    hub = w.genesis.hub_id
    for tx in txs:
        for raw in tx.body:
            ibtp = decode_ibtp(raw)
            nd = compute_notary_digest(compute_ibtp_hash(ibtp))
            notary_checks += [(nd, s) for s in msgpack.unpackb(ibtp.proof)]
            relay_digests.append(
                compute_signed_digest(hub, ibtp.dst.split(":")[1], ibtp, TxStatus.BEGIN)
            )
    ibtps = len(relay_digests)
    validator = w.keys.validator
    best = [float("inf")] * 3
    for _ in range(repeat):
        t0 = time.perf_counter()
        for d, s in notary_checks:
            recover_address(d, s)
        t1 = time.perf_counter()
        for d, s in tx_checks:
            recover_address(d, s)
        t2 = time.perf_counter()
        for d in relay_digests:
            validator.sign(d)
        t3 = time.perf_counter()
        best = [min(b, x) for b, x in zip(best, (t1 - t0, t2 - t1, t3 - t2), strict=True)]
    notary, txc, sign = (x / ibtps for x in best)
    return Floor(notary + txc + sign, notary, txc, sign, ibtps)
