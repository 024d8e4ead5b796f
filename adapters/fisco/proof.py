"""The FISCO family's proof: what proves that one broker log is on a sealed FISCO block.

A canonical msgpack array (version 1), made of what a FISCO BCOS 2.x node answers::

    [version=1, group_id: uint, block_hash: bin32, header: bin,
     sig_list: [[sealer_index: uint, signature: bin], ...],
     receipt: bin, receipt_index: uint,
     merkle_levels: [[[left: bin, ...], [right: bin, ...]], ...],
     log_index: uint]

* ``group_id``: the group the block is in (FISCO's ``groupId``, 1..32767).
* ``block_hash``, ``header``: the block's ``hash`` and its header RLP
  (``BlockHeader::encode``, ``docs/fisco.md`` §1.2), rebuilt by the gateway from
  ``getBlockByNumber`` (``adapters.fisco.header.header_from_rpc``).
* ``sig_list``: the block's ``signatureList`` (``Block::sigList``): ``(index into the
  sealer list, signature over block_hash)`` — 65-byte ``r‖s‖v`` in secp256k1 mode,
  128-byte ``r‖s‖pub`` in 国密 mode (§1.7).
* ``receipt``: the receipt RLP (``TransactionReceipt::streamRLP``, §1.3), rebuilt from
  ``getTransactionReceiptByHashWithProof``'s ``transactionReceipt``;
  ``receipt_index``: its position in the block (the receipt's ``transactionIndex``).
* ``merkle_levels``: that answer's ``receiptProof`` — leaf level first, one
  ``[left, right]`` pair of sibling lists per level, the root level (both empty)
  last (§1.4; :mod:`adapters.fisco.merkle`'s :class:`ProofLevel`).
* ``log_index``: which of the receipt's logs is the broker's event.

Decoding is strict (:func:`decode_fisco_proof`): exact field types and count, the
bounds below, and the bytes must be the one canonical encoding (they are re-encoded
and compared). :func:`build_fisco_proof` is the gateway side. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HashFn
from adapters.fisco.merkle import ARITY, MerkleProof, ProofLevel, build_merkle_proof, compute_leaf
from relay.errors import ProofError

PROOF_VERSION = 1
#: Items of a version-1 proof.
PROOF_FIELDS = 9
#: FISCO's ``GROUP_ID`` is an ``int16_t``, ``maxGroupID = 32767`` (``libp2p/Common.h``).
MAX_GROUP_ID = 32767
#: Bounds the decoder enforces (beyond the IBTP's 128 KiB proof limit).
MAX_SEALS = 128
#: 16 group levels cover 16**16 = 2**64 leaves; plus the root level.
MAX_LEVELS = 17
MAX_SIBLINGS = ARITY - 1
MAX_UINT64 = 2**64 - 1

_UNPACK_LIMITS = {
    "max_array_len": max(MAX_SEALS, PROOF_FIELDS),
    "max_map_len": 0,
    "max_ext_len": 0,
}


@dataclass(frozen=True, slots=True)
class FiscoProof:
    """The decoded proof (data only); field meanings in the module docstring."""

    group_id: int
    block_hash: bytes
    header: bytes
    sig_list: tuple[tuple[int, bytes], ...]
    receipt: bytes
    receipt_index: int
    merkle_levels: MerkleProof
    log_index: int
    version: int = PROOF_VERSION


def _to_list(p: FiscoProof) -> list[Any]:
    return [
        p.version,
        p.group_id,
        p.block_hash,
        p.header,
        [[index, sig] for index, sig in p.sig_list],
        p.receipt,
        p.receipt_index,
        [[list(level.left), list(level.right)] for level in p.merkle_levels],
        p.log_index,
    ]


def encode_fisco_proof(proof: FiscoProof) -> bytes:
    """The canonical bytes of ``proof`` (what goes into ``IBTP.proof``)."""
    return bytes(msgpack.packb(_to_list(proof), use_bin_type=True))


def _malformed(message: str) -> ProofError:
    return ProofError(
        FiscoCode.PROOF_MALFORMED,
        f"FISCO proof: {message}; send the version-1 array of docs/fisco.md §2",
    )


def _uint(name: str, value: object, low: int = 0, high: int = MAX_UINT64) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _malformed(f"{name} must be an integer in {low}..{high}")
    return value


def _bin(name: str, value: object, size: int | None = None) -> bytes:
    if type(value) is not bytes or (size is not None and len(value) != size) or not value:
        raise _malformed(f"{name} must be " + (f"{size} bytes of bin" if size else "non-empty bin"))
    return value


_BIN_ONLY = {bytes}


def _bins(name: str, value: object, limit: int) -> tuple[bytes, ...]:
    if type(value) is not list or len(value) > limit:
        raise _malformed(f"{name} must be an array of at most {limit} bin")
    if value and set(map(type, value)) != _BIN_ONLY:
        raise _malformed(f"{name} must hold bin only")
    return tuple(value)


def decode_fisco_proof(data: bytes) -> FiscoProof:
    """Decode canonical proof bytes; ``PROOF_MALFORMED`` / ``PROOF_VERSION`` otherwise."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, **_UNPACK_LIMITS)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _malformed(f"not one msgpack value ({type(exc).__name__})") from None
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise _malformed("it must be a msgpack array starting with its version")
    if obj[0] != PROOF_VERSION:
        raise ProofError(
            FiscoCode.PROOF_VERSION,
            f"FISCO proof version {obj[0]} is not supported; build version {PROOF_VERSION} "
            "proofs (adapters.fisco.proof.build_fisco_proof)",
        )
    if len(obj) != PROOF_FIELDS:
        raise _malformed(f"it has {len(obj)} fields, version 1 has {PROOF_FIELDS}")
    _, group_id, block_hash, header, sigs, receipt, receipt_index, levels, log_index = obj
    _uint("group_id", group_id, 1, MAX_GROUP_ID)
    _bin("block_hash", block_hash, 32)
    _bin("header", header)
    _bin("receipt", receipt)
    _uint("receipt_index", receipt_index)
    _uint("log_index", log_index)
    if type(sigs) is not list or len(sigs) > MAX_SEALS:
        raise _malformed(f"sig_list must be an array of at most {MAX_SEALS} seals")
    sig_list = []
    for seal in sigs:
        if type(seal) is not list or len(seal) != 2:
            raise _malformed("a seal is a [sealer_index, signature] pair")
        sig_list.append((_uint("sealer_index", seal[0]), _bin("signature", seal[1])))
    if type(levels) is not list or not 1 <= len(levels) <= MAX_LEVELS:
        raise _malformed(f"merkle_levels must be an array of 1 to {MAX_LEVELS} levels")
    merkle = []
    for level in levels:
        if type(level) is not list or len(level) != 2:
            raise _malformed("a Merkle level is a [left, right] pair of sibling arrays")
        merkle.append(
            ProofLevel(
                _bins("left", level[0], MAX_SIBLINGS), _bins("right", level[1], MAX_SIBLINGS)
            )
        )
    if msgpack.packb(obj, use_bin_type=True) != data:
        raise _malformed(
            "the bytes are not canonical msgpack (shortest integers, bin for bytes, no "
            "trailing data): re-encode with encode_fisco_proof"
        )
    return FiscoProof(
        group_id=group_id,
        block_hash=block_hash,
        header=header,
        sig_list=tuple(sig_list),
        receipt=receipt,
        receipt_index=receipt_index,
        merkle_levels=tuple(merkle),
        log_index=log_index,
    )


