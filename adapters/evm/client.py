"""Talking to an EVM chain as an account: signed transactions and contract calls.

This is the public helper for applications (docs/sdk.md): :func:`open_contract`
gives a :class:`Contract` that sends transactions and reads view functions by
their Solidity signature, :func:`ibtp_ids` names the interchain requests a
transaction's receipt holds. Accounts are anything :func:`relay.crypto.as_account`
takes: a relay ``Account``, an eth-account ``LocalAccount`` or a hex private key.

:class:`EvmSender` pipelines transactions (consecutive nonces, no wait in between)
and then waits for all their receipts: the gateway uses it to deliver a page of
relay IBTPs in one round, applications to call contracts. :class:`EvmCaller` is
the source-chain side of the SDK's ``call()``: it emits an interchain request
through the broker from the caller's own account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import rlp
import trio
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from adapters.evm.lean_rpc import open_rpc
from adapters.evm.proof import INTERCHAIN_EVENT_TOPIC, INTERCHAIN_EVENT_TYPES
from adapters.evm.rpc import EthRpc, RpcError, hex_to_bytes, hex_to_int
from relay.crypto import Account, AccountLike, as_account, keccak
from relay.errors import Code, RelayError
from relay.ibtp import compute_ibtp_id


def sign_legacy_transaction(
    account: Account,
    *,
    nonce: int,
    gas_price: int,
    gas: int,
    to: str | bytes,
    value: int,
    data: bytes,
    chain_id: int,
) -> bytes:
    """Raw bytes of an EIP-155 legacy transaction signed by ``account``.

    The same bytes as ``eth_account.Account.sign_transaction`` for the same fields
    (RFC 6979 nonces, low s), at a sixth of its cost: one RLP encoding of the
    signing payload, one libsecp256k1 signature, one RLP encoding of the result.
    """
    to_raw = bytes.fromhex(to[2:]) if isinstance(to, str) else to
    if len(to_raw) != 20:
        raise ValueError("`to` must be a 20-byte address")
    digest = keccak(rlp.encode([nonce, gas_price, gas, to_raw, value, data, chain_id, 0, 0]))
    sig = account.key.sign_recoverable(digest, hasher=None)
    v = chain_id * 2 + 35 + sig[64]
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    return rlp.encode([nonce, gas_price, gas, to_raw, value, data, v, r, s])


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def calldata(signature: str, values: list[Any]) -> bytes:
    """ABI calldata for ``signature`` such as ``"transfer(string,address,uint256,uint64)"``."""
    types = signature[signature.index("(") + 1 : -1]
    return selector(signature) + abi_encode([t for t in types.split(",") if t], values)


@dataclass(frozen=True, slots=True)
class TxOutcome:
    tx_hash: str
    ok: bool
    receipt: dict[str, Any]


class EvmSender:
    """Signs and sends transactions for one account; tracks its nonce locally."""

    def __init__(
        self, rpc: EthRpc, account: AccountLike, gas: int = 5_000_000, timeout: float = 30.0
    ) -> None:
        self.rpc = rpc
        self.account: Account = as_account(account)
        self.gas = gas
        self.timeout = timeout
        self._nonce: int | None = None
        self._chain_id = 0
        self._gas_price = 0

    @property
    def address(self) -> str:
        return self.account.address

    async def _prepare(self) -> None:
        if not self._chain_id:
            self._chain_id = hex_to_int(await self.rpc.call("eth_chainId"))
            self._gas_price = hex_to_int(await self.rpc.call("eth_gasPrice"))
        if self._nonce is None:
            self._nonce = hex_to_int(
                await self.rpc.call("eth_getTransactionCount", self.address, "pending")
            )

    async def send_many(self, calls: list[tuple[str, bytes]]) -> list[TxOutcome]:
        """Send ``(to, calldata)`` transactions with consecutive nonces, then wait for
        every receipt (they are included in nonce order, so in the order given)."""
        if not calls:
            return []
        await self._prepare()
        assert self._nonce is not None
        raws = []
        for to, data in calls:
            raws.append(
                sign_legacy_transaction(
                    self.account,
                    nonce=self._nonce,
                    gas_price=self._gas_price,
                    gas=self.gas,
                    to=to,
                    value=0,
                    data=data,
                    chain_id=self._chain_id,
                )
            )
            self._nonce += 1
        try:
            hashes = await self.rpc.batch(
                [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws]
            )
        except RpcError:
            # Resync nonce and gas price from the chain next time: a restarted chain or a
            # moved base fee refuses what was cached (e.g. "max fee per gas less than
            # block base fee") until the sender reads them again.
            self._nonce = None
            self._chain_id = 0
            raise
        return await self.wait_receipts(hashes, ordered=True)

    async def wait_receipts(self, hashes: list[str], *, ordered: bool = False) -> list[TxOutcome]:
        """Receipts of ``hashes``, in that order, once all are mined. ``ordered``: they are
        one account's transactions with consecutive nonces (what :meth:`send_many` sends)."""
        pending = {h: i for i, h in enumerate(hashes)}
        out: list[TxOutcome | None] = [None] * len(hashes)
        try:
            with trio.fail_after(self.timeout):
                # Consecutive nonces are mined in order: until the last one is, asking for
                # all of them (hundreds of receipts a round) only loads the node.
                while ordered and len(hashes) > 1:
                    if await self.rpc.call("eth_getTransactionReceipt", hashes[-1]) is not None:
                        break
                    await trio.sleep(0.02)
                while pending:
                    keys = list(pending)
                    got = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in keys])
                    for h, r in zip(keys, got, strict=True):
                        if r is not None:
                            out[pending.pop(h)] = TxOutcome(h, hex_to_int(r["status"]) == 1, r)
                    if pending:
                        await trio.sleep(0.02)
        except trio.TooSlowError:
            self._nonce = None
            raise RelayError(
                Code.UPSTREAM_UNAVAILABLE,
                f"{len(pending)} transactions not mined within {self.timeout}s",
            ) from None
        return [o for o in out if o is not None]

    async def send(self, to: str, data: bytes) -> TxOutcome:
        return (await self.send_many([(to, data)]))[0]


