"""Canonical msgpack encoding of IBTPs (and of other relay structures).

An IBTP encodes as one msgpack array, positionally::

    [version, from, to, index, type, timeout, [func, [arg, ...], encrypted], proof, extra]

Canonical means: strings as msgpack ``str`` (UTF-8), byte fields as ``bin``,
integers in their shortest form, booleans as ``true``/``false``, no floats, no
maps, nothing after the array. The decoder re-encodes what it read and refuses
any input whose bytes differ, so one message has exactly one encoding and its
hash is well defined.
"""

from __future__ import annotations

from typing import Any

import msgpack

from relay.errors import Code, EncodingError
from relay.ibtp.ids import parse_service_id
from relay.ibtp.message import IBTP, IBTP_VERSION, IBTPType, Payload

UINT64_MAX = 2**64 - 1

#: Size limits (bytes or counts). Part of the protocol: see docs/protocol.md.
MAX_IBTP_BYTES = 256 * 1024
MAX_PROOF_BYTES = 128 * 1024
MAX_ARGS = 32
MAX_ARG_BYTES = 32 * 1024
MAX_FUNC_CHARS = 128
MAX_EXTRA_BYTES = 4 * 1024


def encode_ibtp(ibtp: IBTP) -> bytes:
    """The canonical bytes of ``ibtp``."""
    return msgpack.packb(_ibtp_to_list(ibtp, ibtp.proof), use_bin_type=True)


def encode_ibtp_unproven(ibtp: IBTP) -> bytes:
    """Canonical bytes with the proof field empty: what the IBTP hash covers."""
    return msgpack.packb(_ibtp_to_list(ibtp, b""), use_bin_type=True)


def _ibtp_to_list(ibtp: IBTP, proof: bytes) -> list[Any]:
    p = ibtp.payload
    return [
        ibtp.version,
        ibtp.src,
        ibtp.dst,
        ibtp.index,
        int(ibtp.type),
        ibtp.timeout,
        [p.func, list(p.args), p.encrypted],
        proof,
        ibtp.extra,
    ]


