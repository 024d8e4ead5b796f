"""A small Ethereum JSON-RPC client and contract helpers (httpx, eth-abi, eth-account).

Enough to deploy the broker and its services on a real EVM node (ganache), send
signed transactions and read calls and logs:

* :class:`JsonRpc` — async JSON-RPC 2.0 over HTTP; errors raise :class:`RpcError`.
* :class:`Artifact` — a compiled contract from ``appchains/evm/artifacts``: encode
  constructor and function calls, decode return data and event logs by its ABI.
* :func:`send_transaction`, :func:`deploy`, :func:`call` — sign with eth-account
  (EIP-1559 by default) and wait for the receipt.

This module stands for a foreign system's client: it imports nothing from
``relay`` or ``adapters``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import trio
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"

#: ``Error(string)`` — the selector of a Solidity ``require``/``revert`` reason.
ERROR_SELECTOR = keccak(b"Error(string)")[:4]


class RpcError(Exception):
    """A JSON-RPC error answer (or a transport failure, with ``code`` None)."""

    def __init__(self, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})" if code is not None else message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def revert_data(self) -> bytes | None:
        """The raw revert data of a failed call, if the node returned it."""
        data = self.data
        if isinstance(data, dict):
            data = data.get("data", data.get("result"))
        if isinstance(data, str) and data.startswith("0x"):
            try:
                return bytes.fromhex(data[2:])
            except ValueError:
                return None
        return None

    @property
    def revert_reason(self) -> str | None:
        """The ``Error(string)`` reason of a failed call, if any."""
        data = self.revert_data
        if data is None:
            return None
        return decode_revert_reason(data)


def decode_revert_reason(data: bytes) -> str | None:
    """The reason string of ABI-encoded ``Error(string)`` revert data, else None."""
    if data[:4] != ERROR_SELECTOR:
        return None
    try:
        (reason,) = abi_decode(["string"], data[4:])
    except Exception:
        return None
    return str(reason)


class JsonRpc:
    """Async JSON-RPC 2.0 client over HTTP."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout)
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            response = await self._client.post(self.url, json=request)
        except httpx.HTTPError as exc:
            raise RpcError(None, f"{method}: {type(exc).__name__}: {exc}") from exc
        try:
            answer = response.json()
        except json.JSONDecodeError:
            raise RpcError(
                None, f"{method}: HTTP {response.status_code}, not JSON: {response.text[:200]}"
            ) from None
        if not isinstance(answer, dict):
            raise RpcError(None, f"{method}: unexpected answer {str(answer)[:200]}")
        error = answer.get("error")
        if error is not None:
            raise RpcError(error.get("code"), str(error.get("message")), error.get("data"))
        return answer.get("result")


# ---------------------------------------------------------------------- ABI


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples spelled out)."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){typ[len('tuple') :]}"
    return typ


