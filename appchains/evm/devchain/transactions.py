"""Signed Ethereum transactions: decoding, checks and intrinsic gas (pure).

Accepted forms (what wallets and eth-account produce):

* legacy with EIP-155 replay protection: ``rlp([nonce, gasPrice, gas, to, value,
  data, v, r, s])`` with ``v = chainId * 2 + 35 + yParity``;
* EIP-2930 (type 1): ``0x01 ‖ rlp([chainId, nonce, gasPrice, gas, to, value, data,
  accessList, yParity, r, s])``;
* EIP-1559 (type 2): ``0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas,
  maxFeePerGas, gas, to, value, data, accessList, yParity, r, s])``.

The sender is recovered from the signing hash of the form (EIP-155 / EIP-2718
rules) with libsecp256k1 through coincurve, ~10x cheaper than eth-account's
recovery, which re-parses the transaction with its own serializers. Unprotected
legacy transactions and contract creations are refused. The transaction hash is
``keccak256(raw)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import rlp
from coincurve import PublicKey

from appchains.evm.devchain.crypto import HALF_N, SECP256K1_N, address_of_public_key, keccak
from appchains.evm.devchain.rlpcodec import encode as rlp_encode

TX_GAS = 21_000
TX_DATA_ZERO_GAS = 4
TX_DATA_NONZERO_GAS = 16
ACCESS_LIST_ADDRESS_GAS = 2_400
ACCESS_LIST_KEY_GAS = 1_900
MAX_TX_SIZE = 128 * 1024


class TxError(ValueError):
    """A transaction that cannot be accepted; the message is what a node would answer."""


AccessList = tuple[tuple[bytes, tuple[bytes, ...]], ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    tx_type: int
    chain_id: int
    nonce: int
    max_priority_fee: int
    max_fee: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    access_list: AccessList
    v: int
    r: int
    s: int
    sender: bytes
    hash: bytes
    raw: bytes

    @property
    def gas_price(self) -> int:
        """``gasPrice`` of a legacy / type-1 transaction; ``maxFeePerGas`` of a type-2 one."""
        return self.max_fee

    @property
    def y_parity(self) -> int:
        if self.tx_type == 0:
            return (self.v - 35) % 2
        return self.v


def _uint(raw: object, name: str) -> int:
    if not isinstance(raw, bytes):
        raise TxError(f"rlp: {name} must be a byte string")
    if raw[:1] == b"\x00":
        raise TxError(f"rlp: non-canonical integer (leading zero bytes) for {name}")
    if len(raw) > 32:
        raise TxError(f"rlp: {name} exceeds 256 bits")
    return int.from_bytes(raw, "big")


def _to(raw: object) -> bytes | None:
    if raw == b"":
        return None
    if not isinstance(raw, bytes) or len(raw) != 20:
        raise TxError("rlp: `to` must be empty or 20 bytes")
    return raw


def _data(raw: object) -> bytes:
    if not isinstance(raw, bytes):
        raise TxError("rlp: data must be a byte string")
    return raw


def _access_list(raw: object) -> AccessList:
    if not isinstance(raw, list):
        raise TxError("rlp: access list must be a list")
    out = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise TxError("rlp: access list entry is [address, [storageKey, ...]]")
        address, keys = entry
        if not (isinstance(address, bytes) and len(address) == 20 and isinstance(keys, list)):
            raise TxError("rlp: bad access list address")
        if not all(isinstance(k, bytes) and len(k) == 32 for k in keys):
            raise TxError("rlp: access list storage keys are 32 bytes")
        out.append((address, tuple(keys)))
    return tuple(out)


def parse_transaction(raw: bytes, sender: bytes) -> Transaction:
    """Decode ``raw`` with a sender already known (stored transactions); no recovery."""
    return _parse(raw, sender)[0]


def _parse(raw: bytes, sender: bytes) -> tuple[Transaction, list[object]]:
    """The transaction and its decoded RLP items (for the signing hash)."""
    if not raw:
        raise TxError("empty transaction")
    if len(raw) > MAX_TX_SIZE:
        raise TxError("oversized data")
    tx_type = 0 if raw[0] >= 0xC0 else raw[0]
    if tx_type not in (0, 1, 2):
        raise TxError("transaction type not supported")
    try:
        items = rlp.decode(raw if tx_type == 0 else raw[1:], strict=True)
    except Exception as exc:
        raise TxError(f"rlp: {exc}") from None
    if not isinstance(items, list):
        raise TxError("rlp: a transaction is an RLP list")
    if tx_type == 0:
        if len(items) != 9:
            raise TxError("rlp: a legacy transaction has 9 fields")
        nonce, gas_price, gas, to, value, data, v, r, s = items
        access: AccessList = ()
        v_int = _uint(v, "v")
        if v_int in (27, 28):
            raise TxError("only replay-protected (EIP-155) transactions allowed over RPC")
        if v_int < 35:
            raise TxError("invalid signature v")
        chain_id = (v_int - 35) // 2
        price = _uint(gas_price, "gasPrice")
        tip, fee = price, price
    elif tx_type == 1:
        if len(items) != 11:
            raise TxError("rlp: an EIP-2930 transaction has 11 fields")
        cid, nonce, gas_price, gas, to, value, data, acl, v, r, s = items
        chain_id, v_int = _uint(cid, "chainId"), _uint(v, "yParity")
        price = _uint(gas_price, "gasPrice")
        tip, fee, access = price, price, _access_list(acl)
    else:
        if len(items) != 12:
            raise TxError("rlp: an EIP-1559 transaction has 12 fields")
        cid, nonce, tip_raw, fee_raw, gas, to, value, data, acl, v, r, s = items
        chain_id, v_int = _uint(cid, "chainId"), _uint(v, "yParity")
        tip, fee, access = (
            _uint(tip_raw, "maxPriorityFeePerGas"),
            _uint(fee_raw, "maxFeePerGas"),
            _access_list(acl),
        )
        if tip > fee:
            raise TxError("max priority fee per gas higher than max fee per gas")
    if tx_type != 0 and v_int not in (0, 1):
        raise TxError("invalid signature y parity")
    r_int, s_int = _uint(r, "r"), _uint(s, "s")
    if not (0 < r_int < SECP256K1_N and 0 < s_int <= HALF_N):
        raise TxError("invalid transaction v, r, s values")
    tx = Transaction(
        tx_type=tx_type,
        chain_id=chain_id,
        nonce=_uint(nonce, "nonce"),
        max_priority_fee=tip,
        max_fee=fee,
        gas=_uint(gas, "gas"),
        to=_to(to),
        value=_uint(value, "value"),
        data=_data(data),
        access_list=access,
        v=v_int,
        r=r_int,
        s=s_int,
        sender=sender,
        hash=keccak(raw),
        raw=raw,
    )
    return tx, items


def compute_signing_hash(tx: Transaction, items: list[object]) -> bytes:
    """What the sender signed: ``keccak(rlp(fields ‖ chainId, 0, 0))`` for an EIP-155
    legacy transaction, ``keccak(type ‖ rlp(fields without v, r, s))`` for a typed one."""
    if tx.tx_type == 0:
        return keccak(rlp_encode([*items[:6], tx.chain_id, b"", b""]))
    return keccak(bytes([tx.tx_type]) + rlp_encode(items[:-3]))


def decode_signed_transaction(raw: bytes, chain_id: int) -> Transaction:
    """Decode a signed transaction, recover its sender and check its chain ID."""
    tx, items = _parse(raw, b"")
    if tx.chain_id != chain_id:
        raise TxError(f"invalid chain id for signer: have {tx.chain_id} want {chain_id}")
    if tx.to is None:
        raise TxError("contract creation is not supported by this dev chain")
    signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes([tx.y_parity])
    try:
        pub = PublicKey.from_signature_and_message(
            signature, compute_signing_hash(tx, items), hasher=None
        )
    except Exception as exc:
        raise TxError(f"invalid sender: {exc}") from None
    return replace(tx, sender=address_of_public_key(pub))


def compute_intrinsic_gas(tx: Transaction) -> int:
    zeros = tx.data.count(0)
    gas = TX_GAS + zeros * TX_DATA_ZERO_GAS + (len(tx.data) - zeros) * TX_DATA_NONZERO_GAS
    for _address, keys in tx.access_list:
        gas += ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_KEY_GAS * len(keys)
    return gas


def compute_effective_gas_price(tx: Transaction, base_fee: int) -> int:
    """What the sender pays per gas in a block with ``base_fee``."""
    if tx.tx_type == 2:
        return min(tx.max_fee, base_fee + tx.max_priority_fee)
    return tx.max_fee