def decode_ibtp(data: bytes) -> IBTP:
    """Decode and validate canonical IBTP bytes, or raise an :class:`EncodingError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(Code.FIELD_TYPE, "an encoded IBTP must be bytes")
    if len(data) > MAX_IBTP_BYTES:
        raise EncodingError(
            Code.FIELD_TOO_LARGE,
            f"encoded IBTP is {len(data)} bytes; the limit is {MAX_IBTP_BYTES}",
        )
    obj = unpack_strict(
        bytes(data), max_objects=IBTP_MAX_OBJECTS, max_depth=IBTP_MAX_DEPTH, what="IBTP"
    )
    ibtp = ibtp_from_obj(obj)
    if encode_ibtp(ibtp) != bytes(data):
        raise EncodingError(
            Code.NON_CANONICAL,
            "IBTP bytes are not canonical: re-encode with shortest integers, str for text, "
            "bin for bytes and no trailing data (docs/protocol.md, 'Canonical encoding')",
        )
    return ibtp


#: Structural limits of one encoded IBTP: a 9-field array, its payload array of 3 and
#: the args array are all the containers it has (depth 3): 1 + 9 + 3 + MAX_ARGS values.
IBTP_MAX_DEPTH = 3
IBTP_MAX_OBJECTS = 1 + 9 + 3 + MAX_ARGS

# Bytes after the type byte of each fixed-width msgpack value.
_FIXED_WIDTH = {
    0xC0: 0, 0xC2: 0, 0xC3: 0,  # nil, false, true
    0xCA: 4, 0xCB: 8,  # float32, float64 (refused later: canonical forms have no floats)
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,  # uint8..64
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,  # int8..64
}  # fmt: skip
# Type byte -> width of the length that follows (bin, str, array, map).
_BIN_LEN = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
_ARRAY_LEN = {0xDC: 2, 0xDD: 4}
_MAP_LEN = {0xDE: 2, 0xDF: 4}
_EXT = frozenset({0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


def scan_msgpack(data: bytes, *, max_objects: int, max_depth: int, what: str = "value") -> int:
    """Walk the msgpack headers of ``data`` without building anything and return how many
    values it holds; raise an :class:`EncodingError` (with the byte offset) for more than
    ``max_objects`` values, containers nested deeper than ``max_depth``, ext types,
    reserved bytes, or data that ends inside a value.

    This is the cheap structural check that runs before a decode: its cost is bounded
    by ``max_objects`` whatever the input, where a full decode (and the canonical
    re-encode after it) costs a Python object per value of a hostile input.
    """
    n = len(data)
    pos = objects = 0
    remaining = 1  # values still to read in the innermost open container
    open_counts: list[int] = []  # the same, for each enclosing container
    while True:
        if not remaining:
            if not open_counts:
                return objects
            remaining = open_counts.pop()
            continue
        remaining -= 1
        if pos >= n:
            raise EncodingError(
                Code.MALFORMED_ENCODING,
                f"{what} is truncated: it ends at byte {n} inside an array or map; "
                "send the complete encoding",
            )
        objects += 1
        if objects > max_objects:
            raise EncodingError(
                Code.FIELD_TOO_LARGE,
                f"{what} holds more than {max_objects} msgpack values (at byte {pos}); "
                "no valid one is that large, split it or send its documented shape",
            )
        b = data[pos]
        if b <= 0x7F or b >= 0xE0:  # positive / negative fixint
            pos += 1
            continue
        if 0xA0 <= b <= 0xBF:  # fixstr
            pos += 1 + (b & 0x1F)
            continue
        if b <= 0x9F:  # fixmap 0x80-0x8f, fixarray 0x90-0x9f
            count = (b & 0x0F) * (2 if b <= 0x8F else 1)
            pos += 1
        elif b in _FIXED_WIDTH:
            pos += 1 + _FIXED_WIDTH[b]
            continue
        elif b in _BIN_LEN:
            w = _BIN_LEN[b]
            pos += 1 + w + int.from_bytes(data[pos + 1 : pos + 1 + w], "big")
            continue
        elif b in _ARRAY_LEN or b in _MAP_LEN:
            w = _ARRAY_LEN.get(b) or _MAP_LEN[b]
            count = int.from_bytes(data[pos + 1 : pos + 1 + w], "big")
            count *= 1 if b in _ARRAY_LEN else 2
            pos += 1 + w
        elif b in _EXT:
            raise EncodingError(
                Code.MALFORMED_ENCODING,
                f"{what} has a msgpack ext value at byte {pos}; ext types are not used here",
            )
        else:  # 0xc1
            raise EncodingError(
                Code.MALFORMED_ENCODING,
                f"{what} has the reserved msgpack type byte 0x{b:02x} at byte {pos}; "
                "it is not msgpack",
            )
        # A container: count values follow.
        if len(open_counts) >= max_depth:
            raise EncodingError(
                Code.FIELD_TYPE,
                f"{what} nests arrays or maps deeper than {max_depth} levels (at byte "
                f"{pos - 1}); no valid one does",
            )
        if count > max_objects:
            raise EncodingError(
                Code.FIELD_TOO_LARGE,
                f"{what} has an array or map of {count} values at byte {pos - 1}; "
                f"the limit is {max_objects}",
            )
        open_counts.append(remaining)
        remaining = count


def unpack_strict(
    data: bytes,
    max_bytes: int = MAX_IBTP_BYTES,
    *,
    max_objects: int | None = None,
    max_depth: int | None = None,
    what: str = "value",
) -> Any:
    """msgpack-decode ``data`` with limits: trailing bytes are NON_CANONICAL, any other
    failure MALFORMED_ENCODING, with a description of what is wrong (docs/protocol.md §2.3
    lists them: truncation, the byte ``c1``, invalid UTF-8, any ext value, a map key that
    is not str or bin, nesting deeper than 1024, arrays over 100,000 and maps over 10,000
    entries).

    With ``max_objects`` and ``max_depth``, :func:`scan_msgpack` checks the structure
    first, so the decode's cost is bounded by them, not by what a hostile input holds.
    """
    return unpack_counted(data, max_bytes, max_objects=max_objects, max_depth=max_depth, what=what)[
        0
    ]


def unpack_counted(
    data: bytes,
    max_bytes: int = MAX_IBTP_BYTES,
    *,
    max_objects: int | None = None,
    max_depth: int | None = None,
    what: str = "value",
) -> tuple[Any, int]:
    """:func:`unpack_strict` and the number of values scanned (0 without ``max_objects``)."""
    count = 0
    if max_objects is not None:
        count = scan_msgpack(
            data, max_objects=max_objects, max_depth=max_depth or max_objects, what=what
        )
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_bin_len=max_bytes,
            max_str_len=max_bytes,
            max_array_len=100_000 if max_objects is None else max_objects,
            max_map_len=10_000 if max_objects is None else max_objects,
            max_ext_len=0,
            ext_hook=_refuse_ext,
        )
    except msgpack.ExtraData as exc:
        raise EncodingError(
            Code.NON_CANONICAL,
            f"{len(exc.extra)} bytes follow the encoded {what} (from byte "
            f"{len(data) - len(exc.extra)}); send exactly one value",
        ) from None
    except (
        ValueError,
        TypeError,
        msgpack.FormatError,
        msgpack.StackError,
    ) as exc:
        raise EncodingError(
            Code.MALFORMED_ENCODING, f"{what} is not valid msgpack: {describe_unpack_error(exc)}"
        ) from None
    return obj, count


def describe_unpack_error(exc: Exception) -> str:
    """What a msgpack decode failure means, in words (msgpack's own message is often
    empty: FormatError and StackError carry none)."""
    text = str(exc)
    if isinstance(exc, msgpack.StackError):
        return "values are nested deeper than the decoder allows; flatten the structure"
    if isinstance(exc, msgpack.FormatError):
        return "it holds a reserved or unsupported type byte (0xc1 or an ext type)"
    if "incomplete input" in text:
        return "the data ends inside a value (truncated); send the complete encoding"
    if "exceeds max_" in text:
        return f"a value is over the size limit ({text})"[:300]
    if isinstance(exc, TypeError) or "not supported as map key" in text:
        return f"a map key has a type that is not allowed ({text or type(exc).__name__})"[:300]
    return (text or type(exc).__name__)[:300]


def _refuse_ext(code: int, data: bytes) -> Any:
    """No relay structure uses msgpack ext values: refuse every one, also a zero-length
    ext (which ``max_ext_len=0`` alone lets through), as MALFORMED_ENCODING."""
    raise ValueError(f"ext type {code} is not used by any relay structure")


def ibtp_from_obj(obj: Any) -> IBTP:
    """Build an IBTP from its decoded array form, checking every field's type and range."""
    if not isinstance(obj, list) or len(obj) != 9:
        raise EncodingError(Code.FIELD_TYPE, "an IBTP is a msgpack array of 9 fields")
    version, src, dst, index, typ, timeout, payload, proof, extra = obj
    if type(version) is not int:
        raise EncodingError(Code.FIELD_TYPE, "IBTP version must be an integer")
    if version != IBTP_VERSION:
        raise EncodingError(
            Code.UNSUPPORTED_VERSION, f"IBTP version {version} is not supported; use {IBTP_VERSION}"
        )
    parse_service_id(src)
    parse_service_id(dst)
    index = _uint("index", index)
    if index == 0:
        raise EncodingError(Code.FIELD_TYPE, "IBTP index starts at 1")
    t = _uint("type", typ)
    try:
        ibtp_type = IBTPType(t)
    except ValueError:
        raise EncodingError(Code.FIELD_TYPE, f"IBTP type {t} is unknown (0-3)") from None
    timeout = _uint("timeout", timeout)
    if not isinstance(payload, list) or len(payload) != 3:
        raise EncodingError(Code.FIELD_TYPE, "IBTP payload is an array [func, args, encrypted]")
    func, args, encrypted = payload
    if not isinstance(func, str):
        raise EncodingError(Code.FIELD_TYPE, "payload func must be a string")
    if len(func) > MAX_FUNC_CHARS:
        raise EncodingError(Code.FIELD_TOO_LARGE, f"payload func is over {MAX_FUNC_CHARS} chars")
    if not isinstance(args, list) or not all(isinstance(a, bytes) for a in args):
        raise EncodingError(Code.FIELD_TYPE, "payload args must be an array of byte strings")
    if len(args) > MAX_ARGS or any(len(a) > MAX_ARG_BYTES for a in args):
        raise EncodingError(
            Code.FIELD_TOO_LARGE, f"at most {MAX_ARGS} args of at most {MAX_ARG_BYTES} bytes each"
        )
    if type(encrypted) is not bool:
        raise EncodingError(Code.FIELD_TYPE, "payload encrypted flag must be a boolean")
    if not isinstance(proof, bytes):
        raise EncodingError(Code.FIELD_TYPE, "IBTP proof must be bytes")
    if len(proof) > MAX_PROOF_BYTES:
        raise EncodingError(Code.FIELD_TOO_LARGE, f"IBTP proof is over {MAX_PROOF_BYTES} bytes")
    if not isinstance(extra, bytes):
        raise EncodingError(Code.FIELD_TYPE, "IBTP extra must be bytes")
    if len(extra) > MAX_EXTRA_BYTES:
        raise EncodingError(Code.FIELD_TOO_LARGE, f"IBTP extra is over {MAX_EXTRA_BYTES} bytes")
    if ibtp_type != IBTPType.INTERCHAIN:
        _check_receipt_shape(ibtp_type, timeout, func, args, encrypted, extra)
    return IBTP(
        src=src,
        dst=dst,
        index=index,
        type=ibtp_type,
        timeout=timeout,
        payload=Payload(func=func, args=tuple(args), encrypted=encrypted),
        proof=proof,
        extra=extra,
        version=version,
    )


