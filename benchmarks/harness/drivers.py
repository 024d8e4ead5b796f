"""Service drivers: how the harness uses a family's example services.

The topology's workload helpers (:class:`~benchmarks.harness.topology.Topology`'s
``transfer_many``, ``balance``, ``data_get``...) name no family: each chain's family
provides a driver (entry point group ``relayhub.drivers``) that speaks its chain's own
client protocol — the EVM driver sends signed transactions over Ethereum JSON-RPC.
A driver is opened per chain from what the family's dev-chain hook reported
(:class:`~benchmarks.harness.topology.DevChain`), and owns that chain's workload
users: objects with an ``address``, the account ID a service of that chain pays to.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from adapters.evm.client import EvmCaller, EvmSender, calldata, eth_view, interchain_events
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc
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


class EvmDriver:
    """``relayhub.drivers: evm``: the Solidity/native AssetTransfer and DataSwap over
    Ethereum JSON-RPC; users are dev accounts."""

    family: ClassVar[str] = "evm"

    def __init__(self, chain: ChainSetup, user_keys: Sequence[str]) -> None:
        self.chain = chain
        self.users: list[Any] = [Account.from_key(k) for k in user_keys]
        self._rpc: EthRpc | None = None

    @property
    def rpc(self) -> EthRpc:
        if self._rpc is None:
            self._rpc = open_rpc(self.chain.rpc_url)
        return self._rpc

    async def aclose(self) -> None:
        if self._rpc is not None:
            await self._rpc.aclose()
            self._rpc = None

    def sender(self, user: int = 0) -> EvmSender:
        return EvmSender(self.rpc, self.users[user])

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
                calldata(
                    "transfer(string,address,uint256,uint64)",
                    [dst.service_id(dst.asset), recipient, amount, timeout],
                ),
            )
            for amount in amounts
        ]
        ids = []
        for outcome in await self.sender(user).send_many(calls):
            if not outcome.ok:
                raise RuntimeError(f"transfer tx {outcome.tx_hash} reverted on {c.name}")
            for f, t, i in interchain_events(outcome.receipt, c.broker):
                ids.append(f"{f}~{t}~{i}")
        return ids

    async def balance(self, owner: str) -> int:
        (v,) = await eth_view(
            self.rpc, self.chain.asset, "balanceOf(address)", [owner], ["uint256"]
        )
        return int(v)

    async def total_supply(self) -> int:
        (v,) = await eth_view(self.rpc, self.chain.asset, "totalSupply()", [], ["uint256"])
        return int(v)

    async def data_set(self, key: str, value: bytes) -> None:
        outcome = await self.sender().send(
            self.chain.data_swap, calldata("set(string,bytes)", [key, value])
        )
        if not outcome.ok:
            raise RuntimeError(f"DataSwap.set reverted on {self.chain.name}")

    async def data_get(self, dst: ChainSetup, key: str, *, timeout: int) -> str:
        outcome = await self.sender().send(
            self.chain.data_swap,
            calldata("get(string,string,uint64)", [dst.service_id(dst.data_swap), key, timeout]),
        )
        ((f, t, i),) = interchain_events(outcome.receipt, self.chain.broker)
        return f"{f}~{t}~{i}"

    async def fetched(self, dst: ChainSetup, key: str) -> bytes:
        (value,) = await eth_view(
            self.rpc,
            self.chain.data_swap,
            "fetched(string,string)",
            [dst.service_id(dst.data_swap), key],
            ["bytes"],
        )
        return bytes(value)

    async def pair_counterparts(self, service_ids: Sequence[str]) -> None:
        c = self.chain
        owner = self.sender(0)
        (have,) = await eth_view(self.rpc, c.asset, "owner()", [], ["address"])
        if str(have).lower() != owner.address.lower():
            raise RuntimeError(f"AssetTransfer on {c.name} is owned by {have}, not dev account 0")
        calls = []
        for sid in service_ids:
            (paired,) = await eth_view(self.rpc, c.asset, "isCounterpart(string)", [sid], ["bool"])
            if not paired:
                calls.append((c.asset, calldata("setCounterpart(string,bool)", [sid, True])))
        for outcome in await owner.send_many(calls):
            if not outcome.ok:
                raise RuntimeError(f"setCounterpart tx {outcome.tx_hash} reverted on {c.name}")

    def caller(self, user: int) -> SourceChain:
        c = self.chain
        return EvmCaller(c.rpc_url, self.users[user], c.broker, c.hub_id, c.name)
