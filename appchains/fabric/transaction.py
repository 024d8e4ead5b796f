"""Endorser transactions: the client's signed proposal, the transaction envelope the
gateway prepares from the endorsements, and its parsing at commit. Pure.

The envelope is what Fabric's ``protoutil.CreateSignedTx`` and the gateway's
``prepareTransaction`` build: ``Envelope{payload = Payload{header = the proposal's
Header, data = Transaction{actions = [TransactionAction{header = the proposal's
SignatureHeader, payload = ChaincodeActionPayload{chaincode_proposal_payload = the
proposal payload without its transient map, action = ChaincodeEndorsedAction{
proposal_response_payload, endorsements}}}]}}, signature}``, the signature by the
client over the payload bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError

from adapters.fabric.errors import FabricError
from adapters.fabric.signature import Signer


class TransactionError(FabricError):
    """Endorsements that cannot make one transaction, or an envelope that is not one."""


def sign_proposal(proposal: proposal_pb2.Proposal, sign: Signer) -> proposal_pb2.SignedProposal:
    data = proposal.SerializeToString()
    return proposal_pb2.SignedProposal(proposal_bytes=data, signature=sign(data))


def prepare_transaction(
    proposal: proposal_pb2.Proposal,
    responses: Sequence[proposal_response_pb2.ProposalResponse],
) -> common_pb2.Envelope:
    """The unsigned transaction envelope of ``proposal`` endorsed by ``responses`` —
    which must all be successful and carry the same response payload."""
    if not responses:
        raise TransactionError("no proposal responses to assemble")
    payload = responses[0].payload
    for r in responses:
        if r.response.status < 200 or r.response.status >= 400:
            raise TransactionError(
                f"proposal response status {r.response.status}: {r.response.message}"
            )
        if r.payload != payload:
            raise TransactionError("ProposalResponsePayloads do not match")
        if not r.HasField("endorsement"):
            raise TransactionError("a proposal response carries no endorsement")
    try:
        header = common_pb2.Header.FromString(proposal.header)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    except DecodeError as exc:
        raise TransactionError(f"malformed proposal: {exc}") from None
    cap = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=proposal_pb2.ChaincodeProposalPayload(
            input=cpp.input
        ).SerializeToString(),
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=payload,
            endorsements=[r.endorsement for r in responses],
        ),
    )
    tx = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=header.signature_header, payload=cap.SerializeToString()
            )
        ]
    )
    body = common_pb2.Payload(header=header, data=tx.SerializeToString())
    return common_pb2.Envelope(payload=body.SerializeToString())


def sign_envelope(envelope: common_pb2.Envelope, sign: Signer) -> common_pb2.Envelope:
    return common_pb2.Envelope(payload=envelope.payload, signature=sign(envelope.payload))


@dataclass(frozen=True)
class ParsedEnvelope:
    """The parts of an envelope the committer reads."""

    payload: common_pb2.Payload
    channel_header: common_pb2.ChannelHeader
    signature_header: common_pb2.SignatureHeader


def parse_envelope(data: bytes) -> ParsedEnvelope:
    """An envelope's payload and headers (``TransactionError`` if they do not decode)."""
    try:
        env = common_pb2.Envelope.FromString(data)
        payload = common_pb2.Payload.FromString(env.payload)
        chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    except DecodeError as exc:
        raise TransactionError(f"the envelope does not decode: {exc}") from None
    return ParsedEnvelope(payload, chdr, shdr)


def envelope_tx_id(data: bytes) -> str:
    """The transaction ID of a serialized envelope ("" if it has none or does not decode)."""
    try:
        return parse_envelope(data).channel_header.tx_id
    except TransactionError:
        return ""
