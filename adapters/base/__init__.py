"""The Adapter protocol: a blockchain as the gateway understands it.

Every chain family implements this one interface in its own package
(``adapters/evm``, ``adapters/fabric``, ``adapters/fisco``); the chain-agnostic
gateway runtime (:mod:`adapters.gateway`) drives it. An adapter is chosen from
config by ``type = "evm" | "fabric" | "fisco"`` through the ``relayhub.adapters``
entry points. :mod:`adapters.testing` holds the conformance suite every adapter
must pass.

Responsibilities of an adapter:

* **watch**: ``poll(checkpoint)`` returns the broker's interchain messages
  (requests, receipts, rollback acknowledgements of the source and of the
  destination) emitted after ``checkpoint``,
  each as an IBTP *with its proof*, in chain order, plus the new checkpoint;
* **execute**: ``deliver(deliveries)`` submits IBTPs routed by the relay (with
  the relay validators' signatures) to the broker, in order, idempotently;
* **inspect**: the broker's counters and any message by index, for recovery.

An adapter class is its own factory: ``from_config(table)`` builds it from the
gateway config's ``[chain]`` table (:meth:`AdapterRegistry.create` checks it is
there). docs/families.md lists everything a family implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from relay.errors import Code, RelayError
from relay.ibtp import IBTP, IBTPType, TxStatus

ENTRY_POINT_GROUP = "relayhub.adapters"


@dataclass(frozen=True, slots=True)
class Delivery:
    """An IBTP the relay routed to this chain: canonical IBTP (no proof), the status
    the relay proof announces, and the relay validators' signatures."""

    seq: int
    ibtp: IBTP
    status: TxStatus
    signatures: tuple[bytes, ...]


class DeliveryOutcome(Enum):
    EXECUTED = "executed"
    ALREADY_DONE = "already_done"


class DeliveryRefused(RelayError):
    """The chain refused some deliveries of a list for a reason of its own (its broker
    reverted: a relay proof it does not accept, a service ID it cannot parse, an index
    out of its order...). ``refused`` maps positions in the list to the chain's reason;
    every other delivery was applied or was already done. The runtime retries a
    refused delivery a bounded number of times, then sets it aside (docs/gateway.md)."""

    def __init__(self, refused: dict[int, str], total: int) -> None:
        first = min(refused)
        super().__init__(
            Code.DELIVERY_REFUSED,
            f"the chain refused {len(refused)} of {total} deliveries "
            f"(first at position {first}: {refused[first]})",
            refused={str(k): v for k, v in sorted(refused.items())},
        )
        self.refused = dict(refused)


@dataclass(frozen=True, slots=True)
class BrokerCounters:
    """The broker's view of one pair (from -> to)."""

    out: int  # requests emitted by `from` (source side)
    inbound: int  # requests executed for `to` (destination side)
    callback: int  # receipts / rollbacks applied at the source


@dataclass(frozen=True, slots=True)
class PollResult:
    ibtps: tuple[IBTP, ...]
    checkpoint: int
    head: int


#: The types ``refetch`` takes for "the broker's receipt for this index, whichever
#: outcome": a broker emits at most one receipt per index, success or failure.
ANY_RECEIPT: frozenset[IBTPType] = frozenset({IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE})


