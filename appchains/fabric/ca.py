"""Org CAs and the certificates they issue, laid out as Fabric's cryptogen does.

An org has a self-signed P-256 root CA (``CN=ca.<domain>``, ``O=<domain>``,
basicConstraints CA, keyCertSign). It issues leaves whose subject carries the NodeOU
of their role (``OU=peer`` / ``client`` / ``admin`` / ``orderer``), basicConstraints
not-CA and digitalSignature. Keys can be derived from a public seed string, so tests
and vectors are reproducible (never for a real deployment). No clock: validity
starts at the ``now`` passed in (Unix seconds).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import adapters.fabric.signature as signature
from adapters.fabric.identity import NODE_OUS, serialize_identity
from adapters.fabric.signature import P256_ORDER


def key_from_seed(seed: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from a public string: for tests and vectors only."""
    scalar = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % (P256_ORDER - 1)
    return ec.derive_private_key(scalar + 1, ec.SECP256R1())


def _time(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _serial(name: x509.Name, key: ec.EllipticCurvePublicKey) -> int:
    digest = hashlib.sha256(
        name.rfc4514_string().encode() + key.public_numbers().x.to_bytes(32, "big")
    )
    return int.from_bytes(digest.digest()[:16], "big") >> 1


@dataclass(frozen=True, slots=True)
class OrgCA:
    msp_id: str
    domain: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """A member's certificate and private key: what a peer or client signs with."""

    msp_id: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def serialized(self) -> bytes:
        return serialize_identity(self.msp_id, self.certificate)

    def sign(self, message: bytes) -> bytes:
        return signature.sign(self.key, message)


def _builder(
    name: x509.Name,
    issuer: x509.Name,
    public: ec.EllipticCurvePublicKey,
    now: int,
    lifetime: int,
    *,
    is_ca: bool,
) -> x509.CertificateBuilder:
    """What a CA and a member certificate share: names, key, serial, validity, basic
    constraints, and the key usage of either (a CA also enciphers keys and signs
    certificates and CRLs; a member only signs)."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(_serial(name, public))
        .not_valid_before(_time(now))
        .not_valid_after(_time(now + lifetime))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def create_org_ca(
    msp_id: str,
    domain: str,
    *,
    key: ec.EllipticCurvePrivateKey,
    now: int,
    lifetime: int = 10 * 365 * 86400,
) -> OrgCA:
    """A self-signed root CA for an org, valid from ``now`` for ``lifetime`` seconds."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, domain),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{domain}"),
        ]
    )
    public = key.public_key()
    certificate = (
        _builder(name, name, public, now, lifetime, is_ca=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    return OrgCA(msp_id, domain, key, certificate)


def issue(
    ca: OrgCA,
    common_name: str,
    node_ou: str,
    *,
    key: ec.EllipticCurvePrivateKey,
    now: int,
    lifetime: int = 365 * 86400,
) -> SigningIdentity:
    """A member certificate with NodeOU ``node_ou`` (peer, client, admin, orderer)."""
    if node_ou not in NODE_OUS:
        raise ValueError(f"node_ou must be one of {sorted(NODE_OUS)}, not {node_ou!r}")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, node_ou),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    public = key.public_key()
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    certificate = (
        _builder(name, ca.certificate.subject, public, now, lifetime, is_ca=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    return SigningIdentity(ca.msp_id, key, certificate)
