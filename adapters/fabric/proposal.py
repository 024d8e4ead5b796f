"""Fabric proposals and proposal response payloads for the broker chaincode, and its events.

Built on Fabric's own messages (``fabric_protos``):

* a ``peer.Proposal`` invoking a chaincode on a channel: ``header`` = ``common.Header``
  (``ChannelHeader`` of type ENDORSER_TRANSACTION with a ``ChaincodeHeaderExtension``,
  ``SignatureHeader(creator, nonce)``), ``payload`` = ``ChaincodeProposalPayload``
  (``input`` = ``ChaincodeInvocationSpec``, optional ``TransientMap``); the transaction
  ID is ``hex(SHA-256(nonce ‖ creator))`` (protoutil ``ComputeTxID``);
* its hash as Fabric's endorser computes it (protoutil ``GetProposalHash1``):
  ``SHA-256(channel_header ‖ signature_header ‖ ChaincodeProposalPayload{input}``
  *without* the transient map);
* the ``peer.ProposalResponsePayload(proposal_hash, extension = ChaincodeAction(results,
  events = ChaincodeEvent, response, chaincode_id))`` an endorser signs.

The broker's interchain event payloads (``InterchainEvent``, ``ReceiptEvent``,
``CallbackEvent``: the facts the EVM broker logs, docs/broker.md) are canonical JSON:
keys sorted, no whitespace, UTF-8, bytes as lowercase hex. See docs/fabric.md, "Proposal
responses". Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
)
from google.protobuf.message import DecodeError, Message

from .errors import BrokerEventError, ChaincodeStatusError, ProposalError

BROKER_CHAINCODE = "broker"
INTERCHAIN_EVENT = "InterchainEvent"
RECEIPT_EVENT = "ReceiptEvent"
CALLBACK_EVENT = "CallbackEvent"
BROKER_EVENTS = (INTERCHAIN_EVENT, RECEIPT_EVENT, CALLBACK_EVENT)
STATUS_OK = 200  # shim.OK

MAX_ARGS = 32
MAX_ARG_BYTES = 32768
MAX_FUNC_CHARS = 128
UINT64_MAX = 2**64 - 1


# --- protobuf helpers ----------------------------------------------------------------


def _parse(cls: type[Message], data: bytes, what: str) -> Any:
    """``data`` as a ``cls``, refusing malformed and non-canonical encodings.

    Canonical: re-serialising the known fields gives the same bytes, so no unknown
    fields (nor fields of the wrong wire type, which protobuf keeps as unknown), no
    repeated scalar fields, fields in number order, minimal varints. Go's ``proto.Marshal``
    writes these messages this way (they have no maps).
    """
    msg = cls()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError) as exc:
        raise ProposalError(f"{what} is not a protobuf {cls.DESCRIPTOR.full_name}: {exc}") from None
    known = cls()
    known.CopyFrom(msg)
    known.DiscardUnknownFields()
    if known.SerializeToString(deterministic=True) != data:
        raise ProposalError(f"{what} is not the canonical encoding of a {cls.DESCRIPTOR.full_name}")
    return msg


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's transaction ID: lowercase hex of SHA-256(nonce ‖ creator)."""
    return hashlib.sha256(nonce + creator).hexdigest()


# --- proposals -----------------------------------------------------------------------


def build_proposal(
    channel_id: str,
    args: Sequence[bytes],
    creator: bytes,
    nonce: bytes,
    timestamp: int,
    chaincode: str = BROKER_CHAINCODE,
    transient: Mapping[str, bytes] | None = None,
) -> proposal_pb2.Proposal:
    """A proposal invoking ``chaincode`` on ``channel_id`` with ``args``.

    ``creator`` is the client's serialized identity, ``timestamp`` Unix seconds.
    """
    chdr = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.ENDORSER_TRANSACTION,
        version=0,
        channel_id=channel_id,
        tx_id=compute_tx_id(nonce, creator),
        epoch=0,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
        ).SerializeToString(),
    )
    chdr.timestamp.seconds = timestamp
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    header = common_pb2.Header(
        channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString()
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=chaincode_pb2.ChaincodeSpec.Type.GOLANG,
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(args=list(args)),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=spec.SerializeToString(), TransientMap=dict(transient or {})
    )
    return proposal_pb2.Proposal(
        header=header.SerializeToString(),
        payload=payload.SerializeToString(deterministic=True),
    )


