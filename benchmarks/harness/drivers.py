"""Service drivers: how the harness uses a family's example services.

The topology's workload helpers (:class:`~benchmarks.harness.topology.Topology`'s
``transfer_many``, ``balance``, ``data_get``...) name no family: each chain's family
provides a driver (entry point group ``relayhub.drivers``) that speaks its chain's own
client protocol — the EVM driver sends signed transactions over Ethereum JSON-RPC,
the Fabric driver proposals through Fabric's Gateway service.
A driver is opened per chain from what the family's dev-chain hook reported
(:class:`~benchmarks.harness.topology.DevChain`), and owns that chain's workload
users: objects with an ``address``, the account ID a service of that chain pays to.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import trio
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from adapters.evm.client import EvmCaller, EvmSender, calldata, eth_view, interchain_events
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc
from adapters.fabric.client import (
    ClientIdentity,
    FabricCaller,
    PeerClient,
    Submitted,
    account_address,
    evaluate_transaction,
    submit_transaction,
)
from adapters.fabric.proposal import INTERCHAIN_EVENT, decode_event
from adapters.fisco.client import (
    FiscoAccount,
    FiscoCaller,
    FiscoSender,
    fisco_view,
)
from adapters.fisco.client import calldata as fisco_calldata
from adapters.fisco.client import interchain_events as fisco_interchain_events
from adapters.fisco.hashing import CryptoMode
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.sdk.call import SourceChain

if TYPE_CHECKING:
    from benchmarks.harness.topology import ChainSetup

DRIVERS_GROUP = "relayhub.drivers"


@runtime_checkable
class ServiceDriver(Protocol):
    """One chain's example services (AssetTransfer, DataSwap), as a workload uses them.

    ``dst`` arguments are the other chain's setup: the driver sends to its services'
    full IDs and pays its users' addresses."""

    family: ClassVar[str]
    #: The workload users of this chain (``users[0]`` owns AssetTransfer).
    users: list[Any]

    async def aclose(self) -> None: ...

    async def transfer_many(
        self,
        dst: ChainSetup,
        amounts: Sequence[int],
        *,
        user: int,
        timeout: int,
        recipient: str,
    ) -> list[str]:
        """AssetTransfer.transfer to ``dst`` for each amount; the IBTP IDs, in order."""
        ...

    async def balance(self, owner: str) -> int: ...

    async def total_supply(self) -> int: ...

    async def data_set(self, key: str, value: bytes) -> None: ...

    async def data_get(self, dst: ChainSetup, key: str, *, timeout: int) -> str:
        """DataSwap.get of ``key`` on ``dst``; the IBTP ID."""
        ...

    async def fetched(self, dst: ChainSetup, key: str) -> bytes: ...

    async def pair_counterparts(self, service_ids: Sequence[str]) -> None:
        """AssetTransfer's owner (``users[0]``) lists ``service_ids`` as counterparts
        (those not listed yet)."""
        ...

    def caller(self, user: int) -> SourceChain:
        """The SDK's source-chain side for ``AsyncRelayClient.call`` as ``users[user]``."""
        ...

    def describe(self) -> dict[str, Any]:
        """What ``relayhub up`` prints of this chain beyond the common fields: how a
        client reaches it, and its users with what they sign with (``accounts``)."""
        ...


def open_driver(chain: ChainSetup, user_keys: Sequence[str]) -> ServiceDriver:
    """The installed driver of ``chain``'s family, for ``chain``."""
    for ep in entry_points(group=DRIVERS_GROUP):
        if ep.name == chain.family:
            driver = ep.load()(chain, user_keys)
            if not isinstance(driver, ServiceDriver) or driver.family != chain.family:
                raise RelayError(
                    Code.CONFIG, f"entry point {ep.name} = {ep.value} is no {ep.name} driver"
                )
            return driver
    raise RelayError(
        Code.CONFIG,
        f"chain {chain.name}: no service driver for family {chain.family!r} (entry points "
        f"{DRIVERS_GROUP}; after a change of entry points run `make install`)",
    )


