"""EVM proofs verified per second by ``EvmVerifier``, next to the floor measured in the same run.

Workload: ``blocks`` blocks of ``receipts_per_block`` typed receipts, each with the
broker's InterchainEvent (every other receipt has a token Transfer log first, so
the broker log is log 1), London headers with real receiptsRoots, seals by 3 of 4
validators. Every receipt of every block is proven, so a verifier with its header
memo pays seal recovery once per block.

The **floor** is the work no EVM verifier can skip, timed on the same proofs:
keccak of every proof node, one seal-set recovery (3 ``recover_address``) per
header amortised over its block, and the eth-abi decode of the event data.
``floor_ratio`` = floor time / verifier time (1.0 would be at the floor; lower is
slower) — the one definition of every benchmark; before the harness this script
reported the inverse (verifier / floor).

The script is a thin wrapper over the harness (the workload and floor are
``benchmarks/bench/workloads/verify_evm.py``; this module keeps the proof builder
they and the EVM ingest workload use):

    .venv/bin/python benchmarks/verify_evm.py [--quick] [--out DIR]
    # = relayhub bench run benchmarks/configs/verify-evm.toml [--quick]

The last line printed is one JSON object (``proofs_per_s``, ``floor_per_s``,
``floor_ratio``).
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from adapters.evm.proof import (
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
    EvmProof,
    build_receipt_proofs,
    compute_seal_digest,
    encode_evm_proof,
    sign_seal,
)
from adapters.evm.verifier import EvmVerifier
from relay.crypto import Account, keccak, recover_address
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, compute_payload_hash
from relay.validation.base import ChainContext

EVM_CHAIN_ID = 1337
THRESHOLD = 3


def _test_account(name: str) -> Account:
    """TEST key from a public string; never hold value with it."""
    return Account.from_key(keccak(b"relayhub bench key: " + name.encode()))


def _test_address(name: str) -> bytes:
    return keccak(b"relayhub bench address: " + name.encode())[-20:]


def validator_accounts() -> list[Account]:
    """The 4 test validators whose seals (3 of them) every block carries."""
    return [_test_account(f"validator-{i}") for i in range(4)]


def broker_address() -> str:
    return "0x" + _test_address("broker").hex()


def service_address(service: str = "service") -> str:
    return "0x" + _test_address(service).hex()


@dataclass(frozen=True, slots=True)
class EvmWorkload:
    """Proven IBTPs plus what the floor needs, for ``blocks`` x ``receipts_per_block``."""

    ctx: ChainContext
    ibtps: list[tuple[IBTP, bytes]]  # (IBTP with proof, IBTP hash)
    #: Per block: (seal digest, seals, [(nodes, log data) per proof]).
    floor_items: list[tuple[bytes, tuple[bytes, ...], list[tuple[tuple[bytes, ...], bytes]]]]
    blocks: int
    receipts_per_block: int


def make_workload(
    blocks: int,
    receipts_per_block: int,
    *,
    hub: str = "hub1",
    chain: str = "ethbench",
    dst: str = "",
    service: str = "service",
) -> EvmWorkload:
    """``blocks`` x ``receipts_per_block`` proven IBTPs from ``hub:chain``'s service
    ``service`` (a name: its address derives from it) to ``dst`` (default
    ``hub:fab1:asset``), indices 1, 2, ... in order."""
    validators = validator_accounts()
    broker, token, svc = (_test_address(n) for n in ("broker", "token", service))
    src = f"{hub}:{chain}:0x{svc.hex()}"
    dst = dst or f"{hub}:fab1:asset"
    verifier = EvmVerifier()
    ctx = ChainContext(
        hub_id=hub,
        chain_id=chain,
        family="evm",
        broker="0x" + broker.hex(),
        trust_root=verifier.parse_trust_root(
            {
                "evm_chain_id": EVM_CHAIN_ID,
                "mode": "seal",
                "validators": [v.address for v in validators],
                "threshold": THRESHOLD,
            }
        ),
    )
    transfer = [
        token,
        [keccak(b"Transfer(address,address,uint256)"), b"\x00" * 32, b"\x00" * 32],
        (1000).to_bytes(32, "big"),
    ]
    ibtps: list[tuple[IBTP, bytes]] = []
    floor_items = []
    index = 0
    for b in range(blocks):
        receipts: list[bytes] = []
        block_ibtps: list[IBTP] = []
        for i in range(receipts_per_block):
            index += 1
            args = (abi_encode(("address", "uint256"), (svc, index)),)
            ibtp = IBTP(src, dst, index, IBTPType.INTERCHAIN, 0, Payload("mint", args))
            data = abi_encode(
                INTERCHAIN_EVENT_TYPES,
                (src, dst, index, "mint", list(args), False, 0, compute_payload_hash(ibtp.payload)),
            )
            logs: list[Any] = [[broker, [INTERCHAIN_EVENT_TOPIC], data]]
            if i % 2:
                logs.insert(0, transfer)
            body = rlp.encode([b"\x01", 50_000 * (i + 1), b"\x00" * 256, logs])
            receipts.append(b"\x02" + body)
            block_ibtps.append(ibtp)
        root, all_nodes = build_receipt_proofs(receipts)
        header = rlp.encode(
            [
                keccak(b"parent %d" % b),
                keccak(rlp.encode([])),  # ommersHash
                b"\x00" * 20,  # coinbase
                keccak(b"state %d" % b),
                keccak(b"txs %d" % b),
                root,  # receiptsRoot
                b"\x00" * 256,  # logsBloom
                0,  # difficulty
                1000 + b,  # number
                30_000_000,  # gasLimit
                50_000 * receipts_per_block,  # gasUsed
                1_700_000_000 + 12 * b,  # timestamp
                b"",  # extraData
                b"\x00" * 32,  # mixHash
                b"\x00" * 8,  # nonce
                7,  # baseFeePerGas
            ]
        )
        block_hash = keccak(header)
        seals = tuple(sign_seal(v, EVM_CHAIN_ID, block_hash) for v in validators[:THRESHOLD])
        per_proof = []
        for i, ibtp in enumerate(block_ibtps):
            proof = EvmProof(
                block_hash=block_hash,
                header_rlp=header,
                seals=seals,
                receipt=receipts[i],
                tx_index=i,
                nodes=tuple(all_nodes[i]),
                log_index=i % 2,
            )
            full = IBTP(
                ibtp.src,
                ibtp.dst,
                ibtp.index,
                ibtp.type,
                ibtp.timeout,
                ibtp.payload,
                encode_evm_proof(proof),
            )
            ibtps.append((full, compute_ibtp_hash(full)))
            log_data = rlp.decode(receipts[i][1:])[3][i % 2][2]
            per_proof.append((proof.nodes, log_data))
        floor_items.append((compute_seal_digest(EVM_CHAIN_ID, block_hash), seals, per_proof))
    return EvmWorkload(ctx, ibtps, floor_items, blocks, receipts_per_block)


def run_verify(workload: EvmWorkload) -> float:
    """Seconds to verify every IBTP of the workload with a fresh verifier."""
    verifier = EvmVerifier()
    ctx = workload.ctx
    verify = verifier.verify
    start = time.perf_counter()
    for ibtp, ibtp_hash in workload.ibtps:
        verify(ctx, ibtp, ibtp_hash)
    return time.perf_counter() - start


def run_floor(workload: EvmWorkload) -> float:
    """Seconds for the unavoidable work: node keccaks, one seal set per header, ABI decode."""
    types = INTERCHAIN_EVENT_TYPES
    start = time.perf_counter()
    for digest, seals, per_proof in workload.floor_items:
        for seal in seals:
            recover_address(digest, seal)
        for nodes, data in per_proof:
            for node in nodes:
                keccak(node)
            abi_decode(types, data)
    return time.perf_counter() - start


def measure(workload: EvmWorkload, reps: int) -> dict[str, Any]:
    n = len(workload.ibtps)
    run_verify(workload)  # warm-up: imports, caches, branch predictors
    verify_times, floor_times = [], []
    for _ in range(reps):  # interleaved, so drift hits both alike
        verify_times.append(run_verify(workload))
        floor_times.append(run_floor(workload))
    verify_s = statistics.median(verify_times)
    floor_s = statistics.median(floor_times)
    return {
        "bench": "verify_evm",
        "proofs_per_s": round(n / verify_s, 1),
        "floor_per_s": round(n / floor_s, 1),
        "floor_ratio": round(floor_s / verify_s, 3),
        "us_per_proof": round(verify_s / n * 1e6, 1),
        "floor_us_per_proof": round(floor_s / n * 1e6, 1),
        "proofs": n,
        "blocks": workload.blocks,
        "receipts_per_block": workload.receipts_per_block,
        "reps": reps,
    }


ALIASES = {"proofs_per_s": "confirmed_units_per_s", "floor_per_s": "reference_per_s"}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench.cli import script_main

    return script_main("verify-evm.toml", "verify_evm", ALIASES, argv)


if __name__ == "__main__":
    sys.exit(main())
