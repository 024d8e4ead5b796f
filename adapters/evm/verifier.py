"""Relay-side verifier of EVM proofs (entry point ``relayhub.verifiers: evm``).

A proof (see :mod:`adapters.evm.proof`) is accepted when, in this order:

0. the IBTP's emitting side is a service of the chain in ``ctx``: ``from`` for
   INTERCHAIN, ``to`` for RECEIPT_SUCCESS/FAILURE, ``from`` or ``to`` for
   RECEIPT_ROLLBACK (the source's acknowledgement, or the destination's: its broker
   consumed the index without running it);
1. the proof decodes canonically (version 1);
2. ``keccak(header_rlp) == block_hash`` and the header is an RLP list whose item 5
   (receiptsRoot) is 32 bytes;
3. at least ``threshold`` distinct registered validators (mode ``"seal"``) or
   notaries (mode ``"notary"``) signed the seal digest of ``block_hash``; a seal
   from any other key is refused, duplicates count once;
4. the raw Merkle-Patricia nodes prove ``receipt`` at key ``rlp(tx_index)`` under
   receiptsRoot;
5. the receipt's status is success;
6. ``logs[log_index]`` was emitted by the registered broker, is the event the
   IBTP's type needs, and its decoded fields equal the IBTP's.

Steps 2-3 are memoised per (trust root, block hash) in a bounded LRU, so a batch
of IBTPs from one block pays for seal recovery once. A memo hit needs the same
header bytes *and* the same seals as the verified entry, so the outcome of a
verification never depends on what the memo holds — only its cost does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, NoReturn

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError as AbiDecodingError

from adapters.evm.errors import EvmCode
from adapters.evm.proof import (
    CALLBACK_EVENT_TOPIC,
    CALLBACK_EVENT_TYPES,
    EVENT_NAMES,
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
    RECEIPT_EVENT_TOPIC,
    RECEIPT_EVENT_TYPES,
    SEAL_DOMAIN,
    EvmProof,
    decode_evm_proof,
    decode_header_receipts_root,
    decode_receipt,
    is_receipt_success,
    receipt_log,
    walk_mpt_proof,
)
from relay.crypto import (
    ZERO_ADDRESS,
    Address,
    address_defect,
    keccak,
    normalize_address,
    recover_address,
)
from relay.errors import Code, ProofError, RelayError
from relay.ibtp import IBTP, IBTPType, Payload, compute_payload_hash
from relay.ibtp.codec import canonical_packb
from relay.validation.base import ChainContext, Registration, emitter_mismatch

MODES = ("seal", "notary")
MAX_VALIDATORS = 64
TRUST_ROOT_KEYS = frozenset({"evm_chain_id", "mode", "validators", "threshold"})
#: Verified headers kept per verifier; a block's IBTPs usually arrive together.
DEFAULT_HEADER_MEMO_SIZE = 4096

#: Receipts are emitted by the destination chain, requests by the source, rollback
#: acknowledgements by either.
#: For each IBTP type: the event topic, its ABI types and its name.
_EVENT_FOR_TYPE: dict[IBTPType, tuple[bytes, tuple[str, ...]]] = {
    IBTPType.INTERCHAIN: (INTERCHAIN_EVENT_TOPIC, INTERCHAIN_EVENT_TYPES),
    IBTPType.RECEIPT_SUCCESS: (RECEIPT_EVENT_TOPIC, RECEIPT_EVENT_TYPES),
    IBTPType.RECEIPT_FAILURE: (RECEIPT_EVENT_TOPIC, RECEIPT_EVENT_TYPES),
    IBTPType.RECEIPT_ROLLBACK: (CALLBACK_EVENT_TOPIC, CALLBACK_EVENT_TYPES),
}


@dataclass(frozen=True, slots=True)
class EvmTrustRoot:
    """A parsed EVM trust root.

    ``mode`` says who signs block hashes: ``"seal"`` — the chain's own validators
    (a PoA chain sealing the relayhub seal digest); ``"notary"`` — registered
    notary keys vouching for headers of a chain that does not seal (e.g. ganache).
    Both are checked the same way; the mode is explicit so a registration shows
    which kind of trust it asks for. ``identity`` is keccak of the canonical form
    (keys the header memo).
    """

    evm_chain_id: int
    mode: str
    validators: tuple[Address, ...]
    threshold: int
    validator_set: frozenset[str]
    identity: bytes

    def to_dict(self) -> dict[str, Any]:
        """The canonical registration form (what :meth:`EvmVerifier.parse_trust_root` takes)."""
        return {
            "evm_chain_id": self.evm_chain_id,
            "mode": self.mode,
            "validators": list(self.validators),
            "threshold": self.threshold,
        }


class _HeaderEntry(NamedTuple):
    header_rlp: bytes
    seals: tuple[bytes, ...]
    receipts_root: bytes


class EvmVerifier:
    """Verifies that an EVM chain's broker emitted an IBTP (see module docstring)."""

    family: ClassVar[str] = "evm"

    def __init__(self, header_memo_size: int = DEFAULT_HEADER_MEMO_SIZE) -> None:
        if header_memo_size < 0:
            raise ValueError("header_memo_size must be >= 0")
        self._memo_size = header_memo_size
        self._memo: OrderedDict[tuple[bytes, bytes], _HeaderEntry] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ trust root

    def parse_trust_root(self, raw: Any) -> EvmTrustRoot:
        """Validate ``{"evm_chain_id", "mode", "validators", "threshold"}`` (BAD_TRUST_ROOT)."""
        if isinstance(raw, EvmTrustRoot):
            raw = raw.to_dict()
        if not isinstance(raw, dict):
            _bad_root("must be a map {evm_chain_id, mode, validators, threshold}")
        keys = set(raw)
        if keys != TRUST_ROOT_KEYS:
            missing = sorted(TRUST_ROOT_KEYS - keys)
            extra = sorted(str(k) for k in keys - TRUST_ROOT_KEYS)
            _bad_root(
                f"keys must be exactly {sorted(TRUST_ROOT_KEYS)}; missing {missing}, extra {extra}"
            )
        chain_id = raw["evm_chain_id"]
        if type(chain_id) is not int or not 1 <= chain_id < 2**256:
            _bad_root("evm_chain_id must be an integer from 1 to 2**256-1 (EIP-155 chain id)")
        mode = raw["mode"]
        if mode not in MODES:
            _bad_root(f"mode must be one of {list(MODES)}, not {str(mode)[:40]!r}")
        validators = raw["validators"]
        if not isinstance(validators, list | tuple) or not 1 <= len(validators) <= MAX_VALIDATORS:
            _bad_root(f"validators must be a list of 1 to {MAX_VALIDATORS} addresses")
        try:
            addresses = tuple(normalize_address(v) for v in validators)
        except RelayError as exc:
            _bad_root(f"validators: {exc.message}")
        if ZERO_ADDRESS in addresses:
            _bad_root(
                f"validators: validator {addresses.index(ZERO_ADDRESS)} is the zero address, "
                "which no private key signs for: register the signers' real addresses"
            )
        if len(set(addresses)) != len(addresses):
            _bad_root("validators must be distinct addresses")
        threshold = raw["threshold"]
        if type(threshold) is not int or not 1 <= threshold <= len(addresses):
            _bad_root(
                f"threshold must be an integer from 1 to {len(addresses)} (the validator count)"
            )
        canonical = {
            "evm_chain_id": chain_id,
            "mode": mode,
            "validators": list(addresses),
            "threshold": threshold,
        }
        return EvmTrustRoot(
            evm_chain_id=chain_id,
            mode=mode,
            validators=addresses,
            threshold=threshold,
            validator_set=frozenset(addresses),
            identity=keccak(b"relayhub.evm-trust-root.v1" + canonical_packb(canonical)),
        )

    def check_registration(self, trust_root: Any, broker: str) -> Registration:
        """The trust root as :meth:`parse_trust_root` takes it, and the broker: the 0x
        address of the broker contract (exactly 40 hex digits, not zero), stored
        lowercase — every proof's log emitter is compared with it."""
        parsed = self.parse_trust_root(trust_root)
        why = address_defect(broker)
        if why is not None:
            raise RelayError(
                Code.BAD_TRUST_ROOT,
                f"EVM broker: {why}; the broker is the 0x address of the chain's broker "
                "contract (0x + exactly 40 hex digits)",
            )
        if broker.lower() == ZERO_ADDRESS:
            raise RelayError(
                Code.BAD_TRUST_ROOT,
                "EVM broker: the zero address holds no contract and emits no logs; give the "
                "address the broker contract was deployed at",
            )
        return Registration(parsed, broker.lower())

    def canonical_service(self, service: str) -> str:
        """An EVM service is the 0x address of a contract or account; the broker emits
        it lowercase (docs/broker.md), so that is its canonical spelling."""
        why = address_defect(service)
        if why is not None:
            raise RelayError(
                Code.BAD_SERVICE_ID,
                f"EVM service {why}; a service on an EVM chain is the 0x address of its "
                "contract or account (0x + exactly 40 hex digits)",
            )
        return service.lower()

    # ------------------------------------------------------------------ verify

    def verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        """Check that ``ibtp.proof`` proves the broker of ``ctx`` emitted ``ibtp``."""
        tr = ctx.trust_root
        if type(tr) is not EvmTrustRoot:
            raise ProofError(
                EvmCode.BAD_REGISTRATION,
                "the chain's trust root was not parsed by the evm verifier; re-register the chain",
            )
        broker = _broker_bytes(ctx.broker)
        mismatch = emitter_mismatch(ctx, ibtp)
        if mismatch is not None:
            raise ProofError(EvmCode.CHAIN_MISMATCH, mismatch)
        proof = decode_evm_proof(ibtp.proof)
        receipts_root = self.verify_header(tr, proof)
        walked = walk_mpt_proof(receipts_root, _rlp_uint(proof.tx_index), proof.nodes)
        if walked != proof.receipt:
            raise ProofError(
                EvmCode.RECEIPT_NOT_PROVEN,
                f"the receipts trie holds another receipt at tx_index {proof.tx_index}: the "
                "receipt carried is not the one in this block at that position",
                tx_index=proof.tx_index,
            )
        receipt = decode_receipt(proof.receipt)
        if not is_receipt_success(receipt.status):
            raise ProofError(
                EvmCode.RECEIPT_FAILED,
                f"transaction {proof.tx_index} of block 0x{proof.block_hash.hex()} failed "
                f"(receipt status 0x{receipt.status.hex()}): a reverted transaction emits no IBTP",
            )
        log = receipt_log(receipt, proof.log_index)
        if log.address != broker:
            raise ProofError(
                EvmCode.LOG_WRONG_EMITTER,
                f"log {proof.log_index} was emitted by 0x{log.address.hex()}, not by the "
                f"registered broker {ctx.broker}",
            )
        topic, types = _EVENT_FOR_TYPE[ibtp.type]
        if len(log.topics) != 1 or log.topics[0] != topic:
            got = (
                EVENT_NAMES.get(log.topics[0], "0x" + log.topics[0].hex()) if log.topics else "none"
            )
            raise ProofError(
                EvmCode.LOG_WRONG_EVENT,
                f"log {proof.log_index} is {got} with {len(log.topics)} topic(s); an IBTP of "
                f"type {ibtp.type.name} is proven by the broker's {EVENT_NAMES[topic]} "
                f"(exactly one topic, 0x{topic.hex()})",
            )
        check_log_fields(ibtp, decode_event_data(topic, types, log.data))

    def verify_header(self, tr: EvmTrustRoot, proof: EvmProof) -> bytes:
        """receiptsRoot of the proof's header once hash and seals check out (memoised)."""
        key = (tr.identity, proof.block_hash)
        if self._memo_size:
            with self._lock:
                entry = self._memo.get(key)
                if entry is not None:
                    self._memo.move_to_end(key)
            if (
                entry is not None
                and entry.header_rlp == proof.header_rlp
                and entry.seals == proof.seals
            ):
                return entry.receipts_root
        if keccak(proof.header_rlp) != proof.block_hash:
            raise ProofError(
                EvmCode.HEADER_HASH_MISMATCH,
                f"the header hashes to 0x{keccak(proof.header_rlp).hex()}, not to the block hash "
                f"0x{proof.block_hash.hex()} the seals are over",
            )
        receipts_root = decode_header_receipts_root(proof.header_rlp)
        verify_seals(tr, proof.block_hash, proof.seals)
        if self._memo_size:
            with self._lock:
                self._memo[key] = _HeaderEntry(proof.header_rlp, proof.seals, receipts_root)
                self._memo.move_to_end(key)
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        return receipts_root

    def clear_memo(self) -> None:
        with self._lock:
            self._memo.clear()


