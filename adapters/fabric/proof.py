"""The Fabric family's proof: codec, block and transaction parsing, and the builder.

A gateway proves that its Fabric channel committed, VALID, the broker transaction
that emitted an IBTP (docs/fabric.md §3.3). The proof is a canonical msgpack array::

    [version = 1, attestation_proposal: bin, attestation_response: bin,
     attestation_endorsements: [bin, ...], tx_index: uint]

* ``attestation_proposal`` is a ``peer.Proposal`` invoking ``qscc``
  ``GetBlockByNumber(channel, n)`` on the registered channel;
* ``attestation_response`` the ``peer.ProposalResponsePayload`` the attesting peers
  signed: ``proposal_hash`` (Fabric's ``GetProposalHash1`` of the proposal) and a
  ``ChaincodeAction`` whose response (status 200) carries block ``n`` as the peers
  store it — ``common.Block`` with its ``TRANSACTIONS_FILTER``;
* ``attestation_endorsements`` the peers' ``peer.Endorsement`` over
  ``attestation_response ‖ endorser``;
* ``tx_index`` the position of the broker's transaction in the block.

This module decodes (strictly: every protobuf message must be the canonical encoding
of its known fields, as ``adapters.fabric.proposal`` reads them), computes Fabric's
hashes (``protoutil.BlockHeaderBytes``, ``BlockDataHash``, ``GetProposalHash2``) and
builds proofs (:func:`build_proof`, used by the gateway and the tests). It checks no
signature and judges no policy: that is :mod:`adapters.fabric.verifier`. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError, Message

from .blocks import block_data_hash, block_header_bytes, block_header_hash, orderer_signed_bytes
from .codes import FabricCode, FabricProofError
from .proposal import (
    BROKER_EVENTS,
    CALLBACK_EVENT,
    STATUS_OK,
    UINT64_MAX,
    AnyBrokerEvent,
    CallbackEvent,
    build_proposal,
    decode_event,
    proposal_hash,
)

PROOF_VERSION = 1
QSCC = "qscc"
GET_BLOCK_BY_NUMBER = b"GetBlockByNumber"

#: Limits the decoder enforces beyond the IBTP's 128 KiB proof limit.
MAX_ATTESTATIONS = 32
MAX_ENDORSEMENTS = 32
MAX_ORDERER_SIGNATURES = 32

_SIGNATURES = common_pb2.BlockMetadataIndex.SIGNATURES
_TRANSACTIONS_FILTER = common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER
_ENDORSER_TRANSACTION = common_pb2.HeaderType.ENDORSER_TRANSACTION


# --------------------------------------------------------------------------- the codec


@dataclass(frozen=True, slots=True)
class FabricProof:
    """The decoded proof (data only). Field meanings in the module docstring."""

    attestation_proposal: bytes
    attestation_response: bytes
    endorsements: tuple[bytes, ...]
    tx_index: int
    version: int = PROOF_VERSION


def encode_fabric_proof(proof: FabricProof) -> bytes:
    """The canonical bytes of ``proof`` (what goes into ``IBTP.proof``)."""
    return msgpack.packb(
        [
            proof.version,
            proof.attestation_proposal,
            proof.attestation_response,
            list(proof.endorsements),
            proof.tx_index,
        ],
        use_bin_type=True,
    )


def _malformed(message: str) -> FabricProofError:
    return FabricProofError(FabricCode.PROOF_MALFORMED, message)


def decode_fabric_proof(data: bytes) -> FabricProof:
    """Decode canonical proof bytes, or raise PROOF_MALFORMED / PROOF_VERSION."""
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_array_len=MAX_ATTESTATIONS + 5,
            max_map_len=0,
            max_ext_len=0,
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _malformed(
            f"Fabric proof is not valid msgpack ({type(exc).__name__}); send the array of "
            "docs/fabric.md §3.3"
        ) from None
    if not isinstance(obj, list) or not obj or type(obj[0]) is not int:
        raise _malformed("Fabric proof must be a msgpack array starting with its version")
    if obj[0] != PROOF_VERSION:
        raise FabricProofError(
            FabricCode.PROOF_VERSION,
            f"Fabric proof version {obj[0]} is not supported; build version {PROOF_VERSION} proofs",
        )
    if len(obj) != 5:
        raise _malformed(f"Fabric proof has {len(obj)} fields; version 1 has 5")
    _, prop, resp, endorsements, tx_index = obj
    if type(prop) is not bytes or type(resp) is not bytes:
        raise _malformed("the attestation proposal and response must be bin")
    if type(endorsements) is not list or not all(type(e) is bytes for e in endorsements):
        raise _malformed("the attestation endorsements must be an array of bin")
    if not 1 <= len(endorsements) <= MAX_ATTESTATIONS:
        raise _malformed(
            f"the proof carries {len(endorsements)} attestation endorsements; 1 to "
            f"{MAX_ATTESTATIONS} are allowed"
        )
    if type(tx_index) is not int or not 0 <= tx_index <= UINT64_MAX:
        raise _malformed("tx_index must be a uint64")
    proof = FabricProof(prop, resp, tuple(endorsements), tx_index)
    if encode_fabric_proof(proof) != data:
        raise _malformed(
            "Fabric proof bytes are not canonical msgpack (shortest integers, bin for bytes, "
            "no trailing data): re-encode with encode_fabric_proof"
        )
    return proof


# --------------------------------------------------------------------------- protobuf


def parse_message(cls: type[Message], data: bytes, code: FabricCode, what: str) -> Any:
    """``data`` as a ``cls``, refusing (``code``) malformed and non-canonical encodings:
    re-serialising the known fields must give ``data`` back (no unknown fields, no
    duplicates, fields in order, minimal varints), as in ``adapters.fabric.proposal``."""
    msg = cls()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise FabricProofError(
            code, f"{what} is not a protobuf {cls.DESCRIPTOR.full_name}: {exc}"
        ) from None
    known = cls()
    known.CopyFrom(msg)
    known.DiscardUnknownFields()
    if known.SerializeToString(deterministic=True) != data:
        raise FabricProofError(
            code, f"{what} is not the canonical encoding of a {cls.DESCRIPTOR.full_name}"
        )
    return msg


# --------------------------------------------------------------------------- the attestation


@dataclass(frozen=True, slots=True)
class Attestation:
    """A checked qscc ``GetBlockByNumber`` proposal and the response the peers signed."""

    channel_id: str  #: the proposal's channel header channel (== its channel argument)
    block_number: int  #: the block queried
    proposal_hash: bytes  #: the response's (equal to the proposal's hash)
    status: int
    message: str
    block: bytes  #: the response payload (the block, if status is 200)


def attestation_args(channel: str, number: int) -> list[bytes]:
    """qscc's arguments for block ``number`` of ``channel`` (Fabric's qscc: decimal)."""
    return [GET_BLOCK_BY_NUMBER, channel.encode(), str(number).encode()]


def parse_attestation(proposal_bytes: bytes, response_bytes: bytes) -> Attestation:
    """The attestation's query and answer: the proposal is a qscc
    ``GetBlockByNumber(channel, n)`` on its own channel (ATTESTATION_WRONG_QUERY /
    ATTESTATION_WRONG_CHANNEL), the response a qscc ``ChaincodeAction`` whose
    ``proposal_hash`` is the proposal's (ATTESTATION_HASH_MISMATCH). Which channel is
    the registered one is for the caller; the status is not judged here."""
    bad = FabricCode.ATTESTATION_MALFORMED
    prop = parse_message(proposal_pb2.Proposal, proposal_bytes, bad, "the attestation proposal")
    header = parse_message(common_pb2.Header, prop.header, bad, "the attestation header")
    chdr = parse_message(
        common_pb2.ChannelHeader, header.channel_header, bad, "the attestation channel header"
    )
    ext = parse_message(
        proposal_pb2.ChaincodeHeaderExtension, chdr.extension, bad, "the attestation extension"
    )
    cpp = parse_message(
        proposal_pb2.ChaincodeProposalPayload, prop.payload, bad, "the attestation payload"
    )
    cis = parse_message(
        chaincode_pb2.ChaincodeInvocationSpec, cpp.input, bad, "the attestation invocation"
    )
    wrong = FabricCode.ATTESTATION_WRONG_QUERY
    if chdr.type != _ENDORSER_TRANSACTION:
        raise FabricProofError(
            wrong, f"the attestation's header type is {chdr.type}, not ENDORSER_TRANSACTION (3)"
        )
    name = ext.chaincode_id.name
    if name != QSCC or cis.chaincode_spec.chaincode_id.name != QSCC:
        raise FabricProofError(
            wrong,
            f"the attestation invokes chaincode {name!r}, not {QSCC!r}: the proof needs the "
            "peers' answer to qscc GetBlockByNumber",
        )
    args = list(cis.chaincode_spec.input.args)
    if len(args) != 3 or args[0] != GET_BLOCK_BY_NUMBER:
        shown = args[0][:40] if args else b""
        raise FabricProofError(
            wrong,
            f"the attestation calls qscc {shown!r} with {len(args)} argument(s), not "
            "GetBlockByNumber(channel, number)",
        )
    number_text = args[2].decode("ascii", "replace")
    if not number_text.isdigit() or number_text != str(int(number_text)):
        raise FabricProofError(
            wrong, f"the queried block number {number_text[:40]!r} is not decimal"
        )
    number = int(number_text)
    if number > UINT64_MAX:
        raise FabricProofError(wrong, "the queried block number is not a uint64")
    if args[1] != chdr.channel_id.encode():
        raise FabricProofError(
            FabricCode.ATTESTATION_WRONG_CHANNEL,
            f"the attestation is sent on channel {chdr.channel_id!r} but queries channel "
            f"{args[1][:60]!r}",
        )
    prp = parse_message(
        proposal_response_pb2.ProposalResponsePayload,
        response_bytes,
        bad,
        "the attestation response",
    )
    action = parse_message(
        proposal_pb2.ChaincodeAction, prp.extension, bad, "the attestation response's action"
    )
    if not action.HasField("response"):
        raise FabricProofError(bad, "the attestation response's action has no response")
    if action.chaincode_id.name != QSCC:
        raise FabricProofError(
            wrong, f"the attestation response is of chaincode {action.chaincode_id.name!r}"
        )
    if prp.proposal_hash != proposal_hash(prop):
        raise FabricProofError(
            FabricCode.ATTESTATION_HASH_MISMATCH,
            "the attestation response's proposal_hash is not the hash of the attestation "
            "proposal: the peers answered another query",
        )
    return Attestation(
        channel_id=chdr.channel_id,
        block_number=number,
        proposal_hash=prp.proposal_hash,
        status=action.response.status,
        message=action.response.message,
        block=action.response.payload,
    )


def parse_endorsement(data: bytes, index: int) -> proposal_response_pb2.Endorsement:
    return parse_message(
        proposal_response_pb2.Endorsement,
        data,
        FabricCode.ATTESTATION_MALFORMED,
        f"attestation endorsement {index}",
    )


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class BlockSignature:
    signature_header: bytes
    creator: bytes  #: the signer's SerializedIdentity bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class ParsedBlock:
    number: int
    previous_hash: bytes
    data_hash: bytes
    data: tuple[bytes, ...]
    signatures_value: bytes  #: ``metadata[SIGNATURES].value`` (OrdererBlockMetadata)
    signatures: tuple[BlockSignature, ...]
    transactions_filter: bytes  #: one ``peer.TxValidationCode`` byte per transaction

    @property
    def header_bytes(self) -> bytes:
        return block_header_bytes(self.number, self.previous_hash, self.data_hash)


def parse_block(data: bytes) -> ParsedBlock:
    """A ``common.Block`` with a header, data, ``metadata[SIGNATURES]`` (a ``Metadata``
    with at most 32 orderer ``MetadataSignature`` s, each with a ``SignatureHeader``) and
    ``metadata[TRANSACTIONS_FILTER]`` holding one byte per transaction
    (BLOCK_MALFORMED)."""
    bad = FabricCode.BLOCK_MALFORMED
    block = parse_message(common_pb2.Block, data, bad, "the attested block")
    if not block.HasField("header") or not block.HasField("data"):
        raise FabricProofError(bad, "the attested block has no header or no data")
    entries = list(block.metadata.metadata)
    if len(entries) <= _TRANSACTIONS_FILTER:
        raise FabricProofError(
            bad,
            f"the attested block has {len(entries)} metadata entries; SIGNATURES (0) and "
            "TRANSACTIONS_FILTER (2) are needed: attest the block as the peer stores it",
        )
    metadata = parse_message(common_pb2.Metadata, entries[_SIGNATURES], bad, "metadata[SIGNATURES]")
    if len(metadata.signatures) > MAX_ORDERER_SIGNATURES:
        raise FabricProofError(
            bad,
            f"the block carries {len(metadata.signatures)} orderer signatures; at most "
            f"{MAX_ORDERER_SIGNATURES} are allowed",
        )
    signatures = []
    for i, ms in enumerate(metadata.signatures):
        if ms.identifier_header:
            raise FabricProofError(
                bad, f"orderer signature {i} uses an identifier header (BFT): not supported"
            )
        shdr = parse_message(
            common_pb2.SignatureHeader, ms.signature_header, bad, f"orderer signature header {i}"
        )
        signatures.append(BlockSignature(ms.signature_header, shdr.creator, ms.signature))
    header = block.header
    data_entries = tuple(block.data.data)
    flt = entries[_TRANSACTIONS_FILTER]
    if len(flt) != len(data_entries):
        raise FabricProofError(
            bad,
            f"TRANSACTIONS_FILTER has {len(flt)} codes for {len(data_entries)} transactions",
        )
    return ParsedBlock(
        number=header.number,
        previous_hash=header.previous_hash,
        data_hash=header.data_hash,
        data=data_entries,
        signatures_value=metadata.value,
        signatures=tuple(signatures),
        transactions_filter=flt,
    )


# --------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class ParsedTransaction:
    """An endorser transaction with one action, as the verifier needs it."""

    channel_id: str
    tx_id: str
    timestamp: int  #: the channel header's, Unix seconds: "now" for every certificate
    chaincode: str  #: the chaincode the header's extension names
    creator: bytes
    nonce: bytes
    payload: bytes  #: ``Envelope.payload``: what the creator signed
    signature: bytes
    channel_header: bytes
    signature_header: bytes
    chaincode_proposal_payload: bytes
    proposal_response_payload: bytes
    endorsements: tuple[proposal_response_pb2.Endorsement, ...]


def parse_transaction(envelope_bytes: bytes) -> ParsedTransaction:
    """``common.Envelope{payload = Payload{header, data = peer.Transaction}}`` with one
    ``TransactionAction`` whose header is the payload's signature header and whose
    payload is a ``ChaincodeActionPayload{chaincode_proposal_payload,
    ChaincodeEndorsedAction{proposal_response_payload, endorsements}}`` (Fabric's
    ``protoutil.CreateSignedTx``). TX_MALFORMED, or TX_NOT_ENDORSER for another type."""
    bad = FabricCode.TX_MALFORMED
    env = parse_message(common_pb2.Envelope, envelope_bytes, bad, "the transaction envelope")
    payload = parse_message(common_pb2.Payload, env.payload, bad, "the transaction payload")
    if not payload.HasField("header"):
        raise FabricProofError(bad, "the transaction payload has no header")
    chdr = parse_message(
        common_pb2.ChannelHeader, payload.header.channel_header, bad, "the channel header"
    )
    if chdr.type != _ENDORSER_TRANSACTION:
        raise FabricProofError(
            FabricCode.TX_NOT_ENDORSER,
            f"transaction header type {chdr.type} is not ENDORSER_TRANSACTION (3): no chaincode "
            "ran in it",
        )
    shdr = parse_message(
        common_pb2.SignatureHeader, payload.header.signature_header, bad, "the signature header"
    )
    ext = parse_message(
        proposal_pb2.ChaincodeHeaderExtension, chdr.extension, bad, "the header extension"
    )
    tx = parse_message(transaction_pb2.Transaction, payload.data, bad, "the transaction")
    if len(tx.actions) != 1:
        raise FabricProofError(bad, f"the transaction has {len(tx.actions)} actions, not 1")
    action = tx.actions[0]
    if action.header != payload.header.signature_header:
        raise FabricProofError(
            bad, "the action's signature header is not the transaction's (CreateSignedTx)"
        )
    cap = parse_message(
        transaction_pb2.ChaincodeActionPayload, action.payload, bad, "the chaincode action payload"
    )
    if not cap.HasField("action"):
        raise FabricProofError(bad, "the chaincode action payload has no endorsed action")
    if len(cap.action.endorsements) > MAX_ENDORSEMENTS:
        # More than one per registrable org (trust_root.MAX_ORGS): some repeat, and each
        # would cost a signature check before the repeat is found.
        raise FabricProofError(
            bad,
            f"the transaction carries {len(cap.action.endorsements)} endorsements; at most "
            f"{MAX_ENDORSEMENTS} are allowed",
        )
    return ParsedTransaction(
        channel_id=chdr.channel_id,
        tx_id=chdr.tx_id,
        timestamp=chdr.timestamp.seconds,
        chaincode=ext.chaincode_id.name,
        creator=shdr.creator,
        nonce=shdr.nonce,
        payload=env.payload,
        signature=env.signature,
        channel_header=payload.header.channel_header,
        signature_header=payload.header.signature_header,
        chaincode_proposal_payload=cap.chaincode_proposal_payload,
        proposal_response_payload=cap.action.proposal_response_payload,
        endorsements=tuple(cap.action.endorsements),
    )


def proposal_hash2(
    channel_header: bytes, signature_header: bytes, cc_proposal_payload: bytes
) -> bytes:
    """Fabric's ``protoutil.GetProposalHash2``, the committer's: SHA-256 of the
    transaction's channel header, signature header and chaincode proposal payload."""
    return hashlib.sha256(channel_header + signature_header + cc_proposal_payload).digest()


