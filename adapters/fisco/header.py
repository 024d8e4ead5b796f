"""FISCO BCOS 2.x block headers: the 13 RLP fields, encoding, strict decoding, hash.

Read in FISCO-BCOS (``libethcore/BlockHeader.cpp``, 2.x):

* ``BlockHeader::encode`` writes ``appendList(13)`` and ``streamRLPFields``, in this
  order: ``parentHash, stateRoot, transactionsRoot, receiptsRoot, dbHash``
  (``h256``), ``logBloom`` (``LogBloom``, 256 bytes), ``number`` (as
  ``bigint``), ``gasLimit, gasUsed`` (``u256``), ``timestamp`` (as ``bigint``;
  milliseconds), ``extraData`` (``appendVector`` of a ``std::vector<bytes>``: an
  RLP *list* of byte strings), ``sealer`` (``u256``: the sealer's index in
  ``sealerList``), ``sealerList`` (``appendVector`` of ``h512`` node IDs: 64-byte
  public keys ``x‖y``).
* ``BlockHeader::hash`` is ``crypto::Hash(encode())`` — keccak-256, or SM3 in the
  国密 build. The PBFT signature list is not in the header (it travels beside it in
  the block, ``Block::decode``'s item 3), so the hash covers no signature.
* ``BlockHeader::populate`` reads the hashes with ``toHash(RLP::VeryStrict)``
  (exact size), ``number`` with ``toPositiveInt64`` (< 2**63), ``timestamp`` as
  ``uint64_t``, the others as ``u256``; ``extraData`` with ``toVector<bytes>``,
  ``sealerList`` with ``toVector<h512>``.

Checked against a real node's answer: the ``getBlockByHash`` example of
FISCO-BCOS-DOC ``2.x/docs/api.md`` (block 1, hash ``0xfa639d…8c59``) re-encodes
to exactly that hash with keccak-256 (``tests/test_fisco_formats.py``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HashFn
from adapters.fisco.rlpfields import (
    FieldError,
    as_bytes,
    as_list,
    as_uint,
    check_bytes,
    check_uint,
    decode_list,
)
from relay.errors import ProofError

#: Number of RLP items in a 2.x header (``BlockHeader::BasicFields``).
HEADER_FIELDS = 13
#: Index of ``receiptsRoot`` and ``transactionsRoot`` in the header's RLP list.
RECEIPTS_ROOT_INDEX = 3
TRANSACTIONS_ROOT_INDEX = 2
BLOOM_SIZE = 256
NODE_ID_SIZE = 64


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A FISCO BCOS 2.x block header (field order = RLP order)."""

    parent_hash: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    db_hash: bytes
    log_bloom: bytes
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: tuple[bytes, ...]
    sealer: int
    sealer_list: tuple[bytes, ...]

    def __post_init__(self) -> None:
        for name in ("parent_hash", "state_root", "transactions_root", "receipts_root", "db_hash"):
            check_bytes(getattr(self, name), name, 32)
        check_bytes(self.log_bloom, "log_bloom", BLOOM_SIZE)
        check_uint(self.number, "number", 63)
        check_uint(self.gas_limit, "gas_limit", 256)
        check_uint(self.gas_used, "gas_used", 256)
        check_uint(self.timestamp, "timestamp", 64)
        check_uint(self.sealer, "sealer", 256)
        if not isinstance(self.extra_data, tuple):
            raise ValueError("extra_data must be a tuple of bytes")
        for i, item in enumerate(self.extra_data):
            check_bytes(item, f"extra_data[{i}]")
        if not isinstance(self.sealer_list, tuple):
            raise ValueError("sealer_list must be a tuple of 64-byte node IDs")
        for i, node in enumerate(self.sealer_list):
            check_bytes(node, f"sealer_list[{i}]", NODE_ID_SIZE)

    def rlp_fields(self) -> list[Any]:
        """The 13 items ``BlockHeader::streamRLPFields`` writes, ready for ``rlp.encode``."""
        return [
            self.parent_hash,
            self.state_root,
            self.transactions_root,
            self.receipts_root,
            self.db_hash,
            self.log_bloom,
            self.number,
            self.gas_limit,
            self.gas_used,
            self.timestamp,
            list(self.extra_data),
            self.sealer,
            list(self.sealer_list),
        ]


def encode_header(header: BlockHeader) -> bytes:
    """The header's RLP, byte for byte as ``BlockHeader::encode`` writes it."""
    return bytes(rlp.encode(header.rlp_fields()))


def compute_block_hash(header: BlockHeader | bytes, hash_fn: HashFn) -> bytes:
    """``crypto::Hash`` of the header RLP: the block hash sealers sign.

    ``header`` is a :class:`BlockHeader` or its RLP bytes (hashed as given).
    """
    data = header if isinstance(header, bytes) else encode_header(header)
    return hash_fn(data)


