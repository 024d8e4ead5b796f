"""RFC 6962 / RFC 9162 binary Merkle tree with inclusion proofs.

Leaves are hashed as ``H(0x00 ‖ leaf)`` and inner nodes as ``H(0x01 ‖ left ‖ right)``:
the prefixes keep a leaf from ever being taken for an inner node (the second-
preimage hole that ``merkletools`` has). The tree over ``n`` leaves splits at the
largest power of two below ``n`` (RFC 6962 §2.1). The hash is a parameter: the
relay uses keccak-256; the RFC's published vectors use SHA-256.

Pure functions only: ``compute_root``, ``compute_inclusion_proof``,
``compute_root_from_proof`` and ``verify_inclusion``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from relay.crypto import keccak

HashFn = Callable[[bytes], bytes]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class MerkleProofError(ValueError):
    """An inclusion proof that does not fit the tree size or does not reach the root."""


def hash_leaf(leaf: bytes, h: HashFn = keccak) -> bytes:
    return h(LEAF_PREFIX + leaf)


def hash_node(left: bytes, right: bytes, h: HashFn = keccak) -> bytes:
    return h(NODE_PREFIX + left + right)


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def compute_root(leaves: Sequence[bytes], h: HashFn = keccak) -> bytes:
    """MTH(D[n]); the empty tree's root is H("")."""
    if not leaves:
        return h(b"")
    level = [hash_leaf(leaf, h) for leaf in leaves]
    return _root_of_hashes(level, h)


def _root_of_hashes(nodes: Sequence[bytes], h: HashFn) -> bytes:
    # Bottom-up pairing gives the same tree as the RFC's recursive split: an odd
    # node at the end of a level is carried up unchanged.
    level = list(nodes)
    while len(level) > 1:
        nxt = [hash_node(level[i], level[i + 1], h) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def compute_inclusion_proof(leaves: Sequence[bytes], index: int, h: HashFn = keccak) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1: sibling hashes from the leaf up."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError(f"leaf {index} is outside a tree of {n} leaves")
    hashes = [hash_leaf(leaf, h) for leaf in leaves]
    return _path(hashes, index, h)


def _path(hashes: Sequence[bytes], m: int, h: HashFn) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(hashes[:k], m, h), _root_of_hashes(hashes[k:], h)]
    return [*_path(hashes[k:], m - k, h), _root_of_hashes(hashes[:k], h)]


def compute_root_from_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], h: HashFn = keccak
) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or MerkleProofError."""
    if not 0 <= index < tree_size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    fn, sn = index, tree_size - 1
    r = hash_leaf(leaf, h)
    for p in proof:
        if sn == 0:
            raise MerkleProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hash_node(p, r, h)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_node(r, p, h)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes, h: HashFn = keccak
) -> bool:
    """True when ``proof`` shows ``leaf`` at ``index`` in the tree of ``tree_size``
    with ``root``."""
    try:
        return compute_root_from_proof(leaf, index, tree_size, proof, h) == root
    except MerkleProofError:
        return False