@dataclass(frozen=True, slots=True)
class ParsedAction:
    proposal_hash: bytes
    chaincode: str
    status: int
    message: str
    event: chaincode_event_pb2.ChaincodeEvent | None


def parse_action(prp_bytes: bytes) -> ParsedAction:
    """The ``ProposalResponsePayload{proposal_hash, ChaincodeAction}`` the endorsers
    signed (TX_MALFORMED; EVENT_MALFORMED for an event that does not decode)."""
    bad = FabricCode.TX_MALFORMED
    prp = parse_message(
        proposal_response_pb2.ProposalResponsePayload, prp_bytes, bad, "the proposal response"
    )
    if len(prp.proposal_hash) != 32:
        raise FabricProofError(bad, f"the proposal hash is {len(prp.proposal_hash)} bytes, not 32")
    action = parse_message(proposal_pb2.ChaincodeAction, prp.extension, bad, "the chaincode action")
    if not action.HasField("response"):
        raise FabricProofError(bad, "the chaincode action has no response")
    event = None
    if action.events:
        event = parse_message(
            chaincode_event_pb2.ChaincodeEvent,
            action.events,
            FabricCode.EVENT_MALFORMED,
            "the chaincode event",
        )
    return ParsedAction(
        proposal_hash=prp.proposal_hash,
        chaincode=action.chaincode_id.name,
        status=action.response.status,
        message=action.response.message,
        event=event,
    )


