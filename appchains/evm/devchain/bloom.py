"""The 2048-bit logs bloom of the Yellow Paper (pure).

Each log adds its address and each of its topics: for a value ``x``, the three
bit positions are the low 11 bits of the byte pairs (0,1), (2,3), (4,5) of
``keccak256(x)``, counted from the least significant bit of the 256-byte
big-endian bloom.
"""

from __future__ import annotations

from collections.abc import Iterable

from appchains.evm.devchain.crypto import keccak


def bloom_bits(value: bytes) -> int:
    h = keccak(value)
    bits = 0
    for i in (0, 2, 4):
        bits |= 1 << (((h[i] << 8) | h[i + 1]) & 2047)
    return bits


def compute_bloom(values: Iterable[bytes]) -> bytes:
    bits = 0
    for value in values:
        bits |= bloom_bits(value)
    return bits.to_bytes(256, "big")


def bloom_union(blooms: Iterable[bytes]) -> bytes:
    bits = 0
    for bloom in blooms:
        bits |= int.from_bytes(bloom, "big")
    return bits.to_bytes(256, "big")


def bloom_may_contain(bloom: bytes, value: bytes) -> bool:
    bits = bloom_bits(value)
    return int.from_bytes(bloom, "big") & bits == bits
