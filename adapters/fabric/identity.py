"""MSP identities: X.509 P-256 certificates under an org CA, with Fabric's NodeOUs.

An identity travels as ``msp.SerializedIdentity(mspid, id_bytes=PEM)``. With NodeOUs
enabled (Fabric's ``config.yaml``: ``ClientOUIdentifier``, ``PeerOUIdentifier``,
``AdminOUIdentifier``, ``OrdererOUIdentifier`` — by convention the OUs ``client``,
``peer``, ``admin``, ``orderer``) a certificate's role is the one of those OUs in its
subject, and an identity must carry exactly one of them to be valid.

Validation here follows Fabric's MSP for a single-level chain: the leaf is issued
(issuer name and signature) by the MSP's root CA, both are inside their validity
period at ``now`` (bounds inclusive, as Go's ``x509.Verify``), the leaf is not a CA
and not self-signed, and its key is P-256. Pure: ``now`` is Unix seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.msp import identities_pb2, msp_principal_pb2
from google.protobuf.message import DecodeError

from .errors import IdentityError

MSPRole = msp_principal_pb2.MSPRole

#: NodeOU identifier -> the ``MSPRole`` it grants (Fabric's default OU names).
NODE_OUS: dict[str, int] = {
    "client": MSPRole.CLIENT,
    "peer": MSPRole.PEER,
    "admin": MSPRole.ADMIN,
    "orderer": MSPRole.ORDERER,
}


@dataclass(frozen=True, slots=True)
class Identity:
    """A validated member of an MSP."""

    msp_id: str
    role: int  #: an ``MSPRole.MSPRoleType``: CLIENT, PEER, ADMIN or ORDERER (its NodeOU)
    certificate: x509.Certificate
    #: SHA-256 of the certificate's DER: Fabric's ``IdentityIdentifier.Id`` (hex there).
    fingerprint: bytes
    serialized: bytes  #: the ``SerializedIdentity`` bytes it was read from

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)  # checked when validated
        return key


def serialize_identity(msp_id: str, certificate: x509.Certificate) -> bytes:
    """``SerializedIdentity(mspid, id_bytes=PEM)`` as bytes, as Fabric's MSP writes it."""
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=pem).SerializeToString()


def node_ou_role(certificate: x509.Certificate) -> int:
    """The ``MSPRole`` of a certificate's NodeOU; exactly one must be present."""
    ous = [
        a.value
        for a in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    roles = [NODE_OUS[ou] for ou in ous if isinstance(ou, str) and ou in NODE_OUS]
    if len(roles) != 1:
        raise IdentityError(
            f"the certificate must carry exactly one NodeOU of {sorted(NODE_OUS)}, it has OUs {ous}"
        )
    return roles[0]


def _check_validity(certificate: x509.Certificate, what: str, now: int) -> None:
    start = int(certificate.not_valid_before_utc.timestamp())
    end = int(certificate.not_valid_after_utc.timestamp())
    if now < start:
        raise IdentityError(f"the {what} is not valid yet (from {start}, now {now})")
    if now > end:
        raise IdentityError(f"the {what} has expired (until {end}, now {now})")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return ext.value.ca


def verify_certificate(certificate: x509.Certificate, ca: x509.Certificate, now: int) -> None:
    """Return if ``certificate`` is a valid leaf issued by ``ca`` at ``now``."""
    if not _is_ca(ca):
        raise IdentityError("the MSP's root certificate is not a CA (basicConstraints)")
    if _is_ca(certificate):
        raise IdentityError("a CA certificate cannot be used as an identity")
    if certificate.issuer == certificate.subject:
        raise IdentityError("a self-signed certificate cannot be used as an identity")
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise IdentityError("the certificate's key is not ECDSA P-256")
    _check_validity(ca, "CA certificate", now)
    _check_validity(certificate, "certificate", now)
    try:
        certificate.verify_directly_issued_by(ca)
    except ValueError as exc:  # issuer name differs, or unsupported algorithm
        raise IdentityError(f"the certificate was not issued by the MSP's CA: {exc}") from None
    except InvalidSignature:
        raise IdentityError("the CA's signature on the certificate does not verify") from None
    except TypeError as exc:
        raise IdentityError(f"the CA's key cannot check the certificate: {exc}") from None


def deserialize_identity(
    serialized: bytes, cas: Mapping[str, x509.Certificate], now: int
) -> Identity:
    """Read and validate a ``SerializedIdentity`` against the org CAs (MSP ID -> root)."""
    try:
        sid = identities_pb2.SerializedIdentity.FromString(serialized)
    except DecodeError as exc:
        raise IdentityError(f"the identity is not a SerializedIdentity: {exc}") from None
    ca = cas.get(sid.mspid)
    if ca is None:
        raise IdentityError(f"unknown MSP {sid.mspid!r} (known: {sorted(cas)})")
    pem = sid.id_bytes
    if pem.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise IdentityError("id_bytes must hold exactly one PEM certificate")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"id_bytes is not a PEM certificate: {exc}") from None
    try:
        verify_certificate(certificate, ca, now)
        role = node_ou_role(certificate)
    except ValueError as exc:  # cryptography parses lazily: a part that does not decode
        raise IdentityError(f"the certificate does not decode: {exc}") from None
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return Identity(sid.mspid, role, certificate, fingerprint, serialized)


#: A client's account on the broker set's chaincodes is this many bytes.
ACCOUNT_BYTES = 20


def account_of_certificate(msp_id: str, certificate_der: bytes) -> bytes:
    """A client's 20-byte account (docs/fabric.md §3.2): SHA-256(mspid ‖ 0x00 ‖ DER
    certificate)[12:] — address-shaped, bound to the MSP ID and to the exact
    certificate, as Fabric's own ``IdentityIdentifier``."""
    digest = hashlib.sha256(msp_id.encode() + b"\x00" + certificate_der).digest()
    return digest[-ACCOUNT_BYTES:]
