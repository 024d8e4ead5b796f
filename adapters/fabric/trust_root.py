"""A Fabric channel's trust root: what the relay must know to check its proofs.

The registration form (JSON; docs/fabric.md "Trust root")::

    {
      "channel": "mychannel",
      "chaincode": "broker",
      "orgs": {"Org1MSP": "-----BEGIN CERTIFICATE-----...", ...},
      "endorsement_policy": "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
      "attestation_policy": "...",                       (optional: the endorsement policy)
      "orderers": [{"mspid": "OrdererMSP", "cert": "-----BEGIN CERTIFICATE-----..."}],
      "orderer_threshold": 1                              (optional: 1)
    }

Validated at registration (:func:`parse_trust_root`, :func:`check_registration`);
every refusal is ``RelayError(BAD_TRUST_ROOT)`` saying what is wrong and what to
write instead. Pure: no clock, so certificate validity is judged per proof (at the
transaction's time), not here — except that a certificate must have some moment at
which it and its CA are both valid.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import policies_pb2

from relay.errors import Code, RelayError
from relay.ibtp.codec import canonical_packb

from .errors import FabricError, IdentityError, PolicySyntaxError
from .identity import MSPRole, node_ou_role, serialize_identity, verify_certificate
from .policy import Gate, Principal, Role, compile_policy, parse_policy

TRUST_ROOT_KEYS = frozenset(
    {
        "channel",
        "chaincode",
        "orgs",
        "endorsement_policy",
        "attestation_policy",
        "orderers",
        "orderer_threshold",
    }
)
REQUIRED_KEYS = frozenset({"channel", "chaincode", "orgs", "endorsement_policy", "orderers"})
MAX_ORGS = 32
MAX_ORDERERS = 16
MAX_POLICY_CHARS = 4096

#: Fabric's channel names (``configtx`` validation): lowercase ASCII letters, digits,
#: dots and dashes, starting with a letter, shorter than 250 characters.
CHANNEL_NAME = re.compile(r"[a-z][a-z0-9.-]{0,248}")
#: Fabric's chaincode names (lifecycle ``ChaincodeNameRegExp``); capped at 128, the
#: length of a service part of a relay service ID.
CHAINCODE_NAME = re.compile(r"[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*")
MAX_CHAINCODE_CHARS = 128
#: MSP IDs as the policy language reads them.
MSP_ID = re.compile(r"[A-Za-z0-9.-]{1,128}")


@dataclass(frozen=True, slots=True)
class Orderer:
    msp_id: str
    certificate: x509.Certificate
    #: the ``SerializedIdentity`` bytes this orderer signs blocks with (PEM as registered)
    serialized: bytes


@dataclass(frozen=True, slots=True)
class FabricTrustRoot:
    """A parsed Fabric trust root. ``identity`` is SHA-256 of the canonical form."""

    channel: str
    chaincode: str
    cas: Mapping[str, x509.Certificate]  #: MSP ID -> root CA
    ca_pems: Mapping[str, str]
    ca_ders: Mapping[str, bytes]  #: MSP ID -> the CA's DER (keys the verifier's memo)
    endorsement_policy: str
    endorsement_envelope: policies_pb2.SignaturePolicyEnvelope
    attestation_policy: str
    attestation_envelope: policies_pb2.SignaturePolicyEnvelope
    orderers: tuple[Orderer, ...]
    orderer_threshold: int
    identity: bytes
    #: (MSP ID, SHA-256 of the certificate's DER) of each orderer: a block signer is
    #: matched by certificate, whatever the PEM spelling its SerializedIdentity carries
    orderer_ids: frozenset[tuple[str, bytes]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The canonical registration form (defaults written out)."""
        return {
            "channel": self.channel,
            "chaincode": self.chaincode,
            "orgs": dict(sorted(self.ca_pems.items())),
            "endorsement_policy": self.endorsement_policy,
            "attestation_policy": self.attestation_policy,
            "orderers": [{"mspid": o.msp_id, "cert": _pem(o.certificate)} for o in self.orderers],
            "orderer_threshold": self.orderer_threshold,
        }


def _bad(why: str) -> NoReturn:
    raise RelayError(Code.BAD_TRUST_ROOT, f"Fabric trust root: {why}")


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def chaincode_name_defect(name: object) -> str | None:
    """Why ``name`` is not a Fabric chaincode name, or None."""
    if not isinstance(name, str):
        return "is not a string"
    if not 1 <= len(name) <= MAX_CHAINCODE_CHARS:
        return f"must be 1 to {MAX_CHAINCODE_CHARS} characters"
    if not CHAINCODE_NAME.fullmatch(name):
        return (
            f"{name[:60]!r} is not a Fabric chaincode name (letters and digits, single '-' or "
            "'_' between them, e.g. 'broker' or 'asset_transfer')"
        )
    return None


