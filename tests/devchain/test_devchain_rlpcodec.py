"""The dev chain's fast RLP encoder and ordered-trie root agree with pyrlp and py-trie."""

from __future__ import annotations

import random

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st
from trie import HexaryTrie

from appchains.evm.devchain.rlpcodec import EMPTY_TRIE_ROOT, compute_ordered_trie_root, encode
from appchains.evm.devchain.state import AccountState, StateDiff, encode_diff

rlp_items = st.recursive(
    st.binary(max_size=80) | st.integers(min_value=0, max_value=2**300),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


@given(rlp_items)
def test_encode_matches_pyrlp(obj: object) -> None:
    assert encode(obj) == rlp.encode(obj)


def test_encode_edges_and_refusals() -> None:
    for obj in (b"", b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, b"a" * 70_000, 0, 127, 128):
        assert encode(obj) == rlp.encode(obj)
    assert encode((b"a", 1)) == rlp.encode([b"a", 1])
    with pytest.raises(ValueError):
        encode(-1)
    with pytest.raises(TypeError):
        encode("text")


def _hexary_root(items: list[bytes]) -> bytes:
    t = HexaryTrie({})
    for i, item in enumerate(items):
        t[rlp.encode(i)] = item
    return t.root_hash


@pytest.mark.parametrize("sizes", [(1, 3), (1, 40), (30, 600)])
def test_ordered_trie_root_matches_hexary_trie(sizes: tuple[int, int]) -> None:
    rnd = random.Random(sizes[1])
    # 0..130 crosses the one-byte / two-byte rlp(i) boundary at 128; short items
    # make embedded (< 32-byte) nodes.
    for n in [*range(131), 255, 256, 257, 1000]:
        items = [rnd.randbytes(rnd.randint(*sizes)) for _ in range(n)]
        assert compute_ordered_trie_root(items) == _hexary_root(items), n
    assert compute_ordered_trie_root([]) == EMPTY_TRIE_ROOT == _hexary_root([])


def test_encode_diff_matches_pyrlp() -> None:
    rnd = random.Random(5)
    for _ in range(200):
        accounts = {
            rnd.randbytes(20): AccountState(
                rnd.choice([0, 1, 200, 2**70]),
                rnd.choice([0, 5, 10**24]),
                rnd.choice([b"", rnd.randbytes(rnd.randint(1, 80))]),
            )
            for _ in range(rnd.randint(0, 5))
        }
        storage = {
            (rnd.randbytes(20), rnd.randbytes(rnd.randint(1, 70))): rnd.choice(
                [b"", b"\x01", rnd.randbytes(rnd.randint(1, 90))]
            )
            for _ in range(rnd.randint(0, 8))
        }
        expected = rlp.encode(
            [
                [[a, s.nonce, s.balance, s.code] for a, s in sorted(accounts.items())],
                [[a, k, v] for (a, k), v in sorted(storage.items())],
            ]
        )
        assert encode_diff(StateDiff(accounts, storage)) == expected
