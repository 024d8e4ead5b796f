"""FISCO BCOS 2.x transaction / receipt Merkle trees: root, proofs, checks.

Read in FISCO-BCOS (2.x, from 2.2.0):

* Leaves — ``libethcore/Block.cpp``, ``Block::getReceiptAndHash`` (receipts) and
  ``Block::calTransactionRoot`` / ``getTransactionProof`` (transactions): leaf
  ``i`` is ``rlp(i) ‖ hash``, the RLP of the integer index (``RLPStream s; s << i``)
  followed by the item's 32-byte hash (``TransactionReceipt::hash`` =
  ``crypto::Hash(receipt RLP)``; ``Transaction::hash``). Leaves are *not* hashed
  on their own.
* Root — ``libutilities/ParallelMerkleProof.cpp`` (earlier
  ``libdevcore/TrieHash2.cpp``), ``getMerkleProofRoot``: while more than one node
  is left, cut the level into groups of 16 (the last group may be shorter; no
  padding) and replace each group by ``Hash(concatenation)``; then the root is
  ``Hash(the last node)``. So one leaf gives ``Hash(leaf)``, and the empty list
  gives ``Hash(b"")``.
* Proofs — ``getMerkleProof`` records, for each group, parent → children, plus
  ``Hash(top) → [top]``; the JSON-RPC (``getTransactionReceiptByHashWithProof``'s
  ``receiptProof``, ``getTransactionByHashWithProof``'s ``txProof``) gives, from
  the leaf up, one level per group on the path: ``left`` = the siblings before,
  ``right`` = the siblings after (hex, no ``0x``), and a last level with both
  empty (the ``Hash(top)`` step). Level-0 siblings are leaves (``rlp(j) ‖ hash``),
  higher ones 32-byte hashes.

Checking a proof is a fold: ``node = Hash(left ‖ node ‖ right)`` for every level,
starting from the leaf; the proof holds when the result is the root
(:func:`verify_merkle_proof`). :func:`check_indexed_proof` adds the structural
checks that give each kind of tampering its own code.

Verified against the worked example of FISCO-BCOS-DOC
``2.x/docs/design/merkle_proof.md`` (transaction 0x8c of block 0x1b, root
``0xedf6…6142``): every intermediate hash and the root match.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HASH_SIZE, HashFn
from relay.errors import ProofError

#: Children per node (``MAX_CHILD_COUNT``).
ARITY = 16


@dataclass(frozen=True, slots=True)
class ProofLevel:
    """One level of a FISCO Merkle proof: the siblings before and after the node."""

    left: tuple[bytes, ...]
    right: tuple[bytes, ...]


#: A proof, leaf level first, root level (both sides empty) last.
MerkleProof = tuple[ProofLevel, ...]


def compute_leaf(index: int, item_hash: bytes) -> bytes:
    """Leaf ``index`` of a tree: ``rlp(index) ‖ item_hash``."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"leaf index must be a non-negative int, got {index!r}")
    return _rlp_uint(index) + bytes(item_hash)


def _rlp_uint(value: int) -> bytes:
    """``rlp.encode(value)`` for an integer >= 0, without pyrlp's generic machinery."""
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(raw),)) + raw


def compute_leaves(item_hashes: Sequence[bytes]) -> list[bytes]:
    """The leaves of a block's tree, from its items' hashes in block order."""
    return [compute_leaf(i, h) for i, h in enumerate(item_hashes)]


def split_leaf(leaf: bytes) -> tuple[int, bytes] | None:
    """``(index, hash)`` of a leaf ``rlp(index) ‖ hash32``; None if it is not one."""
    if not leaf:
        return None
    b0 = leaf[0]
    if b0 < 0x80:
        index, rest = b0, leaf[1:]
    elif b0 == 0x80:
        index, rest = 0, leaf[1:]
    elif b0 <= 0x88:
        size = b0 - 0x80
        raw = leaf[1 : 1 + size]
        if len(raw) != size or raw[0] == 0 or (size == 1 and raw[0] < 0x80):
            return None  # truncated, leading zero, or a single byte that needs no prefix
        index, rest = int.from_bytes(raw, "big"), leaf[1 + size :]
    else:
        return None
    if len(rest) != HASH_SIZE:
        return None
    return index, rest


def compute_merkle_root(leaves: Sequence[bytes], hash_fn: HashFn) -> bytes:
    """The root ``getMerkleProofRoot`` computes over ``leaves`` (``Hash(b"")`` if none)."""
    if not leaves:
        return hash_fn(b"")
    level = list(leaves)
    while len(level) > 1:
        level = [hash_fn(b"".join(level[i : i + ARITY])) for i in range(0, len(level), ARITY)]
    return hash_fn(level[0])