class SolidityServicesDriver:
    """The Solidity-ABI AssetTransfer and DataSwap of docs/broker.md over a JSON-RPC
    chain — the EVM family's and the FISCO family's (its native contracts are the EVM
    dev chain's). A family gives how a user sends, how calldata is spelled (the
    selector's hash), how a view is read and how the broker's request events are found;
    the rest is one piece of code."""

    family: ClassVar[str]
    users: list[Any]

    def __init__(self, chain: ChainSetup) -> None:
        self.chain = chain
        self._rpc: EthRpc | None = None
        self._senders: dict[int, Any] = {}
        self._locks: defaultdict[int, trio.Lock] = defaultdict(trio.Lock)

    # --- what a family gives ----------------------------------------------------

    def _new_sender(self, user: int) -> Any:
        raise NotImplementedError

    def _calldata(self, signature: str, values: list[Any]) -> bytes:
        raise NotImplementedError

    async def _view(self, to: str, signature: str, values: list[Any], out: list[str]) -> Any:
        """The view's one return value."""
        raise NotImplementedError

    def _ids(self, receipt: dict[str, Any]) -> list[str]:
        """The IBTP IDs of the broker's InterchainEvents in ``receipt``."""
        raise NotImplementedError

    # --- the common part ----------------------------------------------------------

    @property
    def rpc(self) -> EthRpc:
        if self._rpc is None:
            self._rpc = open_rpc(self.chain.rpc_url)
        return self._rpc

    async def aclose(self) -> None:
        if self._rpc is not None:
            await self._rpc.aclose()
            self._rpc = None
        self._senders.clear()

    def sender(self, user: int = 0) -> Any:
        """``users[user]``'s sender, one per user: it tracks the account's nonce."""
        if user not in self._senders:
            self._senders[user] = self._new_sender(user)
        return self._senders[user]

    async def _send_many(self, user: int, calls: list[tuple[str, bytes]]) -> list[Any]:
        """Send as ``users[user]``, one batch at a time per account (concurrent batches of
        one account would take the same nonces)."""
        async with self._locks[user]:
            return list(await self.sender(user).send_many(calls))

    async def _send_one(self, user: int, to: str, data: bytes, what: str) -> Any:
        (outcome,) = await self._send_many(user, [(to, data)])
        if not outcome.ok:
            raise RuntimeError(f"{what} tx {outcome.tx_hash} failed on {self.chain.name}")
        return outcome

    async def transfer_many(
        self,
        dst: ChainSetup,
        amounts: Sequence[int],
        *,
        user: int,
        timeout: int,
        recipient: str,
    ) -> list[str]:
        c = self.chain
        calls = [
            (
                c.asset,
                self._calldata(
                    "transfer(string,address,uint256,uint64)",
                    [dst.service_id(dst.asset), recipient, amount, timeout],
                ),
            )
            for amount in amounts
        ]
        ids = []
        for outcome in await self._send_many(user, calls):
            if not outcome.ok:
                raise RuntimeError(f"transfer tx {outcome.tx_hash} failed on {c.name}")
            ids.extend(self._ids(outcome.receipt))
        return ids

    async def balance(self, owner: str) -> int:
        return int(await self._view(self.chain.asset, "balanceOf(address)", [owner], ["uint256"]))

    async def total_supply(self) -> int:
        return int(await self._view(self.chain.asset, "totalSupply()", [], ["uint256"]))

    async def data_set(self, key: str, value: bytes) -> None:
        data = self._calldata("set(string,bytes)", [key, value])
        await self._send_one(0, self.chain.data_swap, data, "DataSwap.set")

    async def data_get(self, dst: ChainSetup, key: str, *, timeout: int) -> str:
        data = self._calldata(
            "get(string,string,uint64)", [dst.service_id(dst.data_swap), key, timeout]
        )
        outcome = await self._send_one(0, self.chain.data_swap, data, "DataSwap.get")
        (found,) = self._ids(outcome.receipt)
        return found

    async def fetched(self, dst: ChainSetup, key: str) -> bytes:
        return bytes(
            await self._view(
                self.chain.data_swap,
                "fetched(string,string)",
                [dst.service_id(dst.data_swap), key],
                ["bytes"],
            )
        )

    async def pair_counterparts(self, service_ids: Sequence[str]) -> None:
        c = self.chain
        owner = str(self.users[0].address).lower()
        have = await self._view(c.asset, "owner()", [], ["address"])
        if str(have).lower() != owner:
            raise RuntimeError(f"AssetTransfer on {c.name} is owned by {have}, not users[0]")
        calls = []
        for sid in service_ids:
            if not await self._view(c.asset, "isCounterpart(string)", [sid], ["bool"]):
                calls.append((c.asset, self._calldata("setCounterpart(string,bool)", [sid, True])))
        for outcome in await self._send_many(0, calls):
            if not outcome.ok:
                raise RuntimeError(f"setCounterpart tx {outcome.tx_hash} failed on {c.name}")


