"""Three orgs with CAs and members, from public seed strings, for the Fabric tests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.fabric.identity import Identity, deserialize_identity
from appchains.fabric.ca import OrgCA, SigningIdentity, create_org_ca, issue, key_from_seed

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86400


@dataclass(frozen=True)
class Org:
    ca: OrgCA
    peer0: SigningIdentity
    peer1: SigningIdentity
    client: SigningIdentity
    admin: SigningIdentity
    orderer: SigningIdentity


def make_org(n: int) -> Org:
    msp, domain = f"Org{n}MSP", f"org{n}.example.com"
    ca = create_org_ca(msp, domain, key=key_from_seed(f"ca.{domain}"), now=NOW - DAY)

    def member(name: str, ou: str) -> SigningIdentity:
        full = f"{name}.{domain}"
        return issue(ca, full, ou, key=key_from_seed(full), now=NOW - DAY)

    return Org(
        ca,
        member("peer0", "peer"),
        member("peer1", "peer"),
        member("User1", "client"),
        member("Admin", "admin"),
        member("orderer0", "orderer"),
    )


ORG1, ORG2, ORG3 = make_org(1), make_org(2), make_org(3)
CAS = {o.ca.msp_id: o.ca.certificate for o in (ORG1, ORG2, ORG3)}


def identity(member: SigningIdentity) -> Identity:
    """A member as the policy evaluator sees it: deserialized and validated."""
    return deserialize_identity(member.serialized, CAS, NOW)


def raw_certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    start: int = NOW - DAY,
    end: int = NOW + DAY,
) -> x509.Certificate:
    """A certificate with exactly what the test says, for the refusal cases."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(12345)
        .not_valid_before(datetime.datetime.fromtimestamp(start, tz=datetime.UTC))
        .not_valid_after(datetime.datetime.fromtimestamp(end, tz=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def name(cn: str, *ous: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous]
        + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )
