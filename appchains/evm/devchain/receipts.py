"""Logs, receipts, their consensus encodings and the block tries (pure).

A receipt is ``rlp([status, cumulativeGasUsed, logsBloom, logs])`` with each log
``[address, [topic, ...], data]``. A typed transaction's receipt (EIP-2718) is its
type byte followed by that RLP; a legacy one is the RLP alone. ``status`` 1 is the
byte ``0x01`` and 0 the empty string, as go-ethereum encodes them.

The receipts trie and the transactions trie map ``rlp(index)`` to the encoded
item; both give ``trie.HexaryTrie``'s root, built in one pass by
:func:`appchains.evm.devchain.rlpcodec.compute_ordered_trie_root`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import rlp

from appchains.evm.devchain.bloom import compute_bloom
from appchains.evm.devchain.rlpcodec import compute_ordered_trie_root
from appchains.evm.devchain.rlpcodec import encode as rlp_encode


class ReceiptError(ValueError):
    """Bytes that are not an encoded receipt."""


@dataclass(frozen=True, slots=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """The consensus part of a receipt: what ``receiptsRoot`` commits to."""

    tx_type: int
    status: int
    cumulative_gas_used: int
    logs_bloom: bytes
    logs: tuple[Log, ...]


def compute_logs_bloom(logs: Sequence[Log]) -> bytes:
    values: list[bytes] = []
    for log in logs:
        values.append(log.address)
        values.extend(log.topics)
    return compute_bloom(values)


def make_receipt(
    tx_type: int, status: int, cumulative_gas_used: int, logs: Sequence[Log]
) -> Receipt:
    logs = tuple(logs)
    return Receipt(tx_type, status, cumulative_gas_used, compute_logs_bloom(logs), logs)


def encode_log(log: Log) -> list[object]:
    return [log.address, list(log.topics), log.data]


def encode_receipt(receipt: Receipt) -> bytes:
    body = rlp_encode(
        [
            receipt.status,
            receipt.cumulative_gas_used,
            receipt.logs_bloom,
            [encode_log(log) for log in receipt.logs],
        ]
    )
    if receipt.tx_type == 0:
        return body
    return bytes([receipt.tx_type]) + body


def _decode_int(raw: object) -> int:
    if not isinstance(raw, bytes) or raw[:1] == b"\x00":
        raise ReceiptError("not a canonical integer")
    return int.from_bytes(raw, "big")


def decode_receipt(data: bytes) -> Receipt:
    if not data:
        raise ReceiptError("empty receipt")
    tx_type = 0
    if data[0] < 0x80:
        tx_type, data = data[0], data[1:]
    try:
        items = rlp.decode(data)
    except Exception as exc:
        raise ReceiptError(f"not RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != 4:
        raise ReceiptError("a receipt is an RLP list of 4 items")
    status_raw, cumulative_raw, bloom, logs_raw = items
    if status_raw not in (b"", b"\x01") or not isinstance(bloom, bytes) or len(bloom) != 256:
        raise ReceiptError("bad status or bloom")
    if not isinstance(logs_raw, list):
        raise ReceiptError("logs must be a list")
    logs = []
    for item in logs_raw:
        if not (isinstance(item, list) and len(item) == 3):
            raise ReceiptError("a log is [address, topics, data]")
        address, topics, log_data = item
        if not (isinstance(address, bytes) and len(address) == 20 and isinstance(topics, list)):
            raise ReceiptError("bad log address or topics")
        if not all(isinstance(t, bytes) and len(t) == 32 for t in topics):
            raise ReceiptError("a topic is 32 bytes")
        if not isinstance(log_data, bytes):
            raise ReceiptError("log data must be bytes")
        logs.append(Log(address, tuple(topics), log_data))
    return Receipt(tx_type, 1 if status_raw else 0, _decode_int(cumulative_raw), bloom, tuple(logs))


def compute_trie_root(items: Sequence[bytes]) -> bytes:
    """Root of the trie mapping ``rlp(i)`` to ``items[i]`` (transactions or receipts)."""
    return compute_ordered_trie_root(items)


def compute_receipts_root(receipts: Sequence[Receipt]) -> bytes:
    return compute_trie_root([encode_receipt(r) for r in receipts])