class EvmDriver(SolidityServicesDriver):
    """``relayhub.drivers: evm``: the Solidity/native AssetTransfer and DataSwap over
    Ethereum JSON-RPC; users are dev accounts."""

    family: ClassVar[str] = "evm"

    def __init__(self, chain: ChainSetup, user_keys: Sequence[str]) -> None:
        super().__init__(chain)
        self.users = [Account.from_key(k) for k in user_keys]

    def _new_sender(self, user: int) -> EvmSender:
        return EvmSender(self.rpc, self.users[user])

    def _calldata(self, signature: str, values: list[Any]) -> bytes:
        return calldata(signature, values)

    async def _view(self, to: str, signature: str, values: list[Any], out: list[str]) -> Any:
        (value,) = await eth_view(self.rpc, to, signature, values, out)
        return value

    def _ids(self, receipt: dict[str, Any]) -> list[str]:
        return [f"{f}~{t}~{i}" for f, t, i in interchain_events(receipt, self.chain.broker)]

    def caller(self, user: int) -> SourceChain:
        c = self.chain
        return EvmCaller(c.rpc_url, self.users[user], c.broker, c.hub_id, c.name)

    def describe(self) -> dict[str, Any]:
        root = self.chain.trust_root
        return {
            # the EVM chain ID a wallet signs with (from the trust root)
            "evm_chain_id": root.get("evm_chain_id") if isinstance(root, dict) else None,
            "accounts": [{"address": u.address, "private_key": u.secret_hex} for u in self.users],
        }


@dataclass(frozen=True)
class FabricUser:
    """A client identity of a Fabric dev chain and its account (``address``)."""

    identity: ClientIdentity
    address: str


#: peer.TxValidationCode.MVCC_READ_CONFLICT, and how often a driver endorses again.
MVCC_READ_CONFLICT = 11
MVCC_ATTEMPTS = 20


