"""Ledger data types: signed transactions, receipts, block headers and blocks.

Pure: encoding, hashing and signature checks only. Hashes are keccak-256 with a
domain prefix per kind, so a signature over one kind can never be replayed as
another. See docs/protocol.md §4 and docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import msgpack

from relay.crypto import Account, Address, keccak, normalize_address, recover_address
from relay.errors import Code, EncodingError, RelayError
from relay.ibtp.codec import _canonicalize, unpack_counted
from relay.merkle import compute_root

TX_DOMAIN = b"relayhub.tx.v1"
BLOCK_DOMAIN = b"relayhub.block.v1"
STATE_DOMAIN = b"relayhub.state.v1"
RECEIPT_DOMAIN = b"relayhub.receipt.v1"

MAX_TX_BYTES = 8 * 1024 * 1024
#: Structural limits of one transaction, checked before it is decoded (docs/protocol.md
#: §4): the values it may hold (an ``ibtp`` body carries up to 4,096 IBTPs, registry
#: bodies far fewer) and how deeply its arrays and maps nest.
MAX_TX_OBJECTS = 8192
MAX_TX_DEPTH = 8
GENESIS_PARENT = b"\x00" * 32


#: Exact types that canonicalise to themselves (no subclasses: those take the reference path).
_PLAIN_TYPES = frozenset({int, str, bytes, bool, type(None)})


def _canon(obj: Any) -> Any:
    """``relay.ibtp.codec._canonicalize`` (sorted map keys, no floats, tuples as arrays),
    with a fast path for exact lists and tuples of plain scalars, what transactions,
    receipts and state values are mostly made of: it runs once per IBTP per block,
    where the reference costs one Python call per scalar. Everything else (maps,
    floats, subclasses) goes to the reference, so the result, or the error, is the
    reference's for every input."""
    t = type(obj)
    if t in _PLAIN_TYPES:
        return obj
    if t is list or t is tuple:
        return [x if type(x) in _PLAIN_TYPES else _canon(x) for x in obj]
    return _canonicalize(obj)


def canonical_packb(obj: Any) -> bytes:
    """Canonical msgpack bytes of a relay structure (same bytes as
    ``relay.ibtp.codec.canonical_packb``)."""
    return msgpack.packb(_canon(obj), use_bin_type=True)


@dataclass(frozen=True, slots=True)
class Transaction:
    hub_id: str
    sender: Address
    nonce: int
    kind: str
    body: Any
    sig: bytes
    #: keccak256(TX_DOMAIN ‖ msgpack([hub, sender, nonce, kind, body])), set on build/decode.
    hash: bytes = b""
    #: The address ``sig`` recovers to over ``hash``, once :func:`with_recovered_signer`
    #: computed it (off the event loop); None until then.
    signer: Address | None = field(default=None, compare=False)


def compute_tx_hash(hub_id: str, sender: str, nonce: int, kind: str, body: Any) -> bytes:
    return keccak(TX_DOMAIN + canonical_packb([hub_id, sender, nonce, kind, body]))


def sign_tx(account: Account, hub_id: str, nonce: int, kind: str, body: Any) -> Transaction:
    h = compute_tx_hash(hub_id, account.address, nonce, kind, body)
    return Transaction(hub_id, account.address, nonce, kind, body, account.sign(h), h)


def encode_tx(tx: Transaction) -> bytes:
    return canonical_packb([tx.hub_id, tx.sender, tx.nonce, tx.kind, tx.body, tx.sig])


def decode_tx(data: bytes) -> Transaction:
    """Decode a transaction's bytes; checks shape and canonical form, not the signature."""
    return decode_tx_counted(data)[0]


def decode_tx_counted(
    data: bytes, max_objects: int = MAX_TX_OBJECTS, what: str = "transaction"
) -> tuple[Transaction, int]:
    """:func:`decode_tx` with at most ``max_objects`` msgpack values (checked before
    decoding, so a hostile input costs no more than that); also returns the count."""
    if len(data) > MAX_TX_BYTES:
        raise EncodingError(Code.BODY_TOO_LARGE, f"a transaction is at most {MAX_TX_BYTES} bytes")
    obj, count = unpack_counted(
        data, MAX_TX_BYTES, max_objects=max_objects, max_depth=MAX_TX_DEPTH, what=what
    )
    tx = tx_from_obj(obj)
    if encode_tx(tx) != data:
        raise EncodingError(
            Code.NON_CANONICAL,
            f"{what} bytes are not canonical msgpack: re-encode with sorted map keys and "
            "shortest integers (docs/protocol.md §4)",
        )
    return tx, count


