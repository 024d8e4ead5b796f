"""The two hash functions of FISCO BCOS 2.x: keccak-256 (default) and SM3 (国密 mode).

FISCO-BCOS ``libdevcrypto/CryptoInterface.h`` routes every ``crypto::Hash`` —
block header hash (``BlockHeader::hash``), receipt hash
(``TransactionReceipt::hash``), Merkle nodes (``getMerkleProofRoot``) — to
keccak-256 in the standard build and to SM3 in the 国密 build. Both give 32
bytes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from adapters.fisco.smcrypto import sm3

try:  # safe-pysha3, a C keccak: ~0.5 µs a call instead of ~4 µs through eth-hash
    from sha3 import keccak_256 as _keccak_256

    def _keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover
    from relay.crypto import keccak as _keccak

#: A FISCO hash function: bytes in, 32 bytes out.
HashFn = Callable[[bytes], bytes]
#: The chain's crypto mode as registered: ``"secp256k1"`` (keccak) or ``"sm"`` (SM3).
CryptoMode = Literal["secp256k1", "sm"]

HASH_SIZE = 32


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the pre-standard SHA-3 Ethereum uses) of ``data``."""
    return bytes(_keccak(bytes(data)))


def hash_fn_for(mode: CryptoMode) -> HashFn:
    """The hash function of a chain in crypto ``mode``."""
    if mode == "secp256k1":
        return keccak256
    if mode == "sm":
        return sm3
    raise ValueError(f"unknown FISCO crypto mode {mode!r}: use 'secp256k1' or 'sm'")


__all__ = ["HASH_SIZE", "CryptoMode", "HashFn", "hash_fn_for", "keccak256", "sm3"]