def _malformed(message: str) -> ProofError:
    return ProofError(
        FiscoCode.HEADER_MALFORMED,
        f"FISCO block header: {message}; send the header RLP exactly as the node encodes it",
    )


def decode_header(data: bytes) -> BlockHeader:
    """Strictly decode a header's RLP (:class:`ProofError` ``HEADER_MALFORMED``).

    Refuses what ``BlockHeader::populate`` refuses and what a node never writes:
    non-canonical RLP or integers, trailing bytes, a field count other than 13,
    hashes not 32 bytes, a bloom not 256 bytes, sealer IDs not 64 bytes.
    """
    try:
        items = decode_list(data, "header")
        if len(items) != HEADER_FIELDS:
            raise FieldError(f"has {len(items)} items, a 2.x header has {HEADER_FIELDS}")
        names = ("parentHash", "stateRoot", "transactionsRoot", "receiptsRoot", "dbHash")
        hashes = [as_bytes(items[i], name, 32) for i, name in enumerate(names)]
        extra = as_list(items[10], "extraData")
        sealers = as_list(items[12], "sealerList")
        return BlockHeader(
            parent_hash=hashes[0],
            state_root=hashes[1],
            transactions_root=hashes[2],
            receipts_root=hashes[3],
            db_hash=hashes[4],
            log_bloom=as_bytes(items[5], "logBloom", BLOOM_SIZE),
            number=as_uint(items[6], "number", 63),
            gas_limit=as_uint(items[7], "gasLimit", 256),
            gas_used=as_uint(items[8], "gasUsed", 256),
            timestamp=as_uint(items[9], "timestamp", 64),
            extra_data=tuple(as_bytes(x, f"extraData[{i}]") for i, x in enumerate(extra)),
            sealer=as_uint(items[11], "sealer", 256),
            sealer_list=tuple(
                as_bytes(x, f"sealerList[{i}]", NODE_ID_SIZE) for i, x in enumerate(sealers)
            ),
        )
    except FieldError as exc:
        raise _malformed(str(exc)) from None


def _hex(value: object, field: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a hex string")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{field} is not hex: {value!r}") from None
    if size is not None and len(raw) != size:
        raise ValueError(f"{field} must be {size} bytes, got {len(raw)}")
    return raw


def _quantity(value: object, field: str) -> int:
    if not isinstance(value, str) or value[:2] not in ("0x", "0X") or len(value) < 3:
        raise ValueError(f"{field} must be a 0x hex quantity, got {value!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise ValueError(f"{field} is not a hex quantity: {value!r}") from None


def header_from_rpc(block: Mapping[str, Any]) -> BlockHeader:
    """The header of a ``getBlockByNumber`` / ``getBlockByHash`` result object.

    Field names as FISCO-BCOS-DOC ``2.x/docs/api.md`` documents them (``logsBloom``
    for ``logBloom``; ``extraData`` and ``sealerList`` arrays). ``ValueError`` when
    a field is missing or not the documented shape.
    """
    try:
        extra = block["extraData"]
        sealers = block["sealerList"]
        if not isinstance(extra, Sequence) or isinstance(extra, str):
            raise ValueError("extraData must be an array")
        if not isinstance(sealers, Sequence) or isinstance(sealers, str):
            raise ValueError("sealerList must be an array")
        return BlockHeader(
            parent_hash=_hex(block["parentHash"], "parentHash", 32),
            state_root=_hex(block["stateRoot"], "stateRoot", 32),
            transactions_root=_hex(block["transactionsRoot"], "transactionsRoot", 32),
            receipts_root=_hex(block["receiptsRoot"], "receiptsRoot", 32),
            db_hash=_hex(block["dbHash"], "dbHash", 32),
            log_bloom=_hex(block["logsBloom"], "logsBloom", BLOOM_SIZE),
            number=_quantity(block["number"], "number"),
            gas_limit=_quantity(block["gasLimit"], "gasLimit"),
            gas_used=_quantity(block["gasUsed"], "gasUsed"),
            timestamp=_quantity(block["timestamp"], "timestamp"),
            extra_data=tuple(_hex(x, f"extraData[{i}]") for i, x in enumerate(extra)),
            sealer=_quantity(block["sealer"], "sealer"),
            sealer_list=tuple(
                _hex(x, f"sealerList[{i}]", NODE_ID_SIZE) for i, x in enumerate(sealers)
            ),
        )
    except KeyError as exc:
        raise ValueError(f"block object has no {exc.args[0]!r}") from None
