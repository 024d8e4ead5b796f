"""A whole relayhub topology in one process: relay, EVM dev chains, gateways.

Used by ``relayhub demo`` / ``relayhub up``, the end-to-end tests and the
end-to-end benchmark, so that all three exercise the same wiring::

    async with open_topology(workdir, chains=("chainA", "chainB")) as topo:
        topo.relay_url
        topo.chains["chainA"].rpc_url
        await topo.transfer("chainA", "chainB", amount=5)

Every server binds 127.0.0.1. Chains named in ``without_gateway`` get no gateway
(their inbound calls then time out, and roll back at the source once the chain's
gateway, started later with :func:`start_gateway`, has given them up there: the
demo's rollback-by-timeout case).

The wiring names no chain family. Each chain's family (``families``, default
``evm``) provides a dev-chain hook, found through the ``relayhub.devchains`` entry
points (:class:`DevChainFamily`; the EVM one is ``appchains.evm.devchain.harness``):
it starts a dev chain whose broker trusts the relay's validator key and reports its
registration (family, trust root, broker), its adapter's ``[chain]`` table and its
example services. The registration goes through the family verifier's registration
hook (``relayhub.verifiers``) before it is sent, and the gateway's adapter comes
from ``AdapterRegistry.create`` (``relayhub.adapters``). The workload helpers of
:class:`Topology` (``transfer_many``, ``balance``...) drive the example services
through each family's service driver (``relayhub.drivers``,
:mod:`benchmarks.harness.drivers`), in the chain's own client protocol.

Each chain gets: a dev chain (EVM: PoA, 4 validators, 3 sealing); a relay
registration (EVM: mode ``seal``, the chain's validator addresses as trust root)
approved by the hub admin; its
AssetTransfer and DataSwap services registered, the relay routing calls to
AssetTransfer only from the other chains' AssetTransfer; AssetTransfer's owner
(dev account 0) registering the other chains' AssetTransfer as its counterparts
by transaction, as an operator deploying real contracts would (the service
refuses any other caller on its own); and a gateway with its own relay key.

``relay_allow_lists=False`` registers AssetTransfer on the relay open to every
caller, so that only the service's own check stands between a hostile caller
and a mint (the demo and tests/adversarial/test_hostile_callers.py).

``workdir/relay`` is a relay directory as ``relayhub relay init`` writes it
(``relay.toml``, ``genesis.json``, ``keys/node.key``, ``keys/admin.key``, the ledger
in ``data/``), so ``relayhub relay verify --dir`` and ``relayhub appchain approve
--key .../keys/admin.key`` work on it. Opening a ``workdir`` again resumes it: the
relay directory's genesis and keys are reused, the dev chains reopen their data, and
registrations and counterparts already in place are kept (``relayhub up``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import trio

from adapters.base import AdapterRegistry, BrokerCounters, Delivery
from adapters.evm.client import EvmSender
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc
from adapters.gateway.config import GatewayConfig
from adapters.gateway.runtime import Gateway, open_gateway
from benchmarks.harness.drivers import ServiceDriver, open_driver
from relay.api.server import serve_api
from relay.cli import (
    ADMIN_KEY,
    DATA_DIR,
    GENESIS_FILE,
    NODE_KEY,
    write_relay_dir,
)
from relay.crypto import Account, keccak, read_key_file
from relay.errors import Code, RelayError
from relay.genesis import Genesis
from relay.ibtp import IBTPType, decode_ibtp
from relay.node import Node, NodeConfig, open_node
from relay.sdk.aio import AsyncRelayClient
from relay.sdk.call import SourceChain
from relay.sdk.errors import RelayApiError
from relay.validation.registry import VerifierRegistry

log = logging.getLogger("relayhub.topology")

HUB_ID = "hub0"


#: Entry point group of the families' dev-chain hooks.
DEVCHAINS_GROUP = "relayhub.devchains"
#: The family of a topology chain that ``families`` does not name.
DEFAULT_FAMILY = "evm"


@runtime_checkable
class DevChain(Protocol):
    """A running dev chain as a family's hook reports it (plain data; keys 0x hex)."""

    name: str
    rpc_url: str
    #: ``{"family", "trust_root", "broker"}`` for ``chain.register``.
    registration: dict[str, Any]
    #: The gateway's ``[chain]`` table, for ``AdapterRegistry.create(family, ...)``.
    adapter_config: dict[str, Any]
    #: The example services: ``asset`` (AssetTransfer), ``data_swap`` (DataSwap).
    services: dict[str, str]
    #: Funded accounts for workloads (not the gateway's).
    user_keys: list[str]