class FabricDriver:
    """``relayhub.drivers: fabric``: the broker set's ``asset`` and ``dataswap``
    chaincodes through Fabric's Gateway service; users are the chain's client
    identities (``users[0]``, Org1's ``User1``, owns ``asset``). A service function is
    invoked through ``broker.invokeService`` (docs/fabric.md §3.2), one transaction at
    a time: transfers of one service all move its out-counter, so two in one block
    would conflict at commit."""

    family: ClassVar[str] = "fabric"

    def __init__(self, chain: ChainSetup, user_keys: Sequence[str]) -> None:
        self.chain = chain
        table = chain.adapter_config
        self.channel = str(table["channel"])
        self.endpoint = str(table["gateway"])
        self.users: list[Any] = []
        for key in user_keys:
            u = json.loads(key)
            identity = ClientIdentity.from_pem(u["msp_id"], u["cert"].encode(), u["key"].encode())
            self.users.append(FabricUser(identity, account_address(identity)))
        self._gateway: PeerClient | None = None
        self._serial: defaultdict[str, trio.Lock] = defaultdict(trio.Lock)

    @property
    def gateway(self) -> PeerClient:
        if self._gateway is None:
            self._gateway = PeerClient(self.endpoint)
        return self._gateway

    async def aclose(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
            self._gateway = None

    async def _invoke(
        self, user: int, service: str, func: str, *args: bytes, serial: bool = True
    ) -> Submitted:
        """Invoke ``service.func`` as ``users[user]``: with ``serial``, one at a time per
        service (a request moves the service's out-counter, so two endorsed on one state
        would conflict at commit), and endorsed again when another writer — a gateway's
        delivery — changed what it read before it committed (MVCC_READ_CONFLICT), as a
        Fabric client does."""
        if not serial:
            return await self._invoke_once(user, service, func, *args)
        async with self._serial[service]:
            return await self._invoke_once(user, service, func, *args)

    async def _invoke_once(self, user: int, service: str, func: str, *args: bytes) -> Submitted:
        for attempt in range(MVCC_ATTEMPTS):
            done = await submit_transaction(
                self.gateway,
                self.users[user].identity,
                self.channel,
                self.chain.broker,
                [b"invokeService", service.encode(), func.encode(), *args],
                30.0,
            )
            if done.code != MVCC_READ_CONFLICT:
                break
            await trio.sleep(0.01 * (attempt + 1))  # let the conflicting writer's block pass
        if not done.valid:
            raise RuntimeError(
                f"{service}.{func} on {self.chain.name}: transaction {done.tx_id} was "
                f"invalidated at commit (code {done.code})"
            )
        return done

    async def _query(self, service: str, func: str, *args: bytes) -> bytes:
        return await evaluate_transaction(
            self.gateway,
            self.users[0].identity,
            self.channel,
            service,
            [func.encode(), *args],
        )

    @staticmethod
    def _ibtp_id(done: Submitted) -> str:
        if done.event is None or done.event[0] != INTERCHAIN_EVENT:
            raise RuntimeError(f"transaction {done.tx_id} emitted no interchain request")
        ev = decode_event(*done.event)
        return f"{ev.from_}~{ev.to}~{ev.index}"

    async def transfer_many(
        self,
        dst: ChainSetup,
        amounts: Sequence[int],
        *,
        user: int,
        timeout: int,
        recipient: str,
    ) -> list[str]:
        ids = []
        for amount in amounts:
            done = await self._invoke(
                user,
                self.chain.asset,
                "transfer",
                dst.service_id(dst.asset).encode(),
                recipient.lower().encode(),
                str(amount).encode(),
                str(timeout).encode(),
            )
            ids.append(self._ibtp_id(done))
        return ids

    async def balance(self, owner: str) -> int:
        return int(await self._query(self.chain.asset, "balanceOf", owner.lower().encode()))

    async def total_supply(self) -> int:
        return int(await self._query(self.chain.asset, "totalSupply"))

    async def data_set(self, key: str, value: bytes) -> None:
        # Writes of distinct keys do not conflict: they need not wait for each other.
        await self._invoke(0, self.chain.data_swap, "set", key.encode(), value, serial=False)

    async def data_get(self, dst: ChainSetup, key: str, *, timeout: int) -> str:
        done = await self._invoke(
            0,
            self.chain.data_swap,
            "get",
            dst.service_id(dst.data_swap).encode(),
            key.encode(),
            str(timeout).encode(),
        )
        return self._ibtp_id(done)

    async def fetched(self, dst: ChainSetup, key: str) -> bytes:
        return await self._query(
            self.chain.data_swap, "fetched", dst.service_id(dst.data_swap).encode(), key.encode()
        )

    async def pair_counterparts(self, service_ids: Sequence[str]) -> None:
        for sid in service_ids:
            paired = await self._query(self.chain.asset, "isCounterpart", sid.encode())
            if paired != b"true":
                await self._invoke(0, self.chain.asset, "setCounterpart", sid.encode(), b"true")

    def caller(self, user: int) -> SourceChain:
        c = self.chain
        return FabricCaller(
            self.endpoint, self.users[user].identity, self.channel, c.hub_id, c.name, c.broker
        )

    def describe(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "gateway": self.endpoint,
            # Client identities: Fabric signs with the key, an account is the identity's.
            "accounts": [
                {
                    "address": u.address,
                    "msp_id": u.identity.msp_id,
                    "cert": u.identity.certificate.public_bytes(Encoding.PEM).decode(),
                    "key": u.identity.key.private_bytes(
                        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
                    ).decode(),
                }
                for u in self.users
            ],
        }


class FiscoDriver(SolidityServicesDriver):
    """``relayhub.drivers: fisco``: the native AssetTransfer and DataSwap of the FISCO
    BCOS-like dev chain over FISCO JSON-RPC (``sendRawTransaction``, ``call``, group ID
    first); users are dev accounts in the chain's crypto mode (``users[0]`` owns
    AssetTransfer), selectors and event topics by the chain's hash."""

    family: ClassVar[str] = "fisco"

    def __init__(self, chain: ChainSetup, user_keys: Sequence[str]) -> None:
        super().__init__(chain)
        table = chain.adapter_config
        self.mode: CryptoMode = "sm" if table.get("mode") == "sm" else "secp256k1"
        self.group_id = int(table.get("group_id", 1))
        self.users = [FiscoAccount.from_key(k, self.mode) for k in user_keys]

    def _new_sender(self, user: int) -> FiscoSender:
        return FiscoSender(self.rpc, self.users[user], self.group_id)

    async def _view(self, to: str, signature: str, values: list[Any], out: list[str]) -> Any:
        got = await fisco_view(self.rpc, self.group_id, to, signature, values, out, mode=self.mode)
        return got[0]

    def _calldata(self, signature: str, values: list[Any]) -> bytes:
        """Calldata with the chain's selector (SM3 on a 国密 chain)."""
        return fisco_calldata(signature, values, self.mode)

    def _ids(self, receipt: dict[str, Any]) -> list[str]:
        events = fisco_interchain_events(receipt, self.chain.broker, self.mode)
        return [f"{f}~{t}~{i}" for f, t, i in events]

    def caller(self, user: int) -> SourceChain:
        c = self.chain
        return FiscoCaller(c.rpc_url, self.users[user], c.broker, c.hub_id, c.name, self.group_id)

    def describe(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "mode": self.mode,
            "accounts": [
                {"address": u.address, "private_key": "0x" + u.private_key.hex()}
                for u in self.users
            ],
        }
