"""ECDSA P-256 over SHA-256 with low S, as Fabric signs and verifies.

Fabric's BCCSP signs, then replaces ``s`` by ``n - s`` when ``s > n/2`` (``ToLowS``),
and its verifier refuses a signature whose ``s`` is above half the order ("Invalid S.
Must be smaller than half the order") before checking it. Signatures are ASN.1 DER
``SEQUENCE { r INTEGER, s INTEGER }``, read by cryptography's strict DER parser (it
refuses trailing bytes, long-form lengths and non-minimal integers).
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import SignatureError

#: Something that signs a message: ``sign(message) -> DER low-S signature``.
Signer = Callable[[bytes], bytes]

#: The order of the P-256 group.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: Fabric's ``halfOrder``: a signature is low-S when ``s <= P256_HALF_ORDER``.
P256_HALF_ORDER = P256_ORDER >> 1


def is_low_s(s: int) -> bool:
    return 0 < s <= P256_HALF_ORDER


def to_low_s(der: bytes) -> bytes:
    """The same signature with ``s`` replaced by ``n - s`` if it was high."""
    r, s = decode_dss_signature(der)
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return encode_dss_signature(r, s)


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """A DER low-S ECDSA signature of SHA-256(message) with a P-256 key."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise SignatureError(f"Fabric signs with P-256, not {key.curve.name}")
    return to_low_s(key.sign(message, ec.ECDSA(hashes.SHA256())))


def verify(key: ec.EllipticCurvePublicKey, message: bytes, signature: bytes) -> None:
    """Return if ``signature`` is a canonical low-S P-256 signature of SHA-256(message)."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise SignatureError(f"the signer's key is on {key.curve.name}; Fabric uses P-256")
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise SignatureError(f"the signature is not DER (r, s): {exc}") from None
    if not 0 < r < P256_ORDER or not 0 < s < P256_ORDER:
        raise SignatureError("the signature's r or s is outside [1, n-1]")
    if not is_low_s(s):
        raise SignatureError("the signature has a high S (above n/2); Fabric requires low S")
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("the signature does not verify under the signer's key") from None