def build_fisco_proof(
    *,
    group_id: int,
    header: bytes,
    sig_list: Sequence[tuple[int, bytes]],
    receipts: Sequence[bytes],
    receipt_index: int,
    log_index: int,
    hash_fn: HashFn,
) -> FiscoProof:
    """A proof of log ``log_index`` of receipt ``receipt_index`` of a block (gateway side).

    ``receipts`` are all the block's receipt RLPs in order (the gateway may instead take
    the node's ``receiptProof`` and build :class:`FiscoProof` itself); the Merkle
    levels are computed here with the chain's hash.
    """
    if not 0 <= receipt_index < len(receipts):
        raise ValueError(f"receipt {receipt_index} is not in a block of {len(receipts)}")
    leaves = [compute_leaf(i, hash_fn(r)) for i, r in enumerate(receipts)]
    return FiscoProof(
        group_id=group_id,
        block_hash=hash_fn(header),
        header=bytes(header),
        sig_list=tuple((int(i), bytes(s)) for i, s in sig_list),
        receipt=bytes(receipts[receipt_index]),
        receipt_index=receipt_index,
        merkle_levels=build_merkle_proof(leaves, receipt_index, hash_fn),
        log_index=log_index,
    )


__all__ = [
    "MAX_GROUP_ID",
    "PROOF_VERSION",
    "FiscoProof",
    "build_fisco_proof",
    "decode_fisco_proof",
    "encode_fisco_proof",
]
