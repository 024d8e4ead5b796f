"""The gRPC shell: each peer's port serves ``gateway.Gateway``, ``protos.Endorser`` and
``protos.Deliver`` (grpcio, a thread pool per port, loopback only).

Semantics are Fabric's (``internal/pkg/gateway``, ``core/endorser``, ``common/deliver``):

* **Evaluate** runs the proposal on one peer — the first of ``target_organizations``,
  else this port's own — and returns its ``Response`` (payload = the chaincode
  action's response payload); a response status of 400 or more is ``ABORTED``
  "evaluate call to endorser returned error: chaincode response <status>, <message>".
* **Endorse** collects endorsements: from one peer of each of
  ``endorsing_organizations`` when given, else from this port's peer and then other
  orgs' peers, in org order, until the policies of the chaincode and of every
  namespace its simulation wrote are met. Any refusal is ``ABORTED`` (policy not
  reachable: ``FAILED_PRECONDITION``). It returns the prepared, *unsigned*
  transaction envelope; the client signs its payload.
* **Submit** sends the client-signed envelope to the orderer; an orderer refusal
  (BAD_REQUEST, FORBIDDEN: the creator's signature) is ``ABORTED`` with the status.
* **CommitStatus** checks the ``SignedCommitStatusRequest``'s signature by its
  ``identity`` (``PERMISSION_DENIED`` otherwise), waits for the transaction's commit
  (until the call's deadline) and returns its validation code and block number.
* **ChaincodeEvents** checks the signed request likewise and streams, block by block,
  the chaincode's events from ``start_position`` (``specified``; ``next_commit`` or
  none: the next block) or from the block of ``after_transaction_id`` (events up to
  and including that transaction skipped, as Fabric does).
* **ProcessProposal**: the peer's endorser (``appchains.fabric.peer``).
* **Deliver** / **DeliverFiltered**: per ``SeekInfo`` envelope (``DELIVER_SEEK_INFO``,
  signed by a channel member, else a ``FORBIDDEN`` status), the blocks from ``start``
  to ``stop`` (oldest / newest / specified / next commit; ``BLOCK_UNTIL_READY`` waits
  for blocks not yet cut, ``FAIL_IF_NOT_READY`` answers ``NOT_FOUND``), then a
  ``SUCCESS`` status. Filtered blocks carry each transaction's ID, type, validation
  code and, for VALID ones, the chaincode event without its payload.

Not modelled: error details (``ErrorDetail`` in the gRPC status), TLS, ACLs beyond
"a valid member of a channel org signed it".
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    events_pb2,
    events_pb2_grpc,
    peer_pb2_grpc,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

import adapters.fabric.signature as signature
from adapters.fabric.errors import FabricError
from adapters.fabric.identity import Identity, deserialize_identity
from adapters.fabric.policy import evaluate_policy
from adapters.fabric.proposal import ParsedProposal, parse_proposal
from appchains.fabric.block import transactions_filter
from appchains.fabric.network import FabricNetwork
from appchains.fabric.qscc import NAME as QSCC
from appchains.fabric.simulation import parse_rwset
from appchains.fabric.transaction import TransactionError, prepare_transaction

log = logging.getLogger("relayhub.fabric")

Status = common_pb2.Status
#: How long one wait for a block lasts before the call checks it is still wanted.
POLL = 0.5
#: Events read from the store per step of a ChaincodeEvents stream.
EVENTS_PER_READ = 500


def _abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    details: Sequence[gateway_pb2.ErrorDetail] = (),
) -> NoReturn:
    """End the call with ``code``; ``details`` travel as Fabric's gateway sends them: a
    ``google.rpc.Status`` whose details are ``gateway.ErrorDetail`` s, in the
    ``grpc-status-details-bin`` trailer (what ``grpc-status`` clients read)."""
    if details:
        status = status_pb2.Status(code=code.value[0], message=message)
        for detail in details:
            status.details.add().Pack(detail)
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(code, message)
    raise AssertionError("context.abort returned")  # grpc raises; this keeps mypy sure


def _unpack(context: grpc.ServicerContext, signed: proposal_pb2.SignedProposal) -> ParsedProposal:
    if not signed.proposal_bytes:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a signed proposal is required")
    try:
        return parse_proposal(signed.proposal_bytes)
    except FabricError as exc:
        _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"failed to unpack transaction proposal: {exc}",
        )


def _chaincode_error(response: proposal_response_pb2.ProposalResponse) -> str | None:
    status = response.response.status
    if 200 <= status < 400:
        return None
    return f"chaincode response {status}, {response.response.message}"


class GatewayService(gateway_pb2_grpc.GatewayServicer):
    """``gateway.Gateway`` on one peer's port."""

    def __init__(self, net: FabricNetwork, peer: int) -> None:
        self.net = net
        self.peer = peer

    def _check_signed(
        self, context: grpc.ServicerContext, data: bytes, identity: bytes, sig: bytes
    ) -> Identity:
        try:
            signer = deserialize_identity(identity, self.net.setup.cas, self.net.now())
            signature.verify(signer.public_key, data, sig)
        except FabricError as exc:
            _abort(context, grpc.StatusCode.PERMISSION_DENIED, f"access denied: {exc}")
        return signer

    def _check_channel(self, context: grpc.ServicerContext, channel: str) -> None:
        if channel != self.net.channel_id:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"channel {channel!r} not found")

    def Evaluate(
        self, request: gateway_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EvaluateResponse:
        parsed = _unpack(context, request.proposed_transaction)
        self._check_channel(context, parsed.channel_id)
        peer = self.peer
        if request.target_organizations:
            found = self.net.peer_index(request.target_organizations[0])
            if found is None:
                _abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"no peers available to evaluate chaincode {parsed.chaincode} in "
                    f"organization {request.target_organizations[0]}",
                )
            peer = found
        response = self.net.process_proposal(peer, request.proposed_transaction)
        failed = _chaincode_error(response)
        if failed is not None:
            _abort(
                context,
                grpc.StatusCode.ABORTED,
                f"evaluate call to endorser returned error: {failed}",
                [self._detail(peer, failed)],
            )
        result = proposal_response_pb2.Response()
        result.CopyFrom(response.response)
        try:
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(response.payload)
            result.payload = proposal_pb2.ChaincodeAction.FromString(prp.extension).response.payload
        except DecodeError:
            pass
        return gateway_pb2.EvaluateResponse(result=result)

    def Endorse(
        self, request: gateway_pb2.EndorseRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EndorseResponse:
        signed = request.proposed_transaction
        parsed = _unpack(context, signed)
        self._check_channel(context, parsed.channel_id)
        proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
        # One committed state for every peer's simulation (the store's lock is re-entrant
        # and commits take it): the peers share one ledger here, so the answers cannot
        # differ because a block landed between two simulations, as on a real network
        # they may (there the client endorses again).
        with self.net.store.lock:
            responses = self._collect(context, request, parsed, signed)
        try:
            envelope = prepare_transaction(proposal, responses)
        except TransactionError as exc:
            _abort(context, grpc.StatusCode.ABORTED, f"failed to assemble transaction: {exc}")
        return gateway_pb2.EndorseResponse(prepared_transaction=envelope)

    def _collect(
        self,
        context: grpc.ServicerContext,
        request: gateway_pb2.EndorseRequest,
        parsed: ParsedProposal,
        signed: proposal_pb2.SignedProposal,
    ) -> list[proposal_response_pb2.ProposalResponse]:
        if request.endorsing_organizations:
            responses = []
            for org in request.endorsing_organizations:
                index = self.net.peer_index(org)
                if index is None:
                    _abort(
                        context,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"no peers available in organization {org}",
                    )
                responses.append(self._endorse_on(context, index, signed))
        else:
            responses = self._endorse_by_policy(context, parsed, signed)
        return responses

    def _endorse_on(
        self, context: grpc.ServicerContext, index: int, signed: proposal_pb2.SignedProposal
    ) -> proposal_response_pb2.ProposalResponse:
        response = self.net.process_proposal(index, signed)
        failed = _chaincode_error(response)
        if failed is not None:
            peer = self.net.peers[index]
            _abort(
                context,
                grpc.StatusCode.ABORTED,
                f"failed to endorse transaction: {peer.name} ({peer.msp_id}): {failed}",
                [self._detail(index, failed)],
            )
        return response

    def _detail(self, index: int, message: str) -> gateway_pb2.ErrorDetail:
        peer = self.net.peers[index]
        return gateway_pb2.ErrorDetail(address=peer.name, msp_id=peer.msp_id, message=message)

    def _endorse_by_policy(
        self,
        context: grpc.ServicerContext,
        parsed: ParsedProposal,
        signed: proposal_pb2.SignedProposal,
    ) -> list[proposal_response_pb2.ProposalResponse]:
        first = self._endorse_on(context, self.peer, signed)
        defined = self.net.registry.get(parsed.chaincode)
        if defined is None or parsed.chaincode == QSCC:
            return [first]
        policies = [defined.envelope]
        try:
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(first.payload)
            action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
            for ns, writes in parse_rwset(action.results).writes.items():
                other = self.net.registry.get(ns)
                if writes and other is not None and ns != parsed.chaincode:
                    policies.append(other.envelope)
        except DecodeError:
            _abort(context, grpc.StatusCode.ABORTED, "the endorser's response does not decode")
        now = self.net.now()
        cas = self.net.setup.cas

        def endorser(index: int) -> Identity:
            return deserialize_identity(self.net.peers[index].identity.serialized, cas, now)

        responses, endorsers = [first], [endorser(self.peer)]
        order = [i for i in range(len(self.net.peers)) if i != self.peer]
        for index in order:
            if all(evaluate_policy(p, endorsers) for p in policies):
                break
            responses.append(self._endorse_on(context, index, signed))
            endorsers.append(endorser(index))
        if not all(evaluate_policy(p, endorsers) for p in policies):
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"no combination of peers can be derived which satisfy the endorsement "
                f"policy of chaincode {parsed.chaincode}",
            )
        return responses

    def Submit(
        self, request: gateway_pb2.SubmitRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.SubmitResponse:
        if not request.HasField("prepared_transaction"):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a prepared transaction is required")
        if not request.prepared_transaction.signature:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "prepared transaction must be signed")
        self._check_channel(context, request.channel_id)
        result = self.net.broadcast(request.prepared_transaction)
        if not result.ok:
            _abort(
                context,
                grpc.StatusCode.ABORTED,
                "received unsuccessful response from orderer: "
                f"status={Status.Name(result.status)}, info={result.info}",
            )
        return gateway_pb2.SubmitResponse()

    def CommitStatus(
        self, signed: gateway_pb2.SignedCommitStatusRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.CommitStatusResponse:
        if not signed.request:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a commit status request is required")
        try:
            request = gateway_pb2.CommitStatusRequest.FromString(signed.request)
        except DecodeError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid status request: {exc}")
        if not request.identity:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no identity provided")
        if not request.channel_id:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no channel ID provided")
        if not request.transaction_id:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "transaction ID should not be empty")
        self._check_signed(context, signed.request, request.identity, signed.signature)
        self._check_channel(context, request.channel_id)
        while context.is_active():
            location = self.net.wait_for_tx(request.transaction_id, POLL)
            if location is not None:
                return gateway_pb2.CommitStatusResponse(
                    result=location.code, block_number=location.block_number
                )
            if self.net.stopping:
                _abort(context, grpc.StatusCode.UNAVAILABLE, "the peer is stopping")
        _abort(context, grpc.StatusCode.CANCELLED, "the call ended before the commit")

    def ChaincodeEvents(
        self, signed: gateway_pb2.SignedChaincodeEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[gateway_pb2.ChaincodeEventsResponse]:
        if not signed.request:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "a chaincode events request is required"
            )
        try:
            request = gateway_pb2.ChaincodeEventsRequest.FromString(signed.request)
        except DecodeError as exc:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid chaincode events request: {exc}",
            )
        self._check_signed(context, signed.request, request.identity, signed.signature)
        self._check_channel(context, request.channel_id)
        store = self.net.store
        after = request.after_transaction_id
        start: int | None = None
        if after:
            location = store.find_tx(after)
            if location is not None:
                start = location.block_number
        if start is None:
            kind = request.start_position.WhichOneof("Type")
            if kind == "specified":
                start = request.start_position.specified.number
            elif kind in (None, "next_commit"):
                start = store.height()
            else:
                _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"invalid start position type: {kind}",
                )
        passed = not after
        next_block = start
        while context.is_active() and not self.net.stopping:
            height = store.height()
            if next_block >= height:
                self.net.wait_for_height(next_block + 1, POLL)
                continue
            events = [
                e
                for e in store.events(request.chaincode_id, next_block, EVENTS_PER_READ)
                if e.block_number < height
            ]
            full = len(events) >= EVENTS_PER_READ
            for number, group in itertools.groupby(events, key=lambda e: e.block_number):
                matched = []
                for e in group:
                    if not passed:
                        passed = e.tx_id == after
                        continue
                    matched.append(
                        chaincode_event_pb2.ChaincodeEvent(
                            chaincode_id=e.chaincode,
                            tx_id=e.tx_id,
                            event_name=e.name,
                            payload=e.payload,
                        )
                    )
                if matched:
                    yield gateway_pb2.ChaincodeEventsResponse(events=matched, block_number=number)
            next_block = events[-1].block_number + 1 if full and events else height