def verify_seals(tr: EvmTrustRoot, block_hash: bytes, seals: tuple[bytes, ...]) -> None:
    """At least ``tr.threshold`` distinct registered signers over the seal digest; no strangers."""
    digest = keccak(SEAL_DOMAIN + tr.evm_chain_id.to_bytes(32, "big") + block_hash)
    signer_word = "validator" if tr.mode == "seal" else "notary"
    signers: set[str] = set()
    for i, seal in enumerate(seals):
        try:
            signer = recover_address(digest, seal)
        except RelayError as exc:
            raise ProofError(
                EvmCode.SEAL_MALFORMED, f"seal {i} is malformed: {exc.message}", seal_index=i
            ) from None
        if signer not in tr.validator_set:
            raise ProofError(
                EvmCode.SEAL_UNKNOWN_SIGNER,
                f"seal {i} recovers to {signer}, which is not a registered {signer_word} of EVM "
                f"chain {tr.evm_chain_id} (a seal over another block hash or chain id recovers "
                "to a random address)",
                seal_index=i,
                signer=signer,
            )
        signers.add(signer)
    if len(signers) < tr.threshold:
        raise ProofError(
            EvmCode.SEALS_BELOW_THRESHOLD,
            f"{len(seals)} seal(s) from {len(signers)} distinct registered {signer_word}(s); "
            f"the trust root needs {tr.threshold}: collect more seals",
            distinct=len(signers),
            threshold=tr.threshold,
        )


