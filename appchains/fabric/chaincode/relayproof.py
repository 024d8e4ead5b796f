"""The relay proof the broker chaincode checks: the v2 signed digest of docs/protocol.md
§2.2 and secp256k1 relay-validator signatures, exactly as the EVM broker checks them.

::

    payloadHash  = keccak256(abi.encode(string func, bytes[] args, bool encrypted))
    signedDigest = keccak256(abi.encode(bytes32 RELAY_PROOF_DOMAIN, string hubId,
                       string targetChainId, string from, string to, uint64 index,
                       uint8 ibtpType, bytes32 payloadHash, uint8 status))

with the broker's own chain ID as the target chain. A signature is 65 bytes
``r ‖ s ‖ v`` (``v`` 27 / 28, ``s`` ≤ n/2) over the digest with no prefix, what
Solidity's ``ecrecover`` takes; the signer is the Ethereum address of the recovered
key. eth-abi encodes, keccak is safe-pysha3's (else eth-hash's), recovery is
libsecp256k1's (coincurve). The Fabric family keeps its own copy of these few lines:
app-chain families share no code (and never the relay's). Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from coincurve import PublicKey
from eth_abi import encode as abi_encode

try:  # safe-pysha3: a C keccak
    from sha3 import keccak_256 as _keccak_256
except ImportError:  # pragma: no cover - eth-hash gives the same digests
    _keccak_256 = None
from eth_hash.auto import keccak as _eth_keccak

from .codec import require

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
ADDRESS_BYTES = 20


def keccak(data: bytes) -> bytes:
    if _keccak_256 is not None:
        return bytes(_keccak_256(data).digest())
    return bytes(_eth_keccak(data))


RELAY_PROOF_DOMAIN = keccak(b"relayhub.relay-proof.v2")

_PAYLOAD_TYPES = ("bytes", "bytes[]", "bool")
_DIGEST_TYPES = (
    "bytes32",
    "bytes",
    "bytes",
    "bytes",
    "bytes",
    "uint64",
    "uint8",
    "bytes32",
    "uint8",
)


def compute_payload_hash(func: str, args: Sequence[bytes], encrypted: bool = False) -> bytes:
    """keccak256(abi.encode(string func, bytes[] args, bool encrypted)); a ``string`` is
    encoded as the ``bytes`` of its UTF-8."""
    return keccak(abi_encode(_PAYLOAD_TYPES, (func.encode(), list(args), encrypted)))


def compute_relay_digest(
    hub_id: str,
    target_chain: str,
    src: str,
    dst: str,
    index: int,
    ibtp_type: int,
    payload_hash: bytes,
    status: int,
) -> bytes:
    return keccak(
        abi_encode(
            _DIGEST_TYPES,
            (
                RELAY_PROOF_DOMAIN,
                hub_id.encode(),
                target_chain.encode(),
                src.encode(),
                dst.encode(),
                index,
                ibtp_type,
                payload_hash,
                status,
            ),
        )
    )


def address_of_public_key(public_key: PublicKey) -> bytes:
    return keccak(public_key.format(compressed=False)[1:])[-ADDRESS_BYTES:]


def recover_signer(digest: bytes, signature: bytes) -> bytes | None:
    """The address that signed ``digest``, or None for a malformed signature: not 65
    bytes, ``v`` not 27 / 28, ``r`` or ``s`` zero or out of range, high ``s`` (EIP-2), or
    no key recovers."""
    if len(signature) != 65 or len(digest) != 32 or signature[64] not in (27, 28):
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= HALF_N):
        return None
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except Exception:
        return None
    return address_of_public_key(public_key)


def check_relay_proof(
    digest: bytes, signatures: Sequence[bytes], validators: Collection[bytes], threshold: int
) -> None:
    """Every signature well formed and from a registered relay validator, in order (the
    first failure decides), then at least ``threshold`` distinct validators (one that
    signed twice counts once). ``Refused`` with the EVM broker's messages."""
    seen: set[bytes] = set()
    for signature in signatures:
        signer = recover_signer(digest, signature)
        require(signer is not None, "broker: malformed relay signature")
        assert signer is not None
        require(signer in validators, "broker: unregistered relay signer")
        seen.add(signer)
    require(len(seen) >= threshold, "broker: relay signatures below threshold")
