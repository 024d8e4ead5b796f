"""What the chaincodes share: argument codecs, state keys, the service protocol, accounts.

Fabric passes a chaincode its arguments as byte strings. Ours read them as follows
(docs/fabric.md §3.2 has the table per function):

* a **string** (service IDs, function names, keys): its UTF-8 bytes, strict (a string
  that is not UTF-8 is refused);
* an **integer** (index, timeout, amount, typ, status): decimal ASCII digits, no sign,
  no leading zero (``0`` itself is fine), no spaces — one spelling per value, and within
  the type's range (uint8, uint64, uint256);
* a **boolean**: ``true`` or ``false``;
* one **byte string** (a result, a value): the argument's bytes as they are;
* a **list of byte strings** (``args``, ``signatures``): canonical JSON, an array of
  lowercase hex strings without ``0x`` (``[]``, ``["00ff",""]``) — exactly what
  ``json.dumps(list, separators=(",", ":"))`` writes; anything else is refused.

Structured answers (views, stored messages, the service protocol) are canonical JSON as
the broker's events (docs/fabric.md §2): keys sorted, no whitespace, bytes as lowercase
hex.

**State keys** are canonical JSON arrays of strings, ``["out","hub:a:x","hub:b:y"]``:
injective whatever the strings hold, valid UTF-8, one namespace per chaincode.

**The service protocol.** ``broker.invokeService(service, func, args…)`` invokes the
service chaincode with ``[func, args…]``; the service answers (payload of a status-200
response) with a :class:`ServiceAnswer`, canonical JSON
``{"request": null | {"args": [hex…], "func": str, "index": uint64, "timeout": uint64,
"to": str}, "result": hex}``: ``result`` is what the broker returns to the client, and
``request`` an interchain call the broker is to emit from the service (at most one: a
Fabric transaction has one event). ``index`` is the index the service expects the
request to get: each service counts its own requests per destination (only its answers
make the broker emit from it, so the two counts move together), and the broker refuses
the transaction if its counter says otherwise — so a service can key what it records
(a lock) by ``(to, index)`` as it does on the EVM, where ``emitInterchain`` returns the
index.

**Accounts.** A client is known by the ``msp.SerializedIdentity`` that signed the
proposal (``stub.get_creator()``). Its account is 20 bytes,
``SHA-256(mspid ‖ 0x00 ‖ DER certificate)[12:]``, written ``0x`` + 40 lowercase hex:
an address-shaped name, so the asset services of both families encode a mint the same
way (``abi.encode(address, uint256)``) and a transfer can cross families. It binds the
MSP ID (one key under two orgs is two accounts) and the certificate (a re-issued
certificate is a new account, as in Fabric's own ``IdentityIdentifier``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fabric_protos.msp import identities_pb2
from google.protobuf.message import DecodeError

from adapters.fabric.identity import ACCOUNT_BYTES, account_of_certificate

from .stub import Response, Stub, error, success

UINT8_MAX = 2**8 - 1
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
ZERO_ACCOUNT = b"\x00" * ACCOUNT_BYTES

#: The service interface the broker calls (docs/broker.md); only the broker may.
SERVICE_INTERFACE = frozenset({"onInterchain", "onCallback", "onRollback"})


class Refused(Exception):
    """A chaincode function says no: the invocation answers ``error(message)``. (Inside
    a chaincode only; ``invoke`` turns it into the error response.)"""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def require(condition: bool, message: str) -> None:
    if not condition:
        raise Refused(message)


Handler = Callable[[Stub, Sequence[bytes]], bytes]


def dispatch(stub: Stub, handlers: Mapping[str, Handler], prefix: str) -> Response:
    """Run the function named by the first argument; a :class:`Refused` becomes an error
    response carrying its message, as ``shim.Error``."""
    args = list(stub.get_args())
    if not args:
        return error(f"{prefix}: no function name")
    handler = handlers.get(args[0].decode("utf-8", "replace"))
    if handler is None:
        return error(f"{prefix}: unknown function")
    try:
        return success(handler(stub, args[1:]))
    except Refused as refusal:
        return error(refusal.message)


UserHandler = Callable[[Stub, Sequence[bytes]], "ServiceAnswer"]


def serve(
    stub: Stub,
    interface: Mapping[str, Handler],
    functions: Mapping[str, UserHandler],
    broker: str,
    prefix: str,
) -> Response:
    """A service chaincode's ``invoke``: the service interface (``onInterchain``…) for
    the broker only; its own functions for anyone — answering a :class:`ServiceAnswer`
    when the broker invoked them for a client (``invokeService``), the bare result when a
    client invoked them directly. A function that asks for a request can only run under
    the broker (nobody else would emit it)."""
    args = list(stub.get_args())
    name = args[0].decode("utf-8", "replace") if args else ""
    if name in SERVICE_INTERFACE:
        if stub.get_caller() != broker:
            return error(f"{prefix}: only the broker")
        return dispatch(stub, interface, prefix)
    function = functions.get(name)
    if function is None:
        return error(f"{prefix}: unknown function")
    try:
        answer = function(stub, args[1:])
        if stub.get_caller() == broker:
            return success(answer.encode())
        require(answer.request is None, f"{prefix}: {name} goes through broker.invokeService")
        return success(answer.result)
    except Refused as refusal:
        return error(refusal.message)


def plain(handler: Handler) -> UserHandler:
    """A service function that never asks for a request: its result as a ServiceAnswer."""

    def run(stub: Stub, args: Sequence[bytes]) -> ServiceAnswer:
        return ServiceAnswer(handler(stub, args))

    return run


def arity(args: Sequence[bytes], n: int, prefix: str) -> None:
    require(len(args) == n, f"{prefix}: expected {n} arguments, got {len(args)}")


# --- argument codecs ------------------------------------------------------------------


def text_arg(value: bytes, name: str, prefix: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{prefix}: {name} is not UTF-8 text") from None


def uint_arg(value: bytes, name: str, prefix: str, maximum: int = UINT64_MAX) -> int:
    ok = (
        0 < len(value) <= 78
        and all(0x30 <= c <= 0x39 for c in value)
        and (value == b"0" or value[:1] != b"0")
    )
    number = int(value) if ok else -1
    require(0 <= number <= maximum, f"{prefix}: {name} is not a decimal integer in range")
    return number


def bool_arg(value: bytes, name: str, prefix: str) -> bool:
    require(value in (b"true", b"false"), f"{prefix}: {name} is not true or false")
    return value == b"true"


def bytes_list_arg(value: bytes, name: str, prefix: str) -> list[bytes]:
    """A canonical JSON array of lowercase hex strings."""
    message = f"{prefix}: {name} is not a JSON array of lowercase hex strings"
    try:
        items = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(message) from None
    require(isinstance(items, list) and all(isinstance(i, str) for i in items), message)
    out = []
    for item in items:
        try:
            data = bytes.fromhex(item)
        except ValueError:
            raise Refused(message) from None
        require(data.hex() == item, message)
        out.append(data)
    require(encode_bytes_list(out) == value, message)
    return out


def encode_uint(value: int) -> bytes:
    return str(value).encode()


def encode_bool(value: bool) -> bytes:
    return b"true" if value else b"false"


def encode_bytes_list(items: Sequence[bytes]) -> bytes:
    return canonical_json([i.hex() for i in items])


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def state_key(*parts: str) -> str:
    return canonical_json(list(parts)).decode()


def load_uint(stub: Stub, key: str) -> int:
    raw = stub.get_state(key)
    return int(raw) if raw else 0


def store_uint(stub: Stub, key: str, value: int) -> None:
    if value:
        stub.put_state(key, encode_uint(value))
    else:
        stub.del_state(key)


def load_json(stub: Stub, key: str) -> object:
    raw = stub.get_state(key)
    return json.loads(raw) if raw else None


# --- the service protocol -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """An interchain call a service asks the broker to emit (``emitInterchain``)."""

    to: str
    func: str
    args: tuple[bytes, ...]
    timeout: int
    index: int


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    """What a service invoked through ``broker.invokeService`` answers."""

    result: bytes = b""
    request: Request | None = None

    def encode(self) -> bytes:
        request = self.request
        obj: dict[str, object] = {"result": self.result.hex(), "request": None}
        if request is not None:
            obj["request"] = {
                "to": request.to,
                "func": request.func,
                "args": [a.hex() for a in request.args],
                "timeout": request.timeout,
                "index": request.index,
            }
        return canonical_json(obj)

    @classmethod
    def decode(cls, data: bytes) -> ServiceAnswer:
        """Strict: the canonical encoding of well-typed fields, else ``Refused``."""
        message = "broker: the service did not answer a service protocol answer"
        try:
            obj = json.loads(data.decode("utf-8"))
            require(isinstance(obj, dict) and set(obj) == {"result", "request"}, message)
            result = _hex(obj["result"])
            raw = obj["request"]
            request = None
            if raw is not None:
                require(
                    isinstance(raw, dict)
                    and set(raw) == {"to", "func", "args", "timeout", "index"}
                    and isinstance(raw["to"], str)
                    and isinstance(raw["func"], str)
                    and isinstance(raw["args"], list),
                    message,
                )
                request = Request(
                    to=raw["to"],
                    func=raw["func"],
                    args=tuple(_hex(a) for a in raw["args"]),
                    timeout=_uint(raw["timeout"]),
                    index=_uint(raw["index"]),
                )
        except (UnicodeDecodeError, ValueError, TypeError):
            raise Refused(message) from None
        answer = cls(result, request)
        require(answer.encode() == data, message)
        return answer


def _hex(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not hex")
    data = bytes.fromhex(value)
    if data.hex() != value:
        raise ValueError("not lowercase hex")
    return data


def _uint(value: object) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise ValueError("not a uint64")
    return value


# --- accounts -------------------------------------------------------------------------


def account_of(creator: bytes) -> bytes:
    """The 20-byte account of a ``SerializedIdentity`` (see the module docstring);
    ``Refused`` when it does not hold one PEM certificate."""
    message = "the creator is not a SerializedIdentity with one PEM certificate"
    try:
        sid = identities_pb2.SerializedIdentity.FromString(creator)
    except DecodeError:
        raise Refused(message) from None
    return account_of_certificate(sid.mspid, _pem_to_der(sid.id_bytes, message))


def _pem_to_der(pem: bytes, message: str) -> bytes:
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    text = pem.strip()
    require(text.startswith(begin) and text.endswith(end) and text.count(begin) == 1, message)
    body = b"".join(text[len(begin) : -len(end)].split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(message) from None
    require(bool(der), message)
    return der


def account_hex(account: bytes) -> str:
    return "0x" + account.hex()


def account_arg(value: bytes, name: str, prefix: str) -> bytes:
    """``0x`` + 40 hex digits (any case, as the relay takes addresses)."""
    text = value.decode("ascii", "replace")
    ok = len(text) == 42 and text[:2] in ("0x", "0X")
    try:
        account = bytes.fromhex(text[2:]) if ok else b""
    except ValueError:
        account = b""
    require(len(account) == ACCOUNT_BYTES, f"{prefix}: {name} is not a 0x account")
    return account