async def eth_view(
    rpc: EthRpc, to: str, signature: str, values: list[Any], out_types: list[str]
) -> tuple[Any, ...]:
    """Call a view function and decode its return values."""
    out = await rpc.call(
        "eth_call", {"to": to, "data": "0x" + calldata(signature, values).hex()}, "latest"
    )
    return tuple(abi_decode(out_types, hex_to_bytes(out)))


def interchain_events(receipt: dict[str, Any], broker: str) -> list[tuple[str, str, int]]:
    """``(from, to, index)`` of every InterchainEvent the broker logged in a receipt."""
    found = []
    for lg in receipt.get("logs", []):
        if lg["address"].lower() != broker.lower() or not lg["topics"]:
            continue
        if hex_to_bytes(lg["topics"][0]) != INTERCHAIN_EVENT_TOPIC:
            continue
        src, dst, index, *_ = abi_decode(INTERCHAIN_EVENT_TYPES, hex_to_bytes(lg["data"]))
        found.append((src, dst, index))
    return found


class EvmCaller:
    """Source-chain side of ``AsyncRelayClient.call``: emits through the broker from an
    account, whose full service ID is ``hub:chain:0x<account address>``. Each ``emit``
    opens its own JSON-RPC connection, so one caller also serves the blocking client."""

    def __init__(
        self, rpc_url: str, account: AccountLike, broker: str, hub_id: str, chain_id: str
    ) -> None:
        self.rpc_url = rpc_url
        self.account: Account = as_account(account)
        self.broker = broker.lower()
        #: ``hub:chain:0x<address>``, the address in lowercase as the broker emits it.
        self.service_id = f"{hub_id}:{chain_id}:{self.account.address}"

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        data = calldata(
            "emitInterchain(string,string,bytes[],uint64)", [dst_service, func, args, timeout]
        )
        rpc = EthRpc(self.rpc_url)
        try:
            outcome = await EvmSender(rpc, self.account).send(self.broker, data)
        finally:
            await rpc.aclose()
        if not outcome.ok:
            raise RelayError(
                Code.BAD_REQUEST, f"the broker refused the call (tx {outcome.tx_hash})"
            )
        events = interchain_events(outcome.receipt, self.broker)
        if len(events) != 1:
            raise RelayError(Code.BAD_REQUEST, "the broker emitted no interchain event")
        return events[0]


def ibtp_ids(receipt: dict[str, Any], broker: str) -> list[str]:
    """The IBTP IDs (``from~to~index``) of the interchain requests ``broker`` emitted in
    a transaction's receipt: what ``RelayClient.wait_final`` / ``ibtp_status`` take."""
    return [compute_ibtp_id(f, t, i) for f, t, i in interchain_events(receipt, broker)]


class Contract:
    """A deployed contract, called by Solidity signature with Python values::

        async with open_contract(rpc_url, address, account=key) as token:
            (balance,) = await token.view("balanceOf(address)", [owner], ["uint256"])
            outcome = await token.send("transfer(string,address,uint256,uint64)", [...])

    ``send`` needs an ``account``; it returns the :class:`TxOutcome` (``ok`` False when
    the transaction reverted) once mined."""

    def __init__(self, rpc: EthRpc, address: str, account: AccountLike | None = None) -> None:
        self.rpc = rpc
        self.address = address
        self.sender = None if account is None else EvmSender(rpc, account)

    async def view(self, signature: str, values: list[Any], returns: list[str]) -> tuple[Any, ...]:
        """Call a view function (``eth_call``) and decode its ``returns`` types."""
        return await eth_view(self.rpc, self.address, signature, values, returns)

    async def send(self, signature: str, values: list[Any]) -> TxOutcome:
        """Send a transaction calling ``signature`` with ``values``; wait until it is mined."""
        if self.sender is None:
            raise TypeError("this Contract has no account: open_contract(..., account=key)")
        return await self.sender.send(self.address, calldata(signature, values))


@asynccontextmanager
async def open_contract(
    rpc_url: str, address: str, *, account: AccountLike | None = None
) -> AsyncIterator[Contract]:
    """A :class:`Contract` at ``address`` on the chain serving JSON-RPC at ``rpc_url``;
    its connection is closed on exit."""
    rpc = open_rpc(rpc_url)
    try:
        yield Contract(rpc, address, account)
    finally:
        await rpc.aclose()
