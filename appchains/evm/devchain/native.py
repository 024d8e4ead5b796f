"""Native contracts: Python code behind a Solidity ABI (pure).

A :class:`NativeContract` declares its functions with :func:`abi_function`; a call
is dispatched by the 4-byte selector, its arguments are decoded with eth-abi and
its return values encoded the same way, so callers cannot tell it from compiled
Solidity. Selectors, like event topics, are the chain's hash (:attr:`Env.hash_fn`)
of the signature: keccak-256 on an EVM chain, SM3 on a FISCO 国密 chain, whose
compiler and SDKs derive them with the chain's hash (:func:`compute_selector`). The
rules follow Solidity 0.8:

* unknown selector, short calldata, value sent to a non-payable function, or
  calldata that does not decode: revert with empty data;
* ``require(cond, "msg")``: revert with ``Error(string)`` data
  (``0x08c379a0 ‖ abi.encode(string)``; on a 国密 chain the selector is SM3's,
  ``0xc703cb12``: :class:`SolidityError` takes the chain's selector when it leaves
  the contract, in :meth:`Env.call`);
* a revert inside a nested call undoes that call's state changes and logs and
  bubbles up unless the caller catches it (:meth:`Env.try_call`).

``string`` values travel as raw bytes (``abi`` encodes them like ``bytes``), as in
the EVM, so any byte sequence round-trips exactly.

Gas is a deterministic model, not EVM gas: a fixed charge per call, storage
read, storage write, log and signature recovery. Running out of gas aborts the
whole transaction (it cannot be caught).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import eth_abi

from appchains.evm.devchain.abicodec import decode as abi_decode
from appchains.evm.devchain.abicodec import encode as abi_encode
from appchains.evm.devchain.crypto import keccak
from appchains.evm.devchain.receipts import Log
from appchains.evm.devchain.rlpcodec import encode as rlp_encode
from appchains.evm.devchain.rlpcodec import encode_bytes, encode_list_payload
from appchains.evm.devchain.state import Frame, InsufficientBalance

ERROR_SIGNATURE = "Error(string)"
PANIC_SIGNATURE = "Panic(uint256)"
ERROR_SELECTOR = keccak(ERROR_SIGNATURE.encode())[:4]  # 0x08c379a0
PANIC_SELECTOR = keccak(PANIC_SIGNATURE.encode())[:4]  # 0x4e487b71

CALL_GAS = 2_600
SLOAD_GAS = 2_100
SSTORE_SET_GAS = 20_000
SSTORE_RESET_GAS = 2_900
LOG_GAS = 375
LOG_TOPIC_GAS = 375
LOG_DATA_GAS = 8
ECRECOVER_GAS = 3_000
MAX_CALL_DEPTH = 64

#: Code stored at a native contract's address: 0xfe (INVALID) then a tag, so a real
#: EVM would refuse to run it and ``eth_getCode`` shows what lives there.
NATIVE_CODE_PREFIX = b"\xferelayhub-native:"


HashFn = Callable[[bytes], bytes]

_SELECTORS: dict[tuple[str, HashFn], bytes] = {}


def compute_selector(signature: str, hash_fn: HashFn = keccak) -> bytes:
    """A function's (or Solidity error's) selector: the first 4 bytes of the chain's hash of
    its canonical signature — keccak-256, or SM3 on a FISCO 国密 chain (FISCO's
    ``FunctionEncoder.buildMethodId`` hashes with the chain's ``CryptoSuite``)."""
    key = (signature, hash_fn)
    found = _SELECTORS.get(key)
    if found is None:
        found = _SELECTORS[key] = hash_fn(signature.encode())[:4]
    return found


class Revert(Exception):
    """A revert with its raw revert data."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(data)
        self.data = data


class SolidityError(Revert):
    """A revert with a Solidity error, ``selector(signature) ‖ abi args``.

    ``data`` has the keccak selector; :meth:`Env.call` hands a chain hashing otherwise
    (a 国密 chain) the data with its own selector (:meth:`data_for`), as a contract
    compiled for that chain reverts."""

    def __init__(self, signature: str, encoded_args: bytes) -> None:
        super().__init__(compute_selector(signature) + encoded_args)
        self.signature = signature
        self.encoded_args = encoded_args

    def data_for(self, hash_fn: HashFn) -> bytes:
        return compute_selector(self.signature, hash_fn) + self.encoded_args


class OutOfGas(Exception):
    pass


def error_data(message: str, hash_fn: HashFn = keccak) -> bytes:
    """Revert data of ``require(false, message)``: ``Error(string)`` ABI encoding."""
    return compute_selector(ERROR_SIGNATURE, hash_fn) + abi_encode(["string"], [message])


def require(condition: bool, message: str) -> None:
    if not condition:
        raise SolidityError(ERROR_SIGNATURE, abi_encode(["string"], [message]))


def panic(code: int) -> SolidityError:
    """Solidity 0.8's ``Panic(uint256)`` revert (0x11: checked arithmetic)."""
    return SolidityError(PANIC_SIGNATURE, code.to_bytes(32, "big"))


def decode_revert_reason(data: bytes, hash_fn: HashFn = keccak) -> str | None:
    """The message of ``Error(string)`` revert data (the selector of ``hash_fn``), else ``None``."""
    if data[:4] != compute_selector(ERROR_SIGNATURE, hash_fn):
        return None
    try:
        (message,) = abi_decode(["string"], data[4:])
    except Exception:
        return None
    return str(message)


def _raw_type(abi_type: str) -> str:
    """The type eth-abi decodes/encodes with: ``string`` as ``bytes`` (same encoding)."""
    return re.sub(r"\bstring\b", "bytes", abi_type)


def _split_types(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return tuple(t.strip() for t in text.split(",") if t.strip())


@dataclass(frozen=True, slots=True)
class BlockContext:
    number: int
    timestamp: int
    chain_id: int
    coinbase: bytes
    base_fee: int


class GasMeter:
    __slots__ = ("limit", "used")

    def __init__(self, limit: int, used: int = 0) -> None:
        self.limit = limit
        self.used = used

    def charge(self, amount: int) -> None:
        self.used += amount
        if self.used > self.limit:
            self.used = self.limit
            raise OutOfGas


class Env:
    """The execution of one transaction or ``eth_call``: frames, logs, gas, contracts."""

    def __init__(
        self,
        frame: Frame,
        contracts: Mapping[bytes, NativeContract],
        block: BlockContext,
        gas: GasMeter,
        origin: bytes,
        hash_fn: HashFn = keccak,
    ) -> None:
        self.frame = frame
        self.contracts = contracts
        self.block = block
        self.gas = gas
        self.origin = origin
        #: The chain's hash for selectors, event topics and payload hashes: keccak on an
        #: EVM chain, SM3 on a FISCO 国密 chain (whose Solidity ``keccak256`` is
        #: ``crypto::Hash``).
        self.hash_fn = hash_fn
        self.logs: list[Log] = []
        self.depth = 0

    def has_code(self, address: bytes) -> bool:
        return bool(self.frame.code(address))

    def selector(self, signature: str) -> bytes:
        """``signature``'s selector on this chain (:func:`compute_selector`)."""
        return compute_selector(signature, self.hash_fn)

    def call(
        self, sender: bytes, to: bytes, data: bytes, value: int = 0, *, top: bool = False
    ) -> bytes:
        """A message call; a revert undoes its changes and propagates.

        ``top`` marks the transaction's own call, whose cost is the intrinsic gas.
        """
        if not top:
            self.gas.charge(CALL_GAS)
        if self.depth >= MAX_CALL_DEPTH:
            raise Revert(b"")
        parent = self.frame
        child = parent.child()
        mark = len(self.logs)
        self.frame = child
        self.depth += 1
        try:
            try:
                child.transfer(sender, to, value)
            except InsufficientBalance:
                raise Revert(b"") from None
            contract = self.contracts.get(to)
            out = contract.dispatch(Msg(sender, value, self), data) if contract else b""
        except Revert as exc:
            del self.logs[mark:]
            if self.hash_fn is not keccak and isinstance(exc, SolidityError):
                raise Revert(exc.data_for(self.hash_fn)) from None
            raise
        finally:
            self.frame = parent
            self.depth -= 1
        child.commit()
        return out

    def try_call(self, sender: bytes, to: bytes, data: bytes) -> tuple[bool, bytes]:
        """Solidity's ``try``: ``(True, return data)`` or ``(False, revert data)``."""
        try:
            return True, self.call(sender, to, data)
        except Revert as exc:
            return False, exc.data

    def sload(self, address: bytes, key: bytes) -> bytes:
        self.gas.charge(SLOAD_GAS)
        return self.frame.sload(address, key)

    def sstore(self, address: bytes, key: bytes, value: bytes) -> None:
        old = self.frame.sload(address, key)
        self.gas.charge(SSTORE_SET_GAS if (not old and value) else SSTORE_RESET_GAS)
        self.frame.sstore(address, key, value)

    def emit(self, address: bytes, topics: Sequence[bytes], data: bytes) -> None:
        self.gas.charge(LOG_GAS + LOG_TOPIC_GAS * len(topics) + LOG_DATA_GAS * len(data))
        self.logs.append(Log(address, tuple(topics), data))

    def emit_event(self, event: AbiEvent, address: bytes, *values: Any) -> None:
        log = event.make_log(address, *values)
        topics = log.topics
        if self.hash_fn is not keccak:
            topics = (self.hash_fn(event.signature.encode()), *topics[1:])
        self.emit(log.address, topics, log.data)


@dataclass(frozen=True, slots=True)
class Msg:
    sender: bytes
    value: int
    env: Env


@dataclass(frozen=True, slots=True)
class AbiFunction:
    name: str
    signature: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    payable: bool
    handler: Callable[..., Any]
    raw_inputs: tuple[str, ...] = ()  # the types eth-abi sees (string as bytes)
    raw_outputs: tuple[str, ...] = ()

    def encode_call(self, *args: Any) -> bytes:
        return self.selector + abi_encode([_raw_type(t) for t in self.inputs], list(args))

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        return tuple(eth_abi.decode([_raw_type(t) for t in self.outputs], data))


def abi_function(
    signature: str, returns: str = "", *, payable: bool = False
) -> Callable[[Any], Any]:
    """Mark a method as the ABI function ``signature`` (e.g. ``"f(string,uint64)"``)."""

    def mark(fn: Any) -> Any:
        fn.__abi__ = (signature, returns, payable)
        return fn

    return mark


@dataclass(frozen=True, slots=True)
class AbiEvent:
    signature: str
    topic0: bytes
    indexed: tuple[bool, ...]
    types: tuple[str, ...]
    data_types: tuple[str, ...] = ()  # the non-indexed parameters' types as eth-abi sees them

    def make_log(self, address: bytes, *values: Any) -> Log:
        topics = [self.topic0]
        data_values: list[Any] = []
        for is_indexed, abi_type, value in zip(self.indexed, self.types, values, strict=True):
            if is_indexed:  # only value types are indexed here
                topics.append(abi_encode((abi_type,), (value,)))
            else:
                data_values.append(value)
        return Log(address, tuple(topics), abi_encode(self.data_types, data_values))


def abi_event(declaration: str) -> AbiEvent:
    """``"Name(type [indexed], ...)"`` → the event, topic0 = keccak of the canonical signature."""
    name, _, rest = declaration.partition("(")
    parts = [p.split() for p in rest.rstrip(")").split(",") if p.strip()]
    types = tuple(p[0] for p in parts)
    indexed = tuple(len(p) > 1 and p[1] == "indexed" for p in parts)
    signature = f"{name}({','.join(types)})"
    data_types = tuple(_raw_type(t) for t, i in zip(types, indexed, strict=True) if not i)
    return AbiEvent(signature, keccak(signature.encode()), indexed, types, data_types)


class NativeContract:
    """A contract whose code is Python; its data lives in its account's storage."""

    NAME: ClassVar[str] = "Native"
    #: The functions by keccak-256 selector (an EVM chain's), and by name.
    FUNCTIONS: ClassVar[dict[bytes, AbiFunction]] = {}
    BY_NAME: ClassVar[dict[str, AbiFunction]] = {}
    #: The functions by selector under each chain hash (:meth:`functions_for`).
    _TABLES: ClassVar[dict[HashFn, dict[bytes, AbiFunction]]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        functions: dict[bytes, AbiFunction] = {}
        for attr in dir(cls):
            member = getattr(cls, attr)
            spec = getattr(member, "__abi__", None)
            if spec is None:
                continue
            signature, returns, payable = spec
            name, _, args = signature.partition("(")
            fn = AbiFunction(
                name=name,
                signature=signature,
                selector=compute_selector(signature),
                inputs=_split_types("(" + args),
                outputs=_split_types(returns),
                payable=payable,
                handler=member,
            )
            fn = replace(
                fn,
                raw_inputs=tuple(_raw_type(t) for t in fn.inputs),
                raw_outputs=tuple(_raw_type(t) for t in fn.outputs),
            )
            if fn.selector in functions:
                raise TypeError(f"{cls.__name__}: selector clash on {signature}")
            functions[fn.selector] = fn
        cls.FUNCTIONS = functions
        cls.BY_NAME = {fn.name: fn for fn in functions.values()}
        cls._TABLES = {keccak: functions}

    @classmethod
    def functions_for(cls, hash_fn: HashFn) -> dict[bytes, AbiFunction]:
        """The functions by their selector on a chain hashing with ``hash_fn``."""
        table = cls._TABLES.get(hash_fn)
        if table is None:
            table = {}
            for fn in cls.FUNCTIONS.values():
                fn = replace(fn, selector=compute_selector(fn.signature, hash_fn))
                if fn.selector in table:
                    raise TypeError(f"{cls.__name__}: selector clash on {fn.signature}")
                table[fn.selector] = fn
            cls._TABLES[hash_fn] = table
        return table

    def __init__(self, address: bytes) -> None:
        self.address = address

    @property
    def code(self) -> bytes:
        return NATIVE_CODE_PREFIX + self.NAME.encode()

    def genesis_storage(self) -> dict[bytes, bytes]:
        """Storage written at genesis (constructor state)."""
        return {}

    def dispatch(self, msg: Msg, data: bytes) -> bytes:
        hash_fn = msg.env.hash_fn
        table = self.FUNCTIONS if hash_fn is keccak else self.functions_for(hash_fn)
        fn = table.get(data[:4]) if len(data) >= 4 else None
        if fn is None or (msg.value and not fn.payable):
            raise Revert(b"")
        try:
            args = abi_decode(fn.raw_inputs, data[4:])
        except Exception:
            raise Revert(b"") from None
        result = fn.handler(self, msg, *args)
        if not fn.outputs:
            return b""
        values = result if len(fn.outputs) > 1 else (result,)
        return abi_encode(fn.raw_outputs, values)

    # -- storage helpers: keys are rlp([name, part, ...]); integers big-endian, 0 = b""
    @staticmethod
    def key(*parts: bytes | int) -> bytes:
        return encode_list_payload(
            b"".join([encode_bytes(p) if type(p) is bytes else rlp_encode(p) for p in parts])
        )

    def load(self, env: Env, *parts: bytes | int) -> bytes:
        return env.sload(self.address, self.key(*parts))

    def store(self, env: Env, value: bytes, *parts: bytes | int) -> None:
        env.sstore(self.address, self.key(*parts), value)

    def load_uint(self, env: Env, *parts: bytes | int) -> int:
        return int.from_bytes(self.load(env, *parts), "big")

    def store_uint(self, env: Env, value: int, *parts: bytes | int) -> None:
        self.store(env, encode_uint(value), *parts)


def encode_uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def call_data(fn: AbiFunction, *args: Any) -> bytes:
    return fn.encode_call(*args)
