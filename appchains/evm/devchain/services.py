"""The example services of docs/broker.md as native contracts (pure).

Same ABI, return data, revert data and events as
``appchains/evm/contracts/AssetTransfer.sol`` and ``DataSwap.sol``. Only the
broker may call the ``IInterchainService`` functions. Genesis stands in for the
Solidity constructors: AssetTransfer's initial supply is spread over the
configured holders instead of going to a deployer, and its owner (the Solidity
deployer, ``msg.sender``) is given explicitly.

AssetTransfer mints only for its registered counterparts and transfers only to
them; the owner sets them by transaction (``setCounterpart``), as on a real
chain, so genesis starts with none (docs/broker.md, "Authenticating the caller").
DataSwap answers any caller: its answer is a read.
"""

from __future__ import annotations

from collections.abc import Mapping

import rlp

from appchains.evm.devchain.abicodec import decode as abi_decode
from appchains.evm.devchain.abicodec import encode as abi_encode
from appchains.evm.devchain.crypto import ZERO_ADDRESS
from appchains.evm.devchain.native import (
    Env,
    Msg,
    NativeContract,
    Revert,
    abi_event,
    abi_function,
    encode_uint,
    panic,
    require,
)
from appchains.evm.devchain.rlpcodec import encode as rlp_encode

_EMIT_INTERCHAIN = "emitInterchain(string,string,bytes[],uint64)"

LOCKED_EVENT = abi_event("Locked(string,uint64,address indexed,address,uint256)")
MINTED_EVENT = abi_event("Minted(string,uint64,address indexed,uint256)")
BURNED_EVENT = abi_event("Burned(uint256)")
UNLOCKED_EVENT = abi_event("Unlocked(address indexed,uint256)")
COUNTERPART_SET_EVENT = abi_event("CounterpartSet(string,bool)")
VALUE_SET_EVENT = abi_event("ValueSet(string,bytes)")
VALUE_FETCHED_EVENT = abi_event("ValueFetched(string,string,bytes)")


def _emit_interchain(
    env: Env, service: bytes, broker: bytes, dst: bytes, func: bytes, arg: bytes, timeout: int
) -> int:
    data = env.selector(_EMIT_INTERCHAIN) + abi_encode(
        ["bytes", "bytes", "bytes[]", "uint64"], [dst, func, [arg], timeout]
    )
    out = env.call(service, broker, data)
    try:
        (index,) = abi_decode(["uint64"], out)
    except Exception:
        raise Revert(b"") from None
    return int(index)


def _decode_arg(types: list[str], data: bytes) -> tuple[object, ...]:
    """``abi.decode``: a failure reverts with empty data, as in Solidity."""
    try:
        return tuple(abi_decode(types, data))
    except Exception:
        raise Revert(b"") from None