class EndorserService(peer_pb2_grpc.EndorserServicer):
    """``protos.Endorser`` on one peer's port."""

    def __init__(self, net: FabricNetwork, peer: int) -> None:
        self.net = net
        self.peer = peer

    def ProcessProposal(
        self, signed: proposal_pb2.SignedProposal, context: grpc.ServicerContext
    ) -> proposal_response_pb2.ProposalResponse:
        return self.net.process_proposal(self.peer, signed)


def filtered_block(block: common_pb2.Block, channel_id: str) -> events_pb2.FilteredBlock:
    """A block as ``DeliverFiltered`` sends it."""
    out = events_pb2.FilteredBlock(channel_id=channel_id, number=block.header.number)
    codes = transactions_filter(block)
    for data, code in zip(block.data.data, codes, strict=False):
        ftx = out.filtered_transactions.add(tx_validation_code=code)
        try:
            payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(data).payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        except DecodeError:
            continue
        ftx.txid, ftx.type = chdr.tx_id, chdr.type
        if chdr.type != common_pb2.HeaderType.ENDORSER_TRANSACTION or code != 0:
            continue
        tx = transaction_pb2.Transaction.FromString(payload.data)
        for action in tx.actions:
            cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(
                cap.action.proposal_response_payload
            )
            cc = proposal_pb2.ChaincodeAction.FromString(prp.extension)
            filtered = ftx.transaction_actions.chaincode_actions.add()
            if cc.events:
                event = chaincode_event_pb2.ChaincodeEvent.FromString(cc.events)
                event.payload = b""
                filtered.chaincode_event.CopyFrom(event)
    return out


