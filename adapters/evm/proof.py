"""The EVM family's proof: format, codec, seal digest, MPT walk and receipts-trie builder.

A gateway proves that its EVM chain emitted an IBTP with one receipt and one of
its logs. The proof is a canonical msgpack array::

    [version=1, block_hash: bin32, header_rlp: bin, seals: [bin65, ...],
     receipt: bin, tx_index: uint, nodes: [bin, ...], log_index: uint]

* ``header_rlp`` hashes (keccak-256) to ``block_hash``; its item 5 is receiptsRoot.
* ``seals`` are 65-byte ``r ‖ s ‖ v`` signatures over :func:`compute_seal_digest`.
* ``receipt`` is the receipt's consensus encoding exactly as the chain encoded it
  (type byte + RLP for typed receipts, plain RLP for legacy ones).
* ``nodes`` are the raw RLP bytes of the receipts-trie nodes on the path to key
  ``rlp(tx_index)``, root first. A node whose RLP is shorter than 32 bytes is
  embedded in its parent and not listed.

Relay side (hot path) walks the raw nodes itself with :func:`walk_mpt_proof`:
one keccak per node, no re-encoding. Gateway side builds proofs with
:func:`build_receipt_proof` from ``trie.HexaryTrie``, where speed matters less.
Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

import msgpack
import rlp
from trie import HexaryTrie

from adapters.evm.errors import EvmCode, MptProofError
from relay.crypto import Account, keccak
from relay.errors import ProofError

PROOF_VERSION = 1
#: Domain tag of the seal digest (see :func:`compute_seal_digest`).
SEAL_DOMAIN = b"relayhub.evm-seal.v1"
#: Index of receiptsRoot in an Ethereum block header's RLP list.
HEADER_RECEIPTS_ROOT_INDEX = 5
#: Fewest items a block header has (pre-London; London adds baseFee, and so on).
HEADER_MIN_ITEMS = 15

#: Limits the decoder enforces (beyond the IBTP's 128 KiB proof limit).
MAX_SEALS = 128
MAX_NODES = 64
MAX_UINT64 = 2**64 - 1

#: topic0 of the broker's events (docs/broker.md). None has indexed parameters,
#: so a broker log has exactly one topic.
INTERCHAIN_EVENT_TOPIC = bytes.fromhex(
    "bd5b4e8605ce9dca921753902d63fd47a75e0c7539a1a5c4d97e266a47d88ec2"
)
RECEIPT_EVENT_TOPIC = bytes.fromhex(
    "a05e6121fc3e19164acf8374a1e341ef58114838035bc7575bf76656f38cb944"
)
CALLBACK_EVENT_TOPIC = bytes.fromhex(
    "1eba34f1694e223a4e9c3ebab2012e0e74b94a575b1fc5fd6c02e4cce6beeab6"
)
#: ABI types of each event's data, in declaration order.
INTERCHAIN_EVENT_TYPES = (
    "string",
    "string",
    "uint64",
    "string",
    "bytes[]",
    "bool",
    "uint64",
    "bytes32",
)
RECEIPT_EVENT_TYPES = ("string", "string", "uint64", "uint8", "bytes", "bytes32")
CALLBACK_EVENT_TYPES = ("string", "string", "uint64", "uint8")
EVENT_NAMES = {
    INTERCHAIN_EVENT_TOPIC: "InterchainEvent",
    RECEIPT_EVENT_TOPIC: "ReceiptEvent",
    CALLBACK_EVENT_TOPIC: "CallbackEvent",
}


@dataclass(frozen=True, slots=True)
class EvmProof:
    """The decoded proof (data only). Field meanings in the module docstring."""

    block_hash: bytes
    header_rlp: bytes
    seals: tuple[bytes, ...]
    receipt: bytes
    tx_index: int
    nodes: tuple[bytes, ...]
    log_index: int
    version: int = PROOF_VERSION


class Log(NamedTuple):
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


class Receipt(NamedTuple):
    """A decoded receipt: ``tx_type`` 0 for legacy, else the EIP-2718 type byte."""

    tx_type: int
    status: bytes
    logs: list[Any]  # raw decoded RLP; use receipt_log() to check one entry's shape


# --------------------------------------------------------------------------- codec


def encode_evm_proof(proof: EvmProof) -> bytes:
    """The canonical bytes of ``proof`` (what goes into ``IBTP.proof``)."""
    return msgpack.packb(_proof_to_list(proof), use_bin_type=True)


def _proof_to_list(p: EvmProof) -> list[Any]:
    return [
        p.version,
        p.block_hash,
        p.header_rlp,
        list(p.seals),
        p.receipt,
        p.tx_index,
        list(p.nodes),
        p.log_index,
    ]


def decode_evm_proof(data: bytes) -> EvmProof:
    """Decode canonical proof bytes, or raise ``ProofError`` (PROOF_MALFORMED / PROOF_VERSION)."""
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_array_len=MAX_SEALS + MAX_NODES,
            max_map_len=0,
            max_ext_len=0,
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ProofError(
            EvmCode.PROOF_MALFORMED,
            f"EVM proof is not valid msgpack ({type(exc).__name__}); "
            "send the array of docs/evm.md, 'Proof format'",
        ) from None
    if not isinstance(obj, list) or not obj or type(obj[0]) is not int:
        raise ProofError(
            EvmCode.PROOF_MALFORMED, "EVM proof must be a msgpack array starting with its version"
        )
    if obj[0] != PROOF_VERSION:
        raise ProofError(
            EvmCode.PROOF_VERSION,
            f"EVM proof version {obj[0]} is not supported; build version {PROOF_VERSION} proofs",
        )
    if len(obj) != 8:
        raise ProofError(
            EvmCode.PROOF_MALFORMED, f"EVM proof has {len(obj)} fields; version 1 has 8"
        )
    _, block_hash, header_rlp, seals, receipt, tx_index, nodes, log_index = obj
    _check_bytes("block_hash", block_hash, 32)
    _check_bytes("header_rlp", header_rlp)
    _check_bytes("receipt", receipt)
    _check_bytes_list("seals", seals, MAX_SEALS)
    _check_bytes_list("nodes", nodes, MAX_NODES)
    _check_uint("tx_index", tx_index)
    _check_uint("log_index", log_index)
    proof = EvmProof(
        block_hash=block_hash,
        header_rlp=header_rlp,
        seals=tuple(seals),
        receipt=receipt,
        tx_index=tx_index,
        nodes=tuple(nodes),
        log_index=log_index,
    )
    if encode_evm_proof(proof) != data:
        raise ProofError(
            EvmCode.PROOF_MALFORMED,
            "EVM proof bytes are not canonical msgpack (shortest integers, bin for bytes, "
            "no trailing data): re-encode with encode_evm_proof",
        )
    return proof


def _check_bytes(name: str, value: object, size: int | None = None) -> None:
    if type(value) is not bytes or (size is not None and len(value) != size):
        want = f"{size}-byte bin" if size is not None else "bin"
        raise ProofError(EvmCode.PROOF_MALFORMED, f"EVM proof field {name} must be {want}")


def _check_bytes_list(name: str, value: object, limit: int) -> None:
    if type(value) is not list or not all(type(v) is bytes for v in value):
        raise ProofError(EvmCode.PROOF_MALFORMED, f"EVM proof field {name} must be an array of bin")
    if len(value) > limit:
        raise ProofError(
            EvmCode.PROOF_MALFORMED, f"EVM proof carries {len(value)} {name}; the limit is {limit}"
        )


def _check_uint(name: str, value: object) -> None:
    if type(value) is not int or not 0 <= value <= MAX_UINT64:
        raise ProofError(EvmCode.PROOF_MALFORMED, f"EVM proof field {name} must be a uint64")


# --------------------------------------------------------------------------- seals


def compute_seal_digest(evm_chain_id: int, block_hash: bytes) -> bytes:
    """keccak256("relayhub.evm-seal.v1" ‖ uint256(evm_chain_id) ‖ block_hash)."""
    return keccak(SEAL_DOMAIN + evm_chain_id.to_bytes(32, "big") + block_hash)


def sign_seal(account: Account, evm_chain_id: int, block_hash: bytes) -> bytes:
    """A validator's (or notary's) 65-byte seal over a block hash."""
    return account.sign(compute_seal_digest(evm_chain_id, block_hash))


# --------------------------------------------------------------------------- RLP


class RLPError(ValueError):
    """Bytes that are not exactly one canonical RLP item."""


def decode_rlp(data: bytes) -> Any:
    """Decode exactly one canonical RLP item: ``bytes`` or a (nested) ``list``.

    Strict like ``rlp.decode(strict=True)``: no trailing bytes, a single byte
    below 0x80 never in a length prefix, long forms only for lengths >= 56, no
    leading zeros in lengths. A flat loop over the raw bytes, ~3x faster than
    pyrlp's generic decoder on branch nodes and receipts (the verifier's hot path;
    the tests check it against pyrlp). Raises :class:`RLPError`.
    """
    try:
        items = _rlp_items(data, 0, len(data))
    except RecursionError:
        raise RLPError("RLP nested too deeply") from None
    if len(items) != 1:
        raise RLPError("not exactly one RLP item")
    return items[0]


def _rlp_items(data: bytes, pos: int, end: int) -> list[Any]:
    out: list[Any] = []
    append = out.append
    while pos < end:
        b0 = data[pos]
        if b0 < 0x80:  # a single byte, itself
            append(data[pos : pos + 1])
            pos += 1
            continue
        if b0 < 0xB8:  # a short string
            start = pos + 1
            stop = start + b0 - 0x80
            if stop > end:
                raise RLPError("string runs past its container")
            if stop == start + 1 and data[start] < 0x80:
                raise RLPError("a single byte below 0x80 must not have a length prefix")
            append(data[start:stop])
            pos = stop
            continue
        if b0 < 0xC0 or b0 >= 0xF8:  # a long string or a long list
            start = pos + 1 + (b0 - 0xB7 if b0 < 0xC0 else b0 - 0xF7)
            if start > end or data[pos + 1] == 0:
                raise RLPError("truncated or zero-padded length")
            length = int.from_bytes(data[pos + 1 : start], "big")
            if length < 56:
                raise RLPError("long form used for a length below 56")
            stop = start + length
        else:  # a short list
            start = pos + 1
            stop = start + b0 - 0xC0
        if stop > end:
            raise RLPError("item runs past its container")
        append(data[start:stop] if b0 < 0xC0 else _rlp_items(data, start, stop))
        pos = stop
    return out


# --------------------------------------------------------------------------- MPT walk

_NIBBLES = [bytes((b >> 4, b & 0x0F)) for b in range(256)]


def _to_nibbles(data: bytes) -> bytes:
    """One byte per nibble: b"\\x12\\xab" -> b"\\x01\\x02\\x0a\\x0b"."""
    return b"".join([_NIBBLES[b] for b in data])


def _decode_node(raw: bytes, root: bytes, key: bytes, index: int) -> Any:
    try:
        return decode_rlp(raw)
    except RLPError:
        raise MptProofError(
            EvmCode.MPT_NODE_MALFORMED,
            f"proof node {index} is not valid RLP",
            root=root,
            key=key,
            node_index=index,
        ) from None


def walk_mpt_proof(root: bytes, key: bytes, nodes: Sequence[bytes]) -> bytes:
    """The value stored at ``key`` in the Merkle-Patricia trie with root hash ``root``.

    ``nodes`` are the raw RLP nodes on the path, root first; nodes shorter than 32
    bytes are embedded in their parent. Each listed node must hash (keccak-256) to
    the reference held by its parent (the root to ``root``), and every listed node
    must be used. Raises :class:`MptProofError` (root, key and the missing or
    mismatched hash attached) for a proof that does not prove a value at ``key``.
    """
    n_nodes = len(nodes)
    if n_nodes == 0:
        raise MptProofError(
            EvmCode.MPT_PROOF_TRUNCATED,
            "the proof carries no nodes; the root node is needed",
            root=root,
            key=key,
            node_hash=root,
            node_index=0,
        )
    if keccak(nodes[0]) != root:
        raise MptProofError(
            EvmCode.MPT_ROOT_MISMATCH,
            f"proof node 0 does not hash to the trie root 0x{root.hex()}: "
            "the nodes belong to another trie",
            root=root,
            key=key,
            node_hash=root,
            node_index=0,
        )
    path = _to_nibbles(key)
    pos = 0
    used = 1
    node = _decode_node(nodes[0], root, key, 0)
    while True:
        # Invariant: `node` is authenticated (hashed to its parent's reference or
        # embedded in an authenticated parent); nodes[:used] have been consumed.
        if type(node) is not list:
            if node == b"":
                _absent(root, key, "the trie is empty")
            _malformed(root, key, used - 1, "a node must be an RLP list")
        if len(node) == 17:
            if pos == len(path):
                value = node[16]
                if type(value) is not bytes:
                    _malformed(root, key, used - 1, "a branch value must be a byte string")
                if not value:
                    _absent(root, key, "the branch at the key's end holds no value")
                break
            ref = node[path[pos]]
            pos += 1
        elif len(node) == 2:
            is_leaf, node_path = _decode_hex_prefix(node[0], root, key, used - 1)
            if is_leaf:
                if path[pos:] != node_path:
                    _absent(root, key, "the path ends at a leaf for another key")
                value = node[1]
                if type(value) is not bytes or not value:
                    _malformed(root, key, used - 1, "a leaf value must be a non-empty byte string")
                break
            if not node_path:
                _malformed(root, key, used - 1, "an extension node has an empty path")
            if path[pos : pos + len(node_path)] != node_path:
                _absent(root, key, "the path diverges at an extension node")
            pos += len(node_path)
            ref = node[1]
        else:
            _malformed(root, key, used - 1, f"a node has {len(node)} items (2 or 17 expected)")
        # Follow the reference: an embedded node, nothing, or a 32-byte hash.
        if type(ref) is list:
            node = ref
            continue
        if ref == b"":
            _absent(root, key, "the branch slot on the path is empty")
        if len(ref) != 32:
            _malformed(root, key, used - 1, "a child reference is neither 32 bytes nor embedded")
        if used == n_nodes:
            raise MptProofError(
                EvmCode.MPT_PROOF_TRUNCATED,
                f"the path continues to node 0x{ref.hex()}, which the proof does not carry "
                f"(it has {n_nodes} nodes)",
                root=root,
                key=key,
                node_hash=ref,
                node_index=used,
            )
        raw = nodes[used]
        if keccak(raw) != ref:
            raise MptProofError(
                EvmCode.MPT_NODE_MISMATCH,
                f"proof node {used} does not hash to 0x{ref.hex()}, the reference its parent "
                "holds on the path to the key",
                root=root,
                key=key,
                node_hash=ref,
                node_index=used,
            )
        node = _decode_node(raw, root, key, used)
        used += 1
    if used != n_nodes:
        raise MptProofError(
            EvmCode.MPT_EXTRA_NODES,
            f"the value was reached after {used} nodes but the proof carries {n_nodes}; "
            "send only the nodes on the path",
            root=root,
            key=key,
            node_index=used,
        )
    return value


def _decode_hex_prefix(enc: object, root: bytes, key: bytes, index: int) -> tuple[bool, bytes]:
    """Hex-prefix path decoding: flag nibble 0/1 extension, 2/3 leaf; odd flags add a nibble."""
    if type(enc) is not bytes or not enc:
        _malformed(root, key, index, "a leaf/extension path must be a non-empty byte string")
    first = enc[0]
    flag = first >> 4
    if flag > 3:
        _malformed(root, key, index, f"hex-prefix flag {flag} is not 0-3")
    if flag & 1:
        return bool(flag & 2), _NIBBLES[first][1:] + _to_nibbles(enc[1:])
    if first & 0x0F:
        _malformed(root, key, index, "an even hex-prefix path must pad with a zero nibble")
    return bool(flag & 2), _to_nibbles(enc[1:])


def _absent(root: bytes, key: bytes, why: str) -> NoReturn:
    raise MptProofError(
        EvmCode.MPT_KEY_ABSENT,
        f"the trie holds no value at key 0x{key.hex()}: {why}",
        root=root,
        key=key,
    )


def _malformed(root: bytes, key: bytes, index: int, why: str) -> NoReturn:
    raise MptProofError(
        EvmCode.MPT_NODE_MALFORMED,
        f"proof node {index} (or a node embedded in it) is malformed: {why}",
        root=root,
        key=key,
        node_index=index,
    )


# --------------------------------------------------------------------------- header and receipt


def decode_header_receipts_root(header_rlp: bytes) -> bytes:
    """receiptsRoot (item 5) of an RLP block header; raises HEADER_MALFORMED."""
    try:
        items = decode_rlp(header_rlp)
    except RLPError:
        raise ProofError(EvmCode.HEADER_MALFORMED, "the block header is not valid RLP") from None
    if type(items) is not list or len(items) < HEADER_MIN_ITEMS:
        raise ProofError(
            EvmCode.HEADER_MALFORMED,
            f"the block header must be an RLP list of at least {HEADER_MIN_ITEMS} items",
        )
    if not all(type(item) is bytes for item in items):
        raise ProofError(EvmCode.HEADER_MALFORMED, "every block header item must be a byte string")
    root: bytes = items[HEADER_RECEIPTS_ROOT_INDEX]
    if len(root) != 32:
        raise ProofError(
            EvmCode.HEADER_MALFORMED, "the block header's receiptsRoot (item 5) is not 32 bytes"
        )
    return root


def decode_receipt(encoded: bytes) -> Receipt:
    """Decode a receipt's consensus encoding (typed: type byte + RLP; legacy: RLP).

    Checks the top-level shape ``[status, cumulativeGasUsed, logsBloom(256), logs]``;
    individual logs are checked by :func:`receipt_log`. Raises RECEIPT_MALFORMED.
    """
    if not encoded:
        raise ProofError(EvmCode.RECEIPT_MALFORMED, "the receipt is empty")
    first = encoded[0]
    if first >= 0xC0:
        tx_type, body = 0, encoded
    elif 0x01 <= first <= 0x7F:
        tx_type, body = first, encoded[1:]
    else:
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED,
            f"the receipt starts with 0x{first:02x}: neither an RLP list (legacy) nor an "
            "EIP-2718 type byte 0x01-0x7f",
        )
    try:
        items = decode_rlp(body)
    except RLPError:
        raise ProofError(EvmCode.RECEIPT_MALFORMED, "the receipt body is not valid RLP") from None
    if type(items) is not list or len(items) != 4:
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED,
            "the receipt must be [status, cumulativeGasUsed, logsBloom, logs]",
        )
    status, gas, bloom, logs = items
    if type(status) is not bytes or type(gas) is not bytes or type(bloom) is not bytes:
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED, "receipt status, gas and bloom must be byte strings"
        )
    if len(bloom) != 256 or type(logs) is not list:
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED, "the receipt's bloom must be 256 bytes and logs a list"
        )
    return Receipt(tx_type, status, logs)


def is_receipt_success(status: bytes) -> bool:
    """Post-Byzantium status: 0x01 success; b"" (geth) or 0x00 (ganache) failure.

    Raises RECEIPT_MALFORMED for anything else (a pre-Byzantium 32-byte state root
    says nothing about success).
    """
    if status == b"\x01":
        return True
    if status in (b"", b"\x00"):
        return False
    raise ProofError(
        EvmCode.RECEIPT_MALFORMED,
        f"receipt status field 0x{status[:40].hex()} is not a post-Byzantium status (0x01/empty)",
    )


def receipt_log(receipt: Receipt, log_index: int) -> Log:
    """Log ``log_index`` of ``receipt``, shape-checked; refuses with 5218 or 5216."""
    if log_index >= len(receipt.logs):
        raise ProofError(
            EvmCode.LOG_INDEX_OUT_OF_RANGE,
            f"log_index {log_index} is out of range: the receipt has {len(receipt.logs)} logs",
        )
    entry = receipt.logs[log_index]
    if type(entry) is not list or len(entry) != 3:
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED, f"receipt log {log_index} is not [address, topics, data]"
        )
    address, topics, data = entry
    if (
        type(address) is not bytes
        or len(address) != 20
        or type(topics) is not list
        or not all(type(t) is bytes and len(t) == 32 for t in topics)
        or type(data) is not bytes
    ):
        raise ProofError(
            EvmCode.RECEIPT_MALFORMED,
            f"receipt log {log_index} must hold a 20-byte address, 32-byte topics and data bytes",
        )
    return Log(address, tuple(topics), data)


# --------------------------------------------------------------------------- builder (gateway side)


def _build_receipts_trie(receipts_encoded: Iterable[bytes]) -> tuple[dict[bytes, bytes], bytes]:
    db: dict[bytes, bytes] = {}
    t = HexaryTrie(db)
    for i, receipt in enumerate(receipts_encoded):
        if not receipt:
            raise ValueError(f"receipt {i} is empty")
        t[rlp.encode(i)] = receipt
    return db, t.root_hash


def compute_receipts_root(receipts_encoded: Iterable[bytes]) -> bytes:
    """The receiptsRoot of a block whose receipts, in order, encode as given.

    Pass receipts exactly as the chain encoded them (ganache writes a failed status
    as 0x00 where geth writes b""; only the chain's own bytes reproduce its root).
    """
    return _build_receipts_trie(receipts_encoded)[1]


def build_receipt_proof(
    receipts_encoded: Sequence[bytes], tx_index: int
) -> tuple[bytes, list[bytes]]:
    """``(receiptsRoot, nodes)`` proving receipt ``tx_index`` of a block (gateway side)."""
    if not 0 <= tx_index < len(receipts_encoded):
        raise ValueError(f"tx_index {tx_index} is not in a block of {len(receipts_encoded)}")
    db, root = _build_receipts_trie(receipts_encoded)
    return root, _extract_path(db, root, rlp.encode(tx_index))


def build_receipt_proofs(receipts_encoded: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """``(receiptsRoot, [nodes for tx 0, nodes for tx 1, ...])``: one trie build for a block."""
    db, root = _build_receipts_trie(receipts_encoded)
    return root, [_extract_path(db, root, rlp.encode(i)) for i in range(len(receipts_encoded))]


def _extract_path(db: Mapping[bytes, bytes], root: bytes, key: bytes) -> list[bytes]:
    """The stored (hashed) nodes from ``root`` to ``key``, raw bytes as stored, root first."""
    path = _to_nibbles(key)
    pos = 0
    out = [db[root]]
    node = rlp.decode(out[0])
    while True:
        if len(node) == 17:
            if pos == len(path):
                return out
            ref = node[path[pos]]
            pos += 1
        else:
            enc = node[0]
            flag = enc[0] >> 4
            node_path = (_NIBBLES[enc[0]][1:] if flag & 1 else b"") + _to_nibbles(enc[1:])
            if flag & 2:
                if path[pos:] != node_path:
                    raise KeyError(key)
                return out
            pos += len(node_path)
            ref = node[1]
        if type(ref) is list:
            node = ref
            continue
        if ref == b"":
            raise KeyError(key)
        out.append(db[ref])
        node = rlp.decode(out[-1])
