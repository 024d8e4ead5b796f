"""Proposals, proposal response payloads and the broker's event payloads, on real protobufs."""

from __future__ import annotations

import hashlib
import json

import pytest
from fabric_orgs import NOW, ORG1
from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_event_pb2, proposal_pb2, proposal_response_pb2

from adapters.fabric.errors import (
    BrokerEventError,
    ChaincodeStatusError,
    FabricError,
    ProposalError,
)
from adapters.fabric.proposal import (
    CALLBACK_EVENT,
    INTERCHAIN_EVENT,
    RECEIPT_EVENT,
    CallbackEvent,
    InterchainEvent,
    ReceiptEvent,
    build_proposal,
    build_proposal_response_payload,
    decode_event,
    encode_event,
    extract_broker_event,
    parse_proposal,
    parse_proposal_response_payload,
    proposal_hash,
)

CREATOR = ORG1.client.serialized
NONCE = bytes(range(24))
SRC, DST = "hub1:fab1:broker.User1", "hub1:evm1:0x" + "ab" * 20
REQUEST = InterchainEvent(
    from_=SRC,
    to=DST,
    index=7,
    func="mint",
    args=(b"\x00\x01", b""),
    encrypted=False,
    timeout=1000,
    payload_hash=bytes(range(32)),
)
RECEIPT = ReceiptEvent(from_=SRC, to=DST, index=7, typ=1, result=b"ok", payload_hash=b"\xee" * 32)
CALLBACK = CallbackEvent(from_=SRC, to=DST, index=7, typ=3)


def proposal(**kw: object) -> proposal_pb2.Proposal:
    args = {"channel_id": "mychannel", "args": [b"emitInterchain", b"x"], "creator": CREATOR}
    args |= {"nonce": NONCE, "timestamp": NOW}
    return build_proposal(**(args | kw))  # type: ignore[arg-type]


def response(prop: proposal_pb2.Proposal | None = None, **kw: object) -> bytes:
    prop = prop or proposal()
    args = {"event_name": INTERCHAIN_EVENT, "event_payload": encode_event(REQUEST)} | kw
    return build_proposal_response_payload(prop, **args)  # type: ignore[arg-type]


# --- an independent reading of the wire format, for the proposal hash ---------------


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if b < 0x80:
            return value, i


def length_delimited_fields(data: bytes) -> dict[int, bytes]:
    """Field number -> bytes, for a message whose fields are all length-delimited."""
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        assert key & 7 == 2, "only length-delimited fields expected"
        n, i = read_varint(data, i)
        fields[key >> 3] = data[i : i + n]
        i += n
    return fields


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def test_proposal_hash_is_get_proposal_hash1() -> None:
    """SHA-256(channel_header ‖ signature_header ‖ ChaincodeProposalPayload{input}),
    the transient map left out (protoutil GetProposalHash1), computed from the wire."""
    prop = proposal(transient={"secret": b"s3cr3t"})
    wire = prop.SerializeToString()
    fields = length_delimited_fields(wire)  # Proposal: 1 header, 2 payload
    header = length_delimited_fields(fields[1])  # Header: 1 channel, 2 signature
    payload = length_delimited_fields(fields[2])  # ChaincodeProposalPayload: 1 input, 2 map
    assert 2 in payload  # the transient map is on the wire ...
    without_transient = b"\x0a" + varint(len(payload[1])) + payload[1]
    expected = hashlib.sha256(header[1] + header[2] + without_transient).digest()
    assert proposal_hash(prop) == expected
    # ... and not in the hash
    assert proposal_hash(proposal()) == expected
    assert proposal_hash(proposal(args=[b"emitInterchain", b"y"])) != expected
    assert proposal_hash(proposal(nonce=b"\x01" * 24)) != expected


def test_proposal_hash_fabric_vector() -> None:
    """Fabric's protoutil test: headers b"chdr" / b"shdr" and an empty
    ChaincodeProposalPayload hash to d4c1e3ca...437b."""
    header = common_pb2.Header(channel_header=b"chdr", signature_header=b"shdr")
    prop = proposal_pb2.Proposal(header=header.SerializeToString(), payload=b"")
    assert proposal_hash(prop).hex() == (
        "d4c1e3cac2105da5fddc2cfe776d6ec28e4598cf1e6fa51122c7f70d8076437b"
    )


