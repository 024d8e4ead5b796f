"""FISCO BCOS 2.x transaction receipts: RLP encoding, strict decoding, hash.

Read in FISCO-BCOS (``libethcore/TransactionReceipt.cpp``, 2.x):

* ``TransactionReceipt::streamRLP`` writes ``stateRoot`` (``h256``), ``gasUsed``
  (``u256``), ``contractAddress`` (``Address``, 20 bytes, zero when the
  transaction created no contract), ``bloom`` (``LogBloom``, 256 bytes),
  ``status`` (``static_cast<u256>`` of the ``TransactionException`` code; 0 is
  success), ``output`` (bytes), then — **only when the chain's
  ``supported_version`` is 2.8.0 or later** (``g_BCOSConfig.version() >=
  V2_8_0``) — ``remainGas`` (``u256``), and last the logs: 7 items before 2.8.0,
  8 from 2.8.0.
* ``decode`` reads ``status`` as ``uint32_t``, and the logs from item 6 or 7.
* Each log is ``LogEntry::streamRLP``: ``[address (20 bytes), [topic (32 bytes),
  ...], data]``.
* ``bloom`` is ``eth::bloom(logs)``: each log's ``LogEntry::bloom``
  (``libethcore/LogEntry.cpp``) shifts in ``crypto::Hash(address)`` and
  ``crypto::Hash(topic)`` with ``shiftBloom<3>`` — the Yellow Paper's 2048-bit
  bloom, with SM3 instead of keccak in the 国密 build (:func:`compute_log_bloom`).
* ``TransactionReceipt::hash`` is ``crypto::Hash(receipt RLP)`` (keccak-256, SM3
  in the 国密 build); that hash is what the receipts Merkle tree commits to
  (:mod:`adapters.fisco.merkle`).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp

from adapters.evm.proof import RLPError, decode_rlp
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

#: Items of a receipt before 2.8.0, and from 2.8.0 (with ``remainGas``).
FIELDS_BEFORE_2_8 = 7
FIELDS_FROM_2_8 = 8
#: ``TransactionException::None``: the transaction succeeded.
STATUS_SUCCESS = 0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event log: emitter, topics, data."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes

    def __post_init__(self) -> None:
        check_bytes(self.address, "log address", 20)
        if not isinstance(self.topics, tuple):
            raise ValueError("log topics must be a tuple of 32-byte hashes")
        for i, topic in enumerate(self.topics):
            check_bytes(topic, f"log topic {i}", 32)
        check_bytes(self.data, "log data")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A FISCO BCOS 2.x receipt; ``remain_gas`` is None for the 7-field (pre-2.8.0) form."""

    state_root: bytes
    gas_used: int
    contract_address: bytes
    log_bloom: bytes
    status: int
    output: bytes
    logs: tuple[LogEntry, ...]
    remain_gas: int | None = None

    def __post_init__(self) -> None:
        check_bytes(self.state_root, "state_root", 32)
        check_uint(self.gas_used, "gas_used", 256)
        check_bytes(self.contract_address, "contract_address", 20)
        check_bytes(self.log_bloom, "log_bloom", 256)
        check_uint(self.status, "status", 32)
        check_bytes(self.output, "output")
        if not isinstance(self.logs, tuple) or not all(isinstance(x, LogEntry) for x in self.logs):
            raise ValueError("logs must be a tuple of LogEntry")
        if self.remain_gas is not None:
            check_uint(self.remain_gas, "remain_gas", 256)

    @property
    def succeeded(self) -> bool:
        return self.status == STATUS_SUCCESS

    def rlp_fields(self) -> list[Any]:
        """The items ``TransactionReceipt::streamRLP`` writes, ready for ``rlp.encode``."""
        head: list[Any] = [
            self.state_root,
            self.gas_used,
            self.contract_address,
            self.log_bloom,
            self.status,
            self.output,
        ]
        if self.remain_gas is not None:
            head.append(self.remain_gas)
        head.append([[log.address, list(log.topics), log.data] for log in self.logs])
        return head


def encode_receipt(receipt: Receipt) -> bytes:
    """The receipt's RLP, byte for byte as the node encodes it."""
    return bytes(rlp.encode(receipt.rlp_fields()))


def compute_receipt_hash(receipt: Receipt | bytes, hash_fn: HashFn) -> bytes:
    """``TransactionReceipt::hash``: Hash of the receipt RLP (bytes are hashed as given)."""
    return hash_fn(receipt if isinstance(receipt, bytes) else encode_receipt(receipt))


