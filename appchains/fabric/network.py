"""The running channel: peers, the orderer and the ledger, behind one lock (threads).

:class:`FabricNetwork` is what the gRPC services (``server``) and tests drive::

    net = FabricNetwork.open(setup, registry, store, max_message_count=10, batch_timeout=0.2)
    net.start()                                  # the orderer's thread
    response = net.process_proposal(0, signed)   # peer 0 endorses (protos.Endorser)
    status, info = net.broadcast(envelope)       # to the orderer (Broadcast's statuses)
    location = net.wait_for_tx(tx_id, 5.0)       # TxLocation(block, index, code) or None
    net.stop()

The peers share one ledger: each would validate every block to the same codes and
state, so the dev chain commits once (each peer still endorses with its own identity).
The orderer thread cuts batches (``max_message_count`` or ``batch_timeout``), signs
the block, validates it (:class:`~appchains.fabric.commit.Committer`) and commits it
to the store in one SQLite transaction; waiters are woken on every block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2
from google.protobuf.message import DecodeError

import adapters.fabric.signature as signature
from adapters.fabric.errors import FabricError
from adapters.fabric.identity import deserialize_identity
from appchains.fabric.block import set_transactions_filter
from appchains.fabric.commit import Committer
from appchains.fabric.ledger import TxLocation
from appchains.fabric.orderer import BlockCutter, Orderer, OrgMSP, genesis_block
from appchains.fabric.orgs import NetworkSetup
from appchains.fabric.peer import Peer
from appchains.fabric.registry import ChaincodeRegistry
from appchains.fabric.simulation import Version
from appchains.fabric.store import LedgerStore, StoreError

log = logging.getLogger("relayhub.fabric")

Status = common_pb2.Status


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """The orderer's ``BroadcastResponse``: status and info."""

    status: int  #: a ``common.Status``
    info: str = ""

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS


class FabricNetwork:
    def __init__(
        self,
        setup: NetworkSetup,
        registry: ChaincodeRegistry,
        store: LedgerStore,
        *,
        max_message_count: int,
        batch_timeout: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.setup = setup
        self.channel_id = setup.channel_id
        self.registry = registry
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self.cutter = BlockCutter(max_message_count, batch_timeout)
        self.orderer = Orderer(setup.orderer)
        self.committer = Committer(self.channel_id, setup.cas, registry)
        self.peers = [
            Peer(o.peer_name, o.peer, self.channel_id, setup.cas, registry, store)
            for o in setup.orgs
        ]
        self._cond = threading.Condition()
        self._batches: list[list[bytes]] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @classmethod
    def open(
        cls,
        setup: NetworkSetup,
        registry: ChaincodeRegistry,
        store: LedgerStore,
        *,
        max_message_count: int,
        batch_timeout: float,
        genesis_timestamp: int | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> FabricNetwork:
        """The network on ``store``: the genesis block is written on a fresh store; a
        store of another seed or channel is refused."""
        net = cls(
            setup,
            registry,
            store,
            max_message_count=max_message_count,
            batch_timeout=batch_timeout,
            clock=clock,
            monotonic=monotonic,
        )
        identity = f"{setup.seed}\n{setup.channel_id}\n{len(setup.orgs)}".encode()
        stored = store.get_meta("network")
        if stored is None and store.height() == 0:
            block = genesis_block(
                setup.channel_id,
                [OrgMSP(o.msp_id, o.ca.certificate) for o in setup.orgs],
                OrgMSP(setup.orderer_ca.msp_id, setup.orderer_ca.certificate),
                net.orderer,
                max_message_count=max_message_count,
                batch_timeout=batch_timeout,
                timestamp=int(clock()) if genesis_timestamp is None else genesis_timestamp,
            )
            net._commit(block, genesis=True)
            store.set_meta("network", identity)
        elif stored != identity:
            raise StoreError(
                "the data dir holds another network (seed, channel or org count differ); "
                "use its settings or a fresh data dir"
            )
        return net

    # -- lifecycle
    def start(self) -> None:
        """Start the orderer's thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run_orderer, name="fabric-orderer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def now(self) -> int:
        return int(self.clock())

    # -- peers
    def process_proposal(
        self, peer: int, signed: proposal_pb2.SignedProposal
    ) -> proposal_response_pb2.ProposalResponse:
        with self.store.lock:  # simulate on one committed state
            return self.peers[peer].process_proposal(signed, self.now())

    def peer_index(self, msp_id: str) -> int | None:
        for i, p in enumerate(self.peers):
            if p.msp_id == msp_id:
                return i
        return None

    # -- orderer
    def broadcast(self, envelope: common_pb2.Envelope) -> BroadcastResult:
        """The orderer's ``Broadcast`` of one envelope: a well-formed endorser
        transaction of this channel signed by a valid member is queued (SUCCESS);
        otherwise BAD_REQUEST or FORBIDDEN, as Fabric's message processor answers."""
        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        except DecodeError as exc:
            return BroadcastResult(Status.BAD_REQUEST, f"bad envelope: {exc}")
        if chdr.channel_id != self.channel_id:
            return BroadcastResult(Status.NOT_FOUND, f"channel {chdr.channel_id!r} not found")
        if chdr.type != common_pb2.HeaderType.ENDORSER_TRANSACTION:
            return BroadcastResult(Status.BAD_REQUEST, f"header type {chdr.type} not accepted")
        try:
            creator = deserialize_identity(shdr.creator, self.setup.cas, self.now())
            signature.verify(creator.public_key, envelope.payload, envelope.signature)
        except FabricError as exc:
            return BroadcastResult(Status.FORBIDDEN, f"implicit policy Writers: {exc}")
        data = envelope.SerializeToString()
        with self._cond:
            if self._stopping:
                return BroadcastResult(Status.SERVICE_UNAVAILABLE, "the orderer is stopping")
            self._batches.extend(self.cutter.ordered(data, self.monotonic()))
            self._cond.notify_all()
        return BroadcastResult(Status.SUCCESS)

    def order(self, envelopes: list[bytes]) -> common_pb2.Block:
        """Cut ``envelopes`` (serialized, taken as they are: no Broadcast checks) into
        the next block now and commit it — for tests and tools, with the orderer's
        thread not running."""
        if self._thread is not None:
            raise RuntimeError("order() is for a network whose orderer thread is not running")
        self._make_block(list(envelopes))
        block = self.store.get_block(self.store.height() - 1)
        assert block is not None
        return block

    def _run_orderer(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stopping:
                        batch = self._batches.pop(0) if self._batches else None
                        if batch is None:
                            batch = self.cutter.cut_if_due(self.monotonic())
                        if batch is not None:
                            break
                        due = self.cutter.deadline()
                        wait = None if due is None else max(0.0, due - self.monotonic())
                        self._cond.wait(timeout=wait if wait is not None else 1.0)
                    else:
                        return
                self._make_block(batch)
        except BaseException as exc:  # the chain stops making blocks: say why
            log.exception("the orderer failed")
            with self._cond:
                self._failure = exc
                self._cond.notify_all()

    def _make_block(self, batch: list[bytes]) -> None:
        number = self.store.height()
        previous = self.store.block_hash(number - 1) or b""
        self._commit(self.orderer.make_block(number, previous, batch))

    def _commit(self, block: common_pb2.Block, genesis: bool = False) -> None:
        result = self.committer.validate_block(block, self.store, self.now())
        set_transactions_filter(block, result.codes)
        if genesis:
            # The chaincodes' initial state (their constructor's, as the EVM dev chain's
            # genesis storage) commits with the config block, at version (0, 0): what a
            # real network does with an init transaction after the definition.
            for name, chaincode in self.registry.chaincodes().items():
                initial = getattr(chaincode, "genesis_state", None)
                for key, value in (initial() if initial else {}).items():
                    result.updates[(name, key)] = (value, Version(0, 0))
        self.store.commit_block(block, result)
        log.debug("block %d: %d transactions", block.header.number, len(result.codes))
        with self._cond:
            self._cond.notify_all()

    # -- waiting
    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Whether the ledger reaches ``height`` blocks within ``timeout`` seconds."""
        deadline = self.monotonic() + timeout
        with self._cond:
            while self.store.height() < height:
                left = deadline - self.monotonic()
                if left <= 0 or self._stopping or self._failure is not None:
                    return False
                self._cond.wait(timeout=min(left, 1.0))
        return True

    def wait_for_tx(self, tx_id: str, timeout: float) -> TxLocation | None:
        """Where ``tx_id`` committed, waiting up to ``timeout`` seconds."""
        deadline = self.monotonic() + timeout
        with self._cond:
            while True:
                location = self.store.find_tx(tx_id)
                left = deadline - self.monotonic()
                if location is not None or left <= 0 or self._stopping:
                    return location
                self._cond.wait(timeout=min(left, 1.0))
