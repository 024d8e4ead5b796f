"""Generate the Fabric proof corpus: ``good/*.json`` must verify, ``bad/*.json`` must not.

Run from the repository root::

    .venv/bin/python tests/vectors/fabric/generate.py            # rewrites tests/vectors/fabric/
    .venv/bin/python tests/vectors/fabric/generate.py --out DIR  # writes DIR/good, DIR/bad

Output is deterministic: keys from public seeds (``appchains.fabric.ca.key_from_seed``),
certificates and signatures with RFC 6979 deterministic ECDSA, fixed timestamps and
nonces, so a regenerated corpus is byte-identical (``tests/test_fabric_verifier.py``
checks it). The vector format is docs/families.md §3; the proof, docs/fabric.md §3.3.

The chain's side (transactions, blocks, orderer signatures, the peers' qscc answer) is
built here with the minimal helpers below, on Fabric's messages, until the dev chain's
block writer (``appchains/fabric/block.py``) can be used instead.

TEST KEYS ONLY: every private key is derived from a public string. Never use them for
anything that holds value.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgpack
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2

from adapters.fabric.codes import FabricCode
from adapters.fabric.endorsement import endorsed_bytes
from adapters.fabric.proof import (
    CALLBACK_EVENT,
    CallbackEvent,
    FabricProof,
    block_data_hash,
    block_header_bytes,
    build_attestation_proposal,
    build_attestation_response,
    encode_fabric_proof,
    orderer_signed_bytes,
)
from adapters.fabric.proposal import (
    INTERCHAIN_EVENT,
    RECEIPT_EVENT,
    InterchainEvent,
    ReceiptEvent,
    build_proposal,
    build_proposal_response_payload,
    encode_event,
)
from adapters.fabric.signature import P256_ORDER, to_low_s
from adapters.testing.vectors import corpus_generator_main, write_corpus_files
from appchains.fabric.ca import key_from_seed
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, compute_payload_hash, encode_ibtp

HERE = Path(__file__).resolve().parent

HUB = "hub1"
CHAIN = "fab1"  # the Fabric chain's relay chain ID
OTHER = "ethdev"  # the chain on the other side of the calls
CHANNEL = "relaychannel"
OTHER_CHANNEL = "otherchannel"
BROKER = "broker"

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: certificates start a day before
DAY = 86400
T_TX = NOW + 3600  # every transaction's channel header timestamp ("now" for certificates)
T_QUERY = NOW + 7200  # the attestation proposals' timestamp
YEAR = 365 * DAY

VALID = transaction_pb2.TxValidationCode.VALID
MVCC_READ_CONFLICT = transaction_pb2.TxValidationCode.MVCC_READ_CONFLICT


# --------------------------------------------------------------------------- identities


def _time(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _serial(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(b"serial " + seed.encode()).digest()[:16], "big") >> 1


def certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    start: int = NOW - DAY,
    end: int = NOW - DAY + YEAR,
    seed: str,
) -> x509.Certificate:
    """A certificate laid out as appchains.fabric.ca's, signed deterministically."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(_serial(seed))
        .not_valid_before(_time(start))
        .not_valid_after(_time(end))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(signer, hashes.SHA256(), ecdsa_deterministic=True)


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """Fabric's low-S ECDSA P-256, deterministic (RFC 6979)."""
    return to_low_s(key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Member:
    msp_id: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    id_bytes: bytes = b""  # overrides the PEM (malformed-identity cases)

    @property
    def serialized(self) -> bytes:
        return identities_pb2.SerializedIdentity(
            mspid=self.msp_id, id_bytes=self.id_bytes or pem(self.cert)
        ).SerializeToString()

    def sign(self, message: bytes) -> bytes:
        return sign(self.key, message)


@dataclass(frozen=True)
class Org:
    msp_id: str
    domain: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def issue(
        self,
        name: str,
        ou: str | None,
        *,
        start: int = NOW - DAY,
        end: int = NOW - DAY + YEAR,
        msp_id: str | None = None,
    ) -> Member:
        full = f"{name}.{self.domain}"
        key = key_from_seed(full)
        subject = x509.Name(
            ([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)] if ou else [])
            + [x509.NameAttribute(NameOID.COMMON_NAME, full)]
        )
        cert = certificate(
            subject,
            self.cert.subject,
            key.public_key(),
            self.key,
            ca=False,
            start=start,
            end=end,
            seed=f"{full}/{ou}/{start}",
        )
        return Member(msp_id or self.msp_id, key, cert)


