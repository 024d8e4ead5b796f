"""FISCO BCOS 2.x formats, chain side: headers, receipts, hashes, Merkle proofs.

The dev chain builds with this module what a FISCO BCOS 2.x node writes; the
relay checks it with its own copy (``adapters/fisco/``, which this package may
not import). Sources, read in FISCO-BCOS (2.x) — details in ``docs/fisco.md``:

* header: ``libethcore/BlockHeader.cpp`` ``BlockHeader::encode`` — RLP list of
  parentHash, stateRoot, transactionsRoot, receiptsRoot, dbHash, logBloom,
  number, gasLimit, gasUsed, timestamp, [extraData...], sealer, [sealerList...];
  block hash = ``crypto::Hash`` of it (``BlockHeader::hash``);
* receipt: ``libethcore/TransactionReceipt.cpp`` ``streamRLP`` — stateRoot,
  gasUsed, contractAddress, bloom, status, output, [remainGas from 2.8.0],
  [[address, [topics], data], ...]; receipt hash = ``crypto::Hash`` of it;
* tree: ``libethcore/Block.cpp`` ``getReceiptAndHash`` (leaf ``rlp(i) ‖ hash``),
  ``libutilities/ParallelMerkleProof.cpp`` ``getMerkleProofRoot`` /
  ``getMerkleProof`` (groups of 16 hashed level by level, root =
  ``Hash(top)``; proofs as ``{"left", "right"}`` levels, leaf first, an empty
  level last).

``crypto::Hash`` is keccak-256, or SM3 in the 国密 build. A block's committed
receipts all carry the block's final stateRoot and a *cumulative* gasUsed
(``libblockverifier/BlockVerifier.cpp`` ``executeBlock``:
``setStateRootToAllReceipt``, ``updateSequenceReceiptGas``): the dev chain passes
those values to :func:`encode_receipt`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gmssl_pyx
import rlp
from eth_hash.auto import keccak as _keccak

Hash = Callable[[bytes], bytes]
ARITY = 16


def keccak256(data: bytes) -> bytes:
    return bytes(_keccak(bytes(data)))


def sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(bytes(data)))


def hash_for(mode: str) -> Hash:
    """``"secp256k1"`` → keccak-256, ``"sm"`` → SM3 (the chain's crypto mode)."""
    hashes = {"secp256k1": keccak256, "sm": sm3}
    if mode not in hashes:
        raise ValueError(f"unknown FISCO crypto mode {mode!r}: use 'secp256k1' or 'sm'")
    return hashes[mode]


def encode_header(
    *,
    parent_hash: bytes,
    state_root: bytes,
    transactions_root: bytes,
    receipts_root: bytes,
    db_hash: bytes,
    log_bloom: bytes,
    number: int,
    gas_limit: int,
    gas_used: int,
    timestamp: int,
    extra_data: Sequence[bytes],
    sealer: int,
    sealer_list: Sequence[bytes],
) -> bytes:
    """The 13-field header RLP (hashes 32 bytes, bloom 256, node IDs 64)."""
    for name, value, size in (
        ("parent_hash", parent_hash, 32),
        ("state_root", state_root, 32),
        ("transactions_root", transactions_root, 32),
        ("receipts_root", receipts_root, 32),
        ("db_hash", db_hash, 32),
        ("log_bloom", log_bloom, 256),
    ):
        if len(value) != size:
            raise ValueError(f"{name} must be {size} bytes")
    if any(len(node) != 64 for node in sealer_list):
        raise ValueError("sealer node IDs are 64 bytes")
    if not 0 <= number < 1 << 63 or not 0 <= timestamp < 1 << 64:
        raise ValueError("number is an int64 >= 0 and timestamp a uint64")
    return bytes(
        rlp.encode(
            [
                parent_hash,
                state_root,
                transactions_root,
                receipts_root,
                db_hash,
                log_bloom,
                number,
                gas_limit,
                gas_used,
                timestamp,
                list(extra_data),
                sealer,
                list(sealer_list),
            ]
        )
    )


def encode_receipt(
    *,
    state_root: bytes,
    gas_used: int,
    contract_address: bytes,
    log_bloom: bytes,
    status: int,
    output: bytes,
    logs: Sequence[tuple[bytes, Sequence[bytes], bytes]],
    remain_gas: int | None = None,
) -> bytes:
    """The receipt RLP: 7 fields, or 8 with ``remain_gas`` (chains at 2.8.0 or later)."""
    if len(state_root) != 32 or len(contract_address) != 20 or len(log_bloom) != 256:
        raise ValueError("state_root is 32 bytes, contract_address 20, log_bloom 256")
    if not 0 <= status < 1 << 32:
        raise ValueError("status is a uint32")
    fields: list[Any] = [state_root, gas_used, contract_address, log_bloom, status, output]
    if remain_gas is not None:
        fields.append(remain_gas)
    fields.append([[address, list(topics), data] for address, topics, data in logs])
    return bytes(rlp.encode(fields))


def log_bloom(logs: Sequence[tuple[bytes, Sequence[bytes], bytes]], hash_fn: Hash) -> bytes:
    """The receipt bloom (``LogEntry::bloom``: 3 bits of ``Hash`` per address and topic)."""
    bits = 0
    for address, topics, _ in logs:
        for value in (address, *topics):
            digest = hash_fn(value)
            for i in (0, 2, 4):
                bits |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return bits.to_bytes(256, "big")


def leaves(item_hashes: Sequence[bytes]) -> list[bytes]:
    """Leaf ``i`` = ``rlp(i) ‖ hash_i``."""
    return [bytes(rlp.encode(i)) + bytes(h) for i, h in enumerate(item_hashes)]


def _parents(level: list[bytes], hash_fn: Hash) -> list[bytes]:
    return [hash_fn(b"".join(level[i : i + ARITY])) for i in range(0, len(level), ARITY)]


def merkle_root(item_hashes: Sequence[bytes], hash_fn: Hash) -> bytes:
    """The transactions / receipts root over the items' hashes (``Hash(b"")`` if none)."""
    level = leaves(item_hashes)
    if not level:
        return hash_fn(b"")
    while len(level) > 1:
        level = _parents(level, hash_fn)
    return hash_fn(level[0])


def merkle_proof(item_hashes: Sequence[bytes], index: int, hash_fn: Hash) -> list[dict[str, Any]]:
    """Item ``index``'s proof as the node's JSON-RPC answers it (hex, no ``0x``)."""
    level = leaves(item_hashes)
    if not 0 <= index < len(level):
        raise IndexError(f"item {index} of {len(level)}")
    proof: list[dict[str, Any]] = []
    pos = index
    while len(level) > 1:
        start = pos - pos % ARITY
        group = level[start : start + ARITY]
        at = pos - start
        proof.append(
            {"left": [x.hex() for x in group[:at]], "right": [x.hex() for x in group[at + 1 :]]}
        )
        level = _parents(level, hash_fn)
        pos //= ARITY
    proof.append({"left": [], "right": []})
    return proof
