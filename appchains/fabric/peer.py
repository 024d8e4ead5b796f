"""A peer's endorser: ``ProcessProposal`` on a ``peer.SignedProposal``. Pure ("now" is
a parameter; the ledger is read through :class:`~appchains.fabric.ledger.LedgerReader`).

As Fabric's endorser (``core/endorser``): the proposal must decode and be well formed
(``adapters.fabric.proposal.parse_proposal``: header type, tx ID = hash of nonce and
creator, one chaincode), its creator a valid member of a channel org who signed the
proposal bytes, its channel this peer's, its tx ID not committed yet, its chaincode
defined (or ``qscc``). Any of these failing gives a ``ProposalResponse`` with status
500 and the reason, no payload and no endorsement. Otherwise the chaincode runs on the
committed state (:mod:`~appchains.fabric.simulation`); a response status of 400 or
more is returned as it is, unendorsed; a success gives the
``ProposalResponsePayload`` (proposal hash, ``ChaincodeAction{results = read-write
set, events, response, chaincode_id{name, version}}``) endorsed by this peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from fabric_protos.peer import (
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
)
from google.protobuf.message import DecodeError

import adapters.fabric.signature as signature
from adapters.fabric.endorsement import endorse
from adapters.fabric.errors import FabricError
from adapters.fabric.identity import deserialize_identity
from adapters.fabric.proposal import (
    build_proposal_response_payload,
    parse_proposal,
    proposal_hash,
)
from appchains.fabric.ca import SigningIdentity
from appchains.fabric.chaincode.stub import ERROR, ERROR_THRESHOLD, Chaincode
from appchains.fabric.ledger import LedgerReader
from appchains.fabric.qscc import NAME as QSCC
from appchains.fabric.qscc import Qscc
from appchains.fabric.registry import ChaincodeRegistry
from appchains.fabric.simulation import SimulationResult, TxContext, simulate

ProposalResponse = proposal_response_pb2.ProposalResponse
#: ``ProposalResponse.version`` as Fabric's endorser writes it.
RESPONSE_VERSION = 1


def failure(message: str, status: int = ERROR) -> proposal_response_pb2.ProposalResponse:
    """An unendorsed response, as Fabric's endorser returns for a refused proposal."""
    return ProposalResponse(
        version=RESPONSE_VERSION,
        response=proposal_response_pb2.Response(status=status, message=message),
    )


def response_payload(
    proposal: proposal_pb2.Proposal, result: SimulationResult, version: str
) -> bytes:
    """The ``ProposalResponsePayload`` of a simulation. With an event: the shared
    builder's; without one, ``ChaincodeAction.events`` stays empty, as Fabric's
    endorser leaves it for a chaincode that set none."""
    response = result.response
    results = result.rwset.serialize()
    if result.event is not None:
        return build_proposal_response_payload(
            proposal,
            result.event.name,
            result.event.payload,
            response_payload=response.payload,
            results=results,
            status=response.status,
            message=response.message,
            chaincode_version=version,
        )
    parsed = parse_proposal(proposal.SerializeToString())
    action = proposal_pb2.ChaincodeAction(
        results=results,
        response=proposal_response_pb2.Response(
            status=response.status, message=response.message, payload=response.payload
        ),
        chaincode_id=chaincode_pb2.ChaincodeID(name=parsed.chaincode, version=version),
    )
    return proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=proposal_hash(proposal), extension=action.SerializeToString()
    ).SerializeToString()


@dataclass
class Peer:
    """One endorsing peer of an org on one channel."""

    name: str  #: e.g. ``peer0.org1.example.com``
    identity: SigningIdentity  #: role peer
    channel_id: str
    cas: Mapping[str, x509.Certificate]  #: the channel's app orgs: MSP ID -> root CA
    registry: ChaincodeRegistry
    ledger: LedgerReader
    qscc: Qscc = field(init=False)

    def __post_init__(self) -> None:
        self.qscc = Qscc(self.channel_id, self.ledger)

    @property
    def msp_id(self) -> str:
        return self.identity.msp_id

    def process_proposal(
        self, signed: proposal_pb2.SignedProposal, now: int
    ) -> proposal_response_pb2.ProposalResponse:
        try:
            proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
            parsed = parse_proposal(signed.proposal_bytes)
        except (DecodeError, FabricError) as exc:
            return failure(f"error validating proposal: {exc}")
        try:
            creator = deserialize_identity(parsed.creator, self.cas, now)
            signature.verify(creator.public_key, signed.proposal_bytes, signed.signature)
        except FabricError as exc:
            return failure(f"access denied: creator: {exc}")
        if parsed.channel_id != self.channel_id:
            return failure(f"channel '{parsed.channel_id}' not found")
        if self.ledger.find_tx(parsed.tx_id) is not None:
            return failure(f"duplicate transaction found [{parsed.tx_id}]")
        chaincode: Chaincode
        if parsed.chaincode == QSCC:
            chaincode, version = self.qscc, ""
        else:
            defined = self.registry.get(parsed.chaincode)
            if defined is None:
                return failure(
                    f"make sure the chaincode {parsed.chaincode} has been successfully "
                    f"defined on channel {self.channel_id} and try again"
                )
            chaincode, version = defined.chaincode, defined.version
        tx = TxContext(parsed.channel_id, parsed.tx_id, parsed.creator, parsed.timestamp)
        result = simulate(chaincode, parsed.args, tx, self.ledger, self.registry.chaincodes())
        response = result.response
        if response.status >= ERROR_THRESHOLD:
            return failure(response.message, response.status)
        payload = response_payload(proposal, result, version)
        endorsement = endorse(payload, self.identity.serialized, self.identity.sign)
        return ProposalResponse(
            version=RESPONSE_VERSION,
            response=proposal_response_pb2.Response(
                status=response.status, message=response.message, payload=response.payload
            ),
            payload=payload,
            endorsement=endorsement,
        )
