"""Fabric's block hashing, shared by the dev chain's orderer and the relay-side verifier
(pure, importing nothing of the relay):

* ``BlockHeaderBytes`` (``protoutil``): the ASN.1 DER ``SEQUENCE{INTEGER number, OCTET
  STRING previous_hash, OCTET STRING data_hash}`` Go's ``asn1.Marshal`` writes for a
  ``big.Int`` and two byte slices; its SHA-256 is the block's hash, which the next
  block names as ``previous_hash``;
* ``BlockDataHash``: SHA-256 of the block's data entries concatenated;
* what an orderer's block signature covers (``protoutil.BlockSignatureVerifier``):
  ``metadata.value ‖ signature_header ‖ BlockHeaderBytes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def der_length(n: int) -> bytes:
    """A DER length: short form below 128, else 0x80 | count and big-endian bytes."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_integer(value: int) -> bytes:
    """A DER INTEGER of a non-negative value: minimal, a leading 0x00 keeping the sign."""
    if value < 0:
        raise ValueError("a block number is never negative")
    return b"\x02" + _with_length(value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_octet_string(data: bytes) -> bytes:
    return b"\x04" + _with_length(data)


def der_sequence(*parts: bytes) -> bytes:
    return b"\x30" + _with_length(b"".join(parts))


def _with_length(body: bytes) -> bytes:
    return der_length(len(body)) + body


def block_header_bytes(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """``protoutil.BlockHeaderBytes``."""
    return der_sequence(
        der_integer(number), der_octet_string(previous_hash), der_octet_string(data_hash)
    )


def block_header_hash(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """``protoutil.BlockHeaderHash``: SHA-256 of the header bytes."""
    return hashlib.sha256(block_header_bytes(number, previous_hash, data_hash)).digest()


def block_data_hash(data: Sequence[bytes]) -> bytes:
    """``protoutil.BlockDataHash``: SHA-256 of the entries concatenated."""
    h = hashlib.sha256()
    for entry in data:
        h.update(entry)
    return h.digest()


def orderer_signed_bytes(value: bytes, signature_header: bytes, header_bytes: bytes) -> bytes:
    """What an orderer's block signature covers: ``metadata.value ‖ signature_header ‖
    BlockHeaderBytes``."""
    return value + signature_header + header_bytes