@dataclass(frozen=True)
class ParsedProposal:
    channel_id: str
    tx_id: str
    timestamp: int
    chaincode: str
    args: tuple[bytes, ...]
    creator: bytes
    nonce: bytes
    transient: dict[str, bytes]


def parse_proposal(data: bytes) -> ParsedProposal:
    """A serialized ``peer.Proposal`` invoking a chaincode, checked part by part."""
    try:
        prop = proposal_pb2.Proposal.FromString(data)
        header = common_pb2.Header.FromString(prop.header)
        chdr = common_pb2.ChannelHeader.FromString(header.channel_header)
        shdr = common_pb2.SignatureHeader.FromString(header.signature_header)
        ext = proposal_pb2.ChaincodeHeaderExtension.FromString(chdr.extension)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(prop.payload)
        cis = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input)
    except (DecodeError, ValueError) as exc:
        raise ProposalError(f"malformed proposal: {exc}") from None
    if chdr.type != common_pb2.HeaderType.ENDORSER_TRANSACTION:
        raise ProposalError(f"proposal header type {chdr.type} is not ENDORSER_TRANSACTION (3)")
    if chdr.tx_id != compute_tx_id(shdr.nonce, shdr.creator):
        raise ProposalError("proposal tx_id is not hex(SHA-256(nonce ‖ creator))")
    name = ext.chaincode_id.name
    if not name or cis.chaincode_spec.chaincode_id.name != name:
        raise ProposalError("proposal header and invocation spec name different chaincodes")
    return ParsedProposal(
        channel_id=chdr.channel_id,
        tx_id=chdr.tx_id,
        timestamp=chdr.timestamp.seconds,
        chaincode=name,
        args=tuple(cis.chaincode_spec.input.args),
        creator=shdr.creator,
        nonce=shdr.nonce,
        transient=dict(cpp.TransientMap),
    )


def proposal_hash(proposal: proposal_pb2.Proposal) -> bytes:
    """protoutil ``GetProposalHash1``: SHA-256 over the serialized channel header, the
    serialized signature header and ``ChaincodeProposalPayload{Input: input}`` (the
    transient map removed), concatenated."""
    try:
        header = common_pb2.Header.FromString(proposal.header)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    except DecodeError as exc:
        raise ProposalError(f"malformed proposal: {exc}") from None
    for_tx = proposal_pb2.ChaincodeProposalPayload(input=cpp.input).SerializeToString()
    return hashlib.sha256(header.channel_header + header.signature_header + for_tx).digest()


# --- proposal response payloads ------------------------------------------------------


def build_proposal_response_payload(
    proposal: proposal_pb2.Proposal,
    event_name: str,
    event_payload: bytes,
    response_payload: bytes = b"",
    results: bytes = b"",
    status: int = STATUS_OK,
    message: str = "",
    chaincode_version: str = "",
) -> bytes:
    """The serialized ``ProposalResponsePayload`` an endorser of ``proposal`` signs: the
    chaincode's read-write set ``results``, its event and its response. The action's
    ``ChaincodeID`` is the chaincode's name and version, as Fabric's endorser writes it."""
    parsed = parse_proposal(proposal.SerializeToString())
    action = proposal_pb2.ChaincodeAction(
        results=results,
        events=chaincode_event_pb2.ChaincodeEvent(
            chaincode_id=parsed.chaincode,
            tx_id=parsed.tx_id,
            event_name=event_name,
            payload=event_payload,
        ).SerializeToString(),
        response=proposal_response_pb2.Response(
            status=status, message=message, payload=response_payload
        ),
        chaincode_id=chaincode_pb2.ChaincodeID(name=parsed.chaincode, version=chaincode_version),
    )
    return proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=proposal_hash(proposal), extension=action.SerializeToString()
    ).SerializeToString()


@dataclass(frozen=True)
class ParsedResponse:
    proposal_hash: bytes
    results: bytes
    chaincode: str
    event: chaincode_event_pb2.ChaincodeEvent
    status: int
    message: str
    response_payload: bytes


