"""FISCO BCOS 2.x transactions: the RLP the node takes in ``sendRawTransaction`` (pure).

``libethcore/Transaction.cpp`` (2.x, the "RC2" encoding the 2.x SDKs send): an RLP list

    [nonce, gasPrice, gas, blockLimit, receiveAddress, value, data,
     chainId, groupId, extraData, <signature>]

with integers canonical (``u256``), ``receiveAddress`` 20 bytes (empty for a contract
creation), ``data`` and ``extraData`` byte strings. The signature is three items:

* secp256k1: ``v`` (27 + the recovery id), ``r``, ``s`` — the signer's key is recovered;
* 国密: ``pub`` (the signer's 64-byte key), ``r``, ``s`` — SM2 with the default user ID.

The signed hash is ``crypto::Hash`` (keccak-256 or SM3) of the RLP of the first ten
fields; the transaction hash is ``Hash`` of the whole RLP; the sender is
``right160(Hash(pub))``. ``nonce`` is a random 256-bit number, not a counter: the node
refuses a nonce it has seen (``NonceCheckFail``), and a ``blockLimit`` outside
``(head, head + 1000]`` (``BlockLimitCheckFail``).

Shared with the dev chain (``appchains/fisco``), so it imports nothing of the relay:
rlp, coincurve, eth-hash and :mod:`adapters.fisco.smcrypto` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rlp
from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak as _keccak

from adapters.fisco.smcrypto import SM2_N, fisco_sm2_sign, sm2_public_key, sm2_verify, sm3

#: FISCO's ``TxPool`` accepts a ``blockLimit`` at most this far past the head.
MAX_BLOCK_LIMIT = 1000
SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

HashFn = Callable[[bytes], bytes]


class TransactionError(ValueError):
    """A transaction the node refuses; ``code`` is FISCO's ``TransactionException``."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


# TransactionException codes (FISCO-BCOS-DOC api.md, "Transaction receipt status list").
STATUS_OK = 0
STATUS_INVALID_SIGNATURE = 5
STATUS_OUT_OF_GAS = 12
STATUS_NONCE_CHECK_FAIL = 15
STATUS_BLOCK_LIMIT_CHECK_FAIL = 16
STATUS_REVERT = 22
STATUS_TX_POOL_FULL = 28
STATUS_ALREADY_KNOWN = 10000
STATUS_ALREADY_IN_CHAIN = 10001
STATUS_INVALID_CHAIN_ID = 10002
STATUS_INVALID_GROUP_ID = 10003
STATUS_MALFORMED_TX = 10005


def keccak256(data: bytes) -> bytes:
    return bytes(_keccak(bytes(data)))


def hash_of_mode(mode: str) -> HashFn:
    if mode == "secp256k1":
        return keccak256
    if mode == "sm":
        return sm3
    raise ValueError(f"unknown FISCO crypto mode {mode!r}: use 'secp256k1' or 'sm'")


def public_key_of(private_key: bytes, mode: str) -> bytes:
    """The 64-byte node ID / account key ``x‖y`` of a 32-byte private key."""
    if mode == "sm":
        return sm2_public_key(private_key)
    hash_of_mode(mode)
    return bytes(PrivateKey(private_key).public_key.format(compressed=False)[1:])


def address_of(public_key: bytes, mode: str) -> bytes:
    """``right160(Hash(pub))`` (``libdevcrypto/Common.cpp`` ``toAddress``)."""
    return hash_of_mode(mode)(public_key)[12:]


def key_from_seed(material: bytes, mode: str) -> bytes:
    """A valid private key of the mode's curve from 32 bytes of seed material."""
    n = SM2_N - 1 if mode == "sm" else SECP_N
    return (int.from_bytes(material, "big") % (n - 1) + 1).to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class FiscoTransaction:
    nonce: int
    gas_price: int
    gas: int
    block_limit: int
    to: bytes | None
    value: int
    data: bytes
    chain_id: int
    group_id: int
    extra_data: bytes
    #: Filled by :func:`decode_transaction`.
    sender: bytes = b""
    hash: bytes = b""
    raw: bytes = b""

    def unsigned_fields(self) -> list[Any]:
        return [
            self.nonce,
            self.gas_price,
            self.gas,
            self.block_limit,
            self.to or b"",
            self.value,
            self.data,
            self.chain_id,
            self.group_id,
            self.extra_data,
        ]


