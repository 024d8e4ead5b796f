"""The ``dataswap`` chaincode: DataSwap of docs/broker.md on Fabric.

Same semantics, refusal messages and results as the EVM service
(``appchains/evm/devchain/services.py``, ``DataSwap.sol``): ``get`` asks a DataSwap on
another chain for a key (``get(abi.encode(key))``), the destination answers the value
(refuses an unknown key), the source's callback stores the answer under
``(toService, key)``. It answers any caller: the answer is a value anyone can already
read (``valueOf``) and anyone may ``set``, so answering a stranger discloses and changes
nothing.

Functions (argument encodings of ``codec``; a key is a byte string, as it arrives from
another chain):

* ``set(key, value)`` — event ``ValueSet`` ``{"key": hex, "value": hex}`` when invoked
  directly (the chaincode's own event);
* ``get(toService, key, timeout)`` → the request's index (decimal); only through
  ``broker.invokeService("dataswap", "get", …)``;
* views: ``valueOf(key)`` (``{"known": bool, "value": hex}``), ``fetched(toService,
  key)`` (the stored answer's bytes), ``broker()``;
* the service interface, for the broker only (``dataswap: only the broker``).

The EVM service's ``ValueFetched`` log has no Fabric counterpart (a transaction keeps
the broker's event only); ``fetched`` reads the answer. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from .codec import (
    Handler,
    Refused,
    Request,
    ServiceAnswer,
    UserHandler,
    arity,
    bool_arg,
    bytes_list_arg,
    canonical_json,
    load_json,
    load_uint,
    plain,
    require,
    serve,
    state_key,
    store_uint,
    text_arg,
    uint_arg,
)
from .stub import Response, Stub

P = "dataswap"


def encode_get(key: bytes) -> bytes:
    """``abi.encode(string key)`` (a string is encoded as the bytes it holds)."""
    return abi_encode(["bytes"], [key])


def decode_get(data: bytes) -> bytes:
    try:
        (key,) = abi_decode(["bytes"], data)
    except Exception:
        raise Refused("") from None  # Solidity's abi.decode reverts with empty data
    return bytes(key)


class DataSwapChaincode:
    def __init__(self, name: str = "dataswap", broker: str = "broker") -> None:
        self.name = name
        self.broker = broker
        self.interface: dict[str, Handler] = {
            "onInterchain": self.on_interchain,
            "onCallback": self.on_callback,
            "onRollback": self.on_rollback,
        }
        views: dict[str, Handler] = {
            "valueOf": self.value_of,
            "fetched": self.fetched,
            "broker": self.broker_,
        }
        self.functions: dict[str, UserHandler] = {
            "set": self.set,
            "get": self.get,
            **{name: plain(handler) for name, handler in views.items()},
        }

    def invoke(self, stub: Stub) -> Response:
        return serve(stub, self.interface, self.functions, self.broker, P)

    def genesis_state(self) -> dict[str, bytes]:
        return {state_key("config"): canonical_json({"broker": self.broker})}

    # ------------------------------------------------------------------ user functions
    def set(self, stub: Stub, args: Sequence[bytes]) -> ServiceAnswer:
        arity(args, 2, P)
        key, value = bytes(args[0]), bytes(args[1])
        if value:
            stub.put_state(state_key("val", key.hex()), value)
        else:
            stub.del_state(state_key("val", key.hex()))
        stub.put_state(state_key("known", key.hex()), b"1")
        stub.set_event("ValueSet", canonical_json({"key": key.hex(), "value": value.hex()}))
        return ServiceAnswer()

    def get(self, stub: Stub, args: Sequence[bytes]) -> ServiceAnswer:
        arity(args, 3, P)
        dst = text_arg(args[0], "toService", P)
        key = bytes(args[1])
        timeout = uint_arg(args[2], "timeout", P)
        index = load_uint(stub, state_key("out", dst)) + 1
        store_uint(stub, state_key("out", dst), index)
        stub.put_state(state_key("pending", dst, str(index)), canonical_json({"key": key.hex()}))
        request = Request(dst, "get", (encode_get(key),), timeout, index)
        return ServiceAnswer(str(index).encode(), request)

    # ------------------------------------------------------------------ views
    def value_of(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 1, P)
        key = bytes(args[0]).hex()
        known = stub.get_state(state_key("known", key)) is not None
        value = stub.get_state(state_key("val", key)) or b""
        return canonical_json({"known": known, "value": value.hex()})

    def fetched(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 2, P)
        dst = text_arg(args[0], "toService", P)
        return stub.get_state(state_key("fetched", dst, bytes(args[1]).hex())) or b""

    def broker_(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 0, P)
        return self.broker.encode()

    # ------------------------------------------------------------------ IInterchainService
    def on_interchain(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 4, P)
        text_arg(args[0], "from", P)
        uint_arg(args[1], "index", P)
        func = text_arg(args[2], "func", P)
        call_args = bytes_list_arg(args[3], "args", P)
        require(func == "get", f"{P}: unknown function")
        require(len(call_args) == 1, f"{P}: get takes one argument")
        key = decode_get(call_args[0]).hex()
        require(stub.get_state(state_key("known", key)) is not None, f"{P}: unknown key")
        return stub.get_state(state_key("val", key)) or b""

    def on_callback(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 4, P)
        dst = text_arg(args[0], "to", P)
        index = uint_arg(args[1], "index", P)
        ok = bool_arg(args[2], "ok", P)
        result = bytes(args[3])
        pending = state_key("pending", dst, str(index))
        record = load_json(stub, pending)
        key = str(record["key"]) if isinstance(record, dict) else ""
        stub.del_state(pending)
        if ok:
            fetched = state_key("fetched", dst, key)
            if result:
                stub.put_state(fetched, result)
            else:
                stub.del_state(fetched)
        return b""

    def on_rollback(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 2, P)
        dst = text_arg(args[0], "to", P)
        index = uint_arg(args[1], "index", P)
        stub.del_state(state_key("pending", dst, str(index)))
        return b""