@dataclass(frozen=True)
class Event:
    """A decoded log."""

    name: str
    args: dict[str, Any]
    address: str
    log: dict[str, Any]


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    _functions: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _events: dict[bytes, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.abi:
            if entry["type"] == "function":
                self._functions[entry["name"]] = entry
            elif entry["type"] == "event":
                self._events[self.topic(entry["name"])] = entry

    @classmethod
    def load(cls, name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
        data = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        return cls(
            name=str(data["contractName"]),
            abi=list(data["abi"]),
            bytecode=bytes.fromhex(str(data["bytecode"]).removeprefix("0x")),
        )

    def _entry(self, kind: str, name: str) -> dict[str, Any]:
        for entry in self.abi:
            if entry["type"] == kind and entry.get("name", "") == name:
                return entry
        raise KeyError(f"{self.name} has no {kind} {name!r}")

    def signature(self, kind: str, name: str) -> str:
        entry = self._entry(kind, name)
        return f"{name}({','.join(abi_type(p) for p in entry['inputs'])})"

    def selector(self, function: str) -> bytes:
        return keccak(self.signature("function", function).encode())[:4]

    def topic(self, event: str) -> bytes:
        return keccak(self.signature("event", event).encode())

    def encode_call(self, function: str, *args: Any) -> bytes:
        entry = self._functions[function]
        types = [abi_type(p) for p in entry["inputs"]]
        return self.selector(function) + abi_encode(types, list(args))

    def decode_result(self, function: str, data: bytes) -> tuple[Any, ...]:
        entry = self._functions[function]
        return tuple(abi_decode([abi_type(p) for p in entry["outputs"]], data))

    def encode_deploy(self, *args: Any) -> bytes:
        ctor = next((e for e in self.abi if e["type"] == "constructor"), None)
        types = [abi_type(p) for p in ctor["inputs"]] if ctor else []
        return self.bytecode + abi_encode(types, list(args))

    def decode_log(self, log: dict[str, Any]) -> Event | None:
        """Decode one ``eth_getLogs`` / receipt log, or None if it is not one of ours."""
        topics = [bytes.fromhex(t[2:]) for t in log.get("topics", [])]
        if not topics or topics[0] not in self._events:
            return None
        entry = self._events[topics[0]]
        data = bytes.fromhex(str(log["data"])[2:])
        plain = [p for p in entry["inputs"] if not p.get("indexed")]
        values = abi_decode([abi_type(p) for p in plain], data)
        args: dict[str, Any] = dict(zip((p["name"] for p in plain), values, strict=True))
        for param, topic in zip(
            (p for p in entry["inputs"] if p.get("indexed")), topics[1:], strict=False
        ):
            typ = abi_type(param)
            dynamic = typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")
            args[param["name"]] = topic if dynamic else abi_decode([typ], topic)[0]
        return Event(name=str(entry["name"]), args=args, address=str(log["address"]), log=log)

    def events(self, receipt: dict[str, Any], name: str | None = None) -> list[Event]:
        """This contract's events in a receipt (from any address), optionally one kind."""
        decoded = (self.decode_log(log) for log in receipt.get("logs", []))
        return [e for e in decoded if e is not None and (name is None or e.name == name)]


# ---------------------------------------------------------------------- transactions


class TransactionFailed(Exception):
    """A mined transaction with status 0."""

    def __init__(self, receipt: dict[str, Any]) -> None:
        super().__init__(f"transaction {receipt.get('transactionHash')} reverted")
        self.receipt = receipt


def address_of(key: bytes) -> str:
    """The lowercase 0x address of a private key."""
    return str(EthAccount.from_key(key).address).lower()


async def sign_transaction(
    rpc: JsonRpc,
    key: bytes,
    *,
    to: str | None,
    data: bytes = b"",
    value: int = 0,
    gas: int | None = None,
    nonce: int | None = None,
    legacy: bool = False,
) -> bytes:
    """Build and sign a transaction; returns its raw bytes (EIP-1559 unless ``legacy``)."""
    sender = EthAccount.from_key(key).address
    chain_id = int(await rpc.call("eth_chainId"), 16)
    if nonce is None:
        nonce = int(await rpc.call("eth_getTransactionCount", sender, "pending"), 16)
    tx: dict[str, Any] = {"chainId": chain_id, "nonce": nonce, "value": value, "data": data}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    if gas is None:
        estimate = {"from": sender, "data": "0x" + data.hex(), "value": hex(value)}
        if to is not None:
            estimate["to"] = to_checksum_address(to)
        gas = int(await rpc.call("eth_estimateGas", estimate), 16) * 6 // 5 + 10_000
    tx["gas"] = gas
    gas_price = int(await rpc.call("eth_gasPrice"), 16)
    if legacy:
        tx["gasPrice"] = gas_price
    else:
        tx["type"] = 2
        tx["maxFeePerGas"] = gas_price * 2
        tx["maxPriorityFeePerGas"] = min(gas_price, 10**9)
    signed = EthAccount.sign_transaction(tx, key)
    return bytes(signed.raw_transaction)


async def wait_for_receipt(
    rpc: JsonRpc, tx_hash: str, *, timeout: float = 30.0, poll: float = 0.02
) -> dict[str, Any]:
    with trio.fail_after(timeout):
        while True:
            receipt = await rpc.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            await trio.sleep(poll)


async def send_transaction(
    rpc: JsonRpc,
    key: bytes,
    *,
    to: str | None,
    data: bytes = b"",
    value: int = 0,
    gas: int | None = None,
    legacy: bool = False,
    check: bool = True,
) -> dict[str, Any]:
    """Sign, send and wait for a transaction; returns its receipt.

    With ``check`` (the default) a reverted transaction raises :class:`TransactionFailed`.
    Without an explicit ``gas`` the node's estimate is used, which fails (RpcError)
    for a call that would revert.
    """
    raw = await sign_transaction(rpc, key, to=to, data=data, value=value, gas=gas, legacy=legacy)
    tx_hash = await rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
    receipt = await wait_for_receipt(rpc, str(tx_hash))
    if check and int(receipt["status"], 16) != 1:
        raise TransactionFailed(receipt)
    return receipt


async def deploy(rpc: JsonRpc, key: bytes, artifact: Artifact, *args: Any) -> str:
    """Deploy ``artifact`` with constructor ``args``; returns the lowercase address."""
    receipt = await send_transaction(rpc, key, to=None, data=artifact.encode_deploy(*args))
    return str(receipt["contractAddress"]).lower()


async def call(rpc: JsonRpc, to: str, data: bytes, *, sender: str | None = None) -> bytes:
    """``eth_call`` at the latest block; a revert raises :class:`RpcError`."""
    request: dict[str, Any] = {"to": to_checksum_address(to), "data": "0x" + data.hex()}
    if sender is not None:
        request["from"] = to_checksum_address(sender)
    result = await rpc.call("eth_call", request, "latest")
    return bytes.fromhex(str(result)[2:])


@dataclass(frozen=True)
class Contract:
    """A deployed contract bound to a client.

    ``await c.call("fn", ...)`` reads; ``await c.transact(key, "fn", ...)`` sends.
    """

    rpc: JsonRpc
    artifact: Artifact
    address: str

    async def call(self, function: str, *args: Any, sender: str | None = None) -> tuple[Any, ...]:
        data = await call(
            self.rpc, self.address, self.artifact.encode_call(function, *args), sender=sender
        )
        return self.artifact.decode_result(function, data)

    async def transact(
        self, key: bytes, function: str, *args: Any, gas: int | None = None, check: bool = True
    ) -> dict[str, Any]:
        return await send_transaction(
            self.rpc,
            key,
            to=self.address,
            data=self.artifact.encode_call(function, *args),
            gas=gas,
            check=check,
        )

    def events(self, receipt: dict[str, Any], name: str | None = None) -> list[Event]:
        """Events of this contract (by address) in ``receipt``."""
        return [e for e in self.artifact.events(receipt, name) if e.address.lower() == self.address]

    @classmethod
    async def deploy(cls, rpc: JsonRpc, key: bytes, artifact: Artifact, *args: Any) -> Contract:
        return cls(rpc, artifact, await deploy(rpc, key, artifact, *args))