def build_merkle_proof(leaves: Sequence[bytes], index: int, hash_fn: HashFn) -> MerkleProof:
    """The proof of leaf ``index``, in the node's ``receiptProof`` / ``txProof`` shape."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of a tree of {len(leaves)} leaves")
    levels: list[ProofLevel] = []
    level, pos = list(leaves), index
    while len(level) > 1:
        start = pos - pos % ARITY
        group = level[start : start + ARITY]
        at = pos - start
        levels.append(ProofLevel(tuple(group[:at]), tuple(group[at + 1 :])))
        level = [hash_fn(b"".join(level[i : i + ARITY])) for i in range(0, len(level), ARITY)]
        pos //= ARITY
    levels.append(ProofLevel((), ()))
    return tuple(levels)


def compute_proof_root(leaf: bytes, proof: MerkleProof, hash_fn: HashFn) -> bytes:
    """Fold ``proof`` from ``leaf``: ``node = Hash(left ‖ node ‖ right)`` per level."""
    node = leaf
    for level in proof:
        node = hash_fn(b"".join(level.left) + node + b"".join(level.right))
    return node


def verify_merkle_proof(root: bytes, leaf: bytes, proof: MerkleProof, hash_fn: HashFn) -> bool:
    """Whether ``proof`` proves ``leaf`` under ``root``."""
    return compute_proof_root(leaf, proof, hash_fn) == root


def compute_proof_index(proof: MerkleProof) -> int:
    """The leaf position a proof proves: ``Σ len(left_k) · 16**k``."""
    return sum(len(level.left) * ARITY**k for k, level in enumerate(proof))


def _refuse(code: FiscoCode, message: str, **details: Any) -> ProofError:
    return ProofError(code, message, **details)


def _check_shape(proof: MerkleProof) -> list[tuple[int, bytes]]:
    """Check the proof's shape; the level-0 siblings split as ``(index, hash)``."""
    if not isinstance(proof, tuple) or not proof:
        raise _refuse(FiscoCode.MERKLE_PROOF_MALFORMED, "a Merkle proof has at least one level")
    level0: list[tuple[int, bytes]] = []
    for k, level in enumerate(proof):
        if not isinstance(level, ProofLevel):
            raise _refuse(FiscoCode.MERKLE_PROOF_MALFORMED, f"level {k} is not a proof level")
        siblings = level.left + level.right
        if len(siblings) > ARITY - 1:
            raise _refuse(
                FiscoCode.MERKLE_PROOF_MALFORMED,
                f"level {k} has {len(siblings)} siblings, a 16-ary tree at most 15",
                level=k,
            )
        for j, sibling in enumerate(siblings):
            if k == 0:
                split = split_leaf(sibling) if isinstance(sibling, bytes) else None
                ok = split is not None
                if split is not None:
                    level0.append(split)
            else:
                ok = isinstance(sibling, bytes) and len(sibling) == HASH_SIZE
            if not ok:
                shape = "rlp(index) ‖ 32-byte hash" if k == 0 else "a 32-byte hash"
                raise _refuse(
                    FiscoCode.MERKLE_PROOF_MALFORMED,
                    f"sibling {j} of level {k} is not {shape}",
                    level=k,
                    sibling=j,
                )
    return level0


def _level0_index(level: ProofLevel, split: list[tuple[int, bytes]]) -> int | None:
    """The index the level-0 siblings place the proven leaf at (None without siblings).

    ``split`` are the siblings as ``(index, hash)``, left then right. Raises
    ``MERKLE_SIBLING_ORDER`` unless the siblings are the consecutive leaves of one
    group, the proven one left out.
    """
    indices = [i for i, _ in split]
    if not indices:
        return None
    base = indices[0] if level.left else indices[0] - 1
    at = base + len(level.left)
    expected = [base + j for j in range(len(level.left))] + [
        at + 1 + j for j in range(len(level.right))
    ]
    if base < 0 or base % ARITY or indices != expected:
        raise _refuse(
            FiscoCode.MERKLE_SIBLING_ORDER,
            "the level-0 siblings are not the consecutive leaves of one 16-leaf group",
            sibling_indices=indices,
        )
    return at


