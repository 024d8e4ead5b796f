"""Relay-side verifier of FISCO BCOS proofs (entry point ``relayhub.verifiers: fisco``).

A proof (:mod:`adapters.fisco.proof`) is accepted when, in this order (codes in
``docs/fisco.md`` §2):

0. the IBTP's emitting side (``from``; ``to`` for RECEIPT_SUCCESS/FAILURE; either for
   RECEIPT_ROLLBACK) is a service of the chain in ``ctx`` (``CHAIN_MISMATCH``);
1. the proof decodes canonically, version 1 (``PROOF_MALFORMED``, ``PROOF_VERSION``);
2. it is for the registered group (``WRONG_GROUP``);
3. the header: ``Hash(header) == block_hash`` (``HEADER_HASH_MISMATCH``; keccak-256 or
   SM3 by the trust root's mode), the header decodes (``HEADER_MALFORMED``), its number
   selects the sealer list in force (``HEIGHT_BEFORE_TRUST_ROOT``), its ``sealerList``
   is that list (``SEALER_LIST_MISMATCH``), and at least ``n - (n - 1) // 3`` distinct
   registered sealers of it signed ``block_hash`` (the 54xx seal codes of
   :mod:`adapters.fisco.seals`);
4. the receipt is leaf ``receipt_index`` of the tree under the header's receiptsRoot
   (the Merkle codes of :mod:`adapters.fisco.merkle`) and decodes (``RECEIPT_MALFORMED``);
5. its status is 0 (``RECEIPT_FAILED``);
6. ``logs[log_index]`` exists (``LOG_INDEX_OUT_OF_RANGE``), was emitted by the registered
   broker (``LOG_WRONG_EMITTER``), is the broker event of the IBTP's type
   (``LOG_WRONG_EVENT``) and carries exactly the IBTP's fields (``LOG_MALFORMED``,
   ``LOG_FIELD_MISMATCH``; :mod:`adapters.fisco.events`).

Step 3 is memoised: a header whose seals verified is kept, keyed by (trust root
identity, block hash), with its bytes and its sig list; a later proof hits only with
the same header bytes and the same sig list, and then pays no hash, decode or seal
check — only steps 4-6. A failure is never stored, the memo is a bounded LRU, and
its content changes only the cost of a verification, never its outcome.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, ClassVar, NamedTuple

from adapters.fisco.errors import FiscoCode
from adapters.fisco.events import EVENT_FOR_TYPE, check_event_data, event_topic, event_topics
from adapters.fisco.hashing import hash_fn_for
from adapters.fisco.header import decode_header
from adapters.fisco.merkle import check_indexed_proof
from adapters.fisco.proof import FiscoProof, decode_fisco_proof
from adapters.fisco.receipt import read_receipt_log
from adapters.fisco.seals import verify_sealed_header
from adapters.fisco.trust_root import (
    FiscoTrustRoot,
    canonical_service,
    check_registration,
    parse_trust_root,
)
from relay.errors import ProofError
from relay.ibtp import IBTP
from relay.validation.base import ChainContext, Registration, emitter_mismatch

#: Verified headers kept per verifier; a block's IBTPs usually arrive together.
DEFAULT_HEADER_MEMO_SIZE = 4096

#: Receipts are emitted by the destination chain; requests and rollbacks by the source.
#: Per crypto mode: the hash, topic0 of the event each IBTP type needs, names by topic.
_BY_MODE = {
    mode: (
        hash_fn_for(mode),
        {t: event_topic(sig, hash_fn_for(mode)) for t, (sig, _) in EVENT_FOR_TYPE.items()},
        event_topics(hash_fn_for(mode)),
    )
    for mode in ("secp256k1", "sm")
}


class VerifiedHeader(NamedTuple):
    """A header whose hash, shape, sealer list and seals checked out."""

    header: bytes
    sig_list: tuple[tuple[int, bytes], ...]
    number: int
    receipts_root: bytes
    signed: int


class FiscoVerifier:
    """Verifies that a FISCO chain's broker emitted an IBTP (see the module docstring)."""

    family: ClassVar[str] = "fisco"

    def __init__(self, header_memo_size: int = DEFAULT_HEADER_MEMO_SIZE) -> None:
        if header_memo_size < 0:
            raise ValueError("header_memo_size must be >= 0")
        self._memo_size = header_memo_size
        self._memo: OrderedDict[tuple[bytes, bytes], VerifiedHeader] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ registration

    def parse_trust_root(self, raw: Any) -> FiscoTrustRoot:
        """See :func:`adapters.fisco.trust_root.parse_trust_root`."""
        return parse_trust_root(raw)

    def check_registration(self, trust_root: Any, broker: str) -> Registration:
        """See :func:`adapters.fisco.trust_root.check_registration`."""
        return check_registration(trust_root, broker)

    def canonical_service(self, service: str) -> str:
        """See :func:`adapters.fisco.trust_root.canonical_service`."""
        return canonical_service(service)

    # ------------------------------------------------------------------ verify

    def verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        """Check that ``ibtp.proof`` proves the broker of ``ctx`` emitted ``ibtp``."""
        tr = ctx.trust_root
        if type(tr) is not FiscoTrustRoot:
            raise ProofError(
                FiscoCode.BAD_REGISTRATION,
                "the chain's trust root was not parsed by the fisco verifier; re-register it",
            )
        broker = _broker_bytes(ctx.broker)
        mismatch = emitter_mismatch(ctx, ibtp)
        if mismatch is not None:
            raise ProofError(FiscoCode.CHAIN_MISMATCH, mismatch)
        proof = decode_fisco_proof(ibtp.proof)
        if proof.group_id != tr.group_id:
            raise ProofError(
                FiscoCode.WRONG_GROUP,
                f"the proof is for group {proof.group_id}; the chain is registered with group "
                f"{tr.group_id}: prove the event from the registered group's blocks",
                group_id=proof.group_id,
                registered=tr.group_id,
            )
        hash_fn, topics, names = _BY_MODE[tr.mode]
        header = self.verify_header(tr, proof)
        check_indexed_proof(
            header.receipts_root,
            proof.receipt_index,
            hash_fn(proof.receipt),
            proof.merkle_levels,
            hash_fn,
        )
        status, n_logs, log = read_receipt_log(proof.receipt, proof.log_index)
        if status != 0:
            raise ProofError(
                FiscoCode.RECEIPT_FAILED,
                f"transaction {proof.receipt_index} of block {header.number} failed (status "
                f"0x{status:x}): a failed transaction emits no IBTP",
                status=status,
            )
        if log is None:
            raise ProofError(
                FiscoCode.LOG_INDEX_OUT_OF_RANGE,
                f"log_index {proof.log_index} is out of range: the receipt has {n_logs} logs",
            )
        if log.address != broker:
            raise ProofError(
                FiscoCode.LOG_WRONG_EMITTER,
                f"log {proof.log_index} was emitted by 0x{log.address.hex()}, not by the "
                f"registered broker {ctx.broker}",
            )
        topic = topics[ibtp.type]
        if len(log.topics) != 1 or log.topics[0] != topic:
            got = names.get(log.topics[0], "0x" + log.topics[0].hex()) if log.topics else "none"
            raise ProofError(
                FiscoCode.LOG_WRONG_EVENT,
                f"log {proof.log_index} is {got} with {len(log.topics)} topic(s); an IBTP of "
                f"type {ibtp.type.name} is proven by the broker's {names[topic]} (exactly one "
                f"topic, 0x{topic.hex()}, its signature hashed with the chain's "
                f"{'SM3' if tr.mode == 'sm' else 'keccak-256'})",
            )
        check_event_data(ibtp, log.data, hash_fn)

    def verify_header(self, tr: FiscoTrustRoot, proof: FiscoProof) -> VerifiedHeader:
        """Step 3 of the module docstring, memoised; the header's facts the rest needs."""
        key = (tr.identity, proof.block_hash)
        if self._memo_size:
            with self._lock:
                entry = self._memo.get(key)
                if entry is not None:
                    self._memo.move_to_end(key)
            if (
                entry is not None
                and entry.header == proof.header
                and entry.sig_list == proof.sig_list
            ):
                return entry
        hash_fn = _BY_MODE[tr.mode][0]
        computed = hash_fn(proof.header)
        if computed != proof.block_hash:
            raise ProofError(
                FiscoCode.HEADER_HASH_MISMATCH,
                f"the header hashes to 0x{computed.hex()}, not to the block hash "
                f"0x{proof.block_hash.hex()} the seals are over; send that block's header",
                block_hash="0x" + proof.block_hash.hex(),
                computed="0x" + computed.hex(),
            )
        header = decode_header(proof.header)
        sealers = tr.sealers_at(header.number)
        if sealers is None:
            first = tr.sealer_lists[0].from_height
            raise ProofError(
                FiscoCode.HEIGHT_BEFORE_TRUST_ROOT,
                f"block {header.number} is below height {first}, the first the trust root "
                "registers sealers for: it cannot be proven (register the sealers in force "
                "then, or prove a later block)",
                number=header.number,
                first_height=first,
            )
        if header.sealer_list != sealers.nodes:
            raise ProofError(
                FiscoCode.SEALER_LIST_MISMATCH,
                f"block {header.number}'s header lists {len(header.sealer_list)} sealers that are "
                f"not the {len(sealers.nodes)} registered from height {sealers.from_height}: the "
                "chain changed its sealers at a height the trust root does not say (update "
                "the trust root), or the block was sealed by a set not in force at its height",
                number=header.number,
                from_height=sealers.from_height,
            )
        signed = verify_sealed_header(proof.block_hash, proof.sig_list, sealers.nodes, tr.mode)
        verified = VerifiedHeader(
            proof.header, proof.sig_list, header.number, header.receipts_root, signed
        )
        if self._memo_size:
            with self._lock:
                self._memo[key] = verified
                self._memo.move_to_end(key)
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        return verified

    def clear_memo(self) -> None:
        with self._lock:
            self._memo.clear()


def _broker_bytes(broker: str) -> bytes:
    if type(broker) is not str or len(broker) != 42 or broker[:2] not in ("0x", "0X"):
        raise ProofError(
            FiscoCode.BAD_REGISTRATION,
            f"the chain's registered broker {str(broker)[:60]!r} is not a 0x 20-byte address",
        )
    try:
        return bytes.fromhex(broker[2:])
    except ValueError:
        raise ProofError(
            FiscoCode.BAD_REGISTRATION, f"the chain's registered broker {broker!r} is not hex"
        ) from None