def signing_hash(tx: FiscoTransaction, mode: str) -> bytes:
    return hash_of_mode(mode)(rlp.encode(tx.unsigned_fields()))


def sign_transaction(tx: FiscoTransaction, private_key: bytes, mode: str) -> bytes:
    """The raw signed transaction, as ``sendRawTransaction`` takes it."""
    digest = signing_hash(tx, mode)
    if mode == "sm":
        pub = sm2_public_key(private_key)
        sig = fisco_sm2_sign(private_key, pub, digest)
        tail: list[Any] = [pub, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")]
    else:
        rsv = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
        tail = [27 + rsv[64], int.from_bytes(rsv[:32], "big"), int.from_bytes(rsv[32:64], "big")]
    return bytes(rlp.encode([*tx.unsigned_fields(), *tail]))


def _uint(item: Any, name: str) -> int:
    if not isinstance(item, bytes) or (item[:1] == b"\x00") or len(item) > 32:
        raise TransactionError(STATUS_MALFORMED_TX, "MalformedTx", f"{name} is not a u256")
    return int.from_bytes(item, "big")


def decode_transaction(raw: bytes, mode: str) -> FiscoTransaction:
    """Decode and check the signature of a raw transaction; :class:`TransactionError`."""
    hash_fn = hash_of_mode(mode)
    try:
        items = rlp.decode(bytes(raw))
    except Exception:
        raise TransactionError(STATUS_MALFORMED_TX, "MalformedTx", "not RLP") from None
    if not isinstance(items, list) or len(items) != 13:
        raise TransactionError(
            STATUS_MALFORMED_TX, "MalformedTx", "a transaction is an RLP list of 13 items"
        )
    if any(not isinstance(x, bytes) for x in items):
        raise TransactionError(STATUS_MALFORMED_TX, "MalformedTx", "nested item")
    to = items[4]
    if len(to) not in (0, 20):
        raise TransactionError(STATUS_MALFORMED_TX, "MalformedTx", "receiveAddress is 20 bytes")
    tx = FiscoTransaction(
        nonce=_uint(items[0], "nonce"),
        gas_price=_uint(items[1], "gasPrice"),
        gas=_uint(items[2], "gas"),
        block_limit=_uint(items[3], "blockLimit"),
        to=to or None,
        value=_uint(items[5], "value"),
        data=items[6],
        chain_id=_uint(items[7], "chainId"),
        group_id=_uint(items[8], "groupId"),
        extra_data=items[9],
    )
    digest = hash_fn(rlp.encode(tx.unsigned_fields()))
    r, s = _uint(items[11], "r"), _uint(items[12], "s")
    bad = TransactionError(STATUS_INVALID_SIGNATURE, "InvalidSignature", "invalid signature")
    if mode == "sm":
        pub = items[10]
        rs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if len(pub) != 64 or not sm2_verify(pub, digest, rs):
            raise bad
    else:
        v = _uint(items[10], "v")
        if v not in (27, 28) or not 0 < r < SECP_N or not 0 < s <= SECP_N // 2:
            raise bad
        try:
            key = PublicKey.from_signature_and_message(
                r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27]),
                digest,
                hasher=None,
            )
        except Exception:
            raise bad from None
        pub = key.format(compressed=False)[1:]
    return FiscoTransaction(
        **{
            f: getattr(tx, f) for f in tx.__dataclass_fields__ if f not in ("sender", "hash", "raw")
        },
        sender=hash_fn(pub)[12:],
        hash=hash_fn(raw),
        raw=bytes(raw),
    )


__all__ = [
    "MAX_BLOCK_LIMIT",
    "FiscoTransaction",
    "TransactionError",
    "address_of",
    "decode_transaction",
    "hash_of_mode",
    "key_from_seed",
    "public_key_of",
    "sign_transaction",
    "signing_hash",
]