def _check_receipt_shape(
    ibtp_type: IBTPType, timeout: int, func: str, args: list[bytes], encrypted: bool, extra: bytes
) -> None:
    """A receipt (types 1-3) carries nothing its request does not fix: timeout 0 (the
    request's timeout applies), no extra, and the payload ``["", [result], false]`` for
    RECEIPT_SUCCESS / RECEIPT_FAILURE, ``["", [], false]`` for RECEIPT_ROLLBACK. So the
    destination's gateway chooses nothing a chain's proof does not bind."""
    name = ibtp_type.name
    if timeout != 0:
        raise EncodingError(
            Code.FIELD_TYPE, f"a {name} carries timeout 0 (its request's timeout applies)"
        )
    if extra:
        raise EncodingError(Code.FIELD_TYPE, f"a {name} carries an empty extra")
    want = 0 if ibtp_type == IBTPType.RECEIPT_ROLLBACK else 1
    if func != "" or encrypted or len(args) != want:
        shape = '["", [], false]' if want == 0 else '["", [result], false]'
        raise EncodingError(Code.FIELD_TYPE, f"a {name} payload is {shape}")


def _uint(name: str, value: Any) -> int:
    if type(value) is not int:
        raise EncodingError(Code.FIELD_TYPE, f"IBTP {name} must be an unsigned integer")
    if not 0 <= value <= UINT64_MAX:
        raise EncodingError(Code.FIELD_TYPE, f"IBTP {name} must fit in uint64")
    return value


def canonical_packb(obj: Any) -> bytes:
    """Deterministic msgpack for relay structures: map keys sorted, no floats."""
    return msgpack.packb(_canonicalize(obj), use_bin_type=True)


def _canonicalize(obj: Any) -> Any:
    if isinstance(obj, dict):
        try:
            keys = sorted(obj)
        except TypeError:
            raise EncodingError(
                Code.FIELD_TYPE, "map keys must be all text or all bytes, not a mix"
            ) from None
        return {k: _canonicalize(obj[k]) for k in keys}
    if isinstance(obj, list | tuple):
        return [_canonicalize(v) for v in obj]
    if isinstance(obj, float):
        raise EncodingError(Code.FIELD_TYPE, "floats are not allowed in canonical encodings")
    return obj
