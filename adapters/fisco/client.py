"""FISCO BCOS 2.x client side: accounts, signed transactions, views, the SDK caller.

* :class:`FiscoAccount` — a private key and what FISCO derives from it in the chain's
  mode: the public key and the address ``right160(Hash(pub))``.
* :class:`FiscoSender` — signs transactions (:mod:`adapters.fisco.transaction`: a
  random 256-bit ``nonce``, ``blockLimit`` = head + a margin, the node's ``chainId``
  and the group), sends them with ``sendRawTransaction`` in one batch and waits for
  their receipts (``getTransactionReceipt``). A receipt's ``status`` 0 is success.
* :func:`calldata` — ABI calldata with the chain's selector; :func:`fisco_view` — a view
  function through ``call``.
* :class:`FiscoCaller` — the SDK's source-chain side (``relay.sdk.call.SourceChain``)
  of ``AsyncRelayClient.call``, like ``adapters.evm.client.EvmCaller``.

Function selectors (:mod:`adapters.fisco.abi`) and event topics
(:mod:`adapters.fisco.events`) are the chain's hash: keccak-256, or SM3 in 国密 mode.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from eth_abi import decode as abi_decode

from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc, RpcError, hex_to_bytes, hex_to_int
from adapters.fisco.abi import decode_revert_reason, encode_call
from adapters.fisco.events import INTERCHAIN_SIGNATURE, INTERCHAIN_TYPES, event_topic
from adapters.fisco.hashing import CryptoMode, hash_fn_for
from adapters.fisco.transaction import (
    FiscoTransaction,
    address_of,
    public_key_of,
    sign_transaction,
)
from relay.crypto import read_key_file
from relay.errors import Code, RelayError

#: FISCO's status of a successful transaction (``TransactionException::None``).
STATUS_OK = 0


def calldata(signature: str, values: list[Any], mode: CryptoMode) -> bytes:
    """ABI calldata for ``signature`` on a chain in ``mode``: the selector is the first 4
    bytes of keccak-256 of the signature, or of SM3 on a 国密 chain."""
    return encode_call(signature, values, hash_fn_for(mode))


@dataclass(frozen=True)
class FiscoAccount:
    private_key: bytes
    mode: CryptoMode
    public_key: bytes
    #: ``0x`` + 40 lowercase hex digits.
    address: str

    @classmethod
    def from_key(cls, key: bytes | str, mode: CryptoMode) -> FiscoAccount:
        if isinstance(key, str):
            key = bytes.fromhex(key.removeprefix("0x"))
        pub = public_key_of(key, mode)
        return cls(key, mode, pub, "0x" + address_of(pub, mode).hex())

    @classmethod
    def load(cls, value: str, mode: CryptoMode) -> FiscoAccount:
        """A ``0x`` + 64-hex key, or a key file (relay format)."""
        if value.startswith("0x") and len(value) == 66:
            return cls.from_key(value, mode)
        return cls.from_key(
            bytes.fromhex(read_key_file(Path(value)).secret_hex.removeprefix("0x")), mode
        )


@dataclass(frozen=True)
class TxOutcome:
    tx_hash: str
    ok: bool
    receipt: dict[str, Any]


class FiscoSender:
    """Signs and sends FISCO transactions for one account."""

    def __init__(
        self,
        rpc: EthRpc,
        account: FiscoAccount,
        group_id: int,
        *,
        gas: int = 30_000_000,
        block_limit_margin: int = 500,
        timeout: float = 30.0,
    ) -> None:
        self.rpc = rpc
        self.account = account
        self.group_id = group_id
        self.gas = gas
        self.margin = block_limit_margin
        self.timeout = timeout
        self._chain_id: int | None = None

    @property
    def address(self) -> str:
        return self.account.address

    async def chain_id(self) -> int:
        if self._chain_id is None:
            version = await self.rpc.call("getClientVersion")
            self._chain_id = int(version["Chain Id"])
        return self._chain_id

    async def sign_many(self, calls: list[tuple[str, bytes]]) -> list[bytes]:
        chain_id = await self.chain_id()
        head = hex_to_int(await self.rpc.call("getBlockNumber", self.group_id))
        return [
            sign_transaction(
                FiscoTransaction(
                    nonce=int.from_bytes(secrets.token_bytes(31), "big"),
                    gas_price=0,
                    gas=self.gas,
                    block_limit=head + self.margin,
                    to=hex_to_bytes(to),
                    value=0,
                    data=data,
                    chain_id=chain_id,
                    group_id=self.group_id,
                    extra_data=b"",
                ),
                self.account.private_key,
                self.account.mode,
            )
            for to, data in calls
        ]

    async def send_many(self, calls: list[tuple[str, bytes]]) -> list[TxOutcome]:
        """Send ``(to, calldata)`` transactions, then wait for every receipt (in order)."""
        if not calls:
            return []
        raws = await self.sign_many(calls)
        hashes = await self.rpc.batch(
            [("sendRawTransaction", [self.group_id, "0x" + raw.hex()]) for raw in raws]
        )
        return await self.wait_receipts([str(h) for h in hashes])

    async def wait_receipts(self, hashes: list[str]) -> list[TxOutcome]:
        pending = {h: i for i, h in enumerate(hashes)}
        out: list[TxOutcome | None] = [None] * len(hashes)
        try:
            with trio.fail_after(self.timeout):
                while pending:
                    keys = list(pending)
                    got = await self.rpc.batch(
                        [("getTransactionReceipt", [self.group_id, h]) for h in keys]
                    )
                    for h, r in zip(keys, got, strict=True):
                        if r is not None:
                            ok = hex_to_int(r["status"]) == STATUS_OK
                            out[pending.pop(h)] = TxOutcome(h, ok, r)
                    if pending:
                        await trio.sleep(0.02)
        except trio.TooSlowError:
            raise RelayError(
                Code.UPSTREAM_UNAVAILABLE,
                f"{len(pending)} FISCO transactions not in a block within {self.timeout}s",
            ) from None
        return [o for o in out if o is not None]

    async def send(self, to: str, data: bytes) -> TxOutcome:
        return (await self.send_many([(to, data)]))[0]


async def fisco_call(
    rpc: EthRpc, group_id: int, sender: str, to: str, data: bytes
) -> tuple[int, bytes]:
    """``call``: ``(status, output)``; a revert is status 22 with its revert data."""
    got = await rpc.call(
        "call", group_id, {"from": sender, "to": to, "value": "0x0", "data": "0x" + data.hex()}
    )
    return hex_to_int(got["status"]), hex_to_bytes(got["output"])


async def fisco_view(
    rpc: EthRpc,
    group_id: int,
    to: str,
    signature: str,
    values: list[Any],
    out_types: list[str],
    *,
    mode: CryptoMode,
    sender: str = "0x" + "00" * 20,
) -> tuple[Any, ...]:
    data = calldata(signature, values, mode)
    status, output = await fisco_call(rpc, group_id, sender, to, data)
    if status != STATUS_OK:
        reason = decode_revert_reason(output, hash_fn_for(mode))
        raise RpcError(
            Code.CHAIN_RPC_ERROR,
            f"call {signature} on {to} failed with status {status}"
            + (f": {reason}" if reason else ""),
            method="call",
            rpc_code=status,
            rpc_message=reason or "call failed",
            data="0x" + output.hex(),
        )
    return tuple(abi_decode(out_types, output))


def interchain_events(
    receipt: dict[str, Any], broker: str, mode: CryptoMode
) -> list[tuple[str, str, int]]:
    """``(from, to, index)`` of every InterchainEvent the broker logged in a receipt."""
    topic = event_topic(INTERCHAIN_SIGNATURE, hash_fn_for(mode))
    found = []
    for lg in receipt.get("logs", []):
        if lg["address"].lower() != broker.lower() or not lg["topics"]:
            continue
        if hex_to_bytes(lg["topics"][0]) != topic:
            continue
        src, dst, index, *_ = abi_decode(list(INTERCHAIN_TYPES), hex_to_bytes(lg["data"]))
        found.append((src, dst, index))
    return found


class FiscoCaller:
    """Source-chain side of ``AsyncRelayClient.call`` on a FISCO chain: emits through the
    broker from an account, whose full service ID is ``hub:chain:0x<address>``."""

    def __init__(
        self,
        rpc_url: str,
        account: FiscoAccount,
        broker: str,
        hub_id: str,
        chain_id: str,
        group_id: int = 1,
    ) -> None:
        self.rpc_url = rpc_url
        self.account = account
        self.broker = broker.lower()
        self.group_id = group_id
        self.service_id = f"{hub_id}:{chain_id}:{account.address}"

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        data = calldata(
            "emitInterchain(string,string,bytes[],uint64)",
            [dst_service, func, args, timeout],
            self.account.mode,
        )
        rpc = open_rpc(self.rpc_url)
        try:
            outcome = await FiscoSender(rpc, self.account, self.group_id).send(self.broker, data)
        finally:
            await rpc.aclose()
        if not outcome.ok:
            raise RelayError(
                Code.BAD_REQUEST, f"the broker refused the call (tx {outcome.tx_hash})"
            )
        events = interchain_events(outcome.receipt, self.broker, self.account.mode)
        if len(events) != 1:
            raise RelayError(Code.BAD_REQUEST, "the broker emitted no interchain event")
        return events[0]


__all__ = [
    "FiscoAccount",
    "FiscoCaller",
    "FiscoSender",
    "TxOutcome",
    "calldata",
    "fisco_call",
    "fisco_view",
    "interchain_events",
]