def make_org(msp_id: str, domain: str, seed: str | None = None) -> Org:
    key = key_from_seed(seed or f"ca.{domain}")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, domain),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{domain}"),
        ]
    )
    cert = certificate(
        name,
        name,
        key.public_key(),
        key,
        ca=True,
        end=NOW - DAY + 10 * YEAR,
        seed=seed or f"ca.{domain}",
    )
    return Org(msp_id, domain, key, cert)


ORG1 = make_org("Org1MSP", "org1.example.com")
ORG2 = make_org("Org2MSP", "org2.example.com")
ORG3 = make_org("Org3MSP", "org3.example.com")
ORDERER_ORG = make_org("OrdererMSP", "example.com")
ORG4 = make_org("Org4MSP", "org4.example.com")  # never registered
#: The same CA name as Org1's, another key: what an attacker's own CA looks like.
IMPOSTOR_CA = make_org("Org1MSP", "org1.example.com", seed="impostor ca.org1.example.com")

P1, P2, P3 = (o.issue("peer0", "peer") for o in (ORG1, ORG2, ORG3))
P1B = ORG1.issue("peer1", "peer")
CLIENT = ORG1.issue("User1", "client")
CLIENT2 = ORG2.issue("User1", "client")
ORDERER = ORDERER_ORG.issue("orderer0", "orderer")
ORDERER2 = ORDERER_ORG.issue("orderer1", "orderer")
ORG1_ORDERER = ORG1.issue("orderer0", "orderer")  # a valid orderer-OU cert, not registered
P4 = ORG4.issue("peer0", "peer")
IMPOSTOR_PEER = IMPOSTOR_CA.issue("peer9", "peer")
EXPIRED_PEER = ORG2.issue("peer7", "peer", start=NOW - 2 * DAY, end=NOW)
NO_OU_PEER = ORG3.issue("peer8", None)


def _self_signed_peer() -> Member:
    key = key_from_seed("peer6.org2.example.com")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "peer"),
            x509.NameAttribute(NameOID.COMMON_NAME, "peer6.org2.example.com"),
        ]
    )
    cert = certificate(name, name, key.public_key(), key, ca=False, seed="self-signed peer6")
    return Member("Org2MSP", key, cert)


SELF_SIGNED_PEER = _self_signed_peer()
_good_pem = pem(P2.cert).decode().splitlines()
_good_pem[3] = "!!!!" + _good_pem[3][4:]  # base64 broken inside the PEM body
BAD_PEM_PEER = replace(P2, id_bytes=("\n".join(_good_pem) + "\n").encode())

POLICY = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
ROOT: dict[str, Any] = {
    "channel": CHANNEL,
    "chaincode": BROKER,
    "orgs": {o.msp_id: pem(o.cert).decode() for o in (ORG1, ORG2, ORG3, ORDERER_ORG)},
    "endorsement_policy": POLICY,
    "orderers": [{"mspid": ORDERER.msp_id, "cert": pem(ORDERER.cert).decode()}],
}
#: Two orderers, both needed; any one Org1 or Org2 peer attests.
ROOT_TWO_ORDERERS: dict[str, Any] = {
    **ROOT,
    "attestation_policy": "OR('Org1MSP.peer', 'Org2MSP.peer')",
    "orderers": [{"mspid": o.msp_id, "cert": pem(o.cert).decode()} for o in (ORDERER, ORDERER2)],
    "orderer_threshold": 2,
}

LOCAL_SVC = f"{HUB}:{CHAIN}:asset"
REMOTE_SVC = f"{HUB}:{OTHER}:0x{'ab' * 20}"


def nonce(seed: str) -> bytes:
    return hashlib.sha256(b"nonce " + seed.encode()).digest()[:24]


# --------------------------------------------------------------------------- transactions


def event_of(ibtp: IBTP) -> tuple[str, bytes]:
    """The broker event (name, canonical payload) that proves ``ibtp``."""
    p = ibtp.payload
    if ibtp.type == IBTPType.INTERCHAIN:
        return INTERCHAIN_EVENT, encode_event(
            InterchainEvent(
                ibtp.src,
                ibtp.dst,
                ibtp.index,
                p.func,
                p.args,
                p.encrypted,
                ibtp.timeout,
                compute_payload_hash(p),
            )
        )
    if ibtp.type == IBTPType.RECEIPT_ROLLBACK:
        return CALLBACK_EVENT, encode_event(CallbackEvent(ibtp.src, ibtp.dst, ibtp.index, 3))
    (result,) = p.args
    return RECEIPT_EVENT, encode_event(
        ReceiptEvent(
            ibtp.src, ibtp.dst, ibtp.index, int(ibtp.type), result, compute_payload_hash(p)
        )
    )