@runtime_checkable
class DevChainFamily(Protocol):
    """A family's dev-chain hook (entry point ``relayhub.devchains``, docs/families.md)."""

    family: ClassVar[str]

    def open_dev_chain(
        self,
        *,
        name: str,
        index: int,
        seed: str,
        hub_id: str,
        relay_validators: Sequence[str],
        relay_threshold: int,
        block_interval: float,
        data_dir: Path,
    ) -> AbstractAsyncContextManager[DevChain]:
        """Run a dev chain named ``name`` (the ``index``-th of the topology, for ports
        and chain ids) whose broker trusts ``relay_validators``."""
        ...


def devchain_families() -> dict[str, DevChainFamily]:
    """The installed dev-chain hooks, by family."""
    found: dict[str, DevChainFamily] = {}
    for ep in entry_points(group=DEVCHAINS_GROUP):
        hook = ep.load()()
        if not isinstance(hook, DevChainFamily) or hook.family != ep.name:
            raise RelayError(
                Code.CONFIG,
                f"entry point {ep.name} = {ep.value} is no dev-chain hook for {ep.name}",
            )
        found[ep.name] = hook
    return found


@dataclass
class ChainSetup:
    name: str
    family: str
    rpc_url: str
    #: ``{"family", "trust_root", "broker"}`` as the family's dev chain reported it.
    registration: dict[str, Any]
    #: The gateway adapter's ``[chain]`` table.
    adapter_config: dict[str, Any]
    #: Example services: ``asset`` and ``data_swap`` (service parts of their IDs).
    services: dict[str, str]
    gateway_key: Account  # relay account of the gateway
    #: The dev chain's workload user keys, in its family's own form (the driver reads them).
    user_keys: list[str] = field(default_factory=list)
    gateway: Gateway | None = None
    #: The family's service driver (opened with the topology).
    driver: ServiceDriver | None = field(default=None, repr=False)

    @property
    def hub_id(self) -> str:
        return HUB_ID

    @property
    def users(self) -> list[Any]:
        """The workload users (objects with an ``address``); ``users[0]`` owns
        AssetTransfer."""
        return self.open_driver().users

    def open_driver(self) -> ServiceDriver:
        if self.driver is None:
            self.driver = open_driver(self, self.user_keys)
        return self.driver

    @property
    def broker(self) -> str:
        return str(self.registration["broker"])

    @property
    def trust_root(self) -> Any:
        return self.registration["trust_root"]

    @property
    def asset(self) -> str:
        return self.services["asset"]

    @property
    def data_swap(self) -> str:
        return self.services["data_swap"]

    def service_id(self, address: str) -> str:
        return f"{HUB_ID}:{self.name}:{address.lower()}"

    @classmethod
    def from_dev_chain(cls, chain: DevChain, gateway_key: Account) -> ChainSetup:
        return cls(
            name=chain.name,
            family=str(chain.registration["family"]),
            rpc_url=chain.rpc_url,
            registration=dict(chain.registration),
            adapter_config=dict(chain.adapter_config),
            services=dict(chain.services),
            gateway_key=gateway_key,
            user_keys=list(chain.user_keys),
        )


