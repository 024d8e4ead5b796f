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
    obj = unpack_strict(bytes(data))
    ibtp = ibtp_from_obj(obj)
    if encode_ibtp(ibtp) != bytes(data):
        raise EncodingError(
            Code.NON_CANONICAL,
            "IBTP bytes are not canonical: re-encode with shortest integers, str for text, "
            "bin for bytes and no trailing data (docs/protocol.md, 'Canonical encoding')",
        )
    return ibtp


def unpack_strict(data: bytes, max_bytes: int = MAX_IBTP_BYTES) -> Any:
    """msgpack-decode ``data`` with limits: trailing bytes are NON_CANONICAL, any other
    failure MALFORMED_ENCODING (docs/protocol.md §2.3 lists them: truncation, the byte
    ``c1``, invalid UTF-8, any ext value, a map key that is not str or bin, nesting
    deeper than 1024, arrays over 100,000 and maps over 10,000 entries)."""
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_bin_len=max_bytes,
            max_str_len=max_bytes,
            max_array_len=100_000,
            max_map_len=10_000,
            max_ext_len=0,
            ext_hook=_refuse_ext,
        )
    except msgpack.ExtraData:
        raise EncodingError(
            Code.NON_CANONICAL, "bytes follow the encoded value; send exactly one value"
        ) from None
    except (
        ValueError,
        TypeError,
        msgpack.FormatError,
        msgpack.StackError,
    ) as exc:
        raise EncodingError(
            Code.MALFORMED_ENCODING, f"not valid msgpack ({type(exc).__name__}): {exc}"[:300]
        ) from None


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
