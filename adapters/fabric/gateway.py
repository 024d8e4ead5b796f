"""Fabric adapter, gateway side: watch the broker chaincode, prove what it emitted,
execute inbound IBTPs (docs/fabric.md §3).

It talks to the network only through Fabric's gRPC services (:mod:`adapters.fabric.client`):

* ``poll`` asks the attesting peers, with ``protos.Endorser/ProcessProposal``, for
  each new block through ``qscc GetBlockByNumber`` — one signed proposal per block, so
  the answers are the endorsed attestations the proof carries (§3.3). The peers must
  answer with the same bytes; the block is then read from the attestation itself, and
  every VALID transaction of the broker chaincode with a broker event becomes an IBTP
  whose proof is that attestation and the transaction's place in the block. A block
  is attested once for all its IBTPs.
* ``deliver`` invokes ``broker.invokeInterchain`` / ``broker.invokeReceipt`` through the
  peer's ``gateway.Gateway`` — Endorse (the gateway collects endorsements to the
  chaincode's policy), Submit, CommitStatus — one delivery at a time: each reads and
  writes its pair's counters, so two endorsed on the same state would conflict at
  commit (MVCC), and one that does is endorsed again.
* ``counters`` and ``refetch`` evaluate the broker's views (``outCounter``,
  ``messageTx``...) and ``qscc GetBlockByTxID``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import trio
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import transaction_pb2

from adapters.base import (
    BrokerCounters,
    Delivery,
    DeliveryOutcome,
    DeliveryRefused,
    PollResult,
)
from adapters.fabric.client import (
    ClientIdentity,
    PeerClient,
    chaincode_refusal,
    encode_bytes_list,
    evaluate_transaction,
    sign_proposal,
    submit_transaction,
)
from adapters.fabric.proof import (
    BROKER_EVENTS,
    QSCC,
    CallbackEvent,
    build_attestation_proposal,
    build_proof,
    decode_broker_event,
    parse_action,
    parse_attestation,
    parse_block,
    parse_transaction,
)
from adapters.fabric.proposal import InterchainEvent, ReceiptEvent
from relay.config import ConfigError, load_mapping, setting
from relay.errors import Code, RelayError
from relay.ibtp import IBTP, IBTPType, Payload
from relay.ibtp.ids import parse_service_id

log = logging.getLogger("relayhub.adapters.fabric")

_VALID = transaction_pb2.TxValidationCode.VALID
_MVCC_READ_CONFLICT = transaction_pb2.TxValidationCode.MVCC_READ_CONFLICT
#: Broker refusals that mean "this delivery was applied before" (docs/broker.md).
_ALREADY = ("receipt already processed", "index out of order")
#: Endorse-again attempts of a delivery that lost an MVCC race.
_MVCC_RETRIES = 5


def _peer_list(value: Any) -> str | None:
    if not value:
        return "name at least one peer as MSPID@host:port"
    for item in value:
        msp, _, endpoint = str(item).partition("@")
        if not msp or ":" not in endpoint:
            return f"{item!r} is not MSPID@host:port"
    return None


@dataclass(frozen=True)
class FabricChainSection:
    id: str = setting(doc="the chain's ID on the relay")
    channel: str = setting(doc="the Fabric channel the broker chaincode runs on")
    gateway: str = setting(doc="host:port of the peer whose Gateway service submits")
    peers: tuple[str, ...] = setting(
        doc="the attesting peers, MSPID@host:port each: together they must meet the "
        "chain's registered attestation policy",
        check=_peer_list,
    )
    msp_id: str = setting(doc="the MSP ID of the gateway's client identity")
    cert: str = setting(doc="the client identity's certificate (PEM file)", key_file=True)
    key: str = setting(doc="the client identity's P-256 private key (PEM file)", key_file=True)
    broker: str = setting("broker", "the broker chaincode's name")
    max_blocks_per_poll: int = setting(100, "blocks attested per poll", min=1)
    commit_timeout: float = setting(
        30.0, "wait this long for a broker transaction's commit status", duration=True
    )
    rpc_timeout: float = setting(10.0, "deadline of one gRPC call", duration=True)


class FabricAdapter:
    type: ClassVar[str] = "fabric"
    config_schema: ClassVar[Any] = FabricChainSection

    def __init__(self, section: FabricChainSection, identity: ClientIdentity) -> None:
        self.section = section
        self.identity = identity
        self.channel = section.channel
        self.broker = section.broker
        self._gateway: PeerClient | None = None
        self._peers: list[tuple[str, PeerClient]] = []

    @classmethod
    def from_config(cls, d: dict[str, Any]) -> FabricAdapter:
        table = {k: v for k, v in d.items() if k != "type"}
        section = load_mapping(FabricChainSection, table, key="chain")
        try:
            identity = ClientIdentity.from_files(
                section.msp_id, Path(section.cert), Path(section.key)
            )
        except RelayError as exc:
            raise ConfigError([f"chain.cert / chain.key: {exc.message}"]) from None
        return cls(section, identity)

    @property
    def chain_id(self) -> str:
        return self.section.id

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        timeout = self.section.rpc_timeout
        self._gateway = PeerClient(self.section.gateway, timeout)
        self._peers = []
        for item in self.section.peers:
            msp, _, endpoint = item.partition("@")
            self._peers.append((msp, PeerClient(endpoint, timeout)))
        await self._head()  # the network answers on this channel

    async def stop(self) -> None:
        for client in [self._gateway, *(c for _, c in self._peers)]:
            if client is not None:
                client.close()
        self._gateway, self._peers = None, []

    @property
    def gateway(self) -> PeerClient:
        if self._gateway is None:
            raise RelayError(Code.CONFIG, "the Fabric adapter is not started")
        return self._gateway

    # --- queries ----------------------------------------------------------------

    async def _evaluate(self, chaincode: str, args: Sequence[bytes]) -> bytes:
        return await evaluate_transaction(
            self.gateway, self.identity, self.channel, chaincode, args
        )

    async def _head(self) -> int:
        """The number of the newest block (height - 1)."""
        raw = await self._evaluate(QSCC, [b"GetChainInfo", self.channel.encode()])
        info = ledger_pb2.BlockchainInfo()
        info.ParseFromString(raw)
        return int(info.height) - 1

    async def _attest(self, number: int) -> tuple[bytes, bytes, list[bytes]]:
        """Block ``number`` as the attesting peers endorse it: the qscc proposal, the
        response payload they all signed, and their endorsements."""
        nonce = os.urandom(24)
        proposal = build_attestation_proposal(
            self.channel, number, self.identity.serialized, nonce, int(time.time())
        )
        raw = proposal.SerializeToString()
        signed = sign_proposal(self.identity, raw)
        answers: list[Any] = [None] * len(self._peers)

        async def ask(i: int, client: PeerClient) -> None:
            answers[i] = await client.process_proposal(signed)

        async with trio.open_nursery() as nursery:
            for i, (_, client) in enumerate(self._peers):
                nursery.start_soon(ask, i, client)
        payloads = set()
        endorsements = []
        for (msp, client), answer in zip(self._peers, answers, strict=True):
            if answer.response.status != 200 or not answer.HasField("endorsement"):
                raise RelayError(
                    Code.CHAIN_RPC_ERROR,
                    f"peer {client.endpoint} ({msp}) did not endorse qscc GetBlockByNumber "
                    f"{number}: {answer.response.status} {answer.response.message}",
                    endpoint=client.endpoint,
                    rpc_code=answer.response.status,
                    rpc_message=answer.response.message,
                )
            payloads.add(answer.payload)
            endorsements.append(answer.endorsement.SerializeToString())
        if len(payloads) != 1:
            raise RelayError(
                Code.CHAIN_INCONSISTENT,
                f"the attesting peers answered block {number} differently; they disagree "
                "on the ledger: check their logs before relaying anything from it",
                block=number,
            )
        return raw, payloads.pop(), endorsements

    # --- watch ------------------------------------------------------------------

    async def poll(self, checkpoint: int, limit: int = 1000) -> PollResult:
        head = await self._head()
        last = min(head, checkpoint + self.section.max_blocks_per_poll)
        found: list[IBTP] = []
        number = checkpoint
        while number < last and len(found) < limit:
            number += 1
            found += await self._block_ibtps(number)
        return PollResult(tuple(found), number, head)

    async def _block_ibtps(self, number: int, want: str | None = None) -> list[IBTP]:
        """The broker's messages in block ``number`` (only transaction ``want``'s, if
        given), each with its proof."""
        proposal, response, endorsements = await self._attest(number)
        block = parse_block(parse_attestation(proposal, response).block)
        if block.number != number:
            raise RelayError(
                Code.CHAIN_INCONSISTENT, f"qscc answered block {block.number} for block {number}"
            )
        out = []
        for i, entry in enumerate(block.data):
            if block.transactions_filter[i] != _VALID:
                continue
            ibtp = self._ibtp_from_entry(entry, want)
            if ibtp is not None:
                proof = build_proof(proposal, response, endorsements, i)
                out.append(dataclasses.replace(ibtp, proof=proof))
        return out

    def _ibtp_from_entry(self, entry: bytes, want: str | None) -> IBTP | None:
        """The IBTP a block entry's broker event stands for, or None (a config block, a
        transaction of another chaincode, no event, an event no IBTP can carry)."""
        try:
            tx = parse_transaction(entry)
        except Exception:
            return None  # not an endorser transaction (e.g. a config update)
        if want is not None and tx.tx_id != want:
            return None
        try:
            action = parse_action(tx.proposal_response_payload)
            if (
                tx.channel_id != self.channel
                or action.chaincode != self.broker
                or action.event is None
                or action.event.chaincode_id != self.broker
                or action.event.event_name not in BROKER_EVENTS
            ):
                return None
            event = decode_broker_event(action.event.event_name, action.event.payload)
            return self._ibtp_from_event(event)
        except Exception as exc:
            log.warning(
                "skipping transaction %s: its broker event is no IBTP (%s: %s)",
                tx.tx_id,
                type(exc).__name__,
                str(exc)[:200],
            )
            return None

    def _ibtp_from_event(
        self, event: InterchainEvent | ReceiptEvent | CallbackEvent
    ) -> IBTP | None:
        if isinstance(event, InterchainEvent):
            payload = Payload(event.func, tuple(event.args), event.encrypted)
            return IBTP(
                event.from_, event.to, event.index, IBTPType.INTERCHAIN, event.timeout, payload
            )
        if isinstance(event, ReceiptEvent):
            return IBTP(
                event.from_,
                event.to,
                event.index,
                IBTPType(event.typ),
                0,
                Payload("", (event.result,), False),
            )
        # A rollback is news for the relay from either end: the source's that it rolled
        # back, the destination's that the index will never run there (the relay then
        # tells the source, docs/protocol.md §3). Callbacks of receipts are nobody's news.
        if event.typ == IBTPType.RECEIPT_ROLLBACK and self.chain_id in (
            parse_service_id(event.from_).chain,
            parse_service_id(event.to).chain,
        ):
            return IBTP(event.from_, event.to, event.index, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
        return None

    # --- execute ----------------------------------------------------------------

    async def deliver(self, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
        outcomes: list[DeliveryOutcome] = []
        refused: dict[int, str] = {}
        for position, d in enumerate(deliveries):
            try:
                outcomes.append(await self._deliver_one(d))
            except _Refused as exc:
                refused[position] = exc.reason
                outcomes.append(DeliveryOutcome.EXECUTED)  # placeholder; the list is refused
        if refused:
            raise DeliveryRefused(refused, len(deliveries))
        return outcomes

    def _broker_args(self, d: Delivery) -> list[bytes]:
        i = d.ibtp
        signatures = encode_bytes_list(d.signatures)
        if i.type == IBTPType.INTERCHAIN:
            return [
                b"invokeInterchain",
                i.src.encode(),
                i.dst.encode(),
                str(i.index).encode(),
                i.payload.func.encode(),
                encode_bytes_list(i.payload.args),
                signatures,
            ]
        result = i.payload.args[0] if i.payload.args else b""
        return [
            b"invokeReceipt",
            i.src.encode(),
            i.dst.encode(),
            str(i.index).encode(),
            str(int(i.type)).encode(),
            result,
            str(int(d.status)).encode(),
            signatures,
        ]

    async def _deliver_one(self, d: Delivery) -> DeliveryOutcome:
        args = self._broker_args(d)
        for _ in range(_MVCC_RETRIES):
            try:
                done = await submit_transaction(
                    self.gateway,
                    self.identity,
                    self.channel,
                    self.broker,
                    args,
                    self.section.commit_timeout,
                )
            except RelayError as exc:
                reason = chaincode_refusal(exc)
                if reason is None:
                    raise  # the chain could not be asked: the runtime retries the list
                if any(a in reason for a in _ALREADY) and await self._applied(d):
                    return DeliveryOutcome.ALREADY_DONE
                raise _Refused(reason) from None
            if done.valid:
                return DeliveryOutcome.EXECUTED
            if done.code != _MVCC_READ_CONFLICT:
                name = transaction_pb2.TxValidationCode.Name(done.code)
                raise _Refused(f"the transaction was invalidated at commit ({name})")
            # Another transaction moved the pair's state between endorsement and commit.
        raise RelayError(
            Code.CHAIN_INCONSISTENT,
            f"delivery of {d.ibtp.id} lost {_MVCC_RETRIES} MVCC races in a row",
        )

    async def _applied(self, d: Delivery) -> bool:
        """Whether the broker already holds delivery ``d`` (what a refusal alone can't
        tell: "index out of order" is also a request delivered too early)."""
        i = d.ibtp
        if i.type == IBTPType.INTERCHAIN:
            return (await self.counters(i.src, i.dst)).inbound >= i.index
        return True  # "receipt already processed": this index's receipt is recorded

    # --- inspect ----------------------------------------------------------------

    async def _view_uint(self, fn: bytes, *args: str) -> int:
        raw = await self._evaluate(self.broker, [fn, *(a.encode() for a in args)])
        if not raw.isdigit():
            raise RelayError(Code.CHAIN_INCONSISTENT, f"broker {fn.decode()} answered {raw[:40]!r}")
        return int(raw)

    async def counters(self, src: str, dst: str) -> BrokerCounters:
        return BrokerCounters(
            out=await self._view_uint(b"outCounter", src, dst),
            inbound=await self._view_uint(b"inCounter", src, dst),
            callback=await self._view_uint(b"callbackCounter", src, dst),
        )

    async def refetch(
        self, src: str, dst: str, index: int, type: IBTPType | frozenset[IBTPType]
    ) -> IBTP | None:
        wanted = type if isinstance(type, frozenset) else frozenset({type})
        for kind in sorted({_kind(t) for t in wanted}):
            tx_id = (
                await self._evaluate(
                    self.broker,
                    [b"messageTx", kind.encode(), src.encode(), dst.encode(), str(index).encode()],
                )
            ).decode()
            if not tx_id:
                continue
            raw = await self._evaluate(
                QSCC, [b"GetBlockByTxID", self.channel.encode(), tx_id.encode()]
            )
            block = common_pb2.Block()
            block.ParseFromString(raw)
            for ibtp in await self._block_ibtps(int(block.header.number), want=tx_id):
                if (ibtp.src, ibtp.dst, ibtp.index) == (src, dst, index) and ibtp.type in wanted:
                    return ibtp
        return None


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(t: IBTPType) -> str:
    """The broker's message slot of an IBTP type (one message per slot and index)."""
    if t == IBTPType.INTERCHAIN:
        return "request"
    return "rollback" if t == IBTPType.RECEIPT_ROLLBACK else "receipt"