def parse_proposal_response_payload(data: bytes) -> ParsedResponse:
    """A ``ProposalResponsePayload`` carrying a ``ChaincodeAction`` with one event.

    Refuses (``ProposalError``): malformed or non-canonical protobuf at any level, a
    proposal hash that is not 32 bytes, no extension, no response, no chaincode ID, no
    event, an event whose chaincode is not the action's. The status is not judged here.
    """
    prp = _parse(proposal_response_pb2.ProposalResponsePayload, data, "proposal response payload")
    if len(prp.proposal_hash) != 32:
        raise ProposalError(f"proposal hash is {len(prp.proposal_hash)} bytes, not 32")
    if not prp.extension:
        raise ProposalError("proposal response payload has no extension (ChaincodeAction)")
    action = _parse(proposal_pb2.ChaincodeAction, prp.extension, "extension")
    if not action.HasField("response"):
        raise ProposalError("ChaincodeAction has no response")
    if not action.HasField("chaincode_id") or not action.chaincode_id.name:
        raise ProposalError("ChaincodeAction has no chaincode ID")
    if not action.events:
        raise ProposalError("ChaincodeAction has no chaincode event")
    event = _parse(chaincode_event_pb2.ChaincodeEvent, action.events, "events")
    if event.chaincode_id != action.chaincode_id.name:
        raise ProposalError(
            f"event of chaincode {event.chaincode_id!r} in an action of "
            f"{action.chaincode_id.name!r}"
        )
    return ParsedResponse(
        proposal_hash=prp.proposal_hash,
        results=action.results,
        chaincode=action.chaincode_id.name,
        event=event,
        status=action.response.status,
        message=action.response.message,
        response_payload=action.response.payload,
    )


class BrokerEvent(NamedTuple):
    chaincode_id: str
    event_name: str
    payload: bytes
    response_status: int


def extract_broker_event(data: bytes, chaincode: str = BROKER_CHAINCODE) -> BrokerEvent:
    """The broker's event in a serialized ``ProposalResponsePayload``.

    Beyond ``parse_proposal_response_payload``'s checks: the chaincode is ``chaincode``,
    the event name is ``InterchainEvent``, ``ReceiptEvent`` or ``CallbackEvent``, and the
    response status
    is 200 (else ``ChaincodeStatusError`` with the status and message).
    """
    parsed = parse_proposal_response_payload(data)
    if parsed.chaincode != chaincode:
        raise ProposalError(f"response of chaincode {parsed.chaincode!r}, not {chaincode!r}")
    if parsed.status != STATUS_OK:
        raise ChaincodeStatusError(parsed.status, parsed.message)
    name = parsed.event.event_name
    if name not in BROKER_EVENTS:
        raise ProposalError(f"event {name!r} is not a broker interchain event")
    return BrokerEvent(parsed.chaincode, name, parsed.event.payload, parsed.status)


# --- the broker's event payloads -----------------------------------------------------


@dataclass(frozen=True)
class InterchainEvent:
    """What the broker records when a local service sends an interchain call."""

    from_: str
    to: str
    index: int
    func: str
    args: tuple[bytes, ...]
    encrypted: bool
    timeout: int
    payload_hash: bytes


@dataclass(frozen=True)
class ReceiptEvent:
    """What the broker records when a delivered call ran: typ 1 success, 2 failure."""

    from_: str
    to: str
    index: int
    typ: int
    result: bytes
    payload_hash: bytes


@dataclass(frozen=True)
class CallbackEvent:
    """What the broker records when it took a receipt or rollback: on the source side typ
    1 / 2 / 3 (the callbacks ran), on the destination side typ 3 (a rollback notice)."""

    from_: str
    to: str
    index: int
    typ: int


AnyBrokerEvent = InterchainEvent | ReceiptEvent | CallbackEvent