def compute_log_bloom(logs: tuple[LogEntry, ...], hash_fn: HashFn) -> bytes:
    """The 256-byte bloom of ``logs``: 3 bits per address and topic (``shiftBloom<3>``).

    Each bit index is the low 11 bits of byte pairs (0,1), (2,3), (4,5) of
    ``Hash(value)``, counted from the least significant bit of the big-endian bloom.
    """
    bits = 0
    for log in logs:
        for value in (log.address, *log.topics):
            digest = hash_fn(value)
            for i in (0, 2, 4):
                bits |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return bits.to_bytes(256, "big")


def _decode_log(item: Any, i: int) -> LogEntry:
    fields = as_list(item, f"log {i}")
    if len(fields) != 3:
        raise FieldError(f"log {i} has {len(fields)} items, a log has 3 (address, topics, data)")
    topics = as_list(fields[1], f"log {i} topics")
    return LogEntry(
        address=as_bytes(fields[0], f"log {i} address", 20),
        topics=tuple(as_bytes(t, f"log {i} topic {j}", 32) for j, t in enumerate(topics)),
        data=as_bytes(fields[2], f"log {i} data"),
    )


def decode_receipt(data: bytes, *, fields: int | None = None) -> Receipt:
    """Strictly decode a receipt's RLP (:class:`ProofError` ``RECEIPT_MALFORMED``).

    ``fields`` pins the form the chain uses (7 before 2.8.0, 8 from 2.8.0); None
    accepts either, told apart by the item count.
    """
    if fields not in (None, FIELDS_BEFORE_2_8, FIELDS_FROM_2_8):
        raise ValueError(f"a FISCO receipt has 7 or 8 fields, not {fields}")
    try:
        items = decode_list(data, "receipt")
        allowed = (FIELDS_BEFORE_2_8, FIELDS_FROM_2_8) if fields is None else (fields,)
        if len(items) not in allowed:
            want = " or ".join(map(str, allowed))
            raise FieldError(f"has {len(items)} items, expected {want}")
        logs = as_list(items[-1], "logs")
        return Receipt(
            state_root=as_bytes(items[0], "stateRoot", 32),
            gas_used=as_uint(items[1], "gasUsed", 256),
            contract_address=as_bytes(items[2], "contractAddress", 20),
            log_bloom=as_bytes(items[3], "bloom", 256),
            status=as_uint(items[4], "status", 32),
            output=as_bytes(items[5], "output"),
            remain_gas=as_uint(items[6], "remainGas", 256) if len(items) == 8 else None,
            logs=tuple(_decode_log(x, i) for i, x in enumerate(logs)),
        )
    except FieldError as exc:
        raise ProofError(
            FiscoCode.RECEIPT_MALFORMED,
            f"FISCO receipt: {exc}; send the receipt RLP exactly as the node encodes it",
        ) from None


def read_receipt_log(data: bytes, log_index: int) -> tuple[int, int, LogEntry | None]:
    """``(status, number of logs, log log_index or None past the last)``: the verifier's read.

    The receipt's shape is checked as :func:`decode_receipt` checks it (canonical RLP, 7
    or 8 items, every field's type and size), but of the logs only the one asked for is
    decoded: the others are authenticated bytes nobody reads. A flat RLP parser
    (``adapters.evm.proof.decode_rlp``, strict like pyrlp's) instead of pyrlp's.
    ``RECEIPT_MALFORMED`` otherwise.
    """
    try:
        try:
            items = decode_rlp(data)
        except RLPError as exc:
            raise FieldError(f"receipt is not canonical RLP: {exc}") from None
        if type(items) is not list or len(items) not in (FIELDS_BEFORE_2_8, FIELDS_FROM_2_8):
            raise FieldError("is not an RLP list of 7 or 8 items")
        as_bytes(items[0], "stateRoot", 32)
        as_uint(items[1], "gasUsed", 256)
        as_bytes(items[2], "contractAddress", 20)
        as_bytes(items[3], "bloom", 256)
        status = as_uint(items[4], "status", 32)
        as_bytes(items[5], "output")
        if len(items) == FIELDS_FROM_2_8:
            as_uint(items[6], "remainGas", 256)
        logs = as_list(items[-1], "logs")
        log = _decode_log(logs[log_index], log_index) if log_index < len(logs) else None
        return status, len(logs), log
    except FieldError as exc:
        raise ProofError(
            FiscoCode.RECEIPT_MALFORMED,
            f"FISCO receipt: {exc}; send the receipt RLP exactly as the node encodes it",
        ) from None
