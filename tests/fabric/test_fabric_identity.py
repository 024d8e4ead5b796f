"""Fabric identities, low-S signatures and endorsements, with real certificates."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_orgs import CAS, DAY, NOW, ORG1, ORG2, ORG3, name, raw_certificate
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_response_pb2

from adapters.fabric import signature
from adapters.fabric.endorsement import (
    endorse,
    endorsed_bytes,
    verify_endorsement,
    verify_endorsements,
)
from adapters.fabric.errors import EndorsementError, IdentityError, SignatureError
from adapters.fabric.identity import deserialize_identity, node_ou_role, serialize_identity
from adapters.fabric.policy import MSPRole, policy_from_string
from adapters.fabric.signature import P256_HALF_ORDER, P256_ORDER
from appchains.fabric.ca import create_org_ca, issue, key_from_seed

KEY = key_from_seed("signature tests")
MESSAGE = b"proposal response payload"


def high_s(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return encode_dss_signature(r, P256_ORDER - s)


# --- signatures -----------------------------------------------------------------------


def test_signatures_are_low_s_and_verify() -> None:
    for i in range(32):  # ECDSA nonces are random: about half the raw signatures are high-S
        der = signature.sign(KEY, MESSAGE + bytes([i]))
        _, s = decode_dss_signature(der)
        assert s <= P256_HALF_ORDER
        signature.verify(KEY.public_key(), MESSAGE + bytes([i]), der)


def test_to_low_s_flips_only_high_s() -> None:
    low = signature.sign(KEY, MESSAGE)
    assert signature.to_low_s(low) == low
    assert signature.to_low_s(high_s(low)) == low


def test_high_s_is_refused_although_ecdsa_accepts_it() -> None:
    der = high_s(signature.sign(KEY, MESSAGE))
    KEY.public_key().verify(der, MESSAGE, ec.ECDSA(hashes.SHA256()))  # mathematically valid
    with pytest.raises(SignatureError, match="high S"):
        signature.verify(KEY.public_key(), MESSAGE, der)


def test_bad_signatures_are_refused() -> None:
    der = signature.sign(KEY, MESSAGE)
    other = key_from_seed("another key").public_key()
    with pytest.raises(SignatureError, match="does not verify"):
        signature.verify(KEY.public_key(), MESSAGE + b"!", der)
    with pytest.raises(SignatureError, match="does not verify"):
        signature.verify(other, MESSAGE, der)
    r, s = decode_dss_signature(der)
    body = b"".join(
        b"\x02" + bytes([len(v)]) + v
        for v in (b"\x00" + r.to_bytes(33, "big").lstrip(b"\x00"), s.to_bytes(33, "big"))
    )
    for not_der in (
        der + b"\x00",  # trailing byte
        b"\x30\x81" + bytes([len(der) - 2]) + der[2:],  # long-form length
        b"\x30" + bytes([len(body)]) + body,  # s with superfluous leading zeros
    ):
        with pytest.raises(SignatureError, match="not DER"):
            signature.verify(KEY.public_key(), MESSAGE, not_der)
    with pytest.raises(SignatureError, match="not DER"):
        signature.verify(KEY.public_key(), MESSAGE, b"\x30\x02\x01")
    with pytest.raises(SignatureError, match="outside"):
        signature.verify(KEY.public_key(), MESSAGE, encode_dss_signature(r, 0))
    k1 = ec.derive_private_key(7, ec.SECP256K1())
    with pytest.raises(SignatureError, match="P-256"):
        signature.sign(k1, MESSAGE)
    with pytest.raises(SignatureError, match="P-256"):
        signature.verify(k1.public_key(), MESSAGE, der)


# --- identities -----------------------------------------------------------------------


def test_serialized_identity_is_mspid_and_pem() -> None:
    sid = identities_pb2.SerializedIdentity.FromString(ORG1.peer0.serialized)
    assert sid.mspid == "Org1MSP"
    assert sid.id_bytes == ORG1.peer0.certificate.public_bytes(Encoding.PEM)
    assert sid.id_bytes.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert serialize_identity("Org1MSP", ORG1.peer0.certificate) == ORG1.peer0.serialized


@pytest.mark.parametrize(
    ("member", "role"),
    [
        (ORG1.peer0, MSPRole.PEER),
        (ORG1.client, MSPRole.CLIENT),
        (ORG1.admin, MSPRole.ADMIN),
        (ORG1.orderer, MSPRole.ORDERER),
    ],
)
def test_members_validate_with_their_node_ou_role(member: object, role: int) -> None:
    ident = deserialize_identity(member.serialized, CAS, NOW)  # type: ignore[attr-defined]
    assert ident.msp_id == "Org1MSP"
    assert ident.role == role
    assert ident.public_key.public_numbers() == member.key.public_key().public_numbers()  # type: ignore[attr-defined]


def test_node_ou_must_be_exactly_one() -> None:
    key = key_from_seed("ou tests")
    issuer = ORG1.ca.certificate.subject
    two = raw_certificate(name("x", "peer", "client"), issuer, key.public_key(), ORG1.ca.key)
    none = raw_certificate(name("x", "department1"), issuer, key.public_key(), ORG1.ca.key)
    affiliated = raw_certificate(
        name("x", "department1", "peer"), issuer, key.public_key(), ORG1.ca.key
    )
    with pytest.raises(IdentityError, match="exactly one NodeOU"):
        node_ou_role(two)
    with pytest.raises(IdentityError, match="exactly one NodeOU"):
        node_ou_role(none)
    assert node_ou_role(affiliated) == MSPRole.PEER
    with pytest.raises(IdentityError, match="exactly one NodeOU"):
        deserialize_identity(serialize_identity("Org1MSP", two), CAS, NOW)


def test_validity_period_is_checked_at_now_inclusive() -> None:
    member = issue(ORG1.ca, "short.org1.example.com", "peer", key=KEY, now=NOW, lifetime=DAY)
    deserialize_identity(member.serialized, CAS, NOW)
    deserialize_identity(member.serialized, CAS, NOW + DAY)
    with pytest.raises(IdentityError, match="certificate has expired"):
        deserialize_identity(member.serialized, CAS, NOW + DAY + 1)
    with pytest.raises(IdentityError, match="certificate is not valid yet"):
        deserialize_identity(member.serialized, CAS, NOW - 1)


def test_expired_ca_is_refused() -> None:
    ca = create_org_ca(
        "Org1MSP", "org1.example.com", key=ORG1.ca.key, now=NOW - 10 * DAY, lifetime=DAY
    )
    member = issue(ca, "peer0.org1.example.com", "peer", key=KEY, now=NOW - 10 * DAY)
    deserialize_identity(member.serialized, {"Org1MSP": ca.certificate}, NOW - 10 * DAY)
    with pytest.raises(IdentityError, match="CA certificate has expired"):
        deserialize_identity(member.serialized, {"Org1MSP": ca.certificate}, NOW)


def test_certificate_from_another_ca_is_refused() -> None:
    # Org2's CA issued it, but it claims Org1MSP: the issuer name is not Org1's CA
    claimed = serialize_identity("Org1MSP", ORG2.peer0.certificate)
    with pytest.raises(IdentityError, match="not issued by the MSP's CA"):
        deserialize_identity(claimed, CAS, NOW)
    # an impostor CA with Org1's CA's very name but another key
    impostor = create_org_ca(
        "Org1MSP", "org1.example.com", key=key_from_seed("impostor"), now=NOW - DAY
    )
    forged = issue(impostor, "peer9.org1.example.com", "peer", key=KEY, now=NOW - DAY)
    assert forged.certificate.issuer == ORG1.ca.certificate.subject
    with pytest.raises(IdentityError, match="signature on the certificate does not verify"):
        deserialize_identity(forged.serialized, CAS, NOW)


def test_self_signed_leaf_and_ca_as_identity_are_refused() -> None:
    subject = name("peer7.org1.example.com", "peer")
    self_signed = raw_certificate(subject, subject, KEY.public_key(), KEY)
    with pytest.raises(IdentityError, match="self-signed"):
        deserialize_identity(serialize_identity("Org1MSP", self_signed), CAS, NOW)
    with pytest.raises(IdentityError, match="CA certificate cannot be used as an identity"):
        deserialize_identity(serialize_identity("Org1MSP", ORG1.ca.certificate), CAS, NOW)
    # a CA-flagged certificate issued by the org CA is not an identity either
    sub_ca = raw_certificate(
        name("sub.org1.example.com", "peer"),
        ORG1.ca.certificate.subject,
        KEY.public_key(),
        ORG1.ca.key,
        ca=True,
    )
    with pytest.raises(IdentityError, match="CA certificate cannot be used"):
        deserialize_identity(serialize_identity("Org1MSP", sub_ca), CAS, NOW)


def test_malformed_identities_are_refused() -> None:
    with pytest.raises(IdentityError, match="unknown MSP 'Org9MSP'"):
        deserialize_identity(serialize_identity("Org9MSP", ORG1.peer0.certificate), CAS, NOW)
    with pytest.raises(IdentityError, match="not a SerializedIdentity"):
        deserialize_identity(b"\xff\xff\xff", CAS, NOW)
    two = ORG1.peer0.certificate.public_bytes(Encoding.PEM) * 2
    both = identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=two).SerializeToString()
    with pytest.raises(IdentityError, match="exactly one PEM"):
        deserialize_identity(both, CAS, NOW)
    der = ORG1.peer0.certificate.public_bytes(Encoding.DER)
    raw = identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=der).SerializeToString()
    with pytest.raises(IdentityError, match="exactly one PEM"):
        deserialize_identity(raw, CAS, NOW)
    k1 = ec.derive_private_key(7, ec.SECP256K1())
    k1_leaf = raw_certificate(
        name("k1", "peer"), ORG1.ca.certificate.subject, k1.public_key(), ORG1.ca.key
    )
    with pytest.raises(IdentityError, match="not ECDSA P-256"):
        deserialize_identity(serialize_identity("Org1MSP", k1_leaf), CAS, NOW)


# --- endorsements ---------------------------------------------------------------------

PAYLOAD = b"\x0a\x20" + bytes(range(32)) + b"\x12\x05hello"  # any proposal response payload


def test_endorsement_signs_payload_then_endorser() -> None:
    e = endorse(PAYLOAD, ORG1.peer0.serialized, ORG1.peer0.sign)
    assert isinstance(e, proposal_response_pb2.Endorsement)
    assert e.endorser == ORG1.peer0.serialized
    signed = endorsed_bytes(PAYLOAD, e.endorser)
    assert signed == PAYLOAD + ORG1.peer0.serialized
    signature.verify(ORG1.peer0.key.public_key(), signed, e.signature)
    ident = verify_endorsement(PAYLOAD, e, CAS, NOW)
    assert (ident.msp_id, ident.role) == ("Org1MSP", MSPRole.PEER)
    # it survives the wire
    again = proposal_response_pb2.Endorsement.FromString(e.SerializeToString())
    assert verify_endorsement(PAYLOAD, again, CAS, NOW) == ident


def test_bad_endorsements_are_refused() -> None:
    e = endorse(PAYLOAD, ORG1.peer0.serialized, ORG1.peer0.sign)
    with pytest.raises(EndorsementError, match="does not verify"):
        verify_endorsement(PAYLOAD + b"x", e, CAS, NOW)
    # another peer's identity put on this signature
    swapped = proposal_response_pb2.Endorsement(
        endorser=ORG1.peer1.serialized, signature=e.signature
    )
    with pytest.raises(EndorsementError, match="does not verify"):
        verify_endorsement(PAYLOAD, swapped, CAS, NOW)
    # wrong signature bytes: one bit of s flipped (keeps DER and low S)
    sig = bytearray(e.signature)
    sig[-1] ^= 1
    flipped = proposal_response_pb2.Endorsement(endorser=e.endorser, signature=bytes(sig))
    with pytest.raises(EndorsementError, match="signature"):
        verify_endorsement(PAYLOAD, flipped, CAS, NOW)
    # the payload signed without the endorser appended
    bare = proposal_response_pb2.Endorsement(
        endorser=e.endorser, signature=ORG1.peer0.sign(PAYLOAD)
    )
    with pytest.raises(EndorsementError, match="does not verify"):
        verify_endorsement(PAYLOAD, bare, CAS, NOW)
    high = proposal_response_pb2.Endorsement(endorser=e.endorser, signature=high_s(e.signature))
    with pytest.raises(EndorsementError, match="high S"):
        verify_endorsement(PAYLOAD, high, CAS, NOW)
    with pytest.raises(EndorsementError, match="has expired"):
        verify_endorsement(PAYLOAD, e, CAS, NOW + 400 * DAY)
    with pytest.raises(EndorsementError, match="unknown MSP"):
        verify_endorsement(PAYLOAD, e, {"Org2MSP": ORG2.ca.certificate}, NOW)


def test_endorsement_set_against_a_policy() -> None:
    envelope = policy_from_string("OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')")
    by = {
        m: endorse(PAYLOAD, m.serialized, m.sign)
        for m in (ORG1.peer0, ORG1.peer1, ORG2.peer0, ORG3.peer0, ORG2.client)
    }
    ok = verify_endorsements(PAYLOAD, [by[ORG1.peer0], by[ORG3.peer0]], CAS, envelope, NOW)
    assert [i.msp_id for i in ok] == ["Org1MSP", "Org3MSP"]
    with pytest.raises(EndorsementError, match=r"\(by \['Org1MSP'\]\) do not satisfy"):
        verify_endorsements(PAYLOAD, [by[ORG1.peer0], by[ORG1.peer1]], CAS, envelope, NOW)
    with pytest.raises(EndorsementError, match="do not satisfy"):
        verify_endorsements(PAYLOAD, [by[ORG1.peer0], by[ORG2.client]], CAS, envelope, NOW)
    with pytest.raises(EndorsementError, match="do not satisfy"):
        verify_endorsements(PAYLOAD, [by[ORG1.peer0], by[ORG1.peer0]], CAS, envelope, NOW)
    forged = proposal_response_pb2.Endorsement(
        endorser=ORG2.peer0.serialized, signature=by[ORG1.peer0].signature
    )
    with pytest.raises(EndorsementError, match=r"endorsement 1: .*does not verify"):
        verify_endorsements(PAYLOAD, [by[ORG1.peer0], forged], CAS, envelope, NOW)


def test_certificates_are_reproducible_from_their_seed() -> None:
    """A dev chain reissues its certificates from its seed on every start: they must be
    byte-identical, because accounts (SHA-256 over the certificate) and the registered
    orderer identity are bound to the exact bytes (RFC 6979 signatures)."""
    t = 1_704_067_200
    first = create_org_ca("Org9MSP", "org9.example.com", key=key_from_seed("repro/ca"), now=t)
    again = create_org_ca("Org9MSP", "org9.example.com", key=key_from_seed("repro/ca"), now=t)
    assert first.certificate.public_bytes(DER) == again.certificate.public_bytes(DER)
    a = issue(first, "User1@org9.example.com", "client", key=key_from_seed("repro/u"), now=t)
    b = issue(again, "User1@org9.example.com", "client", key=key_from_seed("repro/u"), now=t)
    assert a.serialized == b.serialized


DER = Encoding.DER