def decode_event_data(topic: bytes, types: tuple[str, ...], data: bytes) -> tuple[Any, ...]:
    """ABI-decode a broker event's data (all its parameters are non-indexed); LOG_MALFORMED."""
    try:
        return tuple(abi_decode(types, data))
    except (AbiDecodingError, ValueError, OverflowError, TypeError):
        raise ProofError(
            EvmCode.LOG_MALFORMED,
            f"the log data does not ABI-decode as {EVENT_NAMES[topic]}({', '.join(types)})",
        ) from None


def check_log_fields(
    ibtp: IBTP,
    fields: tuple[Any, ...],
    payload_hash_of: Callable[[Payload], bytes] = compute_payload_hash,
    mismatch: int = EvmCode.LOG_FIELD_MISMATCH,
) -> None:
    """The decoded broker event's fields equal the IBTP's (LOG_FIELD_MISMATCH names the field).

    * every event: ``from``, ``to``, ``index``;
    * InterchainEvent: ``func``, ``args``, ``encrypted``, ``timeout``,
      ``payloadHash == compute_payload_hash(ibtp.payload)``, and an empty ``extra`` (the
      event carries none);
    * ReceiptEvent: ``typ == ibtp.type`` (1 success / 2 failure), payload ==
      ``("", [result], false)``, and ``payloadHash``;
    * CallbackEvent: ``typ == 3`` and the IBTP payload empty ``("", [], false)``.

    Every family whose broker is the Solidity-ABI one binds its events so: the FISCO
    verifier with its chain's hash as ``payload_hash_of`` and its own ``mismatch`` code.
    """

    _same(mismatch, "from", fields[0], ibtp.src)
    _same(mismatch, "to", fields[1], ibtp.dst)
    _same(mismatch, "index", fields[2], ibtp.index)
    payload = ibtp.payload
    if ibtp.type == IBTPType.INTERCHAIN:
        _, _, _, func, args, encrypted, timeout, payload_hash = fields
        _same(mismatch, "func", func, payload.func)
        _same(mismatch, "args", tuple(args), payload.args)
        _same(mismatch, "encrypted", encrypted, payload.encrypted)
        _same(mismatch, "timeout", timeout, ibtp.timeout)
        _same(mismatch, "payloadHash", payload_hash, payload_hash_of(payload))
        # InterchainEvent carries no extra: an IBTP claiming one claims what the chain
        # never said (and would let a gateway choose the message's hash).
        _same(mismatch, "extra", b"", ibtp.extra)
    elif ibtp.type == IBTPType.RECEIPT_ROLLBACK:
        _same(mismatch, "typ", fields[3], int(IBTPType.RECEIPT_ROLLBACK))
        _same(mismatch, "payload.func", "", payload.func)
        _same(mismatch, "payload.args", (), payload.args)
        _same(mismatch, "payload.encrypted", False, payload.encrypted)
    else:
        _, _, _, typ, result, payload_hash = fields
        _same(mismatch, "typ", typ, int(ibtp.type))
        _same(mismatch, "payload.func", "", payload.func)
        _same(mismatch, "payload.args", (result,), payload.args)
        _same(mismatch, "payload.encrypted", False, payload.encrypted)
        _same(mismatch, "payloadHash", payload_hash, payload_hash_of(payload))


