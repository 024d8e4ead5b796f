"""Proof-of-authority seals over block hashes (pure).

A seal is a validator's 65-byte ``r ‖ s ‖ v`` signature (v = 27/28, low-s) over ::

    sealDigest = keccak256("relayhub.evm-seal.v1" ‖ uint256(chainId) ‖ blockHash)

(``chainId`` as 32 big-endian bytes). Seals are not inside the header, whose
hash stays the standard London one; the chain serves them next to the block
(``relayhub_getBlockSeals``, and ``seals`` in ``eth_getBlockByNumber``). A block
is valid when at least ``threshold`` distinct registered validators recover
from its seals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from coincurve import PrivateKey

from appchains.evm.devchain.crypto import keccak, recover_signer, sign_digest

SEAL_DOMAIN = b"relayhub.evm-seal.v1"


class SealError(ValueError):
    pass


def compute_seal_digest(chain_id: int, block_hash: bytes) -> bytes:
    if len(block_hash) != 32:
        raise ValueError("a block hash is 32 bytes")
    return keccak(SEAL_DOMAIN + chain_id.to_bytes(32, "big") + block_hash)


def compute_seals(
    keys: Iterable[PrivateKey], chain_id: int, block_hash: bytes
) -> tuple[bytes, ...]:
    digest = compute_seal_digest(chain_id, block_hash)
    return tuple(sign_digest(key, digest) for key in keys)


def recover_sealers(chain_id: int, block_hash: bytes, seals: Sequence[bytes]) -> list[bytes | None]:
    """The address behind each seal (``None`` for a malformed one)."""
    digest = compute_seal_digest(chain_id, block_hash)
    return [recover_signer(digest, seal) for seal in seals]


def verify_seals(
    chain_id: int,
    block_hash: bytes,
    seals: Sequence[bytes],
    validators: Iterable[bytes],
    threshold: int,
) -> frozenset[bytes]:
    """The distinct registered validators that sealed; raise :class:`SealError` below threshold."""
    registered = frozenset(validators)
    signers = frozenset(s for s in recover_sealers(chain_id, block_hash, seals) if s in registered)
    if len(signers) < threshold:
        raise SealError(f"{len(signers)} distinct validator seals, {threshold} needed")
    return signers