@dataclass
class Tx:
    """One broker transaction and what a case may change in it."""

    seed: str
    event: tuple[str, bytes]
    chaincode: str = BROKER
    channel: str = CHANNEL
    creator: Member = CLIENT
    endorsers: Sequence[Member] = (P1, P2)
    status: int = 200
    endorsement_edit: Callable[[list[proposal_response_pb2.Endorsement]], None] | None = None
    prp_from: str | None = None  # endorse the response to another proposal (this seed)
    tx_id: str | None = None  # overrides the computed tx_id
    actions: int = 1
    envelope_signature: Callable[[bytes], bytes] | None = None

    def envelope(self) -> bytes:
        n = nonce(self.seed)
        creator = self.creator.serialized
        args = [b"invokeService", b"asset", self.seed.encode()]
        proposal = build_proposal(self.channel, args, creator, n, T_TX, chaincode=self.chaincode)
        header = common_pb2.Header.FromString(proposal.header)
        if self.tx_id is not None:
            chdr = common_pb2.ChannelHeader.FromString(header.channel_header)
            chdr.tx_id = self.tx_id
            header.channel_header = chdr.SerializeToString()
        endorsed = proposal
        if self.prp_from is not None:
            endorsed = build_proposal(
                self.channel, args, creator, nonce(self.prp_from), T_TX, chaincode=self.chaincode
            )
        name, payload = self.event
        prp = build_proposal_response_payload(endorsed, name, payload, status=self.status)
        if self.tx_id is not None:  # the endorsers saw the header the creator signs
            prp = _rehash(prp, header, proposal.payload)
        endorsements = [
            proposal_response_pb2.Endorsement(
                endorser=e.serialized, signature=e.sign(endorsed_bytes(prp, e.serialized))
            )
            for e in self.endorsers
        ]
        if self.endorsement_edit is not None:
            self.endorsement_edit(endorsements)
        cap = transaction_pb2.ChaincodeActionPayload(
            chaincode_proposal_payload=proposal.payload,
            action=transaction_pb2.ChaincodeEndorsedAction(
                proposal_response_payload=prp, endorsements=endorsements
            ),
        )
        action = transaction_pb2.TransactionAction(
            header=header.signature_header, payload=cap.SerializeToString()
        )
        tx = transaction_pb2.Transaction(actions=[action] * self.actions)
        body = common_pb2.Payload(header=header, data=tx.SerializeToString()).SerializeToString()
        sig = (self.envelope_signature or self.creator.sign)(body)
        return common_pb2.Envelope(payload=body, signature=sig).SerializeToString()


def _rehash(prp: bytes, header: common_pb2.Header, cc_payload: bytes) -> bytes:
    msg = proposal_response_pb2.ProposalResponsePayload.FromString(prp)
    msg.proposal_hash = hashlib.sha256(
        header.channel_header + header.signature_header + cc_payload
    ).digest()
    return msg.SerializeToString()


def asset_tx(seed: str) -> Tx:
    """A transaction of another chaincode, with an event of its own (block filler)."""
    return Tx(seed, ("Transfer", b'{"amount":5}'), chaincode="asset")


def config_envelope() -> bytes:
    """A CONFIG envelope (what block 0 holds), signed by the orderer."""
    chdr = common_pb2.ChannelHeader(type=common_pb2.HeaderType.CONFIG, channel_id=CHANNEL)
    chdr.timestamp.seconds = T_TX
    shdr = common_pb2.SignatureHeader(creator=ORDERER.serialized, nonce=nonce("config"))
    header = common_pb2.Header(
        channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString()
    )
    body = common_pb2.Payload(header=header, data=b"\x0a\x00").SerializeToString()
    return common_pb2.Envelope(payload=body, signature=ORDERER.sign(body)).SerializeToString()


# --------------------------------------------------------------------------- blocks


