"""The broker's events on a FISCO chain: topics, canonical ABI data, field checks.

A FISCO chain runs the Solidity-ABI broker of ``docs/broker.md``: its logs are the
EVM broker's ``InterchainEvent``, ``ReceiptEvent`` and ``CallbackEvent``, with the
same parameters (none indexed, so a broker log has exactly one topic) and the same
ABI data. What differs is the hash. A FISCO node's ``keccak256`` is
``crypto::Hash``, so in the 国密 build:

* Solidity's ``keccak256`` (the EVM's SHA3 opcode) computes SM3, which makes the
  broker's ``payloadHash`` ``SM3(abi.encode(func, args, encrypted))``;
* event topics are ``SM3(signature)``: FISCO's 国密 compiler and SDK
  (``EventEncoder.buildEventSignature`` hashes with the chain's ``CryptoSuite``)
  derive them with the chain's hash.

In the default (secp256k1) mode both are keccak-256, and the topics equal the EVM
family's. :func:`event_topic` and :func:`compute_payload_hash` take the chain's
hash function.

Checking a log's fields against an IBTP is done by *encoding*: the verifier builds
the ABI data the broker must have emitted for that IBTP (:func:`encode_event_data`,
a few dozen lines for the three layouts, no generic ABI machinery) and compares
bytes. Only when they differ does it decode the data (``eth_abi``) to name the
field that differs, or to say the data is not ABI (``LOG_MALFORMED``); data that
decodes to the IBTP's fields but is not the canonical encoding Solidity emits is
``LOG_MALFORMED`` too. The outcome is that of the EVM verifier's field checks
(``adapters.evm.verifier.check_log_fields``) for every log a Solidity broker can
emit. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError as AbiDecodingError

from adapters.evm.verifier import check_log_fields as evm_check_log_fields
from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HashFn
from relay.errors import ProofError
from relay.ibtp import IBTP, IBTPType, Payload

INTERCHAIN_SIGNATURE = b"InterchainEvent(string,string,uint64,string,bytes[],bool,uint64,bytes32)"
RECEIPT_SIGNATURE = b"ReceiptEvent(string,string,uint64,uint8,bytes,bytes32)"
CALLBACK_SIGNATURE = b"CallbackEvent(string,string,uint64,uint8)"

INTERCHAIN_TYPES = ("string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32")
RECEIPT_TYPES = ("string", "string", "uint64", "uint8", "bytes", "bytes32")
CALLBACK_TYPES = ("string", "string", "uint64", "uint8")

#: For each IBTP type: the event's signature and ABI types.
EVENT_FOR_TYPE: dict[IBTPType, tuple[bytes, tuple[str, ...]]] = {
    IBTPType.INTERCHAIN: (INTERCHAIN_SIGNATURE, INTERCHAIN_TYPES),
    IBTPType.RECEIPT_SUCCESS: (RECEIPT_SIGNATURE, RECEIPT_TYPES),
    IBTPType.RECEIPT_FAILURE: (RECEIPT_SIGNATURE, RECEIPT_TYPES),
    IBTPType.RECEIPT_ROLLBACK: (CALLBACK_SIGNATURE, CALLBACK_TYPES),
}


def event_name(signature: bytes) -> str:
    return signature.split(b"(")[0].decode()


def event_topic(signature: bytes, hash_fn: HashFn) -> bytes:
    """topic0 of an event on a chain hashing with ``hash_fn``: ``Hash(signature)``."""
    return hash_fn(signature)


def event_topics(hash_fn: HashFn) -> dict[bytes, str]:
    """``{topic0: event name}`` of the three broker events under ``hash_fn``."""
    return {
        event_topic(sig, hash_fn): event_name(sig)
        for sig in (INTERCHAIN_SIGNATURE, RECEIPT_SIGNATURE, CALLBACK_SIGNATURE)
    }


# --------------------------------------------------------------------------- ABI encoding


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _tail(data: bytes) -> bytes:
    """A dynamic ``bytes``/``string`` tail: length word, data, zero padding to 32."""
    return _word(len(data)) + data + bytes(-len(data) % 32)


def _bytes_array_tail(items: tuple[bytes, ...] | list[bytes]) -> bytes:
    heads = []
    tails = []
    offset = 32 * len(items)
    for item in items:
        heads.append(_word(offset))
        t = _tail(item)
        tails.append(t)
        offset += len(t)
    return _word(len(items)) + b"".join(heads) + b"".join(tails)


def _encode(fields: list[tuple[bool, bytes]]) -> bytes:
    """ABI-encode a tuple: ``(is_dynamic, head word or tail)`` per field, in order."""
    head_size = 32 * len(fields)
    heads = []
    tails = []
    offset = head_size
    for dynamic, value in fields:
        if dynamic:
            heads.append(_word(offset))
            tails.append(value)
            offset += len(value)
        else:
            heads.append(value)
    return b"".join(heads) + b"".join(tails)


_WORD_96 = _word(96)
_WORD_256 = _word(256)
_BOOL = (_word(0), _word(1))


def _payload_parts(payload: Payload) -> tuple[bytes, bytes, bytes, bytes]:
    """``(func tail, args tail, encrypted word, abi.encode(func, args, encrypted))``."""
    func_tail = _tail(payload.func.encode())
    args_tail = _bytes_array_tail(payload.args)
    encrypted = _BOOL[payload.encrypted]
    encoded = _WORD_96 + _word(96 + len(func_tail)) + encrypted + func_tail + args_tail
    return func_tail, args_tail, encrypted, encoded


def encode_payload(payload: Payload) -> bytes:
    """``abi.encode(string func, bytes[] args, bool encrypted)``."""
    return _payload_parts(payload)[3]


def compute_payload_hash(payload: Payload, hash_fn: HashFn) -> bytes:
    """The broker's ``payloadHash``: ``keccak256(abi.encode(func, args, encrypted))`` as
    the chain computes ``keccak256`` — keccak-256, or SM3 on a 国密 chain."""
    return hash_fn(_payload_parts(payload)[3])


def _interchain(ibtp: IBTP, hash_fn: HashFn) -> bytes:
    func_tail, args_tail, encrypted, encoded = _payload_parts(ibtp.payload)
    src = _tail(ibtp.src.encode())
    dst = _tail(ibtp.dst.encode())
    at_dst = 256 + len(src)
    at_func = at_dst + len(dst)
    return b"".join(
        (
            _WORD_256,
            _word(at_dst),
            _word(ibtp.index),
            _word(at_func),
            _word(at_func + len(func_tail)),
            encrypted,
            _word(ibtp.timeout),
            hash_fn(encoded),
            src,
            dst,
            func_tail,
            args_tail,
        )
    )


def encode_interchain_event(ibtp: IBTP, payload_hash: bytes) -> bytes:
    p = ibtp.payload
    return _encode(
        [
            (True, _tail(ibtp.src.encode())),
            (True, _tail(ibtp.dst.encode())),
            (False, _word(ibtp.index)),
            (True, _tail(p.func.encode())),
            (True, _bytes_array_tail(p.args)),
            (False, _word(1 if p.encrypted else 0)),
            (False, _word(ibtp.timeout)),
            (False, payload_hash),
        ]
    )


def encode_receipt_event(ibtp: IBTP, typ: int, result: bytes, payload_hash: bytes) -> bytes:
    return _encode(
        [
            (True, _tail(ibtp.src.encode())),
            (True, _tail(ibtp.dst.encode())),
            (False, _word(ibtp.index)),
            (False, _word(typ)),
            (True, _tail(result)),
            (False, payload_hash),
        ]
    )


def encode_callback_event(ibtp: IBTP, typ: int) -> bytes:
    return _encode(
        [
            (True, _tail(ibtp.src.encode())),
            (True, _tail(ibtp.dst.encode())),
            (False, _word(ibtp.index)),
            (False, _word(typ)),
        ]
    )


def encode_event_data(ibtp: IBTP, hash_fn: HashFn) -> bytes | None:
    """The ABI data the broker emits for ``ibtp`` (None when no broker event can carry
    it: a receipt whose payload is not ``("", [result], false)``, a rollback with a
    payload, an INTERCHAIN IBTP with an ``extra``)."""
    p = ibtp.payload
    if ibtp.type == IBTPType.INTERCHAIN:
        if ibtp.extra:
            return None
        return _interchain(ibtp, hash_fn)
    if ibtp.type == IBTPType.RECEIPT_ROLLBACK:
        if p.func or p.args or p.encrypted:
            return None
        return encode_callback_event(ibtp, int(IBTPType.RECEIPT_ROLLBACK))
    if p.func or len(p.args) != 1 or p.encrypted:
        return None
    return encode_receipt_event(ibtp, int(ibtp.type), p.args[0], compute_payload_hash(p, hash_fn))


# --------------------------------------------------------------------------- checks


def check_event_data(ibtp: IBTP, data: bytes, hash_fn: HashFn) -> None:
    """The log data is the broker's event for exactly ``ibtp`` (the topic already checked).

    ``LOG_MALFORMED`` when it is not ABI (or not canonical ABI), ``LOG_FIELD_MISMATCH``
    naming the first field that differs, in the EVM verifier's order.
    """
    if data == encode_event_data(ibtp, hash_fn):
        return
    signature, types = EVENT_FOR_TYPE[ibtp.type]
    try:
        fields = tuple(abi_decode(types, data))
    except (AbiDecodingError, ValueError, OverflowError, TypeError):
        raise ProofError(
            FiscoCode.LOG_MALFORMED,
            f"the log data does not ABI-decode as {event_name(signature)}({', '.join(types)})",
        ) from None
    check_log_fields(ibtp, fields, hash_fn)
    raise ProofError(
        FiscoCode.LOG_MALFORMED,
        f"the log data decodes to the IBTP's fields but is not the canonical ABI encoding a "
        f"Solidity broker emits for {event_name(signature)}",
    )


def check_log_fields(ibtp: IBTP, fields: tuple[Any, ...], hash_fn: HashFn) -> None:
    """The decoded event's fields equal the IBTP's (``LOG_FIELD_MISMATCH`` names the field).

    The EVM verifier's rules (``adapters.evm.verifier.check_log_fields``), with the
    chain's hash for ``payloadHash``:

    * every event: ``from``, ``to``, ``index``;
    * InterchainEvent: ``func``, ``args``, ``encrypted``, ``timeout``, ``payloadHash``,
      and an empty ``extra`` (the event carries none: an IBTP claiming one claims what
      the chain never said);
    * ReceiptEvent: ``typ == ibtp.type`` (1 success / 2 failure), the payload
      ``("", [result], false)``, ``payloadHash``;
    * CallbackEvent: ``typ == 3`` and an empty payload ``("", [], false)``.
    """
    evm_check_log_fields(
        ibtp,
        fields,
        lambda payload: compute_payload_hash(payload, hash_fn),
        FiscoCode.LOG_FIELD_MISMATCH,
    )