def _load_cert(pem: object, what: str) -> x509.Certificate:
    if not isinstance(pem, str) or pem.count("-----BEGIN CERTIFICATE-----") != 1:
        _bad(f"{what} must be one PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        _bad(f"{what} is not a PEM certificate: {exc}")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_ca(msp_id: str, ca: x509.Certificate) -> None:
    what = f"orgs[{msp_id!r}]"
    key = ca.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        _bad(f"{what}: the CA's key is not ECDSA P-256 (Fabric's default MSP)")
    if not _is_ca(ca):
        _bad(f"{what}: not a CA certificate (basicConstraints CA:TRUE); give the org's root CA")
    if ca.issuer != ca.subject:
        _bad(f"{what}: not a self-signed root CA; give the org's root CA certificate (cacerts)")
    try:
        ca.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        _bad(f"{what}: the root CA's self-signature does not verify")
    if ca.not_valid_before_utc > ca.not_valid_after_utc:
        _bad(f"{what}: the CA's validity period is empty")


def _parse_policy(raw: object, name: str, cas: Mapping[str, Any], *, peers_only: bool) -> Gate:
    if not isinstance(raw, str) or not 1 <= len(raw) <= MAX_POLICY_CHARS:
        _bad(f"{name} must be a Fabric policy string of 1 to {MAX_POLICY_CHARS} characters")
    try:
        gate = parse_policy(raw)
    except PolicySyntaxError as exc:
        _bad(f"{name}: {exc}")

    def walk(g: Gate) -> None:
        if g.t == 0:
            _bad(f"{name}: a gate with t = 0 holds without any signature; write t >= 1")
        if g.t > len(g.rules):
            _bad(f"{name}: OutOf({g.t}, ...) of {len(g.rules)} can never be met")
        for r in g.rules:
            if isinstance(r, Gate):
                walk(r)
            else:
                check(r)

    def check(p: Principal) -> None:
        if p.msp_id not in cas:
            _bad(f"{name}: {p} names MSP {p.msp_id!r}, which is not in orgs {sorted(cas)}")
        if peers_only and p.role not in (Role.PEER, Role.MEMBER):
            _bad(
                f"{name}: {p} can never attest: attestors are peers; use "
                f"'{p.msp_id}.peer' or '{p.msp_id}.member'"
            )

    walk(gate)
    return gate


def _check_orderer(i: int, raw: object, cas: Mapping[str, x509.Certificate]) -> Orderer:
    what = f"orderers[{i}]"
    if not isinstance(raw, dict) or set(raw) != {"mspid", "cert"}:
        _bad(f"{what} must be a map {{mspid, cert}}")
    msp_id = raw["mspid"]
    if not isinstance(msp_id, str) or msp_id not in cas:
        _bad(f"{what}: mspid {str(msp_id)[:60]!r} is not in orgs {sorted(cas)}; register its CA")
    cert = _load_cert(raw["cert"], f"{what}.cert")
    ca = cas[msp_id]
    start = max(cert.not_valid_before_utc, ca.not_valid_before_utc)
    end = min(cert.not_valid_after_utc, ca.not_valid_after_utc)
    if start > end:
        _bad(f"{what}: the certificate and its CA are never valid at the same time")
    try:
        verify_certificate(cert, ca, int(start.timestamp()))
        role = node_ou_role(cert)
    except IdentityError as exc:
        _bad(f"{what}: {exc}")
    if role != MSPRole.ORDERER:
        _bad(f"{what}: the certificate's NodeOU is not 'orderer'; give the orderer's signing cert")
    return Orderer(msp_id, cert, serialize_identity(msp_id, cert))


def parse_trust_root(raw: Any) -> FabricTrustRoot:
    """Validate a registration's trust root (``RelayError(BAD_TRUST_ROOT)``)."""
    if isinstance(raw, FabricTrustRoot):
        raw = raw.to_dict()
    if not isinstance(raw, dict):
        _bad(f"must be a map with keys {sorted(TRUST_ROOT_KEYS)}")
    keys = {str(k) for k in raw}
    missing, extra = sorted(REQUIRED_KEYS - keys), sorted(keys - TRUST_ROOT_KEYS)
    if missing or extra:
        _bad(f"missing keys {missing}, unknown keys {extra} (allowed: {sorted(TRUST_ROOT_KEYS)})")
    channel = raw["channel"]
    if not isinstance(channel, str) or not CHANNEL_NAME.fullmatch(channel):
        _bad(
            f"channel {str(channel)[:60]!r} is not a Fabric channel name (lowercase letters, "
            "digits, '.' and '-', starting with a letter, under 250 characters)"
        )
    chaincode = raw["chaincode"]
    why = chaincode_name_defect(chaincode)
    if why is not None:
        _bad(f"chaincode {why}")
    orgs = raw["orgs"]
    if not isinstance(orgs, dict) or not 1 <= len(orgs) <= MAX_ORGS:
        _bad(f"orgs must be a map of 1 to {MAX_ORGS} MSP IDs to their root CA certificate (PEM)")
    cas: dict[str, x509.Certificate] = {}
    pems: dict[str, str] = {}
    for msp_id, pem in orgs.items():
        if not isinstance(msp_id, str) or not MSP_ID.fullmatch(msp_id):
            _bad(f"orgs: {str(msp_id)[:60]!r} is not an MSP ID (letters, digits, '.', '-')")
        ca = _load_cert(pem, f"orgs[{msp_id!r}]")
        _check_ca(msp_id, ca)
        cas[msp_id] = ca
        pems[msp_id] = _pem(ca)
    endorsement = _parse_policy(
        raw["endorsement_policy"], "endorsement_policy", cas, peers_only=False
    )
    attestation_text = raw[
        "attestation_policy" if "attestation_policy" in raw else "endorsement_policy"
    ]
    attestation = _parse_policy(attestation_text, "attestation_policy", cas, peers_only=True)
    orderers_raw = raw["orderers"]
    if not isinstance(orderers_raw, list | tuple) or not 1 <= len(orderers_raw) <= MAX_ORDERERS:
        _bad(f"orderers must be a list of 1 to {MAX_ORDERERS} {{mspid, cert}} maps")
    orderers = tuple(_check_orderer(i, o, cas) for i, o in enumerate(orderers_raw))
    if len({o.certificate for o in orderers}) != len(orderers):
        _bad("orderers must be distinct certificates")
    threshold = raw.get("orderer_threshold", 1)
    if type(threshold) is not int or not 1 <= threshold <= len(orderers):
        _bad(f"orderer_threshold must be an integer from 1 to {len(orderers)} (the orderer count)")
    try:
        endorsement_envelope = compile_policy(endorsement)
        attestation_envelope = compile_policy(attestation)
    except FabricError as exc:  # pragma: no cover - parse_policy's trees always compile
        _bad(f"policy: {exc}")
    root = FabricTrustRoot(
        channel=channel,
        chaincode=chaincode,
        cas=cas,
        ca_pems=pems,
        ca_ders={m: c.public_bytes(serialization.Encoding.DER) for m, c in cas.items()},
        endorsement_policy=raw["endorsement_policy"],
        endorsement_envelope=endorsement_envelope,
        attestation_policy=attestation_text,
        attestation_envelope=attestation_envelope,
        orderers=orderers,
        orderer_threshold=threshold,
        identity=b"",
    )
    digest = hashlib.sha256(b"relayhub.fabric-trust-root.v1" + canonical_packb(root.to_dict()))
    ids = frozenset(
        (o.msp_id, hashlib.sha256(o.certificate.public_bytes(serialization.Encoding.DER)).digest())
        for o in orderers
    )
    return replace(root, identity=digest.digest(), orderer_ids=ids)


def canonical_service(service: str) -> str:
    """A service on a Fabric chain is a chaincode name (case-sensitive, as Fabric)."""
    why = chaincode_name_defect(service)
    if why is not None:
        raise RelayError(
            Code.BAD_SERVICE_ID,
            f"Fabric service {why}; a service on a Fabric chain is the name of its chaincode",
        )
    return service


def check_broker(root: FabricTrustRoot, broker: str) -> str:
    """The broker of a registration: the trust root's chaincode, spelled the same."""
    why = chaincode_name_defect(broker)
    if why is not None:
        _bad(f"broker {why}; the broker is the name of the channel's broker chaincode")
    if broker != root.chaincode:
        _bad(
            f"the broker {broker!r} is not the trust root's chaincode {root.chaincode!r}: "
            "register the broker chaincode's name as both"
        )
    return broker