@dataclass
class Block:
    number: int
    envelopes: list[bytes]
    codes: list[int] | None = None
    orderers: Sequence[Member] = (ORDERER,)
    data_override: list[bytes] | None = None  # data carried instead of the hashed one
    metadata_entries: int = 5
    signed_bytes: Callable[[bytes, bytes, bytes], bytes] = orderer_signed_bytes

    def serialize(self) -> bytes:
        data_hash = block_data_hash(self.envelopes)
        previous = hashlib.sha256(b"block %d" % (self.number - 1)).digest()
        header_bytes = block_header_bytes(self.number, previous, data_hash)
        value = common_pb2.OrdererBlockMetadata(
            last_config=common_pb2.LastConfig(index=0)
        ).SerializeToString()
        signatures = []
        for i, o in enumerate(self.orderers):
            shdr = common_pb2.SignatureHeader(
                creator=o.serialized, nonce=nonce(f"block {self.number} {i}")
            ).SerializeToString()
            signatures.append(
                common_pb2.MetadataSignature(
                    signature_header=shdr,
                    signature=o.sign(self.signed_bytes(value, shdr, header_bytes)),
                )
            )
        codes = self.codes if self.codes is not None else [VALID] * len(self.envelopes)
        entries = [
            common_pb2.Metadata(value=value, signatures=signatures).SerializeToString(),
            b"",
            bytes(codes),
            b"",
            b"",
        ][: self.metadata_entries]
        block = common_pb2.Block(
            header=common_pb2.BlockHeader(
                number=self.number, previous_hash=previous, data_hash=data_hash
            ),
            data=common_pb2.BlockData(data=self.data_override or self.envelopes),
            metadata=common_pb2.BlockMetadata(metadata=entries),
        )
        return block.SerializeToString()


@dataclass
class Attest:
    """The peers' qscc answer, and what a case may change in it."""

    attestors: Sequence[Member] = (P1, P2)
    channel: str = CHANNEL
    query_number: int | None = None  # default: the block's number
    args: list[bytes] | None = None  # replaces qscc's arguments
    chaincode: str = "qscc"
    status: int = 200
    other_proposal: bool = False  # answer a proposal other than the one carried
    endorsement_edit: Callable[[list[proposal_response_pb2.Endorsement]], None] | None = None
    signed: Callable[[bytes, bytes], bytes] = endorsed_bytes
    extra: list[proposal_response_pb2.Endorsement] = field(default_factory=list)

    def build(self, number: int, block: bytes) -> tuple[bytes, bytes, list[bytes]]:
        n = self.query_number if self.query_number is not None else number
        creator = CLIENT.serialized
        if self.args is None and self.chaincode == "qscc":
            proposal = build_attestation_proposal(self.channel, n, creator, nonce(f"q{n}"), T_QUERY)
        else:
            args = self.args or [b"GetBlockByNumber", self.channel.encode(), str(n).encode()]
            proposal = build_proposal(
                self.channel, args, creator, nonce(f"q{n}"), T_QUERY, chaincode=self.chaincode
            )
        answered = proposal
        if self.other_proposal:
            answered = build_attestation_proposal(
                self.channel, n, creator, nonce(f"other q{n}"), T_QUERY
            )
        response = build_attestation_response(
            answered,
            block if self.status == 200 else b"",
            status=self.status,
            message="" if self.status == 200 else "block not found",
        )
        ends = [
            proposal_response_pb2.Endorsement(
                endorser=a.serialized, signature=a.sign(self.signed(response, a.serialized))
            )
            for a in self.attestors
        ] + self.extra
        if self.endorsement_edit is not None:
            self.endorsement_edit(ends)
        return proposal.SerializeToString(), response, [e.SerializeToString() for e in ends]


def make_proof(block: Block, tx_index: int, attest: Attest | None = None) -> bytes:
    raw = block.serialize()
    prop, resp, ends = (attest or Attest()).build(block.number, raw)
    return encode_fabric_proof(FabricProof(prop, resp, tuple(ends), tx_index))


