"""Strict RLP field checks shared by the FISCO header and receipt codecs.

FISCO-BCOS decodes with cpp-ethereum's ``RLP`` class (``libdevcore/RLP.h``): hashes
with ``toHash<...>(RLP::VeryStrict)`` (exact size), integers with ``toInt`` (too big
throws). A node only ever writes canonical RLP, so these checks refuse anything
else: non-canonical length prefixes (pyrlp's decoder), integers with leading
zero bytes or out of the field's range, byte strings of the wrong size. Each
check raises :class:`FieldError` naming the field; the codecs map it to their
own code. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import rlp
from rlp.exceptions import DecodingError


class FieldError(ValueError):
    """One field (or the whole item) is not what the format says."""


def decode_list(data: bytes, what: str) -> list[Any]:
    """``data`` as one RLP list (no trailing bytes), items nested lists / bytes."""
    if not isinstance(data, bytes | bytearray):
        raise FieldError(f"{what} must be bytes, got {type(data).__name__}")
    try:
        item = rlp.decode(bytes(data), strict=True)
    except DecodingError as exc:
        raise FieldError(f"{what} is not canonical RLP: {exc}") from None
    if not isinstance(item, list):
        raise FieldError(f"{what} must be an RLP list, got a byte string")
    return item


def as_bytes(item: Any, field: str, size: int | None = None) -> bytes:
    """A byte string item, of exactly ``size`` bytes when given."""
    if not isinstance(item, bytes):
        raise FieldError(f"{field} must be a byte string, got a list")
    if size is not None and len(item) != size:
        raise FieldError(f"{field} must be {size} bytes, got {len(item)}")
    return item


def as_uint(item: Any, field: str, bits: int) -> int:
    """A canonical big-endian unsigned integer below ``2**bits`` (``b""`` is 0)."""
    raw = as_bytes(item, field)
    if raw[:1] == b"\x00":
        raise FieldError(f"{field} has a leading zero byte (not a canonical integer)")
    value = int.from_bytes(raw, "big")
    if value >> bits:
        raise FieldError(f"{field} is {value}, out of range (< 2**{bits})")
    return value


def as_list(item: Any, field: str) -> list[Any]:
    if not isinstance(item, list):
        raise FieldError(f"{field} must be an RLP list, got a byte string")
    return item


def check_bytes(value: object, field: str, size: int | None = None) -> bytes:
    """For constructors: ``value`` is bytes (of ``size``), else ``ValueError``."""
    if not isinstance(value, bytes):
        raise ValueError(f"{field} must be bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise ValueError(f"{field} must be {size} bytes, got {len(value)}")
    return value


def check_uint(value: object, field: str, bits: int) -> int:
    """For constructors: ``value`` is an int in ``[0, 2**bits)``, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an int, got {type(value).__name__}")
    if value < 0 or value >> bits:
        raise ValueError(f"{field} must be in [0, 2**{bits}), got {value}")
    return value