def tx_from_obj(obj: Any) -> Transaction:
    if not isinstance(obj, list) or len(obj) != 6:
        raise EncodingError(
            Code.FIELD_TYPE, "a transaction is an array [hub, sender, nonce, kind, body, sig]"
        )
    hub, sender, nonce, kind, body, sig = obj
    if not isinstance(hub, str) or not isinstance(kind, str):
        raise EncodingError(Code.FIELD_TYPE, "transaction hub and kind must be strings")
    if type(nonce) is not int or not 1 <= nonce < 2**63:
        raise EncodingError(Code.FIELD_TYPE, "transaction nonce must be an integer >= 1")
    if not isinstance(sig, bytes):
        raise EncodingError(Code.FIELD_TYPE, "transaction sig must be bytes")
    try:
        sender = normalize_address(sender)
    except RelayError as exc:
        raise EncodingError(Code.FIELD_TYPE, f"transaction sender: {exc.message}") from None
    try:
        h = compute_tx_hash(hub, sender, nonce, kind, body)
    except (RecursionError, ValueError, TypeError):
        # msgpack refuses to re-encode a body nested past its depth limit.
        raise EncodingError(
            Code.FIELD_TYPE, "transaction body is nested too deeply or has unencodable values"
        ) from None
    return Transaction(hub, sender, nonce, kind, body, sig, h)


def verify_tx_signature(tx: Transaction) -> None:
    """Raise BAD_SIGNATURE / SIGNER_MISMATCH unless ``tx.sig`` is the sender's over ``tx.hash``."""
    signer = tx.signer if tx.signer is not None else recover_address(tx.hash, tx.sig)
    if signer != tx.sender:
        raise RelayError(
            Code.SIGNER_MISMATCH,
            f"signature recovers to {signer}, not the sender {tx.sender}; "
            "sign with the sender's key",
        )


def with_recovered_signer(tx: Transaction) -> Transaction:
    """``tx`` with ``signer`` recovered from its signature, so that
    :func:`verify_tx_signature` later only compares; raises BAD_SIGNATURE as it would."""
    return replace(tx, signer=recover_address(tx.hash, tx.sig))


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """Outcome of an applied transaction. ``results`` is per item (per IBTP for kind ``ibtp``)."""

    tx_hash: bytes
    height: int
    index: int
    results: tuple[Any, ...] = ()

    def encode(self) -> bytes:
        return canonical_packb([self.tx_hash, self.height, self.index, list(self.results)])

    @property
    def hash(self) -> bytes:
        return keccak(RECEIPT_DOMAIN + self.encode())

    @classmethod
    def decode(cls, data: bytes) -> TxReceipt:
        tx_hash, height, index, results = msgpack.unpackb(data, raw=False)
        return cls(tx_hash, height, index, tuple(results))


@dataclass(frozen=True, slots=True)
class BlockHeader:
    height: int
    parent_hash: bytes
    timestamp_ms: int
    tx_root: bytes
    receipt_root: bytes
    state_root: bytes
    proposer: str

    def to_list(self) -> list[Any]:
        return [
            self.height,
            self.parent_hash,
            self.timestamp_ms,
            self.tx_root,
            self.receipt_root,
            self.state_root,
            self.proposer,
        ]

    def encode(self) -> bytes:
        return canonical_packb(self.to_list())

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        return cls(*msgpack.unpackb(data, raw=False))


def compute_block_hash(header: BlockHeader) -> bytes:
    return keccak(BLOCK_DOMAIN + header.encode())


def compute_tx_root(tx_hashes: list[bytes]) -> bytes:
    return compute_root(tx_hashes)


def compute_receipt_root(receipts: list[TxReceipt]) -> bytes:
    return compute_receipt_root_of_encoded([r.encode() for r in receipts])


def compute_receipt_root_of_encoded(encoded: list[bytes]) -> bytes:
    """``compute_receipt_root`` from each receipt's ``encode()`` (encode once, use twice)."""
    return compute_root([keccak(RECEIPT_DOMAIN + e) for e in encoded])


def encode_state_diff(writes: dict[str, Any]) -> bytes:
    """The canonical bytes of a block's state changes: sorted [key, value] pairs,
    ``None`` for a deletion."""
    return canonical_packb([[k, writes[k]] for k in sorted(writes)])


_NIL = msgpack.packb(None)
_PAIR = msgpack.packb([None, None])[:1]  # fixarray header of 2


def encode_state_diff_rows(writes: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    """``encode_state_diff(writes)`` and, per key in the same order, the canonical bytes
    of its value (None for a deletion): what the store writes, from the same pass.
    msgpack is compositional (an array is its header then its items' bytes), so the
    diff is assembled from the value bytes rather than packing every value twice."""
    rows = [(k, None if (v := writes[k]) is None else canonical_packb(v)) for k in sorted(writes)]
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack_array_header(len(rows))]
    for k, vb in rows:
        parts += (_PAIR, packer.pack(k), _NIL if vb is None else vb)
    return b"".join(parts), rows


def compute_state_root(parent_state_root: bytes, diff: bytes) -> bytes:
    """Commitment to the whole state history: a hash chain over per-block diffs."""
    return keccak(STATE_DOMAIN + parent_state_root + keccak(diff))


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    hash: bytes
    signatures: tuple[bytes, ...] = ()
    txs: tuple[Transaction, ...] = field(default=())
    receipts: tuple[TxReceipt, ...] = field(default=())