def _same(mismatch: int, name: str, logged: Any, claimed: Any) -> None:
    if logged != claimed or type(logged) is not type(claimed):
        raise ProofError(
            mismatch,
            f"the broker's event gives {name} = {_short(logged)} but the IBTP has "
            f"{_short(claimed)}: the IBTP must carry exactly what the broker logged",
            field=name,
        )


def _short(value: Any) -> str:
    text = "0x" + value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _broker_bytes(broker: str) -> bytes:
    if type(broker) is not str or len(broker) != 42 or broker[:2] not in ("0x", "0X"):
        raise ProofError(
            EvmCode.BAD_REGISTRATION,
            f"the chain's registered broker {str(broker)[:60]!r} is not a 0x 20-byte address",
        )
    try:
        return bytes.fromhex(broker[2:])
    except ValueError:
        raise ProofError(
            EvmCode.BAD_REGISTRATION, f"the chain's registered broker {broker!r} is not hex"
        ) from None


def _rlp_uint(value: int) -> bytes:
    """rlp.encode(value) for a uint (the receipts-trie key), without pyrlp's overhead."""
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(raw),)) + raw


def _bad_root(why: str) -> NoReturn:
    raise RelayError(Code.BAD_TRUST_ROOT, f"EVM trust root: {why}")