class AssetTransfer(NativeContract):
    """Lock / mint / burn token transfer between chains."""

    NAME = "AssetTransfer"

    def __init__(
        self,
        address: bytes,
        broker: bytes,
        mint_cap: int,
        holders: Mapping[bytes, int],
        owner: bytes,
    ) -> None:
        super().__init__(address)
        self.broker = broker
        self.mint_cap = mint_cap
        self.holders = dict(holders)
        self.owner = owner

    def genesis_storage(self) -> dict[bytes, bytes]:
        # constructor parameters (Solidity immutables) recorded so genesis commits to them
        storage = {self.key(b"config"): rlp_encode([self.broker, self.mint_cap, self.owner])}
        storage.update(
            {self.key(b"bal", a): encode_uint(v) for a, v in sorted(self.holders.items())}
        )
        storage[self.key(b"supply")] = encode_uint(sum(self.holders.values()))
        return {k: v for k, v in storage.items() if v}

    def _only_broker(self, msg: Msg) -> None:
        require(msg.sender == self.broker, "asset: only the broker")

    def _add(self, env: Env, delta: int, *key: bytes | int) -> int:
        value = self.load_uint(env, *key) + delta
        if value < 0:
            raise panic(_PANIC_UNDERFLOW)
        self.store_uint(env, value, *key)
        return value

    def _is_counterpart(self, env: Env, service: bytes) -> bool:
        return bool(self.load(env, b"peer", env.hash_fn(service)))

    # -- owner functions
    @abi_function("setCounterpart(string,bool)")
    def set_counterpart(self, msg: Msg, service: bytes, allowed: bool) -> None:
        env = msg.env
        require(msg.sender == self.owner, "asset: only the owner")
        self.store(env, b"\x01" if allowed else b"", b"peer", env.hash_fn(service))
        env.emit_event(COUNTERPART_SET_EVENT, self.address, service, allowed)

    # -- user functions
    @abi_function("transfer(string,address,uint256,uint64)", "uint64")
    def transfer(self, msg: Msg, dst: bytes, recipient: bytes, amount: int, timeout: int) -> int:
        env = msg.env
        require(self._is_counterpart(env, dst), "asset: destination is not a counterpart")
        require(amount > 0, "asset: zero amount")
        require(self.load_uint(env, b"bal", msg.sender) >= amount, "asset: insufficient balance")
        self._add(env, -amount, b"bal", msg.sender)
        self._add(env, amount, b"locked")
        arg = abi_encode(["address", "uint256"], [recipient, amount])
        index = _emit_interchain(env, self.address, self.broker, dst, b"mint", arg, timeout)
        self.store(env, rlp_encode([msg.sender, amount]), b"lock", dst, index)
        env.emit_event(LOCKED_EVENT, self.address, dst, index, msg.sender, recipient, amount)
        return index

    # -- IInterchainService
    @abi_function("onInterchain(string,uint64,string,bytes[])", "bytes")
    def on_interchain(
        self, msg: Msg, src: bytes, index: int, func: bytes, args: tuple[bytes, ...]
    ) -> bytes:
        env = msg.env
        self._only_broker(msg)
        require(self._is_counterpart(env, src), "asset: source is not a counterpart")
        require(func == b"mint", "asset: unknown function")
        require(len(args) == 1, "asset: mint takes one argument")
        recipient, amount = _decode_arg(["address", "uint256"], args[0])
        assert isinstance(recipient, bytes) and isinstance(amount, int)
        require(recipient != ZERO_ADDRESS, "asset: mint to the zero address")
        require(amount <= self.mint_cap, "asset: amount above mint cap")
        self._add(env, amount, b"bal", recipient)
        self._add(env, amount, b"supply")
        env.emit_event(MINTED_EVENT, self.address, src, index, recipient, amount)
        return abi_encode(["address", "uint256"], [recipient, amount])

    @abi_function("onCallback(string,uint64,bool,bytes)")
    def on_callback(self, msg: Msg, dst: bytes, index: int, ok: bool, result: bytes) -> None:
        env = msg.env
        self._only_broker(msg)
        if not ok:
            return  # onRollback follows and returns the lock
        _sender, amount = self._record(env, b"lock", dst, index)
        if amount == 0:
            return
        self.store(env, b"", b"lock", dst, index)
        self._add(env, -amount, b"locked")
        self._add(env, -amount, b"supply")
        env.emit_event(BURNED_EVENT, self.address, amount)

    @abi_function("onRollback(string,uint64)")
    def on_rollback(self, msg: Msg, dst: bytes, index: int) -> None:
        env = msg.env
        self._only_broker(msg)
        sender, amount = self._record(env, b"lock", dst, index)
        if amount == 0:
            return
        self.store(env, b"", b"lock", dst, index)
        self._add(env, -amount, b"locked")
        self._add(env, amount, b"bal", sender)
        env.emit_event(UNLOCKED_EVENT, self.address, sender, amount)

    def _record(self, env: Env, *key: bytes | int) -> tuple[bytes, int]:
        raw = self.load(env, *key)
        if not raw:
            return ZERO_ADDRESS, 0
        address, amount = rlp.decode(raw)
        return address, int.from_bytes(amount, "big")

    # -- views
    @abi_function("balanceOf(address)", "uint256")
    def balance_of(self, msg: Msg, owner: bytes) -> int:
        return self.load_uint(msg.env, b"bal", owner)

    @abi_function("totalSupply()", "uint256")
    def total_supply(self, msg: Msg) -> int:
        return self.load_uint(msg.env, b"supply")

    @abi_function("totalLocked()", "uint256")
    def total_locked(self, msg: Msg) -> int:
        return self.load_uint(msg.env, b"locked")

    @abi_function("mintCap()", "uint256")
    def mint_cap_(self, msg: Msg) -> int:
        return self.mint_cap

    @abi_function("broker()", "address")
    def broker_(self, msg: Msg) -> bytes:
        return self.broker

    @abi_function("owner()", "address")
    def owner_(self, msg: Msg) -> bytes:
        return self.owner

    @abi_function("isCounterpart(string)", "bool")
    def is_counterpart(self, msg: Msg, service: bytes) -> bool:
        return self._is_counterpart(msg.env, service)

    @abi_function("lockOf(string,uint64)", "address,uint256")
    def lock_of(self, msg: Msg, dst: bytes, index: int) -> tuple[bytes, int]:
        return self._record(msg.env, b"lock", dst, index)