def high_s(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return encode_dss_signature(r, P256_ORDER - s)


# --------------------------------------------------------------------------- IBTPs


def args_for(amount: int) -> tuple[bytes, ...]:
    return (b"alice", b"bob", str(amount).encode())


IB_1 = IBTP(LOCAL_SVC, REMOTE_SVC, 1, IBTPType.INTERCHAIN, 0, Payload("transfer", args_for(10)))
IB_2 = IBTP(LOCAL_SVC, REMOTE_SVC, 2, IBTPType.INTERCHAIN, 0, Payload("transfer", args_for(20)))
IB_ENC = IBTP(
    LOCAL_SVC,
    REMOTE_SVC,
    3,
    IBTPType.INTERCHAIN,
    123_456,
    Payload("transfer", (b"\x8e" * 48, b"ciphertext nonce"), True),
)
IB_SUCCESS = IBTP(
    REMOTE_SVC, LOCAL_SVC, 7, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"minted 7",))
)
IB_FAILURE = IBTP(
    REMOTE_SVC, LOCAL_SVC, 8, IBTPType.RECEIPT_FAILURE, 0, Payload("", (b"cap exceeded",))
)
IB_ROLLBACK = IBTP(LOCAL_SVC, REMOTE_SVC, 4, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
#: The destination's acknowledgement: this chain's broker consumed a remote request's
#: index without running it (docs/protocol.md §3).
IB_DST_ACK = IBTP(REMOTE_SVC, LOCAL_SVC, 5, IBTPType.RECEIPT_ROLLBACK, 0, Payload())


def broker_tx(ibtp: IBTP, seed: str | None = None, **over: Any) -> Tx:
    return Tx(seed or f"tx {ibtp.index} {int(ibtp.type)}", event_of(ibtp), **over)


# --------------------------------------------------------------------------- vectors


def vector(
    name: str,
    description: str,
    ibtp: IBTP,
    proof: bytes,
    expected: FabricCode | None,
    trust_root: dict[str, Any] = ROOT,
) -> dict[str, Any]:
    full = replace(ibtp, proof=proof)
    return {
        "name": name,
        "description": description,
        "hub_id": HUB,
        "chain_id": CHAIN,
        "family": "fabric",
        "broker": BROKER,
        "trust_root": trust_root,
        "ibtp": encode_ibtp(full).hex(),
        "ibtp_hash": compute_ibtp_hash(full).hex(),
        "expected": {"ok": True}
        if expected is None
        else {"ok": False, "code": int(expected), "name": expected.name},
    }


def _replace_signature(i: int, f: Callable[[bytes], bytes]) -> Callable[[list[Any]], None]:
    def edit(ends: list[Any]) -> None:
        ends[i].signature = f(ends[i].signature)

    return edit


def build_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    c = FabricCode
    t1 = broker_tx(IB_1)
    block5 = Block(
        5,
        [
            asset_tx("filler 0").envelope(),
            t1.envelope(),
            broker_tx(IB_SUCCESS).envelope(),
            broker_tx(IB_FAILURE).envelope(),
            broker_tx(IB_ROLLBACK).envelope(),
            broker_tx(IB_ENC, endorsers=(P3, P1, P2)).envelope(),
        ],
    )
    p1 = make_proof(block5, 1)
    small = Block(5, [t1.envelope()])  # the bad cases' block: one transaction
    p0 = make_proof(small, 0)

    def single(tx: Tx, *, attest: Attest | None = None, code: int = VALID, **block: Any) -> bytes:
        """A proof of ``tx``, the one transaction of block 9."""
        return make_proof(Block(9, [tx.envelope()], [code], **block), 0, attest)

    good = [
        vector(
            "interchain", "InterchainEvent, tx 1 of 6, 2-of-3 endorsed and attested", IB_1, p1, None
        ),
        vector("receipt_success", "ReceiptEvent typ 1", IB_SUCCESS, make_proof(block5, 2), None),
        vector("receipt_failure", "ReceiptEvent typ 2", IB_FAILURE, make_proof(block5, 3), None),
        vector(
            "receipt_rollback",
            "CallbackEvent typ 3: the rollback",
            IB_ROLLBACK,
            make_proof(block5, 4),
            None,
        ),
        vector(
            "destination_rollback_ack",
            "CallbackEvent typ 3 of the destination: the index will never run here",
            IB_DST_ACK,
            single(broker_tx(IB_DST_ACK)),
            None,
        ),
        vector(
            "interchain_encrypted",
            "encrypted payload with a timeout, endorsed by all three orgs",
            IB_ENC,
            make_proof(block5, 5),
            None,
        ),
        vector(
            "three_attestors",
            "attested by peers of all three orgs (more than the policy needs)",
            IB_1,
            make_proof(block5, 1, Attest(attestors=(P3, P2, P1))),
            None,
        ),
        vector(
            "two_orderers_one_attestor",
            "a root with 2-of-2 orderers and an OR attestation policy; one attestor",
            IB_2,
            single(broker_tx(IB_2), attest=Attest(attestors=(P2,)), orderers=(ORDERER2, ORDERER)),
            None,
            ROOT_TWO_ORDERERS,
        ),
        vector(
            "first_transaction",
            "the broker's transaction is the only one of its block (tx_index 0)",
            IB_2,
            make_proof(Block(11, [broker_tx(IB_2).envelope()]), 0),
            None,
        ),
    ]

    canonical = p0
    prop, resp, ends = Attest().build(5, small.serialize())
    pack = msgpack.Packer(use_bin_type=True).pack
    non_canonical = b"\x95" + pack(1) + pack(prop) + pack(resp) + pack(ends) + b"\xcd\x00\x00"
    assert msgpack.unpackb(non_canonical) == msgpack.unpackb(canonical)

    bad = [
        # -- the proof
        vector(
            "proof_truncated",
            "the proof's last 7 bytes cut",
            IB_1,
            canonical[:-7],
            c.PROOF_MALFORMED,
        ),
        vector(
            "proof_non_canonical",
            "tx_index written as a msgpack uint16",
            IB_1,
            non_canonical,
            c.PROOF_MALFORMED,
        ),
        vector(
            "proof_version_2",
            "a proof that says it is version 2",
            IB_1,
            encode_fabric_proof(FabricProof(prop, resp, tuple(ends), 0, version=2)),
            c.PROOF_VERSION,
        ),
        vector(
            "ibtp_from_other_chain",
            "an INTERCHAIN IBTP whose from names another chain",
            replace(IB_1, src=f"{HUB}:otherfab:asset"),
            p0,
            c.CHAIN_MISMATCH,
        ),
        vector(
            "rollback_on_neither_chain",
            "a RECEIPT_ROLLBACK whose from and to are both on other chains",
            replace(IB_ROLLBACK, src=f"{HUB}:otherfab:asset"),
            make_proof(block5, 4),
            c.CHAIN_MISMATCH,
        ),
        # -- the attestation
        vector(
            "attestation_malformed_protobuf",
            "the attestation response with a byte cut from its end (malformed protobuf)",
            IB_1,
            encode_fabric_proof(FabricProof(prop, resp[:-1], tuple(ends), 0)),
            c.ATTESTATION_MALFORMED,
        ),
        vector(
            "attestation_other_query",
            "the peers' answer to qscc GetBlockByTxID, not GetBlockByNumber",
            IB_1,
            make_proof(small, 0, Attest(args=[b"GetBlockByTxID", CHANNEL.encode(), b"5"])),
            c.ATTESTATION_WRONG_QUERY,
        ),
        vector(
            "attestation_other_chaincode",
            "the block returned by a chaincode other than qscc",
            IB_1,
            make_proof(small, 0, Attest(chaincode="blockstore")),
            c.ATTESTATION_WRONG_QUERY,
        ),
        vector(
            "attestation_other_channel",
            "the attestation queries another channel (where the same block was written)",
            IB_1,
            make_proof(small, 0, Attest(channel=OTHER_CHANNEL)),
            c.ATTESTATION_WRONG_CHANNEL,
        ),
        vector(
            "attestation_hash_mismatch",
            "the response the peers signed answers another proposal (other nonce)",
            IB_1,
            make_proof(small, 0, Attest(other_proposal=True)),
            c.ATTESTATION_HASH_MISMATCH,
        ),
        vector(
            "attestation_status_500",
            "qscc answered status 500 (no block), and the peers signed that",
            IB_1,
            make_proof(small, 0, Attest(status=500)),
            c.ATTESTATION_STATUS,
        ),
        vector(
            "attestor_malformed_pem",
            "an attestor's identity holds a PEM with broken base64",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, BAD_PEM_PEER))),
            c.IDENTITY_MALFORMED,
        ),
        vector(
            "attestor_unknown_msp",
            "an attestor of Org4MSP, which is not registered",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, P4))),
            c.IDENTITY_UNKNOWN_MSP,
        ),
        vector(
            "attestor_unregistered_ca",
            "an Org1MSP peer certificate issued by another CA with Org1's CA name",
            IB_1,
            make_proof(small, 0, Attest(attestors=(IMPOSTOR_PEER, P2))),
            c.CERT_WRONG_CA,
        ),
        vector(
            "attestor_expired",
            "an Org2 peer whose certificate expired before the transaction's time",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, EXPIRED_PEER))),
            c.CERT_EXPIRED,
        ),
        vector(
            "attestor_self_signed",
            "an Org2MSP 'peer' with a self-signed certificate",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, SELF_SIGNED_PEER))),
            c.CERT_SELF_SIGNED,
        ),
        vector(
            "attestor_no_node_ou",
            "an Org3 certificate issued by its CA with no NodeOU",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, NO_OU_PEER))),
            c.CERT_NOT_MEMBER,
        ),
        vector(
            "attestor_signature_other_bytes",
            "an attestor signed the response without its identity appended (other bytes)",
            IB_1,
            make_proof(small, 0, Attest(signed=lambda response, endorser: response)),
            c.SIGNATURE_INVALID,
        ),
        vector(
            "attestor_high_s",
            "an attestor's signature malleated to its high-S twin",
            IB_1,
            make_proof(small, 0, Attest(endorsement_edit=_replace_signature(1, high_s))),
            c.SIGNATURE_HIGH_S,
        ),
        vector(
            "attestor_client",
            "attested by Org1's peer and Org2's client identity (not a peer)",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, CLIENT2))),
            c.ATTESTOR_NOT_PEER,
        ),
        vector(
            "attestor_twice",
            "the same attestor's endorsement twice",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P1, P1))),
            c.DUPLICATE_SIGNER,
        ),
        vector(
            "attestation_policy_not_met",
            "one attestor for a 2-of-3 attestation policy",
            IB_1,
            make_proof(small, 0, Attest(attestors=(P2,))),
            c.ATTESTATION_POLICY_NOT_MET,
        ),
        # -- the block
        vector(
            "block_without_filter",
            "an attested block without its TRANSACTIONS_FILTER metadata",
            IB_1,
            make_proof(replace(small, metadata_entries=1), 0),
            c.BLOCK_MALFORMED,
        ),
        vector(
            "block_other_number",
            "the query asks for block 6, the peers' answer is block 5",
            IB_1,
            make_proof(small, 0, Attest(query_number=6)),
            c.BLOCK_NUMBER_MISMATCH,
        ),
        vector(
            "block_signed_by_peer",
            "the block's signature is by a peer, not a registered orderer",
            IB_1,
            make_proof(replace(small, orderers=(P1,)), 0),
            c.ORDERER_UNKNOWN,
        ),
        vector(
            "block_signed_by_other_orderer",
            "signed by an orderer-OU certificate of Org1, which is not a registered orderer",
            IB_1,
            make_proof(replace(small, orderers=(ORG1_ORDERER,)), 0),
            c.ORDERER_UNKNOWN,
        ),
        vector(
            "block_not_signed",
            "the block carries no orderer signature",
            IB_1,
            make_proof(replace(small, orderers=()), 0),
            c.ORDERER_BELOW_THRESHOLD,
        ),
        vector(
            "block_one_of_two_orderers",
            "one orderer's signature where the trust root needs two",
            IB_2,
            single(broker_tx(IB_2), attest=Attest(attestors=(P2,))),
            c.ORDERER_BELOW_THRESHOLD,
            ROOT_TWO_ORDERERS,
        ),
        vector(
            "block_signature_other_bytes",
            "the orderer signed the header bytes alone (without metadata value and header)",
            IB_1,
            make_proof(replace(small, signed_bytes=lambda v, s, h: h), 0),
            c.SIGNATURE_INVALID,
        ),
        vector(
            "data_hash_mismatch",
            "the signed header's data_hash is of the original data; the data carried has "
            "a forged transaction in its place",
            IB_2,
            make_proof(replace(small, data_override=[broker_tx(IB_2, "forged").envelope()]), 0),
            c.DATA_HASH_MISMATCH,
        ),
        vector(
            "tx_index_out_of_range",
            "tx_index 1 in a block of 1",
            IB_1,
            make_proof(small, 1),
            c.TX_INDEX_OUT_OF_RANGE,
        ),
        # -- the transaction
        vector(
            "tx_two_actions",
            "an endorser transaction with two actions",
            IB_1,
            single(broker_tx(IB_1, actions=2)),
            c.TX_MALFORMED,
        ),
        vector(
            "tx_config",
            "tx_index points at a CONFIG transaction",
            IB_1,
            make_proof(Block(0, [config_envelope()]), 0),
            c.TX_NOT_ENDORSER,
        ),
        vector(
            "tx_other_channel",
            "a broker transaction of another channel, ordered into this channel's block",
            IB_1,
            single(broker_tx(IB_1, channel=OTHER_CHANNEL)),
            c.TX_WRONG_CHANNEL,
        ),
        vector(
            "tx_wrong_chaincode",
            "the InterchainEvent emitted by a chaincode that is not the broker",
            IB_1,
            single(broker_tx(IB_1, chaincode="fakebroker")),
            c.WRONG_CHAINCODE,
        ),
        vector(
            "tx_id_not_computed",
            "a tx_id that is not hex(SHA-256(nonce ‖ creator))",
            IB_1,
            single(broker_tx(IB_1, tx_id="ab" * 32)),
            c.TX_ID_MISMATCH,
        ),
        vector(
            "creator_malformed_der",
            "the creator's signature with a byte appended (not DER)",
            IB_1,
            single(broker_tx(IB_1, envelope_signature=lambda b: CLIENT.sign(b) + b"\x00")),
            c.SIGNATURE_MALFORMED,
        ),
        vector(
            "creator_signature_other_bytes",
            "the creator signed another payload",
            IB_1,
            single(broker_tx(IB_1, envelope_signature=lambda b: CLIENT.sign(b + b"x"))),
            c.SIGNATURE_INVALID,
        ),
        vector(
            "tx_mvcc_conflict",
            "the transaction was committed MVCC_READ_CONFLICT",
            IB_1,
            single(broker_tx(IB_1), code=MVCC_READ_CONFLICT),
            c.TX_INVALID,
        ),
        vector(
            "proposal_hash_mismatch",
            "endorsements of another proposal (other nonce) carried in this transaction",
            IB_1,
            single(broker_tx(IB_1, prp_from="another proposal")),
            c.PROPOSAL_HASH_MISMATCH,
        ),
        vector(
            "endorsement_org_twice",
            "two Org1 peers endorse an OutOf(2) of three orgs: Org1 counts once",
            IB_1,
            single(broker_tx(IB_1, endorsers=(P1, P1B))),
            c.ENDORSEMENT_POLICY_NOT_MET,
        ),
        vector(
            "endorsement_one",
            "one endorsement for a 2-of-3 policy",
            IB_1,
            single(broker_tx(IB_1, endorsers=(P3,))),
            c.ENDORSEMENT_POLICY_NOT_MET,
        ),
        vector(
            "endorser_twice",
            "the same endorsement twice",
            IB_1,
            single(broker_tx(IB_1, endorsers=(P2, P2))),
            c.DUPLICATE_SIGNER,
        ),
        vector(
            "endorser_expired",
            "an endorser whose certificate expired before the transaction",
            IB_1,
            single(broker_tx(IB_1, endorsers=(P1, EXPIRED_PEER))),
            c.CERT_EXPIRED,
        ),
        vector(
            "endorser_high_s",
            "an endorsement malleated to high S",
            IB_1,
            single(broker_tx(IB_1, endorsement_edit=_replace_signature(0, high_s))),
            c.SIGNATURE_HIGH_S,
        ),
        # -- the broker's event
        vector(
            "chaincode_status_500",
            "the broker's response is status 500, endorsed and committed VALID",
            IB_1,
            single(broker_tx(IB_1, status=500)),
            c.CHAINCODE_STATUS,
        ),
        vector(
            "event_not_canonical",
            "the InterchainEvent payload with a space after a colon",
            IB_1,
            single(
                Tx(
                    "spaced",
                    (INTERCHAIN_EVENT, event_of(IB_1)[1].replace(b'"index":', b'"index": ')),
                )
            ),
            c.EVENT_MALFORMED,
        ),
        vector(
            "rollback_from_interchain_event",
            "a RECEIPT_ROLLBACK IBTP pointed at an InterchainEvent",
            replace(IB_1, type=IBTPType.RECEIPT_ROLLBACK, payload=Payload()),
            p0,
            c.EVENT_WRONG_KIND,
        ),
        vector(
            "other_ibtp_payload",
            "the IBTP carries another IBTP's payload (other args and payload hash)",
            replace(IB_1, payload=IB_2.payload),
            p0,
            c.EVENT_FIELD_MISMATCH,
        ),
        vector(
            "extra_not_bound",
            "an INTERCHAIN IBTP with an extra the event does not carry",
            replace(IB_1, extra=b"\x01"),
            p0,
            c.EVENT_FIELD_MISMATCH,
        ),
        vector(
            "receipt_typ_mismatch",
            "RECEIPT_FAILURE claimed for a ReceiptEvent with typ 1",
            replace(IB_SUCCESS, type=IBTPType.RECEIPT_FAILURE),
            make_proof(Block(12, [broker_tx(IB_SUCCESS).envelope()]), 0),
            c.EVENT_FIELD_MISMATCH,
        ),
    ]
    return good, bad


def write_corpus(out: Path) -> int:
    good, bad = build_vectors()
    return write_corpus_files(out, good, bad)


def main(argv: list[str] | None = None) -> None:
    corpus_generator_main((__doc__ or "").split("\n\n")[0], HERE, write_corpus, argv)


if __name__ == "__main__":
    main()