@dataclass
class Topology:
    workdir: Path
    relay_url: str
    admin: Account
    chains: dict[str, ChainSetup]
    node: Node | None = None
    _rpcs: dict[str, EthRpc] = field(default_factory=dict)

    async def aclose(self) -> None:
        for rpc in self._rpcs.values():
            await rpc.aclose()
        self._rpcs.clear()
        for c in self.chains.values():
            if c.driver is not None:
                await c.driver.aclose()
                c.driver = None

    def driver(self, chain: str) -> ServiceDriver:
        return self.chains[chain].open_driver()

    # --- EVM-only conveniences (tests that speak JSON-RPC to an EVM chain) -------

    def rpc(self, chain: str) -> EthRpc:
        if chain not in self._rpcs:
            self._rpcs[chain] = open_rpc(self.chains[chain].rpc_url)
        return self._rpcs[chain]

    def sender(self, chain: str, user: int = 0) -> EvmSender:
        c = self.chains[chain]
        return EvmSender(self.rpc(chain), c.users[user])

    # --- application actions, through each chain's service driver ----------------

    async def transfer_many(
        self,
        src: str,
        dst: str,
        amounts: Sequence[int],
        *,
        user: int = 0,
        timeout: int = 0,
        recipient: str | None = None,
    ) -> list[str]:
        """Send AssetTransfer.transfer from ``src`` to ``dst`` for each amount; return the
        IBTP IDs, in order."""
        d = self.chains[dst]
        return await self.driver(src).transfer_many(
            d,
            amounts,
            user=user,
            timeout=timeout,
            recipient=recipient or d.users[user].address,
        )

    async def data_get(self, src: str, dst: str, key: str, *, timeout: int = 0) -> str:
        return await self.driver(src).data_get(self.chains[dst], key, timeout=timeout)

    async def data_set(self, chain: str, key: str, value: bytes) -> None:
        await self.driver(chain).data_set(key, value)

    async def fetched(self, src: str, dst: str, key: str) -> bytes:
        return await self.driver(src).fetched(self.chains[dst], key)

    async def balance(self, chain: str, owner: str) -> int:
        return await self.driver(chain).balance(owner)

    async def total_supply(self, chain: str) -> int:
        return await self.driver(chain).total_supply()

    def caller(self, chain: str, user: int = 0) -> SourceChain:
        return self.driver(chain).caller(user)

    async def broker_counters(self, chain: str, src: str, dst: str) -> BrokerCounters:
        """The ``out`` / ``inbound`` / ``callback`` counters of (src -> dst) on ``chain``'s
        broker, read by a fresh adapter of its family (what a gateway's recovery reads)."""
        c = self.chains[chain]
        adapter = AdapterRegistry.from_entry_points().create(c.family, dict(c.adapter_config))
        await adapter.start()
        try:
            return await adapter.counters(src, dst)
        finally:
            await adapter.stop()

    def client(self, account: Account | None = None) -> AsyncRelayClient:
        return AsyncRelayClient(self.relay_url, account=account)

    async def deliver_notice(self, chain: str, ibtp_id: str) -> None:
        """Deliver the relay's rollback notice for ``ibtp_id`` to ``chain``'s broker now,
        ahead of the request itself, through the chain's adapter: what a destination
        that gives a timed-out request up does (docs/protocol.md §3). Its broker consumes
        the index without running it and emits its acknowledgement, which the chain's
        gateway submits once it runs. A gateway coming back after a timeout delivers the
        queue in order instead: it runs the request late, and its receipt stands."""
        async with self.client() as client:
            page = await client.outbound(chain, 1, 100_000)
        found = [
            e
            for e in page.entries
            if (ib := decode_ibtp(e.ibtp)).id == ibtp_id and ib.type == IBTPType.RECEIPT_ROLLBACK
        ]
        if not found:
            raise RelayError(
                Code.NOT_FOUND, f"the relay routed no rollback notice of {ibtp_id} to {chain}"
            )
        e = found[0]
        c = self.chains[chain]
        adapter = AdapterRegistry.from_entry_points().create(c.family, dict(c.adapter_config))
        await adapter.start()
        try:
            await adapter.deliver([Delivery(e.seq, decode_ibtp(e.ibtp), e.status, tuple(e.sigs))])
        finally:
            await adapter.stop()