# --------------------------------------------------------------------------- broker events

BrokerEvent = AnyBrokerEvent


def decode_broker_event(name: str, payload: bytes) -> BrokerEvent:
    """The broker event ``name`` from its canonical JSON payload (``BrokerEventError``)."""
    return decode_event(name, payload)


# --------------------------------------------------------------------------- building


def build_attestation_proposal(
    channel: str, number: int, creator: bytes, nonce: bytes, timestamp: int
) -> proposal_pb2.Proposal:
    """The ``qscc GetBlockByNumber(channel, number)`` proposal a gateway sends the
    attesting peers (``protos.Endorser.ProcessProposal``) as client ``creator``."""
    return build_proposal(
        channel, attestation_args(channel, number), creator, nonce, timestamp, chaincode=QSCC
    )


def build_attestation_response(
    proposal: proposal_pb2.Proposal, block: bytes, status: int = STATUS_OK, message: str = ""
) -> bytes:
    """The ``ProposalResponsePayload`` a peer's qscc answers ``proposal`` with (what the
    attestors endorse): the proposal's hash and a qscc ``ChaincodeAction`` whose
    response payload is the stored block."""
    action = proposal_pb2.ChaincodeAction(
        response=proposal_response_pb2.Response(status=status, message=message, payload=block),
        chaincode_id=chaincode_pb2.ChaincodeID(name=QSCC),
    )
    return proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=proposal_hash(proposal), extension=action.SerializeToString()
    ).SerializeToString()


