"""The dev chain's fast ABI codec gives eth-abi's bytes and values (addresses as raw bytes)."""

from __future__ import annotations

from typing import Any

import eth_abi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from appchains.evm.devchain.abicodec import decode, encode


def _value(abi_type: str) -> st.SearchStrategy[Any]:
    if abi_type.endswith("[]"):
        return st.lists(_value(abi_type[:-2]), max_size=4)
    if abi_type.startswith("uint"):
        return st.integers(min_value=0, max_value=2 ** int(abi_type[4:] or 256) - 1)
    if abi_type == "bool":
        return st.booleans()
    if abi_type == "address":
        return st.binary(min_size=20, max_size=20)
    if abi_type == "bytes":
        return st.binary(max_size=100)
    if abi_type == "string":
        return st.text(max_size=40)
    return st.binary(min_size=int(abi_type[5:]), max_size=int(abi_type[5:]))


TYPES = ["uint8", "uint64", "uint256", "bool", "address", "bytes32", "bytes4", "bytes", "string"]
TYPES += [t + "[]" for t in TYPES] + ["bytes[][]"]


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[list[str], list[Any]]:
    types = draw(st.lists(st.sampled_from(TYPES), max_size=6))
    return types, [draw(_value(t)) for t in types]


def _as_eth_abi(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return "0x" + value.hex()
    if abi_type.endswith("[]"):
        return [_as_eth_abi(abi_type[:-2], v) for v in value]
    return value


def _as_ours(abi_type: str, value: Any) -> Any:
    if abi_type.endswith("[]"):
        return tuple(_as_ours(abi_type[:-2], v) for v in value)
    return value


@given(typed_values())
def test_encode_and_decode_match_eth_abi(tv: tuple[list[str], list[Any]]) -> None:
    types, values = tv
    expected = eth_abi.encode(
        types, [_as_eth_abi(t, v) for t, v in zip(types, values, strict=True)]
    )
    assert encode(types, values) == expected
    assert decode(types, expected) == tuple(
        _as_ours(t, v) for t, v in zip(types, values, strict=True)
    )


def test_non_canonical_input_goes_through_eth_abi() -> None:
    good = eth_abi.encode(["bytes", "uint64"], [b"abc", 7])
    # trailing bytes: eth-abi ignores them, and so do we (through eth-abi)
    assert decode(["bytes", "uint64"], good + b"\x00" * 32) == (b"abc", 7)
    # an out-of-range uint64 and dirty padding are refused, as eth-abi refuses them
    too_big = good[:32] + (2**64).to_bytes(32, "big") + good[64:]
    dirty = good[:-1] + b"\x01"
    for bad in (too_big, dirty, good[:40]):
        with pytest.raises(Exception) as ours:
            decode(["bytes", "uint64"], bad)
        with pytest.raises(Exception) as theirs:
            eth_abi.decode(["bytes", "uint64"], bad)
        assert type(ours.value) is type(theirs.value)
    # addresses decoded through the fallback are raw bytes too
    addr = eth_abi.encode(["address"], ["0x" + "ab" * 20])
    assert decode(["address"], addr + b"\x00") == (b"\xab" * 20,)


def test_encode_refuses_values_that_do_not_fit() -> None:
    for types, values in (
        (["uint8"], [256]),
        (["uint64"], [-1]),
        (["uint64"], [True]),
        (["bool"], [1]),
        (["address"], [b"\x00" * 19]),
        (["bytes4"], [b"\x00" * 5]),
        (["bytes"], ["text"]),
        (["bytes[]"], [b"not a list"]),
        (["uint8", "uint8"], [1]),
    ):
        with pytest.raises(ValueError):
            encode(types, values)