def _canonical(obj: Mapping[str, object]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode_event(event: AnyBrokerEvent) -> bytes:
    """The event payload: canonical JSON (see the module docstring)."""
    _check_event(event)
    obj: dict[str, object] = {"from": event.from_, "to": event.to, "index": event.index}
    if isinstance(event, CallbackEvent):
        return _canonical(obj | {"typ": event.typ})
    obj["payloadHash"] = event.payload_hash.hex()
    if isinstance(event, InterchainEvent):
        obj |= {
            "func": event.func,
            "args": [a.hex() for a in event.args],
            "encrypted": event.encrypted,
            "timeout": event.timeout,
        }
    else:
        obj |= {"typ": event.typ, "result": event.result.hex()}
    return _canonical(obj)


_INTERCHAIN_KEYS = frozenset(
    {"from", "to", "index", "func", "args", "encrypted", "timeout", "payloadHash"}
)
_RECEIPT_KEYS = frozenset({"from", "to", "index", "typ", "result", "payloadHash"})
_CALLBACK_KEYS = frozenset({"from", "to", "index", "typ"})


def decode_event(event_name: str, payload: bytes) -> AnyBrokerEvent:
    """The event named ``event_name`` from its payload; ``BrokerEventError`` unless the
    payload is exactly the canonical encoding of well-typed fields, no more, no fewer."""
    if event_name == INTERCHAIN_EVENT:
        keys = _INTERCHAIN_KEYS
    elif event_name == RECEIPT_EVENT:
        keys = _RECEIPT_KEYS
    elif event_name == CALLBACK_EVENT:
        keys = _CALLBACK_KEYS
    else:
        raise BrokerEventError(f"unknown broker event {event_name!r}")
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BrokerEventError(f"{event_name} payload is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BrokerEventError(f"{event_name} payload is not a JSON object")
    if set(obj) != keys:
        extra, missing = sorted(set(obj) - keys), sorted(keys - set(obj))
        raise BrokerEventError(f"{event_name} fields: unexpected {extra}, missing {missing}")
    event: AnyBrokerEvent
    if event_name == INTERCHAIN_EVENT:
        args = obj["args"]
        if not isinstance(args, list):
            raise BrokerEventError("args is not a list")
        event = InterchainEvent(
            from_=_str(obj, "from"),
            to=_str(obj, "to"),
            index=_uint(obj, "index"),
            func=_str(obj, "func"),
            args=tuple(_hex(a, "args") for a in args),
            encrypted=_bool(obj, "encrypted"),
            timeout=_uint(obj, "timeout"),
            payload_hash=_hex(obj["payloadHash"], "payloadHash"),
        )
    elif event_name == CALLBACK_EVENT:
        event = CallbackEvent(
            from_=_str(obj, "from"),
            to=_str(obj, "to"),
            index=_uint(obj, "index"),
            typ=_uint(obj, "typ"),
        )
    else:
        event = ReceiptEvent(
            from_=_str(obj, "from"),
            to=_str(obj, "to"),
            index=_uint(obj, "index"),
            typ=_uint(obj, "typ"),
            result=_hex(obj["result"], "result"),
            payload_hash=_hex(obj["payloadHash"], "payloadHash"),
        )
    if encode_event(event) != payload:  # encode_event checks the fields first
        raise BrokerEventError(f"{event_name} payload is not in canonical form")
    return event


def _check_event(event: AnyBrokerEvent) -> None:
    if not event.from_ or not event.to:
        raise BrokerEventError("from and to must be non-empty service IDs")
    if not 1 <= event.index <= UINT64_MAX:
        raise BrokerEventError(f"index {event.index} is not in [1, 2^64 - 1]")
    if isinstance(event, CallbackEvent):
        if event.typ not in (1, 2, 3):
            raise BrokerEventError(
                f"callback typ {event.typ} is not 1 (success), 2 (failure) or 3 (rollback)"
            )
        return
    if len(event.payload_hash) != 32:
        raise BrokerEventError(f"payloadHash is {len(event.payload_hash)} bytes, not 32")
    if isinstance(event, InterchainEvent):
        if len(event.func) > MAX_FUNC_CHARS:
            raise BrokerEventError(f"func is longer than {MAX_FUNC_CHARS} characters")
        if len(event.args) > MAX_ARGS or any(len(a) > MAX_ARG_BYTES for a in event.args):
            raise BrokerEventError(f"at most {MAX_ARGS} args of at most {MAX_ARG_BYTES} bytes")
        if not 0 <= event.timeout <= UINT64_MAX:
            raise BrokerEventError(f"timeout {event.timeout} is not a uint64")
    elif event.typ not in (1, 2):
        raise BrokerEventError(f"receipt typ {event.typ} is not 1 (success) or 2 (failure)")


def _refuse_constant(name: str) -> object:
    raise BrokerEventError(f"{name} is not JSON")


def _str(obj: Mapping[str, object], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise BrokerEventError(f"{key} is not a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BrokerEventError(f"{key} is not valid Unicode text") from None
    return value


def _uint(obj: Mapping[str, object], key: str) -> int:
    value = obj[key]
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise BrokerEventError(f"{key} is not an integer in [0, 2^64 - 1]")
    return value


def _bool(obj: Mapping[str, object], key: str) -> bool:
    value = obj[key]
    if not isinstance(value, bool):
        raise BrokerEventError(f"{key} is not a boolean")
    return value


def _hex(value: object, key: str) -> bytes:
    if not isinstance(value, str) or len(value) % 2 or value != value.lower():
        raise BrokerEventError(f"{key} is not lowercase hex of whole bytes")
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise BrokerEventError(f"{key} is not lowercase hex of whole bytes") from None
    if data.hex() != value:
        raise BrokerEventError(f"{key} is not lowercase hex of whole bytes")
    return data