class DeliverService(events_pb2_grpc.DeliverServicer):
    """``protos.Deliver`` on one peer's port."""

    def __init__(self, net: FabricNetwork) -> None:
        self.net = net

    def Deliver(
        self, requests: Iterable[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[events_pb2.DeliverResponse]:
        for envelope in requests:
            yield from self._seek(envelope, context, filtered=False)

    def DeliverFiltered(
        self, requests: Iterable[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[events_pb2.DeliverResponse]:
        for envelope in requests:
            yield from self._seek(envelope, context, filtered=True)

    def _seek(
        self, envelope: common_pb2.Envelope, context: grpc.ServicerContext, *, filtered: bool
    ) -> Iterator[events_pb2.DeliverResponse]:
        net, store = self.net, self.net.store

        def status(code: int) -> events_pb2.DeliverResponse:
            return events_pb2.DeliverResponse(status=code)

        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
            seek = ab_pb2.SeekInfo.FromString(payload.data)
        except DecodeError:
            yield status(Status.BAD_REQUEST)
            return
        if chdr.type != common_pb2.HeaderType.DELIVER_SEEK_INFO:
            yield status(Status.BAD_REQUEST)
            return
        if chdr.channel_id != net.channel_id:
            yield status(Status.NOT_FOUND)
            return
        try:
            creator = deserialize_identity(shdr.creator, net.setup.cas, net.now())
            signature.verify(creator.public_key, envelope.payload, envelope.signature)
        except FabricError:
            yield status(Status.FORBIDDEN)
            return
        height = store.height()

        def position(p: ab_pb2.SeekPosition) -> int | None:
            kind = p.WhichOneof("Type")
            if kind == "oldest":
                return 0
            if kind == "newest":
                return height - 1
            if kind == "specified":
                return int(p.specified.number)
            if kind == "next_commit":
                return height
            return None

        start, stop = position(seek.start), position(seek.stop)
        if start is None or stop is None or start > stop:
            yield status(Status.BAD_REQUEST)
            return
        number = start
        while number <= stop:
            if not context.is_active() or net.stopping:
                return
            if number >= store.height():
                if seek.behavior == ab_pb2.SeekInfo.FAIL_IF_NOT_READY:
                    yield status(Status.NOT_FOUND)
                    return
                net.wait_for_height(number + 1, POLL)
                continue
            block = store.get_block(number)
            assert block is not None
            if filtered:
                yield events_pb2.DeliverResponse(
                    filtered_block=filtered_block(block, net.channel_id)
                )
            else:
                yield events_pb2.DeliverResponse(block=block)
            number += 1
        yield status(Status.SUCCESS)


@dataclass
class PeerServers:
    """The running gRPC servers, one per peer."""

    servers: list[Any]
    #: ``host:port`` per peer, in org order.
    endpoints: list[str]

    def stop(self, grace: float = 1.0) -> None:
        events = [s.stop(grace) for s in self.servers]
        for e in events:
            e.wait(grace + 5)


def serve_peers(net: FabricNetwork, host: str, ports: list[int], workers: int = 8) -> PeerServers:
    """Start one gRPC server per peer on ``host:ports[i]`` (0: any free port)."""
    if len(ports) != len(net.peers):
        raise ValueError(f"{len(ports)} ports for {len(net.peers)} peers")
    servers: list[Any] = []
    endpoints = []
    try:
        for index, port in enumerate(ports):
            server = grpc.server(
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"fabric-peer{index}"),
                options=[("grpc.so_reuseport", 0)],
            )
            gateway_pb2_grpc.add_GatewayServicer_to_server(GatewayService(net, index), server)
            peer_pb2_grpc.add_EndorserServicer_to_server(EndorserService(net, index), server)
            events_pb2_grpc.add_DeliverServicer_to_server(DeliverService(net), server)
            try:
                bound = server.add_insecure_port(f"{host}:{port}")
            except RuntimeError as exc:
                raise OSError(f"cannot serve gRPC on {host}:{port}: {exc}") from None
            if bound == 0:
                raise OSError(f"cannot serve gRPC on {host}:{port}")
            server.start()
            servers.append(server)
            endpoints.append(f"{host}:{bound}")
            log.info("peer %s serves gRPC on %s:%d", net.peers[index].name, host, bound)
    except BaseException:
        PeerServers(servers, endpoints).stop(0)
        raise
    return PeerServers(servers, endpoints)