def build_proof(
    attestation_proposal: bytes | proposal_pb2.Proposal,
    attestation_response: bytes,
    endorsements: Sequence[bytes | proposal_response_pb2.Endorsement],
    tx_index: int,
) -> bytes:
    """The proof bytes from the attestation the gateway collected and the transaction's
    position in the attested block (:func:`find_tx_index`)."""
    prop = (
        attestation_proposal
        if isinstance(attestation_proposal, bytes)
        else attestation_proposal.SerializeToString()
    )
    ends = tuple(e if isinstance(e, bytes) else e.SerializeToString() for e in endorsements)
    return encode_fabric_proof(FabricProof(prop, attestation_response, ends, tx_index))


def find_tx_index(block: bytes, tx_id: str) -> int:
    """The position of transaction ``tx_id`` in a serialized block (ValueError if absent)."""
    for i, entry in enumerate(parse_block(block).data):
        try:
            if parse_transaction(entry).tx_id == tx_id:
                return i
        except FabricProofError:
            continue
    raise ValueError(f"transaction {tx_id} is not in the block")


__all__ = [
    "BROKER_EVENTS",
    "CALLBACK_EVENT",
    "PROOF_VERSION",
    "QSCC",
    "Attestation",
    "BlockSignature",
    "BrokerEvent",
    "CallbackEvent",
    "FabricProof",
    "ParsedAction",
    "ParsedBlock",
    "ParsedTransaction",
    "block_data_hash",
    "block_header_bytes",
    "block_header_hash",
    "build_attestation_proposal",
    "build_attestation_response",
    "build_proof",
    "decode_broker_event",
    "decode_fabric_proof",
    "encode_fabric_proof",
    "find_tx_index",
    "orderer_signed_bytes",
    "parse_action",
    "parse_attestation",
    "parse_block",
    "parse_endorsement",
    "parse_message",
    "parse_transaction",
    "proposal_hash2",
]
