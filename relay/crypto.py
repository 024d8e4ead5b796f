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
from typing import NewType, Protocol, runtime_checkable

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak as _eth_hash_keccak

try:  # safe-pysha3: a C keccak, ~0.8 µs a call where eth-hash's backend takes ~4 µs
    from sha3 import keccak_256 as _keccak_256
except ImportError:  # pragma: no cover - eth-hash gives the same digests
    _keccak_256 = None

from relay.errors import Code, RelayError

Address = NewType("Address", str)
Hash32 = NewType("Hash32", bytes)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: The all-zero address: no key signs for it, so it is never a registered signer or broker.
ZERO_ADDRESS = Address("0x" + "00" * 20)


def keccak(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not SHA3-256). safe-pysha3's C implementation when it is
    installed (it is a dependency; a profile of relay ingest found 15-20% of the
    relay's time in eth-hash's pycryptodome path), else eth-hash: the same digests,
    which tests/test_crypto.py checks against eth-hash."""
    if _keccak_256 is not None:
        return bytes(_keccak_256(data).digest())
    return bytes(_eth_hash_keccak(data))


def address_from_pubkey(pub: PublicKey) -> Address:
    return Address("0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex())


def address_defect(text: object) -> str | None:
    """What keeps ``text`` from being an address (``0x`` + exactly 40 hex digits), or None."""
    if not isinstance(text, str):
        return f"an address is a string, not {type(text).__name__}"
    if not text.startswith(("0x", "0X")):
        return f"{text[:60]!r} does not start with 0x"
    digits = text[2:]
    for i, ch in enumerate(digits):
        if ch not in _HEX_DIGITS:
            return f"{text[:60]!r} has {ch!r} at position {i + 2}, which is not a hex digit"
    if len(digits) != 40:
        return f"{text[:60]!r} has {len(digits)} hex digits after 0x, not 40"
    return None


def lower_if_address(text: str) -> str:
    """``text`` lowercased when it is an address (``0x`` + 40 hex digits in any case),
    else unchanged: the one spelling of an address-shaped service part, whatever the
    chain family (other parts, a chaincode name say, may be case-sensitive)."""
    return text.lower() if address_defect(text) is None else text


def normalize_address(text: object) -> Address:
    """Lowercase 0x address from 20 bytes, or from ``0x`` + exactly 40 hex digits in any
    case (no whitespace, no sign, nothing else); anything else raises FIELD_TYPE."""
    if isinstance(text, bytes) and len(text) == 20:
        return Address("0x" + text.hex())
    why = address_defect(text)
    if why is not None:
        raise RelayError(
            Code.FIELD_TYPE, f"{why}: an address is 0x followed by exactly 40 hex digits"
        )
    assert isinstance(text, str)
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


@runtime_checkable
class HasKeyBytes(Protocol):
    """What an eth-account ``LocalAccount`` (``eth_account.Account.from_key(...)``) is to
    us: an object whose ``key`` is the 32-byte private key."""

    @property
    def key(self) -> bytes: ...


#: What the SDK and the EVM client accept where they take an account.
AccountLike = Account | HasKeyBytes | bytes | str

_ACCOUNT_HINT = (
    "pass a relay.crypto.Account, an eth_account account (Account.from_key(...)), "
    "32 key bytes or a 0x-hex private key string"
)


def as_account(value: object, what: str = "account") -> Account:
    """An :class:`Account` from any :data:`AccountLike`; a TypeError (or, for a malformed
    key, a ValueError) that says what to pass otherwise."""
    if isinstance(value, Account):
        return value
    raw: object = value
    if not isinstance(value, bytes | str):
        raw = getattr(value, "key", None)
        if not isinstance(raw, bytes):
            raise TypeError(f"{what}: {type(value).__name__} is not an account; {_ACCOUNT_HINT}")
        raw = bytes(raw)
    if isinstance(raw, str):
        text = raw.removeprefix("0x").removeprefix("0X")
        if len(text) != 64 or not set(text) <= _HEX_DIGITS:
            raise ValueError(f"{what}: a hex private key is 64 hex digits (0x optional)")
        raw = bytes.fromhex(text)
    assert isinstance(raw, bytes)
    if len(raw) != 32:
        raise ValueError(f"{what}: a private key is 32 bytes, got {len(raw)}")
    try:
        return Account.from_key(raw)
    except ValueError as exc:
        raise ValueError(f"{what}: not a valid secp256k1 private key ({exc})") from None


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """65-byte r‖s‖v (v = 27/28) signature over a 32-byte digest, low-s."""
    if len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    raw = key.sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def signature_defects(signature: object) -> list[str]:
    """Every reason ``signature`` is not a well-formed 65-byte ``r ‖ s ‖ v`` (empty if none).

    Checked: length, ``r`` in 1..n-1, ``s`` in 1..n/2 (low s, EIP-2), ``v`` in {27, 28}.
    Whether it recovers to a public key is :func:`recover_address`'s check."""
    if not isinstance(signature, bytes):
        return [f"a signature is 65 bytes, not {type(signature).__name__}"]
    if len(signature) != 65:
        return [f"a signature is 65 bytes r‖s‖v, this one is {len(signature)} bytes"]
    out = []
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if r == 0:
        out.append("r = 0")
    elif r >= SECP256K1_N:
        out.append("r >= n (the secp256k1 order)")
    if s == 0:
        out.append("s = 0")
    elif s >= SECP256K1_N:
        out.append("s >= n (the secp256k1 order)")
    elif s > _HALF_N:
        out.append("high s (s > n/2; EIP-2 takes only the low form: use n - s and flip v)")
    if v not in (27, 28):
        out.append(f"v = {v}, must be 27 or 28")
    return out


def recover_address(digest: bytes, signature: bytes) -> Address:
    """The address that signed ``digest``, or raise ``BAD_SIGNATURE`` naming every defect."""
    defects = signature_defects(signature)
    if defects:
        raise RelayError(Code.BAD_SIGNATURE, "signature: " + "; ".join(defects))
    v = signature[64]
    try:
        pub = PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), digest, hasher=None
        )
    except Exception:
        raise RelayError(
            Code.BAD_SIGNATURE,
            "signature: not recoverable (r is not the x-coordinate of a curve point for this v)",
        ) from None
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