@runtime_checkable
class Adapter(Protocol):
    #: Family name, as in config ``type = "..."``.
    type: ClassVar[str]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """The factory: build an adapter from the gateway config's ``[chain]`` table (a
        dict with at least ``type`` and ``id``; every other key is the family's own).
        No I/O (``start`` connects). Raise ``RelayError(Code.CONFIG, ...)`` naming the
        missing or wrong key."""
        ...

    @property
    def chain_id(self) -> str:
        """The chain's ID on the relay (the middle part of its full service IDs)."""
        ...

    async def start(self) -> None:
        """Connect; check the chain is the one configured (chain id, broker)."""
        ...

    async def stop(self) -> None: ...

    async def poll(self, checkpoint: int, limit: int = 1000) -> PollResult:
        """Interchain messages emitted after ``checkpoint`` (a chain position, e.g. a
        block number), oldest first, each with its proof; at most about ``limit``."""
        ...

    async def deliver(self, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
        """Execute relay-routed IBTPs on the broker, in order (an adapter may pipeline
        them). Idempotent: a delivery the broker already applied is ALREADY_DONE and
        changes nothing.

        Raises :class:`DeliveryRefused` naming the deliveries the chain refused (every
        other one was applied or already done): the runtime retries those a bounded
        number of times, then sets them aside. Raises anything else (OSError,
        RelayError) when the chain could not be asked at all: the runtime retries the
        whole list with backoff."""
        ...

    async def counters(self, src: str, dst: str) -> BrokerCounters: ...

    async def refetch(
        self, src: str, dst: str, index: int, type: IBTPType | frozenset[IBTPType]
    ) -> IBTP | None:
        """The message this chain's broker emitted for (src, dst, index) whose type is
        ``type`` (or one of the set ``type``), with a fresh proof; None if it emitted
        none of that type. Per index a broker emits at most one of each kind:

        * INTERCHAIN: the request (this chain is the source);
        * RECEIPT_SUCCESS, RECEIPT_FAILURE: the receipt (this chain is the destination;
          one receipt per index, so asking for the other outcome gives None);
          :data:`ANY_RECEIPT` asks for the receipt whichever its outcome;
        * RECEIPT_ROLLBACK: the acknowledgement that this chain rolled the request
          back: as its source (its broker ran the rollback), or as its destination (its
          broker consumed the index without running it, after a rollback notice).

        Works from the chain alone (after a restart, with nothing polled yet). Raises
        like ``poll`` when the chain cannot be asked."""
        ...


@dataclass(frozen=True, slots=True)
class RelayInfo:
    """What the relay says about the hub and about one chain, for :class:`Preflight`:
    ``GET /v1/status`` (hub ID, validators, threshold) and the chain's registration
    (``GET /v1/chains/{id}``: family, trust_root, broker, gateways, status)."""

    hub_id: str
    validators: tuple[str, ...]
    validator_threshold: int
    chain: dict[str, Any]


@runtime_checkable
class Preflight(Protocol):
    """An optional Adapter hook: checks, before the gateway runs, that the chain is the
    one registered on the relay (chain identity, broker, the broker's hub ID, chain ID
    and relay validators) and that the adapter can act on it (a funded account). The
    runtime checks the chain-agnostic rest (registered, ACTIVE, this gateway's key)."""

    async def preflight(self, relay: RelayInfo) -> list[str]:
        """Each mismatch as one sentence that names the fix; ``[]`` when all match.
        Raises (OSError, RelayError) only when the chain cannot be asked."""
        ...


class AdapterRegistry:
    def __init__(self, factories: dict[str, Any] | None = None) -> None:
        self._factories = dict(factories or {})

    @classmethod
    def from_entry_points(cls) -> AdapterRegistry:
        return cls({ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)})

    @property
    def types(self) -> list[str]:
        return sorted(self._factories)

    def create(self, type_: str, config: dict[str, Any]) -> Adapter:
        factory = self._factories.get(type_)
        if factory is None:
            raise RelayError(
                Code.CONFIG,
                f"no adapter for chain type {type_!r} (installed: {', '.join(self.types)})",
            )
        if hasattr(factory, "load"):
            factory = factory.load()
        if not callable(getattr(factory, "from_config", None)):
            raise RelayError(
                Code.CONFIG,
                f"adapter for {type_!r} ({factory!r}) has no from_config(table) factory",
            )
        adapter = factory.from_config(config)
        if not isinstance(adapter, Adapter):
            raise RelayError(Code.CONFIG, f"adapter for {type_!r} does not implement Adapter")
        if adapter.type != type_:
            raise RelayError(
                Code.CONFIG, f"the adapter installed as {type_!r} is for family {adapter.type!r}"
            )
        return adapter