def check_indexed_proof(
    root: bytes, index: int, item_hash: bytes, proof: MerkleProof, hash_fn: HashFn
) -> None:
    """Raise :class:`ProofError` (54xx) unless ``proof`` proves item ``index`` under ``root``.

    The item is given by its hash (receipt: ``Hash(receipt RLP)``). Checks, in this
    order, each with its code: the proof's shape; a root level last; no empty level
    above the top group; the level-0 siblings in order; the proven position equal
    to ``index``; the fold equal to ``root`` (when it is not, the item found among
    the siblings is reported as ``MERKLE_ITEM_AT_OTHER_INDEX``).

    The fold alone (:func:`verify_merkle_proof`) shows the leaf's *bytes* are in
    the tree; it is these checks that bind the index. Level-0 siblings have
    variable length (``rlp(j)`` is 1 to 9 bytes), so without them a proof could
    re-cut a group's bytes: leaf 306 (``0x820132 ‖ h``) folds the same as a
    claimed leaf 50 (``0x32 ‖ h``) whose left sibling swallowed ``0x8201``.
    Requiring every level-0 sibling to be a whole leaf, in order, and the position
    ``Σ len(left_k)·16**k`` to be ``index`` rules that out.
    """
    level0_split = _check_shape(proof)
    last = proof[-1]
    if last.left or last.right:
        raise _refuse(
            FiscoCode.MERKLE_ROOT_LEVEL_MISSING,
            "the proof's last level has siblings: the root level (both sides empty) is missing",
            levels=len(proof),
        )
    if len(proof) >= 2 and not (proof[-2].left or proof[-2].right):
        raise _refuse(
            FiscoCode.MERKLE_EXTRA_LEVEL,
            "an empty level sits under the root level: the proof has a level too many",
            levels=len(proof),
        )
    level0 = _level0_index(proof[0], level0_split)
    proven = compute_proof_index(proof)
    if proven != index or (level0 is not None and level0 != index):
        raise _refuse(
            FiscoCode.MERKLE_INDEX_MISMATCH,
            f"the proof is for position {proven}"
            + (f" (its level-0 siblings say {level0})" if level0 is not None else "")
            + f", not for index {index}",
            index=index,
            proven=proven,
            level0=level0,
        )
    computed = compute_proof_root(compute_leaf(index, item_hash), proof, hash_fn)
    if computed == root:
        return
    for other, other_hash in level0_split:
        if other_hash == item_hash:
            raise _refuse(
                FiscoCode.MERKLE_ITEM_AT_OTHER_INDEX,
                f"the item is leaf {other} of this tree, not leaf {index}",
                index=index,
                other_index=other,
            )
    raise _refuse(
        FiscoCode.MERKLE_ROOT_MISMATCH,
        "the Merkle proof does not lead to the expected root",
        root="0x" + root.hex(),
        computed="0x" + computed.hex(),
    )


def proof_from_json(value: Any) -> MerkleProof:
    """A proof from the JSON-RPC form ``[{"left": [hex, ...], "right": [hex, ...]}, ...]``.

    Hex with or without ``0x`` (the node writes none). ``MERKLE_PROOF_MALFORMED``
    for anything else; sizes are checked by :func:`check_indexed_proof`.
    """
    if not isinstance(value, list):
        raise _refuse(FiscoCode.MERKLE_PROOF_MALFORMED, "a Merkle proof is a JSON array of levels")
    levels = []
    for k, level in enumerate(value):
        if not isinstance(level, dict) or set(level) != {"left", "right"}:
            raise _refuse(
                FiscoCode.MERKLE_PROOF_MALFORMED,
                f"level {k} must be an object with exactly 'left' and 'right'",
                level=k,
            )
        sides = []
        for side in ("left", "right"):
            items = level[side]
            if not isinstance(items, list):
                raise _refuse(
                    FiscoCode.MERKLE_PROOF_MALFORMED, f"level {k} {side} is not an array", level=k
                )
            parsed = []
            for item in items:
                text = item[2:] if isinstance(item, str) and item[:2] == "0x" else item
                try:
                    parsed.append(bytes.fromhex(text))
                except (TypeError, ValueError):
                    raise _refuse(
                        FiscoCode.MERKLE_PROOF_MALFORMED,
                        f"level {k} {side} holds a non-hex item",
                        level=k,
                    ) from None
            sides.append(tuple(parsed))
        levels.append(ProofLevel(sides[0], sides[1]))
    return tuple(levels)


def proof_to_json(proof: MerkleProof) -> list[dict[str, list[str]]]:
    """The JSON-RPC form of a proof, as the node writes it (lower-case hex, no ``0x``)."""
    return [
        {"left": [s.hex() for s in level.left], "right": [s.hex() for s in level.right]}
        for level in proof
    ]