async def register_chain(
    topo: Topology, c: ChainSetup, others: Sequence[ChainSetup], *, allow_lists: bool = True
) -> None:
    """Register ``c`` on the relay (its gateway key), approve it (admin), register its
    services; the relay routes calls to AssetTransfer only from the other chains'
    AssetTransfer, or from anyone without ``allow_lists``. The trust root and broker
    pass the family verifier's registration hook first, as the relay will check them.
    What is already in place (a resumed topology) is kept."""
    chain = await _lookup(topo, lambda r: r.chain(c.name))
    if chain is None:
        reg = (
            VerifierRegistry.from_entry_points()
            .get(c.family)
            .check_registration(c.trust_root, c.broker)
        )
        async with AsyncRelayClient(topo.relay_url, account=c.gateway_key) as gw:
            await gw.register_chain(
                c.name,
                c.family,
                c.trust_root,
                reg.broker,
                gateways=[c.gateway_key.address],
                name=f"{c.family} dev chain {c.name}",
            )
    if chain is None or chain.get("status") == "PENDING":
        async with AsyncRelayClient(topo.relay_url, account=topo.admin) as admin:
            await admin.approve_chain(c.name)
    async with AsyncRelayClient(topo.relay_url, account=c.gateway_key) as gw:
        if await _lookup(topo, lambda r: r.service(c.service_id(c.asset))) is None:
            await gw.register_service(
                c.service_id(c.asset),
                allow=[o.service_id(o.asset) for o in others] if allow_lists else [],
                name="AssetTransfer",
            )
        if await _lookup(topo, lambda r: r.service(c.service_id(c.data_swap))) is None:
            await gw.register_service(c.service_id(c.data_swap), name="DataSwap")


async def _lookup(topo: Topology, lookup: Any) -> dict[str, Any] | None:
    """The relay's record that ``lookup(client)`` reads, or None if it has none."""
    async with AsyncRelayClient(topo.relay_url) as reader:
        try:
            found: dict[str, Any] = await lookup(reader)
        except RelayApiError as exc:
            if exc.code not in (Code.NOT_FOUND, Code.UNKNOWN_CHAIN, Code.UNKNOWN_SERVICE):
                raise
            return None
    return found


async def pair_asset_transfers(topo: Topology) -> None:
    """Each chain's AssetTransfer owner (``users[0]``) registers the other chains'
    AssetTransfer as counterparts, by the chain's own transactions."""
    for c in topo.chains.values():
        others = [o.service_id(o.asset) for o in topo.chains.values() if o is not c]
        await topo.driver(c.name).pair_counterparts(others)


@asynccontextmanager
async def open_topology(
    workdir: Path,
    chains: Sequence[str] = ("chainA", "chainB"),
    *,
    block_interval: float = 0.05,
    relay_batch_time: float = 0.02,
    idle_block_interval: float = 0.25,
    default_timeout_blocks: int = 200,
    without_gateway: Sequence[str] = (),
    seed: str = "relayhub-demo",
    relay_allow_lists: bool = True,
    relay_port: int = 0,
    families: Mapping[str, str] | None = None,
    devchains: Mapping[str, DevChainFamily] | None = None,
) -> AsyncIterator[Topology]:
    """``families`` maps chain names to their family (default :data:`DEFAULT_FAMILY`);
    ``devchains`` overrides the installed dev-chain hooks (``relayhub.devchains``)."""
    hooks = dict(devchains) if devchains is not None else devchain_families()
    chain_family = {name: (families or {}).get(name, DEFAULT_FAMILY) for name in chains}
    for name, family in chain_family.items():
        if family not in hooks:
            raise RelayError(
                Code.CONFIG,
                f"chain {name}: no dev-chain hook for family {family!r} "
                f"(installed: {', '.join(sorted(hooks)) or 'none'}; after a change of entry "
                "points run `make install`, and remove a stale relayhub.egg-info)",
            )
    workdir.mkdir(parents=True, exist_ok=True)
    genesis, admin, validator = relay_dir(workdir / "relay", seed, default_timeout_blocks)
    async with AsyncExitStack() as stack:
        node = await stack.enter_async_context(
            open_node(
                NodeConfig(
                    workdir / "relay" / DATA_DIR,
                    genesis,
                    validator,
                    batch_time=relay_batch_time,
                    idle_block_interval=idle_block_interval,
                )
            )
        )
        relay_url = await stack.enter_async_context(_serving(node, relay_port))
        setups: dict[str, ChainSetup] = {}
        for n, name in enumerate(chains):
            dev = await stack.enter_async_context(
                hooks[chain_family[name]].open_dev_chain(
                    name=name,
                    index=n,
                    seed=seed,
                    hub_id=HUB_ID,
                    relay_validators=(validator.address,),
                    relay_threshold=1,
                    block_interval=block_interval,
                    data_dir=workdir / name,
                )
            )
            if dev.registration.get("family") != chain_family[name]:
                raise RelayError(
                    Code.CONFIG, f"the {chain_family[name]} dev-chain hook reported {dev!r}"
                )
            gateway_key = Account.from_key(derive_key(seed, f"gateway-{name}"))
            setups[name] = ChainSetup.from_dev_chain(dev, gateway_key)
        topo = Topology(workdir, relay_url, admin, setups, node)
        stack.push_async_callback(topo.aclose)
        for c in setups.values():
            others = [o for o in setups.values() if o is not c]
            await register_chain(topo, c, others, allow_lists=relay_allow_lists)
        await pair_asset_transfers(topo)
        for c in setups.values():
            if c.name not in without_gateway:
                c.gateway = await stack.enter_async_context(start_gateway(topo, c.name))
        yield topo


