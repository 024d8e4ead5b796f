"""Fabric family, relay side: proof codec, block hashing, trust root, verifier, corpus.

The corpus in ``tests/vectors/fabric/`` is the contract: every good vector verifies,
every bad one is refused with exactly its code (docs/fabric.md, "The verifier").
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.fabric.codes import FabricCode
from adapters.fabric.derive import derive_trust_root
from adapters.fabric.proof import (
    FabricProof,
    block_header_bytes,
    decode_fabric_proof,
    encode_fabric_proof,
    find_tx_index,
    parse_attestation,
    parse_block,
)
from adapters.fabric.trust_root import FabricTrustRoot
from adapters.fabric.verifier import FabricVerifier
from adapters.testing import VectorCorpus, check_verifier
from relay.errors import Code, ProofError, RelayError
from relay.validation.base import ChainContext, Verifier

VECTORS = Path(__file__).parent / "vectors" / "fabric"
GOOD = sorted((VECTORS / "good").glob("*.json"))
BAD = sorted((VECTORS / "bad").glob("*.json"))
CORPUS = VectorCorpus.load(VECTORS)


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "fabric_vector_generator", VECTORS / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


def _ctx(trust_root: Any = None, broker: str = "broker") -> ChainContext:
    root = FabricVerifier().parse_trust_root(GEN.ROOT if trust_root is None else trust_root)
    return ChainContext("hub1", "fab1", "fabric", broker, root)


def _good(name: str) -> Any:
    return CORPUS.only(name).good[0]


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_enough() -> None:
    assert len(GOOD) >= 8
    assert len(BAD) >= 20
    codes = {json.loads(p.read_text())["expected"]["code"] for p in BAD}
    # Every way a proof can be wrong appears in the corpus.
    assert codes == {int(c) for c in FabricCode} - {FabricCode.BAD_REGISTRATION}


def test_corpus_passes_the_shared_runner() -> None:
    for verifier in (FabricVerifier(), FabricVerifier(cert_memo_size=0)):
        report = check_verifier(verifier, CORPUS, codes=FabricCode)
        assert sorted(report.verified) == sorted(p.stem for p in GOOD)
        assert sorted(report.refused) == sorted(p.stem for p in BAD)
        assert report.registrations == 2


@pytest.mark.parametrize("path", GOOD + BAD, ids=[f"{p.parent.name}/{p.stem}" for p in GOOD + BAD])
def test_vector(path: Path) -> None:
    """Each vector alone, with a cold verifier (nothing memoised) and without a memo."""
    for verifier in (FabricVerifier(), FabricVerifier(cert_memo_size=0)):
        check_verifier(verifier, CORPUS.only(path.stem), codes=FabricCode)


def test_corpus_regenerates_identically(tmp_path: Path) -> None:
    GEN.write_corpus(tmp_path)
    for kind in ("good", "bad"):
        fresh = {p.name: p.read_bytes() for p in (tmp_path / kind).glob("*.json")}
        stored = {p.name: p.read_bytes() for p in (VECTORS / kind).glob("*.json")}
        assert fresh == stored, f"tests/vectors/fabric/{kind} is stale: run generate.py"


def test_memo_never_changes_an_outcome() -> None:
    """The bad vectors after every good one through one verifier (warm memo), and in
    reverse order: the same codes."""
    warm = FabricVerifier()
    forward = check_verifier(warm, CORPUS, codes=FabricCode)
    backward = check_verifier(warm, VectorCorpus(CORPUS.good[::-1], CORPUS.bad[::-1]))
    assert forward.refused == backward.refused


def test_memoised_chain_is_still_judged_at_each_time() -> None:
    verifier = FabricVerifier()
    root = _ctx().trust_root
    member = GEN.P1
    end = int(member.cert.not_valid_after_utc.timestamp())
    for v in (verifier, FabricVerifier(cert_memo_size=0)):
        v._chain(root.cas, root.ca_ders, member.serialized, GEN.T_TX, "peer")  # fills the memo
        for late in (end + 1, 0):
            with pytest.raises(ProofError) as err:
                v._chain(root.cas, root.ca_ders, member.serialized, late, "peer")
            assert err.value.code == FabricCode.CERT_EXPIRED
        assert v._chain(root.cas, root.ca_ders, member.serialized, end, "peer")  # inclusive


def test_no_byte_flip_of_a_proof_verifies() -> None:
    """Flipping any one of a spread of bytes of a good proof is refused with a ProofError
    (of the Fabric range), never accepted, never another exception."""
    vec = _good("interchain")
    ctx = _ctx()
    proof = vec.ibtp.proof
    verifier = FabricVerifier()
    codes = set()
    for at in range(0, len(proof), max(1, len(proof) // 400)):
        bad = proof[:at] + bytes([proof[at] ^ 0x04]) + proof[at + 1 :]
        with pytest.raises(ProofError) as err:
            verifier.verify(ctx, replace(vec.ibtp, proof=bad), vec.ibtp_hash)
        assert 5301 <= err.value.code <= 5399
        codes.add(err.value.code)
    assert len(codes) >= 8  # the flips land in many different checks


def test_bad_registration() -> None:
    vec = _good("interchain")
    with pytest.raises(ProofError) as err:
        FabricVerifier().verify(
            ChainContext("hub1", "fab1", "fabric", "broker", {"channel": "x"}),
            vec.ibtp,
            vec.ibtp_hash,
        )
    assert err.value.code == FabricCode.BAD_REGISTRATION
    with pytest.raises(ProofError) as err:
        FabricVerifier().verify(_ctx(broker="asset"), vec.ibtp, vec.ibtp_hash)
    assert err.value.code == FabricCode.BAD_REGISTRATION


# --------------------------------------------------------------------------- codec and hashes


def test_proof_round_trip_and_parts() -> None:
    vec = _good("interchain")
    proof = decode_fabric_proof(vec.ibtp.proof)
    assert encode_fabric_proof(proof) == vec.ibtp.proof
    att = parse_attestation(proof.attestation_proposal, proof.attestation_response)
    assert (att.channel_id, att.block_number, att.status) == (GEN.CHANNEL, 5, 200)
    block = parse_block(att.block)
    assert block.number == 5 and len(block.data) == 6 and block.transactions_filter == bytes(6)
    assert proof.tx_index == 1
    from adapters.fabric.proof import parse_transaction

    tx_id = parse_transaction(block.data[1]).tx_id
    assert find_tx_index(att.block, tx_id) == 1
    with pytest.raises(ValueError):
        find_tx_index(att.block, "00" * 32)


@pytest.mark.parametrize(
    ("number", "der"),
    [
        (0, "3047" + "020100"),
        (127, "3047" + "02017f"),
        (128, "3048" + "02020080"),
        (256, "3048" + "02020100"),
        (2**64 - 1, "304f" + "020900ffffffffffffffff"),
    ],
)
def test_block_header_bytes_is_go_asn1(number: int, der: str) -> None:
    """protoutil.BlockHeaderBytes: SEQUENCE{INTEGER (big.Int, minimal, sign bit clear),
    OCTET STRING previous_hash, OCTET STRING data_hash}."""
    prev, data = b"\x11" * 32, b"\x22" * 32
    expect = bytes.fromhex(der) + b"\x04\x20" + prev + b"\x04\x20" + data
    assert block_header_bytes(number, prev, data) == expect


def test_header_bytes_long_form_length() -> None:
    out = block_header_bytes(1, b"\x00" * 100, b"\x01" * 32)
    assert out[:3] == b"\x30\x81\x8b"  # 3 + 102 + 34 = 139 content bytes


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: replace(p, endorsements=()),
        lambda p: replace(p, endorsements=(b"e",) * 33),
    ],
)
def test_decoder_limits(mutate: Any) -> None:
    proof = decode_fabric_proof(_good("interchain").ibtp.proof)
    with pytest.raises(ProofError) as err:
        decode_fabric_proof(encode_fabric_proof(mutate(proof)))
    assert err.value.code == FabricCode.PROOF_MALFORMED


def test_proof_must_be_bytes_fields() -> None:
    import msgpack

    bad = msgpack.packb([1, "text", b"", [b""], 0], use_bin_type=True)
    with pytest.raises(ProofError) as err:
        decode_fabric_proof(bad)
    assert err.value.code == FabricCode.PROOF_MALFORMED
    assert FabricProof(b"", b"", (b"",), 0).version == 1


# ------------------------------------------------------------------- registry and trust root


def test_entry_points_registered() -> None:
    (ep,) = [ep for ep in entry_points(group="relayhub.verifiers") if ep.name == "fabric"]
    assert ep.load() is FabricVerifier
    assert FabricVerifier.family == "fabric"
    assert isinstance(FabricVerifier(), Verifier)
    (tr,) = [ep for ep in entry_points(group="relayhub.trust_roots") if ep.name == "fabric"]
    assert tr.load() is derive_trust_root


def test_trust_root_canonical_form() -> None:
    root = FabricVerifier().parse_trust_root(GEN.ROOT)
    assert isinstance(root, FabricTrustRoot)
    canonical = root.to_dict()
    assert canonical["attestation_policy"] == GEN.POLICY
    assert canonical["orderer_threshold"] == 1
    assert FabricVerifier().parse_trust_root(canonical) == root
    assert FabricVerifier().parse_trust_root(root) == root
    other = FabricVerifier().parse_trust_root(GEN.ROOT_TWO_ORDERERS)
    assert other.identity != root.identity
    reg = FabricVerifier().check_registration(GEN.ROOT, "broker")
    assert reg.broker == "broker" and reg.trust_root == root


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _p384_ca() -> str:
    key = ec.derive_private_key(12345, ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.p384")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(GEN._time(GEN.NOW))
        .not_valid_after(GEN._time(GEN.NOW + GEN.YEAR))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert)


def _root(**over: Any) -> dict[str, Any]:
    raw = json.loads(json.dumps(GEN.ROOT))
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not None}


def _orgs(**over: Any) -> dict[str, Any]:
    return {**GEN.ROOT["orgs"], **over}


ORDERER = {"mspid": "OrdererMSP", "cert": _pem(GEN.ORDERER.cert)}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "must be a map"),
        (_root(channel=None), "missing keys ['channel']"),
        (_root(extra=1), "unknown keys ['extra']"),
        (_root(channel="MyChannel"), "not a Fabric channel name"),
        (_root(channel="1channel"), "not a Fabric channel name"),
        (_root(channel="c" * 250), "not a Fabric channel name"),
        (_root(chaincode="my broker"), "not a Fabric chaincode name"),
        (_root(chaincode="broker_"), "not a Fabric chaincode name"),
        (_root(chaincode=""), "1 to 128 characters"),
        (_root(orgs={}), "orgs must be a map of 1 to"),
        (_root(orgs=_orgs(Org1MSP="not a pem")), "one PEM certificate"),
        (_root(orgs=_orgs(**{"Org 1": _pem(GEN.ORG1.cert)})), "is not an MSP ID"),
        (_root(orgs=_orgs(Org1MSP=_pem(GEN.P1.cert))), "not a CA certificate"),
        (_root(orgs=_orgs(Org1MSP=_p384_ca())), "not ECDSA P-256"),
        (_root(endorsement_policy="AND('Org1MSP.peer',)"), "endorsement_policy"),
        (_root(endorsement_policy="OR('Org9MSP.peer')"), "not in orgs"),
        (_root(endorsement_policy="OutOf(0, 'Org1MSP.peer')"), "t = 0"),
        (_root(endorsement_policy="OutOf(2, 'Org1MSP.peer')"), "can never be met"),
        (_root(attestation_policy="OR('Org1MSP.client')"), "can never attest"),
        (_root(attestation_policy=5), "attestation_policy must be a Fabric policy string"),
        (_root(orderers=[]), "orderers must be a list of 1 to"),
        (_root(orderers=[{"mspid": "Org9MSP", "cert": ORDERER["cert"]}]), "not in orgs"),
        (_root(orderers=[{"mspid": "Org1MSP", "cert": ORDERER["cert"]}]), "orderers[0]"),
        (_root(orderers=[{"mspid": "Org1MSP", "cert": _pem(GEN.P1.cert)}]), "not 'orderer'"),
        (_root(orderers=[ORDERER, ORDERER]), "distinct"),
        (_root(orderers=[{"mspid": "OrdererMSP"}]), "{mspid, cert}"),
        (_root(orderer_threshold=0), "orderer_threshold must be an integer from 1 to 1"),
        (_root(orderer_threshold=2), "orderer_threshold must be an integer from 1 to 1"),
        (_root(orderer_threshold=True), "orderer_threshold"),
    ],
)
def test_trust_root_refusals(raw: Any, says: str) -> None:
    with pytest.raises(RelayError) as err:
        FabricVerifier().parse_trust_root(raw)
    assert err.value.code == Code.BAD_TRUST_ROOT
    assert says in err.value.message


@pytest.mark.parametrize(
    ("broker", "says"),
    [("asset", "not the trust root's chaincode"), ("bro ker", "not a Fabric chaincode name")],
)
def test_registration_refuses_another_broker(broker: str, says: str) -> None:
    with pytest.raises(RelayError) as err:
        FabricVerifier().check_registration(GEN.ROOT, broker)
    assert err.value.code == Code.BAD_TRUST_ROOT
    assert says in err.value.message


def test_canonical_service() -> None:
    v = FabricVerifier()
    assert v.canonical_service("asset_transfer") == "asset_transfer"
    assert v.canonical_service("Asset-2") == "Asset-2"
    for bad in ("a.b", "a__b", "-a", "a" * 129):
        with pytest.raises(RelayError) as err:
            v.canonical_service(bad)
        assert err.value.code == Code.BAD_SERVICE_ID


# --------------------------------------------------------------------------- derivation


def _network_dir(tmp_path: Path, **over: Any) -> Path:
    (tmp_path / "orgs").mkdir(parents=True)
    orgs = {}
    for org in (GEN.ORG1, GEN.ORG2, GEN.ORG3, GEN.ORDERER_ORG):
        (tmp_path / "orgs" / f"{org.msp_id}.pem").write_text(_pem(org.cert))
        orgs[org.msp_id] = f"orgs/{org.msp_id}.pem"
    (tmp_path / "orderer0.pem").write_text(_pem(GEN.ORDERER.cert))
    network = {
        "channel": GEN.CHANNEL,
        "chaincode": "broker",
        "endorsement_policy": GEN.POLICY,
        "orgs": orgs,
        "orderers": [{"mspid": "OrdererMSP", "cert": "orderer0.pem"}],
        **over,
    }
    (tmp_path / "fabric-network.json").write_text(json.dumps(network))
    return tmp_path


def test_derive_trust_root(tmp_path: Path) -> None:
    folder = _network_dir(tmp_path)
    root = derive_trust_root(str(folder))
    assert root == FabricVerifier().parse_trust_root(GEN.ROOT).to_dict()
    assert derive_trust_root(f"file://{folder / 'fabric-network.json'}") == root
    assert derive_trust_root(str(folder), threshold=1)["orderer_threshold"] == 1


def test_derive_refusals(tmp_path: Path) -> None:
    folder = _network_dir(tmp_path, orderers=[{"mspid": "OrdererMSP", "cert": "../x.pem"}])
    with pytest.raises(RelayError) as err:
        derive_trust_root(str(folder))
    assert err.value.code == Code.CONFIG and "outside" in err.value.message
    with pytest.raises(RelayError) as err:
        derive_trust_root(str(folder), mode="notary")
    assert err.value.code == Code.CONFIG
    with pytest.raises(RelayError) as err:
        derive_trust_root(str(tmp_path / "missing"))
    assert err.value.code == Code.CONFIG
    good = _network_dir(tmp_path / "b")
    with pytest.raises(RelayError) as err:
        derive_trust_root(str(good), threshold=2)
    assert err.value.code == Code.BAD_TRUST_ROOT


def test_orderer_matched_by_certificate_not_pem_spelling() -> None:
    """The orderer's SerializedIdentity may spell its PEM otherwise (Fabric copies the
    signcert file as it is): it is the certificate that is registered."""
    respelled = replace(GEN.ORDERER, id_bytes=GEN.pem(GEN.ORDERER.cert) + b"\n")
    assert respelled.serialized != GEN.ORDERER.serialized
    block = GEN.Block(21, [GEN.broker_tx(GEN.IB_2).envelope()], orderers=(respelled,))
    ibtp = replace(GEN.IB_2, proof=GEN.make_proof(block, 0))
    from relay.ibtp import compute_ibtp_hash

    FabricVerifier().verify(_ctx(), ibtp, compute_ibtp_hash(ibtp))


def test_a_transaction_with_more_endorsements_than_orgs_is_refused_first() -> None:
    """More endorsements than a trust root can have orgs: refused as malformed before a
    single signature is checked (a gateway padding one with copies cannot make the relay
    verify each)."""
    from fabric_protos.common import common_pb2
    from fabric_protos.peer import transaction_pb2

    from adapters.fabric.proof import (
        MAX_ENDORSEMENTS,
        parse_attestation,
        parse_block,
        parse_transaction,
    )

    proof = decode_fabric_proof(_good("interchain").ibtp.proof)
    att = parse_attestation(proof.attestation_proposal, proof.attestation_response)
    att_block = parse_block(att.block)
    envelope = common_pb2.Envelope.FromString(att_block.data[proof.tx_index])
    payload = common_pb2.Payload.FromString(envelope.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    one = cap.action.endorsements[0]
    del cap.action.endorsements[:]
    cap.action.endorsements.extend([one] * (MAX_ENDORSEMENTS + 1))
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    envelope.payload = payload.SerializeToString()
    with pytest.raises(ProofError) as err:
        parse_transaction(envelope.SerializeToString())
    assert err.value.code == FabricCode.TX_MALFORMED
