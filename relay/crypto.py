"""secp256k1 accounts, signing and recovery; keccak-256.

Signatures are 65 bytes ``r ‖ s ‖ v`` with ``v`` in {27, 28}, over a 32-byte digest
(no message prefix), exactly what Solidity's ``ecrecover(digest, v, r, s)``
takes. Recovery goes straight to coincurve (libsecp256k1, ~50 µs); eth-keys'
pure-Python backend is ~14 ms and must never be on a hot path. ``s`` must be in
the lower half of the curve order (EIP-2), so a signature has one form only.
Addresses are 0x-prefixed lowercase hex of the last 20 bytes of keccak(pubkey).
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NewType

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak as _keccak

from relay.errors import Code, RelayError

Address = NewType("Address", str)
Hash32 = NewType("Hash32", bytes)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2


def keccak(data: bytes) -> bytes:
    return _keccak(data)


def address_from_pubkey(pub: PublicKey) -> Address:
    return Address("0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex())


def normalize_address(text: object) -> Address:
    """Lowercase 0x address, or raise FIELD_TYPE."""
    if isinstance(text, bytes) and len(text) == 20:
        return Address("0x" + text.hex())
    if not isinstance(text, str) or len(text) != 42 or not text.startswith(("0x", "0X")):
        raise RelayError(
            Code.FIELD_TYPE, f"{str(text)[:60]!r} is not a 0x-prefixed 20-byte address"
        )
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        raise RelayError(Code.FIELD_TYPE, f"{text!r} is not hex") from None
    return Address(text.lower())


@dataclass(frozen=True, slots=True)
class Account:
    """A secp256k1 key pair with its address."""

    key: PrivateKey
    address: Address

    @classmethod
    def from_key(cls, secret: bytes | str) -> Account:
        if isinstance(secret, str):
            secret = bytes.fromhex(secret.removeprefix("0x"))
        key = PrivateKey(secret)
        return cls(key, address_from_pubkey(key.public_key))

    @classmethod
    def create(cls) -> Account:
        return cls.from_key(secrets.token_bytes(32))

    @property
    def secret_hex(self) -> str:
        return "0x" + self.key.secret.hex()

    def sign(self, digest: bytes) -> bytes:
        return sign_digest(self.key, digest)


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """65-byte r‖s‖v (v = 27/28) signature over a 32-byte digest, low-s."""
    if len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    raw = key.sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def recover_address(digest: bytes, signature: bytes) -> Address:
    """The address that signed ``digest``, or raise ``BAD_SIGNATURE``."""
    if not isinstance(signature, bytes) or len(signature) != 65:
        raise RelayError(Code.BAD_SIGNATURE, "a signature is 65 bytes r‖s‖v")
    v = signature[64]
    if v not in (27, 28):
        raise RelayError(Code.BAD_SIGNATURE, "signature v must be 27 or 28")
    s = int.from_bytes(signature[32:64], "big")
    r = int.from_bytes(signature[:32], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= _HALF_N):
        raise RelayError(Code.BAD_SIGNATURE, "signature r/s out of range (s must be low, EIP-2)")
    try:
        pub = PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), digest, hasher=None
        )
    except Exception:
        raise RelayError(Code.BAD_SIGNATURE, "signature does not recover to a public key") from None
    return address_from_pubkey(pub)


def write_key_file(path: Path, account: Account) -> None:
    """Write a private key as hex to ``path`` with 0600 permissions (created so, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (account.secret_hex + "\n").encode())
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def read_key_file(path: Path) -> Account:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RelayError(
            Code.CONFIG,
            f"key file {path} has permissions {oct(mode)}; "
            f"run `chmod 600 {path}` (no group/other access)",
        )
    return Account.from_key(path.read_text().strip())