@asynccontextmanager
async def _serving(node: Node, port: int = 0) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_api, node, "127.0.0.1", port)
        try:
            yield url
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def start_gateway(topo: Topology, chain: str) -> AsyncIterator[Gateway]:
    c = topo.chains[chain]
    cfg = GatewayConfig(
        relay=topo.relay_url,
        key=Path("-"),
        data_dir=topo.workdir / f"gateway-{chain}",
        chain_type=c.family,
        chain_id=chain,
        poll_interval=0.05,
    )
    adapter = AdapterRegistry.from_entry_points().create(c.family, dict(c.adapter_config))
    async with (
        AsyncRelayClient(topo.relay_url, account=c.gateway_key) as client,
        open_gateway(cfg, adapter, client) as gw,
    ):
        yield gw


def relay_dir(d: Path, seed: str, default_timeout_blocks: int) -> tuple[Genesis, Account, Account]:
    """The genesis, admin and validator of the relay directory ``d``: read from it when
    it holds a genesis, else written to it as ``relayhub relay init`` lays one out (with
    keys derived from ``seed``)."""
    if (d / GENESIS_FILE).exists():
        genesis = Genesis.load(d / GENESIS_FILE)
        if genesis.hub_id != HUB_ID:
            raise RelayError(
                Code.CONFIG,
                f"{d} is a relay directory of hub {genesis.hub_id!r}, not {HUB_ID!r}; "
                "pass a new --dir, or one this topology created",
            )
        return genesis, read_key_file(d / ADMIN_KEY), read_key_file(d / NODE_KEY)
    admin = Account.from_key(derive_key(seed, "admin"))
    validator = Account.from_key(derive_key(seed, "validator"))
    genesis = Genesis(HUB_ID, (admin.address,), (validator.address,), 1, default_timeout_blocks)
    d.mkdir(parents=True, exist_ok=True)
    write_relay_dir(d, genesis, admin, validator)
    return genesis, admin, validator


def derive_key(seed: str, what: str) -> bytes:
    """A deterministic test key: keccak of a label (never use for real funds)."""
    return keccak(f"relayhub-topology/{seed}/{what}".encode())


def describe(topo: Topology) -> dict[str, Any]:
    return {
        "relay": topo.relay_url,
        "hub": HUB_ID,
        "chains": {
            name: {
                "rpc": c.rpc_url,
                "broker": c.broker,
                "asset_transfer": c.service_id(c.asset),
                "data_swap": c.service_id(c.data_swap),
            }
            for name, c in topo.chains.items()
        },
    }
