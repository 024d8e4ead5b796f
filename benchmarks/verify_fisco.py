"""FISCO proofs verified per second by ``FiscoVerifier``, next to a floor measured in the same run.

Workload, in each crypto mode (``secp256k1``: keccak-256 + ECDSA; ``sm``: SM3 + SM2):
``blocks`` blocks of ``receipts_per_block`` FISCO receipts, each with the broker's
InterchainEvent (every other receipt has a token log first, so the broker log is
log 1), real 13-field headers whose receiptsRoot is FISCO's 16-ary Merkle root, and
sig lists of 3 of 4 registered sealers (the PBFT quorum). Every receipt of every block
is proven; each repetition uses a fresh verifier, so each header's seals are verified
once and every further proof of its block pays only its Merkle path and log checks.

The **floor** is what one proof must cost at the least, timed on the same proofs
with the same primitives the verifier uses:

* per proof: ``Hash(receipt)`` (the leaf), one ``Hash(left ‖ node ‖ right)`` per
  Merkle level (the sibling lists joined beforehand), and the RLP parse of the
  receipt (``adapters.evm.proof.decode_rlp``, the strict flat parser the verifier
  reads receipts with; no field checks);
* per block, divided by its proofs: ``Hash(header)``, the RLP parse of the header, and
  one signature check per seal — a libsecp256k1 public-key recovery (coincurve) in
  secp256k1 mode, an SM2 verify (``adapters.fisco.smcrypto.sm2_verify``, GmSSL) in
  国密 mode.

Not in the floor (the verifier's own overhead): the proof's msgpack decode and
canonical re-encode check, the memo lookup, the Merkle structure checks (leaf
shapes, order, index), the receipt's field checks, and the broker event check (topic,
emitter, building the expected ABI data and the payload hash).

``floor_ratio`` = floor time ÷ verify time (1.0 = at the floor, higher is better —
the inverse of ``verify_evm.py``'s ratio). Figures are medians over repetitions; the
floor and the verifier take turns in each repetition, and ``floor_ratio`` is the
median of the per-repetition ratios.

    .venv/bin/python benchmarks/verify_fisco.py [--quick] [--blocks N] [--receipts N] [--reps N]

The last line printed is one JSON object of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import rlp
from coincurve import PrivateKey, PublicKey
from eth_abi import encode as abi_encode

from adapters.evm.proof import decode_rlp
from adapters.fisco.events import (
    INTERCHAIN_SIGNATURE,
    compute_payload_hash,
    encode_interchain_event,
    event_topic,
)
from adapters.fisco.hashing import CryptoMode, HashFn, hash_fn_for, keccak256
from adapters.fisco.header import BlockHeader, encode_header
from adapters.fisco.merkle import compute_leaf, compute_merkle_root
from adapters.fisco.proof import build_fisco_proof, encode_fisco_proof
from adapters.fisco.receipt import LogEntry, Receipt, compute_log_bloom, encode_receipt
from adapters.fisco.smcrypto import SM2_N, fisco_sm2_sign, sm2_public_key, sm2_verify
from adapters.fisco.verifier import FiscoVerifier
from relay.ibtp import IBTP, IBTPType, Payload
from relay.validation.base import ChainContext

HUB = "hub1"
CHAIN = "fiscobench"
SEALERS = 4
SIGNERS = 3  # the PBFT quorum of 4


def _address(name: str) -> bytes:
    return keccak256(b"relayhub bench address: " + name.encode())[-20:]


BROKER = _address("broker")
TOKEN = _address("token")


#: A proof's Merkle levels with each side's siblings joined: ``[(left, right), ...]``.
Levels = list[tuple[bytes, bytes]]


@dataclass
class Workload:
    mode: CryptoMode
    ctx: ChainContext
    ibtps: list[IBTP]
    #: per block: (header, block hash, [(node id, signature)], [per proof floor inputs])
    blocks: list[tuple[bytes, bytes, list[tuple[bytes, bytes]], list[tuple[bytes, Levels]]]]


def _sealers(mode: CryptoMode) -> list[tuple[bytes, Any]]:
    """``(node id, sign(hash) -> seal)`` pairs, sorted by node ID: TEST keys from public
    seeds (``relayhub bench key: fisco-<i>``, SM2 scalars reduced mod n - 2, plus 1);
    never hold value with them."""
    out: list[tuple[bytes, Any]] = []
    for i in range(SEALERS):
        seed = keccak256(b"relayhub bench key: fisco-%d" % i)
        if mode == "secp256k1":
            key = PrivateKey(seed)
            node = bytes(key.public_key.format(compressed=False))[1:]
            out.append((node, lambda h, k=key: bytes(k.sign_recoverable(h, hasher=None))))
        else:
            private = (int.from_bytes(seed, "big") % (SM2_N - 2) + 1).to_bytes(32, "big")
            pub = sm2_public_key(private)
            out.append((pub, lambda h, d=private, p=pub: fisco_sm2_sign(d, p, h)))
    return sorted(out, key=lambda pair: pair[0])


def sealer_trust_root(mode: CryptoMode) -> dict[str, Any]:
    """The trust root (docs/fisco.md §4) of the bench sealers: group 1, chain 1, the 4
    sealers (sorted node IDs) in force from height 0."""
    return {
        "mode": mode,
        "group_id": 1,
        "chain_id": 1,
        "sealers": [{"from_height": 0, "nodes": [n.hex() for n, _ in _sealers(mode)]}],
    }


def broker_address() -> str:
    return "0x" + BROKER.hex()


def service_address(service: str = "service") -> str:
    return "0x" + _address(service).hex()


def make_workload(
    mode: CryptoMode,
    blocks: int,
    receipts_per_block: int,
    *,
    hub: str = HUB,
    chain: str = CHAIN,
    dst: str = "",
    service: str = "service",
) -> Workload:
    """``blocks`` x ``receipts_per_block`` proven IBTPs from ``hub:chain``'s service
    ``service`` (a name: its address derives from it) to ``dst`` (default
    ``hub:ethdev:0x<remote>``), indices 1, 2, ... in order."""
    hash_fn = hash_fn_for(mode)
    sealers = _sealers(mode)
    nodes = [n for n, _ in sealers]
    verifier = FiscoVerifier()
    reg = verifier.check_registration(sealer_trust_root(mode), broker_address())
    ctx = ChainContext(hub, chain, "fisco", reg.broker, reg.trust_root)
    svc = _address(service)
    src = f"{hub}:{chain}:0x{svc.hex()}"
    dst = dst or f"{hub}:ethdev:0x{_address('remote').hex()}"
    topic = event_topic(INTERCHAIN_SIGNATURE, hash_fn)
    ibtps: list[IBTP] = []
    out_blocks = []
    index = 0
    for b in range(blocks):
        number = 100 + b
        receipts: list[bytes] = []
        block_ibtps: list[IBTP] = []
        gas = 0
        for i in range(receipts_per_block):
            index += 1
            amount = abi_encode(["address", "uint256"], [svc, index])
            ibtp = IBTP(src, dst, index, IBTPType.INTERCHAIN, 0, Payload("mint", (amount,)))
            data = encode_interchain_event(ibtp, compute_payload_hash(ibtp.payload, hash_fn))
            logs = [LogEntry(BROKER, (topic,), data)]
            if i % 2:
                token = LogEntry(TOKEN, (hash_fn(b"Transfer(address,address,uint256)"),), amount)
                logs.insert(0, token)
            gas += 50_000
            receipts.append(
                encode_receipt(
                    Receipt(
                        state_root=hash_fn(b"state %d" % number),
                        gas_used=gas,
                        contract_address=bytes(20),
                        log_bloom=compute_log_bloom(tuple(logs), hash_fn),
                        status=0,
                        output=b"",
                        logs=tuple(logs),
                    )
                )
            )
            block_ibtps.append(ibtp)
        leaves = [compute_leaf(i, hash_fn(r)) for i, r in enumerate(receipts)]
        header = encode_header(
            BlockHeader(
                parent_hash=hash_fn(b"parent %d" % number),
                state_root=hash_fn(b"state %d" % number),
                transactions_root=hash_fn(b"txs %d" % number),
                receipts_root=compute_merkle_root(leaves, hash_fn),
                db_hash=hash_fn(b"db %d" % number),
                log_bloom=bytes(256),
                number=number,
                gas_limit=300_000_000,
                gas_used=gas,
                timestamp=1_700_000_000_000 + number,
                extra_data=(),
                sealer=0,
                sealer_list=tuple(nodes),
            )
        )
        block_hash = hash_fn(header)
        sig_list = [(k, sealers[k][1](block_hash)) for k in range(SIGNERS)]
        floor_items = []
        for i, ibtp in enumerate(block_ibtps):
            proof = build_fisco_proof(
                group_id=1,
                header=header,
                sig_list=sig_list,
                receipts=receipts,
                receipt_index=i,
                log_index=i % 2,
                hash_fn=hash_fn,
            )
            ibtps.append(replace(ibtp, proof=encode_fisco_proof(proof)))
            joined = [
                (b"".join(level.left), b"".join(level.right)) for level in proof.merkle_levels
            ]
            floor_items.append((receipts[i], joined))
        seals = [(nodes[k], sig) for k, sig in sig_list]
        out_blocks.append((header, block_hash, seals, floor_items))
    return Workload(mode, ctx, ibtps, out_blocks)


def run_verify(w: Workload) -> float:
    """Seconds to verify every proof of the workload with a fresh verifier."""
    verifier = FiscoVerifier()
    verify = verifier.verify
    ctx = w.ctx
    start = time.perf_counter()
    for ibtp in w.ibtps:
        verify(ctx, ibtp, b"")
    return time.perf_counter() - start


def run_floor(w: Workload) -> float:
    """Seconds of the floor work (module docstring) over the whole workload."""
    hash_fn: HashFn = hash_fn_for(w.mode)
    decode = decode_rlp
    secp = w.mode == "secp256k1"
    start = time.perf_counter()
    for header, block_hash, seals, items in w.blocks:
        hash_fn(header)
        decode(header)
        for node_id, sig in seals:
            if secp:
                PublicKey.from_signature_and_message(sig, block_hash, hasher=None)
            else:
                sm2_verify(node_id, block_hash, sig[:64])
        for i, (receipt, levels) in enumerate(items):
            node = _RLP_INDEX[i] + hash_fn(receipt)
            for left, right in levels:
                node = hash_fn(left + node + right)
            decode(receipt)
    return time.perf_counter() - start


_RLP_INDEX = [bytes(rlp.encode(i)) for i in range(1 << 16)]


def measure(w: Workload, reps: int) -> dict[str, Any]:
    n = len(w.ibtps)
    run_verify(w)  # warm-up (imports, caches), and a check that everything verifies
    verify_s: list[float] = []
    floor_s: list[float] = []
    for _ in range(reps):
        verify_s.append(run_verify(w))
        floor_s.append(run_floor(w))
    ratios = [f / v for f, v in zip(floor_s, verify_s, strict=True)]
    verify_us = statistics.median(verify_s) / n * 1e6
    floor_us = statistics.median(floor_s) / n * 1e6
    return {
        "proofs": n,
        "proofs_per_s": round(n / statistics.median(verify_s), 1),
        "verify_us_per_proof": round(verify_us, 2),
        "floor_us_per_proof": round(floor_us, 2),
        "floor_ratio": round(statistics.median(ratios), 3),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="FISCO proofs verified per second")
    parser.add_argument("--quick", action="store_true", help="small run, well under a minute")
    parser.add_argument("--blocks", type=int, help="blocks per mode (default 10, quick 3)")
    parser.add_argument("--receipts", type=int, help="receipts per block (default 200, quick 100)")
    parser.add_argument("--reps", type=int, help="repetitions, median taken (default 7, quick 5)")
    args = parser.parse_args(argv)
    blocks = args.blocks or (3 if args.quick else 10)
    receipts = args.receipts or (100 if args.quick else 200)
    reps = args.reps or (5 if args.quick else 7)
    result: dict[str, Any] = {
        "benchmark": "verify_fisco",
        "blocks": blocks,
        "receipts_per_block": receipts,
        "signers": f"{SIGNERS} of {SEALERS}",
        "reps": reps,
    }
    for mode in ("secp256k1", "sm"):
        figures = measure(make_workload(mode, blocks, receipts), reps)
        print(
            f"{mode:9}  {figures['proofs_per_s']:>9.1f} proofs/s  "
            f"{figures['verify_us_per_proof']:>7.2f} µs/proof  floor "
            f"{figures['floor_us_per_proof']:>6.2f} µs  floor_ratio {figures['floor_ratio']:.3f}"
        )
        result[mode] = figures
    headline = {
        "benchmark": "verify_fisco",
        "secp_proofs_per_s": result["secp256k1"]["proofs_per_s"],
        "secp_floor_ratio": result["secp256k1"]["floor_ratio"],
        "sm_proofs_per_s": result["sm"]["proofs_per_s"],
        "sm_floor_ratio": result["sm"]["floor_ratio"],
        "blocks": blocks,
        "receipts_per_block": receipts,
        "reps": reps,
    }
    print(json.dumps(headline))
    return result


if __name__ == "__main__":
    main()
