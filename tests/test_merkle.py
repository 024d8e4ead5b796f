"""RFC 6962 / RFC 9162 Merkle tree (relay.merkle): published vectors, an independent
recursive reference, every proof of every small tree, and tampered proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.crypto import keccak
from relay.merkle import (
    MerkleProofError,
    compute_inclusion_proof,
    compute_root,
    compute_root_from_proof,
    hash_leaf,
    hash_node,
    verify_inclusion,
)

HashFn = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ---------------------------------------------------------------------------
# Published SHA-256 test vectors of Certificate Transparency (RFC 6962). Source: the
# certificate-transparency C++ merkle_tree_test.cc, carried over into Go as
# github.com/transparency-dev/merkle, proof/verify_test.go (`leaves`, `roots`,
# `inclusionProofs`; leaf numbers there are 1-based, here they are 0-based indices).

CT_LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

CT_ROOTS = [  # root of the tree over the first n leaves, n = 1..8
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

CT_EMPTY_ROOT = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

CT_INCLUSION = [  # (0-based leaf index, tree size, audit path)
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]


def test_empty_tree_root() -> None:
    assert compute_root([], sha256) == CT_EMPTY_ROOT
    assert compute_root([]) == keccak(b"")


def test_leaf_and_node_prefixes() -> None:
    assert hash_leaf(b"", sha256) == CT_ROOTS[0] == sha256(b"\x00")
    assert hash_node(b"L", b"R", sha256) == sha256(b"\x01LR")
    assert hash_leaf(b"x") == keccak(b"\x00x")
    assert hash_node(b"L", b"R") == keccak(b"\x01LR")


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_root_for_every_prefix(size: int) -> None:
    assert compute_root(CT_LEAVES[:size], sha256) == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_paths(index: int, size: int, path: list[bytes]) -> None:
    leaves = CT_LEAVES[:size]
    root = CT_ROOTS[size - 1]
    assert compute_inclusion_proof(leaves, index, sha256) == path
    assert compute_root_from_proof(leaves[index], index, size, path, sha256) == root
    assert verify_inclusion(leaves[index], index, size, path, root, sha256)
    for probe in tampered(index, size, path, root):
        assert not verify_inclusion(leaves[index], *probe, sha256), probe


# ---------------------------------------------------------------------------
# An independent reference: RFC 6962 §2.1 MTH and PATH written as the recursion
# the RFC states, over raw leaves.


def ref_mth(leaves: Sequence[bytes], hf: HashFn) -> bytes:
    n = len(leaves)
    if n == 0:
        return hf(b"")
    if n == 1:
        return hf(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hf(b"\x01" + ref_mth(leaves[:k], hf) + ref_mth(leaves[k:], hf))


def ref_path(m: int, leaves: Sequence[bytes], hf: HashFn) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, leaves[:k], hf), ref_mth(leaves[k:], hf)]
    return [*ref_path(m - k, leaves[k:], hf), ref_mth(leaves[:k], hf)]


def test_reference_agrees_with_published_vectors() -> None:
    for size in range(1, 9):
        assert ref_mth(CT_LEAVES[:size], sha256) == CT_ROOTS[size - 1]
    for index, size, path in CT_INCLUSION:
        assert ref_path(index, CT_LEAVES[:size], sha256) == path


def leaves_for(n: int) -> list[bytes]:
    # Varying lengths, including the empty leaf.
    return [bytes([i]) * (i % 5) + i.to_bytes(2, "big") if i else b"" for i in range(n)]


@pytest.mark.parametrize("hf", [sha256, keccak], ids=["sha256", "keccak"])
def test_roots_and_paths_match_reference_up_to_33(hf: HashFn) -> None:
    for n in range(1, 34):
        leaves = leaves_for(n)
        assert compute_root(leaves, hf) == ref_mth(leaves, hf), n
        for i in range(n):
            assert compute_inclusion_proof(leaves, i, hf) == ref_path(i, leaves, hf), (n, i)


def test_every_proof_of_every_tree_up_to_64_verifies() -> None:
    # The relay's own hash (keccak-256, the default).
    for n in range(1, 65):
        leaves = leaves_for(n)
        root = compute_root(leaves)
        for i in range(n):
            proof = compute_inclusion_proof(leaves, i)
            assert verify_inclusion(leaves[i], i, n, proof, root), (n, i)


# ---------------------------------------------------------------------------
# Tampering


def tampered(
    index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[int, int, list[bytes], bytes]]:
    """(index, size, proof, root) variants that must all be refused for this leaf.

    Wrong sizes are 2n and n/2: those always change the path's shape. (A size of
    n +- 1 can keep the shape and so reproduce the root; a log binds the size to the
    root in its signed tree head, which is why RFC 9162 takes both as inputs.)
    """
    out = [
        (index, size, [*proof, root], root),  # node appended
        (index, size, [*proof, b""], root),  # empty node appended
        (index, size, [root, *proof], root),  # node prepended
        (index, size * 2, proof, root),
        (index, size, proof, sha256(b"another root")),
    ]
    if size // 2 > index:
        out.append((index, size // 2, proof, root))
    for wrong in {index - 1, index + 1, index ^ 1, index ^ 2} - {index}:
        out.append((wrong, size, proof, root))
    if proof:
        out.append((index, size, proof[:-1], root))  # last node dropped
        out.append((index, size, proof[1:], root))  # first node dropped
    if len(proof) > 1:
        out.append((index, size, [proof[1], proof[0], *proof[2:]], root))  # swapped
        out.append((index, size, [proof[0], sha256(b"x"), *proof[1:]], root))  # inserted
    for j, node in enumerate(proof):
        for pos in (0, len(node) - 1):
            flipped = bytearray(node)
            flipped[pos] ^= 0x01
            out.append((index, size, [*proof[:j], bytes(flipped), *proof[j + 1 :]], root))
    return out


def test_tampered_proofs_are_refused_for_every_tree_up_to_64() -> None:
    for n in range(1, 65):
        leaves = leaves_for(n)
        root = compute_root(leaves, sha256)
        for i in range(n):
            proof = compute_inclusion_proof(leaves, i, sha256)
            assert verify_inclusion(leaves[i], i, n, proof, root, sha256)
            for probe in tampered(i, n, proof, root):
                assert not verify_inclusion(leaves[i], *probe, sha256), (n, i, probe[:2])
            # Another leaf's data at this position.
            for other in {i - 1, i + 1} & set(range(n)):
                assert not verify_inclusion(leaves[other], i, n, proof, root, sha256)
            assert not verify_inclusion(leaves[i] + b"\x00", i, n, proof, root, sha256)


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 4), (4, 4), (5, 4), (0, 0), (0, -1), (2**64, 2**64)]
)
def test_index_outside_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(MerkleProofError):
        compute_root_from_proof(b"leaf", index, size, [], sha256)
    assert not verify_inclusion(b"leaf", index, size, [], sha256(b"root"), sha256)


def test_proof_length_errors() -> None:
    leaves = leaves_for(8)
    proof = compute_inclusion_proof(leaves, 3, sha256)
    with pytest.raises(MerkleProofError, match="longer"):
        compute_root_from_proof(leaves[3], 3, 8, [*proof, proof[0]], sha256)
    with pytest.raises(MerkleProofError, match="shorter"):
        compute_root_from_proof(leaves[3], 3, 8, proof[:-1], sha256)


@pytest.mark.parametrize("index", [-1, 3, 100])
def test_compute_inclusion_proof_refuses_out_of_range(index: int) -> None:
    with pytest.raises(IndexError):
        compute_inclusion_proof(leaves_for(3), index)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=40),
    st.integers(-5, 2**70),
    st.integers(-5, 2**70),
    st.lists(st.binary(max_size=40), max_size=70),
    st.binary(max_size=40),
)
def test_verify_never_raises(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=100, unique=True), st.data())
def test_random_trees_prove_every_leaf(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    i = data.draw(st.integers(0, n - 1))
    root = compute_root(leaves)
    assert root == ref_mth(leaves, keccak)
    proof = compute_inclusion_proof(leaves, i)
    assert verify_inclusion(leaves[i], i, n, proof, root)
    for probe in tampered(i, n, proof, root):
        assert not verify_inclusion(leaves[i], *probe), probe[:2]


# ---------------------------------------------------------------------------
# Second preimages: an inner node's preimage presented as a leaf


@pytest.mark.parametrize("hf", [sha256, keccak], ids=["sha256", "keccak"])
def test_inner_node_presented_as_leaf_does_not_verify(hf: HashFn) -> None:
    leaves = [b"a", b"b", b"c", b"d"]
    root = compute_root(leaves, hf)
    l0, l1, l2, l3 = (hash_leaf(x, hf) for x in leaves)
    n01, n23 = hash_node(l0, l1, hf), hash_node(l2, l3, hf)
    assert root == hash_node(n01, n23, hf)

    # Without domain separation, l0 ‖ l1 as a leaf of a 2-leaf tree [l0‖l1, l2‖l3] would
    # hash to the same root; with the 0x00 / 0x01 prefixes it does not.
    assert compute_root([l0 + l1, l2 + l3], hf) != root
    assert not verify_inclusion(l0 + l1, 0, 2, [n23], root, hf)
    assert not verify_inclusion(l2 + l3, 1, 2, [n01], root, hf)
    # The whole inner level as one leaf of a 1-leaf tree.
    assert not verify_inclusion(n01 + n23, 0, 1, [], root, hf)
    # Inner node hashes themselves as leaves.
    assert not verify_inclusion(n01, 0, 2, [n23], root, hf)
    assert not verify_inclusion(n23, 1, 2, [n01], root, hf)
    # Sanity: the real leaves do verify.
    for i, leaf in enumerate(leaves):
        assert verify_inclusion(leaf, i, 4, compute_inclusion_proof(leaves, i, hf), root, hf)


def test_leaf_and_node_hash_spaces_are_separate() -> None:
    # A 64-byte leaf and a node over its two halves are different hashes.
    left, right = sha256(b"l"), sha256(b"r")
    assert hash_leaf(left + right, sha256) != hash_node(left, right, sha256)
