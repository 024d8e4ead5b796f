"""Re-check a whole ledger and report the first inconsistency (``relayhub relay verify``).

Checks, block by block: heights are contiguous from 1; each parent hash links to
the previous block (block 1 to the genesis hash); the header hashes to the stored
hash; at least ``validator_threshold`` distinct genesis validators signed it; the
transaction and receipt roots recompute from the stored transactions and
receipts; every transaction's signature recovers to its sender; the state root
recomputes from the stored diff; every relay proof recovers to a validator.
Then the state table must equal the fold of all diffs, and the head record must
name the last block. With ``replay`` every block is also re-executed from genesis
through the executor and must reproduce its diff and receipts exactly.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from relay.crypto import recover_address
from relay.errors import RelayError
from relay.executor import Executor, decode_outbound
from relay.genesis import Genesis
from relay.ibtp import compute_signed_digest
from relay.ibtp.codec import ibtp_from_obj
from relay.ledger.state import Layer, MemoryReader, StateView
from relay.ledger.store import Store
from relay.ledger.types import (
    compute_block_hash,
    compute_receipt_root,
    compute_state_root,
    compute_tx_root,
    encode_state_diff,
    verify_tx_signature,
)
from relay.validation.registry import VerifierRegistry


@dataclass
class VerifyReport:
    ok: bool = True
    blocks: int = 0
    txs: int = 0
    relay_proofs: int = 0
    replayed: bool = False
    first_error: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, height: int, what: str) -> VerifyReport:
        self.ok = False
        self.first_error = {"height": height, "what": what}
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "blocks": self.blocks,
            "txs": self.txs,
            "relay_proofs": self.relay_proofs,
            "replayed": self.replayed,
            "first_error": self.first_error,
        }


def verify_ledger(
    path: Path, genesis: Genesis, replay: bool = False, verifiers: VerifierRegistry | None = None
) -> VerifyReport:
    store = Store(path)
    try:
        return _verify(store, genesis, replay, verifiers)
    finally:
        store.close()


def _verify(
    store: Store, genesis: Genesis, replay: bool, verifiers: VerifierRegistry | None
) -> VerifyReport:
    rep = VerifyReport(replayed=replay)
    stored_genesis = store.get_meta("genesis")
    if stored_genesis is not None and stored_genesis != genesis.to_dict():
        return rep.fail(0, "the ledger was created with another genesis")
    validators = set(genesis.validators)
    parent, state_root, height = genesis.hash, genesis.hash, 0
    folded = MemoryReader()
    executor = (
        Executor(genesis, verifiers or VerifierRegistry.from_entry_points()) if replay else None
    )
    blocks = store.iter_blocks()
    while True:
        try:
            block, diff = next(blocks)
        except StopIteration:
            break
        except (RelayError, ValueError, TypeError) as exc:
            text = exc.message if isinstance(exc, RelayError) else repr(exc)
            return rep.fail(height + 1, f"a stored block or transaction does not decode: {text}")
        h = block.header
        height += 1
        if h.height != height:
            return rep.fail(height, f"expected block {height}, found {h.height}")
        if h.parent_hash != parent:
            return rep.fail(height, "parent hash does not link to the previous block")
        if compute_block_hash(h) != block.hash:
            return rep.fail(height, "header does not hash to the stored block hash")
        signers = set()
        for sig in block.signatures:
            try:
                signers.add(recover_address(block.hash, sig))
            except RelayError:
                return rep.fail(height, "a block signature is malformed")
        if len(signers & validators) < genesis.validator_threshold:
            return rep.fail(height, "block is not signed by a threshold of relay validators")
        if compute_tx_root([tx.hash for tx in block.txs]) != h.tx_root:
            return rep.fail(height, "transaction root does not match the stored transactions")
        if compute_receipt_root(list(block.receipts)) != h.receipt_root:
            return rep.fail(height, "receipt root does not match the stored receipts")
        for tx in block.txs:
            try:
                verify_tx_signature(tx)
            except RelayError as exc:
                return rep.fail(height, f"transaction {tx.hash.hex()}: {exc.message}")
        state_root = compute_state_root(state_root, diff)
        if state_root != h.state_root:
            return rep.fail(height, "state root does not match the stored state diff")
        writes = {k: v for k, v in msgpack.unpackb(diff, raw=False)}
        if executor is not None:
            err = _replay_block(executor, folded, block, writes)
            if err:
                return rep.fail(height, err)
        for key, value in writes.items():
            if key.startswith("out/") and value is not None:
                _, chain, seq = key.split("/")
                out = decode_outbound(chain, int(seq, 16), value)
                sigs = store.relay_sigs(chain, out.seq, 1).get(out.seq, [])
                ibtp = ibtp_from_obj(msgpack.unpackb(out.ibtp, raw=False))
                digest = compute_signed_digest(genesis.hub_id, chain, ibtp, out.status)
                ok = set()
                for s in sigs:
                    with contextlib.suppress(RelayError):
                        ok.add(recover_address(digest, s))
                if len(ok & validators) < genesis.validator_threshold:
                    return rep.fail(height, f"relay proof of {chain} #{out.seq} does not verify")
                rep.relay_proofs += 1
        folded.apply(writes)
        parent = block.hash
        rep.blocks += 1
        rep.txs += len(block.txs)
    head = store.head()
    if rep.blocks and (head is None or head[0] != height or head[1] != parent):
        return rep.fail(height, "head record does not name the last block")
    live = dict(store.iter_state())
    if live != folded.data:
        missing = sorted(set(folded.data) - set(live))[:3]
        extra = sorted(set(live) - set(folded.data))[:3]
        changed = sorted(k for k in set(live) & set(folded.data) if live[k] != folded.data[k])[:3]
        return rep.fail(
            height,
            f"state table differs from the fold of block diffs (missing {missing}, "
            f"extra {extra}, changed {changed})",
        )
    return rep


def _replay_block(
    executor: Executor, folded: MemoryReader, block: Any, writes: dict[str, Any]
) -> str | None:
    layer = Layer()
    view = StateView(folded, [layer])
    executor.begin_block(view, block.header.height)
    for i, (tx, receipt) in enumerate(zip(block.txs, block.receipts, strict=True)):
        child, child_layer = view.child()
        try:
            got = executor.apply_tx(child, tx, block.header.height, i)
        except RelayError as exc:
            return f"replay: transaction {i} is refused on replay: {exc.message}"
        view.merge(child_layer)
        if got.encode() != receipt.encode():
            return f"replay: transaction {i} gives a different receipt"
    if encode_state_diff(layer.writes) != encode_state_diff(writes):
        return "replay: re-execution gives a different state diff"
    return None
