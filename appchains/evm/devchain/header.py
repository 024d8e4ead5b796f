"""The London block header, its RLP encoding and its hash (pure).

Field order is the Yellow Paper's with EIP-1559's ``baseFeePerGas`` appended::

    [parentHash, ommersHash, coinbase, stateRoot, transactionsRoot, receiptsRoot,
     logsBloom, difficulty, number, gasLimit, gasUsed, timestamp, extraData,
     mixHash, nonce, baseFeePerGas]

Integers are RLP big-endian without leading zeros; hashes and the bloom are fixed
width byte strings. ``hash = keccak256(rlp(header))``. Seals are not part of the
header (see :mod:`appchains.evm.devchain.seals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

from appchains.evm.devchain.crypto import keccak
from appchains.evm.devchain.rlpcodec import encode as rlp_encode

#: keccak256(rlp([])) — the ommers hash of a block without ommers.
EMPTY_OMMERS_HASH = keccak(rlp_encode([]))
#: keccak256(rlp(b"")) — the root of an empty Merkle-Patricia trie.
EMPTY_TRIE_ROOT = keccak(rlp_encode(b""))
EMPTY_BLOOM = b"\x00" * 256

_FIXED = {
    "parent_hash": 32,
    "ommers_hash": 32,
    "coinbase": 20,
    "state_root": 32,
    "transactions_root": 32,
    "receipts_root": 32,
    "logs_bloom": 256,
    "mix_hash": 32,
    "nonce": 8,
}


class HeaderError(ValueError):
    """Bytes that are not a London header."""


@dataclass(frozen=True, slots=True)
class Header:
    parent_hash: bytes
    ommers_hash: bytes
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    difficulty: int
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes
    base_fee_per_gas: int


def header_fields(header: Header) -> list[bytes | int]:
    """The 16 header fields in RLP order."""
    return [
        header.parent_hash,
        header.ommers_hash,
        header.coinbase,
        header.state_root,
        header.transactions_root,
        header.receipts_root,
        header.logs_bloom,
        header.difficulty,
        header.number,
        header.gas_limit,
        header.gas_used,
        header.timestamp,
        header.extra_data,
        header.mix_hash,
        header.nonce,
        header.base_fee_per_gas,
    ]


def encode_header(header: Header) -> bytes:
    for name, width in _FIXED.items():
        if len(getattr(header, name)) != width:
            raise HeaderError(f"{name} must be {width} bytes")
    if len(header.extra_data) > 32:
        raise HeaderError("extraData is at most 32 bytes")
    return rlp_encode(header_fields(header))


def compute_header_hash(header: Header) -> bytes:
    return keccak(encode_header(header))


def _int(raw: object, name: str) -> int:
    if not isinstance(raw, bytes) or (raw[:1] == b"\x00"):
        raise HeaderError(f"{name} is not a canonical RLP integer")
    return int.from_bytes(raw, "big")


def decode_header(data: bytes) -> Header:
    try:
        items = rlp.decode(data)
    except Exception as exc:
        raise HeaderError(f"not RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != 16:
        raise HeaderError("a London header is an RLP list of 16 items")
    if not all(isinstance(item, bytes) for item in items):
        raise HeaderError("header items must be byte strings")
    header = Header(
        parent_hash=items[0],
        ommers_hash=items[1],
        coinbase=items[2],
        state_root=items[3],
        transactions_root=items[4],
        receipts_root=items[5],
        logs_bloom=items[6],
        difficulty=_int(items[7], "difficulty"),
        number=_int(items[8], "number"),
        gas_limit=_int(items[9], "gasLimit"),
        gas_used=_int(items[10], "gasUsed"),
        timestamp=_int(items[11], "timestamp"),
        extra_data=items[12],
        mix_hash=items[13],
        nonce=items[14],
        base_fee_per_gas=_int(items[15], "baseFeePerGas"),
    )
    encode_header(header)  # width checks
    return header