def test_proposal_round_trip() -> None:
    prop = proposal(transient={"k": b"v"})
    parsed = parse_proposal(prop.SerializeToString())
    assert parsed.channel_id == "mychannel"
    assert parsed.chaincode == "broker"
    assert parsed.args == (b"emitInterchain", b"x")
    assert parsed.creator == CREATOR and parsed.nonce == NONCE
    assert parsed.timestamp == NOW and parsed.transient == {"k": b"v"}
    assert parsed.tx_id == hashlib.sha256(NONCE + CREATOR).hexdigest()
    chdr = common_pb2.ChannelHeader.FromString(
        common_pb2.Header.FromString(prop.header).channel_header
    )
    assert chdr.type == common_pb2.HeaderType.ENDORSER_TRANSACTION == 3


def test_proposal_refusals() -> None:
    prop = proposal()
    header = common_pb2.Header.FromString(prop.header)
    chdr = common_pb2.ChannelHeader.FromString(header.channel_header)
    for mutate in (
        lambda c: setattr(c, "tx_id", "00" * 32),
        lambda c: setattr(c, "type", common_pb2.HeaderType.CONFIG),
        lambda c: c.ClearField("extension"),
    ):
        bad = common_pb2.ChannelHeader()
        bad.CopyFrom(chdr)
        mutate(bad)
        header.channel_header = bad.SerializeToString()
        forged = proposal_pb2.Proposal(header=header.SerializeToString(), payload=prop.payload)
        with pytest.raises(ProposalError):
            parse_proposal(forged.SerializeToString())
    with pytest.raises(ProposalError):
        parse_proposal(prop.SerializeToString()[:-3])


def test_response_round_trip() -> None:
    prop = proposal()
    prp = response(prop, response_payload=b"\x07", results=b"rwset", chaincode_version="1.0")
    parsed = parse_proposal_response_payload(prp)
    assert parsed.proposal_hash == proposal_hash(prop)
    assert parsed.event.tx_id == parse_proposal(prop.SerializeToString()).tx_id
    assert (parsed.results, parsed.response_payload) == (b"rwset", b"\x07")
    event = extract_broker_event(prp)
    assert event == ("broker", INTERCHAIN_EVENT, encode_event(REQUEST), 200)
    assert decode_event(event.event_name, event.payload) == REQUEST
    # the bytes are Fabric's messages: decode them with the bindings directly
    msg = proposal_response_pb2.ProposalResponsePayload.FromString(prp)
    action = proposal_pb2.ChaincodeAction.FromString(msg.extension)
    assert (action.chaincode_id.name, action.chaincode_id.version) == ("broker", "1.0")
    assert action.response.status == 200
    ev = chaincode_event_pb2.ChaincodeEvent.FromString(action.events)
    assert (ev.chaincode_id, ev.event_name) == ("broker", INTERCHAIN_EVENT)
    receipt = extract_broker_event(
        response(event_name=RECEIPT_EVENT, event_payload=encode_event(RECEIPT))
    )
    assert decode_event(receipt.event_name, receipt.payload) == RECEIPT
    callback = extract_broker_event(
        response(event_name=CALLBACK_EVENT, event_payload=encode_event(CALLBACK))
    )
    assert decode_event(callback.event_name, callback.payload) == CALLBACK


def test_truncated_response_refused_at_every_length() -> None:
    prp = response()
    for n in range(len(prp)):
        with pytest.raises(ProposalError):
            extract_broker_event(prp[:n])


def test_wrong_chaincode_and_status() -> None:
    other = response(proposal(chaincode="asset"))
    with pytest.raises(ProposalError, match="'asset', not 'broker'"):
        extract_broker_event(other)
    assert extract_broker_event(other, chaincode="asset").chaincode_id == "asset"
    with pytest.raises(ChaincodeStatusError) as err:
        extract_broker_event(response(status=500, message="broker: index out of order"))
    assert err.value.status == 500
    assert err.value.chaincode_message == "broker: index out of order"
    with pytest.raises(ChaincodeStatusError):
        extract_broker_event(response(status=201))
    with pytest.raises(ProposalError, match="not a broker interchain event"):
        extract_broker_event(response(event_name="ValueSet"))