#: Solidity 0.8's checked-arithmetic failure: Panic(0x11).
_PANIC_UNDERFLOW = 0x11


class DataSwap(NativeContract):
    """Read a key from a DataSwap on another chain."""

    NAME = "DataSwap"

    def __init__(self, address: bytes, broker: bytes) -> None:
        super().__init__(address)
        self.broker = broker

    def genesis_storage(self) -> dict[bytes, bytes]:
        return {self.key(b"config"): rlp_encode([self.broker])}

    def _only_broker(self, msg: Msg) -> None:
        require(msg.sender == self.broker, "dataswap: only the broker")

    @abi_function("broker()", "address")
    def broker_(self, msg: Msg) -> bytes:
        return self.broker

    @abi_function("set(string,bytes)")
    def set(self, msg: Msg, key: bytes, value: bytes) -> None:
        env = msg.env
        self.store(env, value, b"val", key)
        self.store(env, b"\x01", b"known", key)
        env.emit_event(VALUE_SET_EVENT, self.address, key, value)

    @abi_function("valueOf(string)", "bool,bytes")
    def value_of(self, msg: Msg, key: bytes) -> tuple[bool, bytes]:
        env = msg.env
        return bool(self.load(env, b"known", key)), self.load(env, b"val", key)

    @abi_function("get(string,string,uint64)", "uint64")
    def get(self, msg: Msg, dst: bytes, key: bytes, timeout: int) -> int:
        env = msg.env
        arg = abi_encode(["bytes"], [key])
        index = _emit_interchain(env, self.address, self.broker, dst, b"get", arg, timeout)
        self.store(env, rlp_encode([key]), b"pending", dst, index)
        return index

    @abi_function("fetched(string,string)", "bytes")
    def fetched(self, msg: Msg, dst: bytes, key: bytes) -> bytes:
        return self.load(msg.env, b"fetched", dst, key)

    @abi_function("onInterchain(string,uint64,string,bytes[])", "bytes")
    def on_interchain(
        self, msg: Msg, src: bytes, index: int, func: bytes, args: tuple[bytes, ...]
    ) -> bytes:
        env = msg.env
        self._only_broker(msg)
        require(func == b"get", "dataswap: unknown function")
        require(len(args) == 1, "dataswap: get takes one argument")
        (key,) = _decode_arg(["bytes"], args[0])
        assert isinstance(key, bytes)
        require(bool(self.load(env, b"known", key)), "dataswap: unknown key")
        return self.load(env, b"val", key)

    @abi_function("onCallback(string,uint64,bool,bytes)")
    def on_callback(self, msg: Msg, dst: bytes, index: int, ok: bool, result: bytes) -> None:
        env = msg.env
        self._only_broker(msg)
        raw = self.load(env, b"pending", dst, index)
        key = rlp.decode(raw)[0] if raw else b""
        self.store(env, b"", b"pending", dst, index)
        if ok:
            self.store(env, result, b"fetched", dst, key)
            env.emit_event(VALUE_FETCHED_EVENT, self.address, dst, key, result)

    @abi_function("onRollback(string,uint64)")
    def on_rollback(self, msg: Msg, dst: bytes, index: int) -> None:
        self._only_broker(msg)
        self.store(msg.env, b"", b"pending", dst, index)
