"""Solidity ABI encoding and decoding for the native contracts' hot paths (pure).

Same bytes and values as eth-abi for the types the native contracts use —
``uintN``, ``bool``, ``address``, ``bytesN``, ``bytes``, ``string`` and dynamic
arrays ``T[]`` of those — without eth-abi's per-call registry lookups and layered
validators (eth-abi: ~90 µs to encode the relay digest's eight fields; here ~8 µs).
Any other type goes to eth-abi.

Two deliberate differences in what :func:`decode` returns: an ``address`` is its 20
raw bytes (eth-abi: a checksummed string, which costs a keccak), and arrays are
tuples as in eth-abi. Decoding is exact: the fast decoder's result is accepted only
if encoding it again gives back the input bytes (the canonical encoding); anything
else (non-canonical offsets, dirty padding, trailing bytes) is handed to eth-abi,
which decodes it or raises just as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eth_abi import decode as _eth_decode
from eth_abi import encode as _eth_encode

# Kinds of a parsed type.
_UINT, _BOOL, _ADDRESS, _FIXED_BYTES, _BYTES, _STRING, _ARRAY = range(7)

_ZERO32 = bytes(32)


class AbiError(ValueError):
    """A value that does not fit its ABI type."""


@lru_cache(maxsize=256)
def _parse(abi_type: str) -> tuple[Any, ...] | None:
    """``(kind, param, element)`` for a supported type, else ``None``."""
    if abi_type.endswith("[]"):
        inner = _parse(abi_type[:-2])
        return None if inner is None else (_ARRAY, 0, inner)
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:] or 256)
        return (_UINT, bits, None) if bits % 8 == 0 and 8 <= bits <= 256 else None
    if abi_type == "bool":
        return (_BOOL, 0, None)
    if abi_type == "address":
        return (_ADDRESS, 0, None)
    if abi_type == "bytes":
        return (_BYTES, 0, None)
    if abi_type == "string":
        return (_STRING, 0, None)
    if abi_type.startswith("bytes"):
        size = int(abi_type[5:])
        return (_FIXED_BYTES, size, None) if 1 <= size <= 32 else None
    return None


@lru_cache(maxsize=256)
def _parse_all(types: tuple[str, ...]) -> tuple[tuple[Any, ...], ...] | None:
    parsed = tuple(_parse(t) for t in types)
    return None if any(p is None for p in parsed) else parsed  # type: ignore[return-value]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 32)


def _encode_static(kind: int, param: int, value: Any) -> bytes:
    if kind == _UINT:
        if type(value) is not int or not 0 <= value < 1 << param:
            raise AbiError(f"uint{param} value out of range: {value!r}")
        return _word(value)
    if kind == _BOOL:
        if type(value) is not bool:
            raise AbiError(f"bool expected, got {value!r}")
        return _word(int(value))
    if kind == _ADDRESS:
        if isinstance(value, str):
            if len(value) != 42 or value[:2] not in ("0x", "0X"):
                raise AbiError(f"not an address: {value!r}")
            raw = bytes.fromhex(value[2:])
        else:
            raw = bytes(value)
        if len(raw) != 20:
            raise AbiError("an address is 20 bytes")
        return bytes(12) + raw
    # fixed bytes
    raw = bytes(value)
    if len(raw) > param:
        raise AbiError(f"bytes{param} value too long")
    return raw + bytes(32 - len(raw))


def _encode_dynamic(spec: tuple[Any, ...], value: Any) -> bytes:
    kind = spec[0]
    if kind in (_BYTES, _STRING):
        if isinstance(value, str):
            if kind == _BYTES:
                raise AbiError("bytes expected, got str")
            raw = value.encode()
        elif isinstance(value, bytes | bytearray):
            raw = bytes(value)
        else:
            raise AbiError(f"bytes expected, got {type(value).__name__}")
        return _word(len(raw)) + _padded(raw)
    # dynamic array
    if not isinstance(value, list | tuple):
        raise AbiError("an array value is a list or tuple")
    element = spec[2]
    return _word(len(value)) + _encode_tuple((element,) * len(value), value)


def _encode_tuple(specs: Sequence[tuple[Any, ...]], values: Sequence[Any]) -> bytes:
    if len(specs) != len(values):
        raise AbiError(f"{len(specs)} types, {len(values)} values")
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * len(specs)
    for spec, value in zip(specs, values, strict=True):
        kind = spec[0]
        if kind <= _FIXED_BYTES:
            heads.append(_encode_static(kind, spec[1], value))
        else:
            tail = _encode_dynamic(spec, value)
            heads.append(_word(offset))
            tails.append(tail)
            offset += len(tail)
    return b"".join(heads) + b"".join(tails)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``eth_abi.encode(types, values)``."""
    specs = _parse_all(tuple(types))
    if specs is None:
        return _eth_encode(list(types), list(values))
    return _encode_tuple(specs, values)


# --------------------------------------------------------------------------- decoding


class _NotCanonical(Exception):
    pass


def _decode_tuple(specs: Sequence[tuple[Any, ...]], data: bytes, base: int) -> list[Any]:
    out: list[Any] = []
    pos = base
    for spec in specs:
        word = data[pos : pos + 32]
        if len(word) != 32:
            raise _NotCanonical
        kind = spec[0]
        if kind == _UINT:
            out.append(int.from_bytes(word, "big"))
        elif kind == _BOOL:
            out.append(word[31] == 1)
        elif kind == _ADDRESS:
            out.append(word[12:])
        elif kind == _FIXED_BYTES:
            out.append(word[: spec[1]])
        else:
            start = base + int.from_bytes(word, "big")
            head = data[start : start + 32]
            if len(head) != 32:
                raise _NotCanonical
            length = int.from_bytes(head, "big")
            if kind == _ARRAY:
                if length > len(data) // 32:
                    raise _NotCanonical
                out.append(tuple(_decode_tuple((spec[2],) * length, data, start + 32)))
            else:
                raw = data[start + 32 : start + 32 + length]
                if len(raw) != length:
                    raise _NotCanonical
                out.append(raw.decode() if kind == _STRING else raw)
        pos += 32
    return out


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """``eth_abi.decode(types, data)``, except that addresses come back as 20 raw bytes."""
    key = tuple(types)
    specs = _parse_all(key)
    if specs is not None:
        try:
            values = _decode_tuple(specs, data, 0)
            if _encode_tuple(specs, values) == data:
                return tuple(values)
        except (_NotCanonical, AbiError, UnicodeDecodeError):
            pass
    values = list(_eth_decode(list(types), data))
    return tuple(_raw_addresses(t, v) for t, v in zip(types, values, strict=True))


def _raw_addresses(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return bytes.fromhex(value[2:])
    if abi_type.endswith("[]") and abi_type.startswith("address"):
        return tuple(_raw_addresses(abi_type[:-2], v) for v in value)
    return value