def rebuild(prp: bytes, edit_action: object = None, edit_prp: object = None) -> bytes:
    msg = proposal_response_pb2.ProposalResponsePayload.FromString(prp)
    action = proposal_pb2.ChaincodeAction.FromString(msg.extension)
    if callable(edit_action):
        edit_action(action)
        msg.extension = action.SerializeToString()
    if callable(edit_prp):
        edit_prp(msg)
    return msg.SerializeToString()


def _set_event(action: proposal_pb2.ChaincodeAction, **kw: object) -> None:
    ev = chaincode_event_pb2.ChaincodeEvent.FromString(action.events)
    for k, v in kw.items():
        setattr(ev, k, v)
    action.events = ev.SerializeToString()


@pytest.mark.parametrize(
    ("edit_action", "edit_prp", "match"),
    [
        (None, lambda m: m.ClearField("extension"), "no extension"),
        (None, lambda m: setattr(m, "proposal_hash", b"\x01" * 31), "not 32"),
        (None, lambda m: setattr(m, "extension", b"\xff\xff"), "not a protobuf"),
        (
            None,
            lambda m: setattr(
                m, "extension", proposal_response_pb2.Response(status=200).SerializeToString()
            ),
            "canonical",
        ),
        (lambda a: a.ClearField("response"), None, "no response"),
        (lambda a: a.ClearField("chaincode_id"), None, "no chaincode ID"),
        (lambda a: a.ClearField("events"), None, "no chaincode event"),
        (lambda a: setattr(a, "events", b"\x0a\x05"), None, "not a protobuf"),
        (lambda a: _set_event(a, chaincode_id="asset"), None, "event of chaincode 'asset'"),
    ],
)
def test_response_refusals(edit_action: object, edit_prp: object, match: str) -> None:
    with pytest.raises(ProposalError, match=match):
        extract_broker_event(rebuild(response(), edit_action, edit_prp))


def test_non_canonical_protobuf_refused() -> None:
    prp = response()
    with pytest.raises(ProposalError, match="canonical"):
        extract_broker_event(prp + b"\x18\x01")  # an unknown field 3
    # the proposal hash written twice: protobuf keeps the last one
    with pytest.raises(ProposalError, match="canonical"):
        extract_broker_event(b"\x0a\x20" + b"\x00" * 32 + prp)
    # a non-minimal varint length (0x20 written as 0xa0 0x00)
    fields = length_delimited_fields(prp)
    padded = b"\x0a\xa0\x00" + fields[1] + b"\x12" + varint(len(fields[2])) + fields[2]
    with pytest.raises(ProposalError, match="canonical"):
        extract_broker_event(padded)


# --- event payloads ------------------------------------------------------------------


def test_event_payload_bytes() -> None:
    assert encode_event(RECEIPT) == (
        b'{"from":"hub1:fab1:broker.User1","index":7,"payloadHash":"' + b"ee" * 32 + b'",'
        b'"result":"6f6b","to":"hub1:evm1:0x' + b"ab" * 20 + b'","typ":1}'
    )
    obj = json.loads(encode_event(REQUEST))
    assert obj == {
        "args": ["0001", ""],
        "encrypted": False,
        "from": SRC,
        "func": "mint",
        "index": 7,
        "payloadHash": bytes(range(32)).hex(),
        "timeout": 1000,
        "to": DST,
    }
    unicode = InterchainEvent(**(REQUEST.__dict__ | {"func": "é"}))
    assert '"func":"é"'.encode() in encode_event(unicode)
    assert decode_event(INTERCHAIN_EVENT, encode_event(unicode)) == unicode


def request_with(**kw: object) -> bytes:
    obj = json.loads(encode_event(REQUEST)) | kw
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "payload",
    [
        request_with(index="7"),
        request_with(index=True),
        request_with(index=7.0),
        request_with(index=0),
        request_with(index=2**64),
        request_with(timeout=-1),
        request_with(encrypted=1),
        request_with(args="0001"),
        request_with(args=[1]),
        request_with(args=["ABCD"]),
        request_with(args=["abc"]),
        request_with(args=["0x00"]),
        request_with(args=["00"] * 33),
        request_with(func=7),
        request_with(func="f" * 129),
        request_with(**{"from": ""}),
        request_with(payloadHash="00" * 31),
        request_with(typ=1),  # an extra field
        json.dumps(
            {k: v for k, v in json.loads(encode_event(REQUEST)).items() if k != "timeout"}
        ).encode(),
        # non-canonical encodings of the right fields
        json.dumps(json.loads(encode_event(REQUEST)), sort_keys=True).encode(),  # whitespace
        json.dumps(
            dict(reversed(json.loads(encode_event(REQUEST)).items())), separators=(",", ":")
        ).encode(),  # key order
        encode_event(REQUEST).replace(b'"index":7', b'"index":7.0'),
        encode_event(REQUEST).replace(b'"index":7', b'"index":7e0'),
        encode_event(REQUEST).replace(b'"func":"mint"', b'"func":"\\u006dint"'),
        encode_event(REQUEST).replace(b"{", b'{"index":8,', 1),  # a duplicate key
        encode_event(REQUEST) + b" ",
        encode_event(REQUEST).replace(b'"index":7', b'"index":NaN'),
        b"[]",
        b"\xff",
        b"",
    ],
)
def test_interchain_payload_refusals(payload: bytes) -> None:
    with pytest.raises(BrokerEventError):
        decode_event(INTERCHAIN_EVENT, payload)


@pytest.mark.parametrize("typ", [0, 3, "1", True])
def test_receipt_payload_refusals(typ: object) -> None:
    obj = json.loads(encode_event(RECEIPT)) | {"typ": typ}
    with pytest.raises(BrokerEventError):
        decode_event(RECEIPT_EVENT, json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def test_callback_payload_bytes() -> None:
    assert encode_event(CALLBACK) == (
        b'{"from":"hub1:fab1:broker.User1","index":7,"to":"hub1:evm1:0x' + b"ab" * 20 + b'",'
        b'"typ":3}'
    )
    for typ in (1, 2, 3):
        event = CallbackEvent(SRC, DST, 1, typ)
        assert decode_event(CALLBACK_EVENT, encode_event(event)) == event


def callback_with(**kw: object) -> bytes:
    obj = json.loads(encode_event(CALLBACK)) | kw
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "payload",
    [
        callback_with(typ=0),
        callback_with(typ=4),
        callback_with(typ="3"),
        callback_with(typ=True),
        callback_with(typ=3.0),
        callback_with(index=0),
        callback_with(index="7"),
        callback_with(index=2**64),
        callback_with(to=""),
        callback_with(**{"from": 7}),
        callback_with(result=""),  # an extra field
        callback_with(payloadHash="00" * 32),
        json.dumps({k: v for k, v in json.loads(encode_event(CALLBACK)).items() if k != "typ"})
        .replace(" ", "")
        .encode(),
        json.dumps(json.loads(encode_event(CALLBACK)), sort_keys=True).encode(),  # whitespace
        json.dumps(
            dict(reversed(json.loads(encode_event(CALLBACK)).items())), separators=(",", ":")
        ).encode(),  # key order
        encode_event(CALLBACK).replace(b'"typ":3', b'"typ":3e0'),
        encode_event(CALLBACK).replace(b"{", b'{"typ":1,', 1),  # a duplicate key
        encode_event(CALLBACK) + b"\n",
        b"{}",
        b"null",
        b"",
    ],
)
def test_callback_payload_refusals(payload: bytes) -> None:
    with pytest.raises(BrokerEventError):
        decode_event(CALLBACK_EVENT, payload)


def test_event_kinds_do_not_mix() -> None:
    with pytest.raises(BrokerEventError, match="unexpected"):
        decode_event(RECEIPT_EVENT, encode_event(REQUEST))
    with pytest.raises(BrokerEventError, match="unexpected"):
        decode_event(INTERCHAIN_EVENT, encode_event(RECEIPT))
    with pytest.raises(BrokerEventError, match="unexpected"):
        decode_event(CALLBACK_EVENT, encode_event(RECEIPT))
    with pytest.raises(BrokerEventError, match="unexpected"):
        decode_event(RECEIPT_EVENT, encode_event(CALLBACK))
    with pytest.raises(BrokerEventError, match="unknown broker event"):
        decode_event("ValueSet", encode_event(RECEIPT))
    with pytest.raises(BrokerEventError):
        encode_event(ReceiptEvent(**(RECEIPT.__dict__ | {"typ": 3})))


def test_every_refusal_is_a_fabric_error() -> None:
    assert issubclass(ChaincodeStatusError, ProposalError)
    assert issubclass(ProposalError, FabricError) and issubclass(BrokerEventError, FabricError)
