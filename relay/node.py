"""The relay node: solo block production on top of the pure executor (I/O shell).

Admission executes each transaction against a *pending block* (a state layer on
top of any sealed-but-uncommitted blocks and the committed store). A refused
transaction is answered at once with its error and leaves no trace. The pending
block is sealed when it is full (``max_block_txs`` / ``max_block_ibtps``) or
``batch_time`` after its first transaction; sealed blocks are finalised (roots,
block signature, relay proofs) and written by a committer thread, one SQLite
transaction per block. At most ``max_sealed_blocks`` may wait for the committer;
beyond that admission answers MEMPOOL_FULL (503) instead of growing memory.

Block production sits behind this one class so a cluster mode can replace how a
sealed block is ordered and signed without touching execution.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from relay.config import RELAY_DEFAULTS as _D
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.executor import Executor, decode_outbound
from relay.genesis import Genesis
from relay.ledger.relay_proofs import RelayProofSigner
from relay.ledger.state import Layer, StateView
from relay.ledger.store import Store
from relay.ledger.types import (
    Block,
    BlockHeader,
    Transaction,
    TxReceipt,
    compute_block_hash,
    compute_receipt_root_of_encoded,
    compute_state_root,
    compute_tx_root,
    encode_state_diff_rows,
)
from relay.logs import BlockLog, describe_blocks
from relay.metrics import Metrics
from relay.refusals import RefusalLog, ibtp_id_of_item
from relay.validation.registry import VerifierRegistry

log = logging.getLogger("relayhub.relay")


#: Refusals that say the sender is no gateway of the IBTP's submitting chain: not kept
#: as that IBTP's last refusal (anyone could otherwise write one for any IBTP ID).
_NOT_ITS_GATEWAY = frozenset({int(Code.UNAUTHORIZED), int(Code.WRONG_SUBMITTER)})


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path
    genesis: Genesis
    key: Account
    # Defaults are the schema's (relay.config.RelaySection); every field below is a
    # key of ``[relay]`` in relay.toml.
    max_block_txs: int = _D.max_block_txs
    max_block_ibtps: int = _D.max_block_ibtps
    batch_time: float = _D.batch_time
    max_sealed_blocks: int = _D.max_sealed_blocks
    idle_block_interval: float = _D.idle_block_interval
    durability: str = _D.durability
    #: Where relay proofs are signed: ``"process"`` (a worker process for blocks that
    #: route at least ``RelayProofSigner.PROCESS_MIN`` IBTPs, the committer thread for
    #: smaller ones) or ``"thread"`` (always the committer thread).
    relay_signer: str = _D.relay_signer
    #: At most one "committed N blocks" log line this often.
    block_log_interval: float = _D.block_log_interval


@dataclass(eq=False)
class _Pending:
    height: int
    layer: Layer
    view: StateView
    txs: list[Transaction] = field(default_factory=list)
    receipts: list[TxReceipt] = field(default_factory=list)
    ibtps: int = 0
    first_at: float | None = None
    dirty: bool = False
    committed: trio.Event = field(default_factory=trio.Event)
    error: RelayError | None = None


@dataclass
class _Sealed:
    pending: _Pending
    timestamp_ms: int


class Node:
    def __init__(self, config: NodeConfig, verifiers: VerifierRegistry | None = None) -> None:
        self.config = config
        self.genesis = config.genesis
        self.key = config.key
        self.metrics = Metrics()
        self.store = Store(config.data_dir / "ledger.sqlite3", config.durability)
        known = self.store.get_meta("genesis")
        if known is None:
            self.store.set_meta("genesis", self.genesis.to_dict())
        elif known != self.genesis.to_dict():
            raise RelayError(
                Code.CONFIG,
                f"{config.data_dir} holds a ledger of another genesis; use a fresh data dir",
            )
        self.executor = Executor(self.genesis, verifiers or VerifierRegistry.from_entry_points())
        self.signer = RelayProofSigner(self.key, self.genesis.hub_id, config.relay_signer)
        head = self.store.head()
        if head is None:
            self.head_height, self.head_hash, self.head_state = (
                0,
                self.genesis.hash,
                self.genesis.hash,
            )
            self.head_ts = 0
        else:
            self.head_height, self.head_hash, self.head_state = head
            blk = self.store.get_block(self.head_height)
            self.head_ts = blk.header.timestamp_ms if blk else 0
        self.metrics.height.set(self.head_height)
        self._sealed: deque[_Sealed] = deque()
        self._pending = self._new_pending(self.head_height + 1)
        self._work = trio.Event()
        self._seal_now = trio.Event()
        self._commit_send, self._commit_recv = trio.open_memory_channel[_Sealed](
            config.max_sealed_blocks + 1
        )
        self._committed_cond = trio.Condition()
        self._closing = False
        #: The last admission refusal per IBTP ID (memory only, bounded; not state).
        self.refusals = RefusalLog()
        self.block_log = BlockLog(config.block_log_interval)

    # --- admission ------------------------------------------------------------

    def _new_pending(self, height: int) -> _Pending:
        layer = Layer()
        view = StateView(self.store, [*(s.pending.layer for s in self._sealed), layer])
        p = _Pending(height, layer, view)
        timed_out = self.executor.begin_block(view, height)
        if timed_out:
            p.dirty = True
            self.metrics.timeouts.inc(timed_out)
        return p

    @property
    def mempool_size(self) -> int:
        return len(self._pending.txs) + sum(len(s.pending.txs) for s in self._sealed)

    def admit(self, tx: Transaction) -> tuple[TxReceipt, _Pending]:
        """Execute ``tx`` into the pending block or raise its RelayError (state unchanged)."""
        if self._closing:
            raise RelayError(
                Code.SHUTTING_DOWN, "the node is shutting down; retry elsewhere or later"
            )
        p = self._pending
        if len(p.txs) >= self.config.max_block_txs or p.ibtps >= self.config.max_block_ibtps:
            if not self._try_seal():
                self.metrics.txs_refused.labels(str(int(Code.MEMPOOL_FULL))).inc()
                raise RelayError(
                    Code.MEMPOOL_FULL,
                    "the mempool is full (blocks are waiting to be written); back off and retry",
                    retry_after=1,
                )
            p = self._pending
        view, layer = p.view.child()
        try:
            receipt = self.executor.apply_tx(view, tx, p.height, len(p.txs))
        except RelayError as exc:
            self.metrics.txs_refused.labels(str(exc.code)).inc()
            raise
        p.view.merge(layer)
        p.txs.append(tx)
        p.receipts.append(receipt)
        if tx.kind == "ibtp":
            p.ibtps += len(tx.body)
            dups = sum(1 for r in receipt.results if r[2])
            self.metrics.ibtps.labels("new").inc(len(receipt.results) - dups)
            self.metrics.ibtps.labels("duplicate").inc(dups)
        self.metrics.txs_accepted.labels(tx.kind).inc()
        self.metrics.mempool_txs.set(self.mempool_size)
        if p.first_at is None:
            p.first_at = trio.current_time()
            self._work.set()
        if len(p.txs) >= self.config.max_block_txs or p.ibtps >= self.config.max_block_ibtps:
            self._try_seal()
        return receipt, p

    async def submit(
        self, txs: list[Transaction], wait_commit: bool = False
    ) -> list[dict[str, Any]]:
        """Admit each transaction; per-transaction result dicts. With ``wait_commit``,
        return once every admitted one is in a committed block."""
        results: list[dict[str, Any]] = []
        waits: list[_Pending] = []
        for tx in txs:
            try:
                receipt, p = self.admit(tx)
            except RelayError as exc:
                results.append({"ok": False, "tx": tx.hash.hex(), **exc.to_dict()})
                if tx.kind == "ibtp" and "item" in exc.details and exc.code not in _NOT_ITS_GATEWAY:
                    # Refused because of that IBTP (after the signature check), by a
                    # gateway of its submitting chain: a key that is not one cannot
                    # overwrite what the IBTP's own gateways were told.
                    ibtp_id = ibtp_id_of_item(tx.body, exc.details["item"])
                    if ibtp_id is not None:
                        self.refusals.record(ibtp_id, exc, tx.sender, self.head_height)
                continue
            results.append(
                {
                    "ok": True,
                    "tx": tx.hash.hex(),
                    "height": receipt.height,
                    "results": list(receipt.results),
                }
            )
            waits.append(p)
            await trio.lowlevel.checkpoint()
        if wait_commit:
            for p in dict.fromkeys(waits):
                await p.committed.wait()
                if p.error is not None:
                    raise p.error
        return results

    def _try_seal(self) -> bool:
        """Seal the pending block if the committer has room; False when it has none."""
        p = self._pending
        if len(self._sealed) >= self.config.max_sealed_blocks:
            return False
        if not p.txs and not p.dirty:
            return True
        ts = max(time.time_ns() // 1_000_000, self.head_ts)
        sealed = _Sealed(p, ts)
        self._sealed.append(sealed)
        self._commit_send.send_nowait(sealed)
        self._pending = self._new_pending(p.height + 1)
        if self._pending.dirty:
            self._work.set()
        return True

    # --- block production -----------------------------------------------------

    async def serve_producer(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Seal the pending block ``batch_time`` after its first transaction, or every
        ``idle_block_interval`` while timeouts are open (so they fire)."""
        task_status.started()
        while True:
            with trio.move_on_after(self.config.idle_block_interval):
                await self._work.wait()
            self._work = trio.Event()
            p = self._pending
            if p.first_at is not None:
                await trio.sleep_until(p.first_at + self.config.batch_time)
                if self._pending is p:
                    while not self._try_seal():
                        await self._wait_commit()
            elif p.dirty or self.executor.has_open_timeouts(p.view):
                p.dirty = True
                while self._pending is p and not self._try_seal():
                    await self._wait_commit()

    async def _wait_commit(self) -> None:
        async with self._committed_cond:
            await self._committed_cond.wait()

    async def serve_committer(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for sealed in self._commit_recv:
            t0 = time.perf_counter()
            try:
                block, relay_count = await trio.to_thread.run_sync(self._finalize_and_write, sealed)
            except RelayError as exc:
                sealed.pending.error = exc
                sealed.pending.committed.set()
                raise
            self.head_height, self.head_hash = block.header.height, block.hash
            self.head_state, self.head_ts = block.header.state_root, block.header.timestamp_ms
            self._sealed.popleft()
            p = self._pending
            if len(p.txs) >= self.config.max_block_txs or p.ibtps >= self.config.max_block_ibtps:
                self._try_seal()  # it filled up while the committer had no room
            m = self.metrics
            m.commit_seconds.observe(time.perf_counter() - t0)
            m.blocks.inc()
            m.height.set(self.head_height)
            m.block_txs.observe(len(block.txs))
            m.outbound.inc(relay_count)
            m.mempool_txs.set(self.mempool_size)
            self.block_log.add(self.head_height, len(block.txs), sealed.pending.ibtps, relay_count)
            sealed.pending.committed.set()
            async with self._committed_cond:
                self._committed_cond.notify_all()

    async def serve_block_log(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """One INFO line per ``block_log_interval`` at most, summing up the blocks
        committed since the last one (nothing while nothing is committed)."""
        task_status.started()
        while True:
            await trio.sleep(self.block_log.interval)
            self.log_blocks()

    def log_blocks(self) -> None:
        summary = self.block_log.take(trio.current_time())
        if summary is not None:
            log.info(describe_blocks(summary), extra=summary)

    def _finalize_and_write(self, sealed: _Sealed) -> tuple[Block, int]:
        """Runs in the committer thread: roots, block hash and signature, relay proofs,
        then one atomic SQLite write."""
        p = sealed.pending
        writes = p.layer.writes
        routed = []
        for key, value in writes.items():
            if key.startswith("out/") and value is not None:
                _, chain, seq = key.split("/")
                routed.append((chain, int(seq, 16), bytes(value[0]), int(value[1])))
        # Relay proofs are signed (maybe in the signer process) while the block is built.
        proofs = self.signer.submit([(chain, ibtp, status) for chain, _, ibtp, status in routed])
        diff, rows = encode_state_diff_rows(writes)
        receipts = [r.encode() for r in p.receipts]
        header = BlockHeader(
            height=p.height,
            parent_hash=self.head_hash,
            timestamp_ms=sealed.timestamp_ms,
            tx_root=compute_tx_root([tx.hash for tx in p.txs]),
            receipt_root=compute_receipt_root_of_encoded(receipts),
            state_root=compute_state_root(self.head_state, diff),
            proposer=self.key.address,
        )
        bhash = compute_block_hash(header)
        block = Block(header, bhash, (self.key.sign(bhash),), tuple(p.txs), tuple(p.receipts))
        relay_sigs = [
            (chain, seq, [sig]) for (chain, seq, _, _), sig in zip(routed, proofs(), strict=True)
        ]
        self.store.commit_block(block, diff, writes, relay_sigs, rows=rows, receipts=receipts)
        return block, len(relay_sigs)

    # --- queries (committed state only) ----------------------------------------

    async def wait_height(self, height: int) -> None:
        while self.head_height < height:
            await self._wait_commit()

    async def wait_outbound(self, chain: str, after_seq: int) -> None:
        """Return once chain's committed outbound queue has an entry past ``after_seq``."""
        while int(self.store.get_committed(f"outseq/{chain}") or 0) <= after_seq:
            await self._wait_commit()

    def outbound(self, chain: str, from_seq: int, limit: int = 500) -> dict[str, Any]:
        """A page of the IBTPs routed to ``chain`` from ``from_seq``, with relay proofs:
        ``{"entries": [{seq, ibtp, status, sigs}], "last_seq": n}`` (docs/api.md)."""
        last = int(self.store.get_committed(f"outseq/{chain}") or 0)
        sigs = self.store.relay_sigs(chain, from_seq, limit)
        out = []
        for seq in range(max(from_seq, 1), min(last, from_seq + limit - 1) + 1):
            v = self.store.get_committed(f"out/{chain}/{seq:016x}")
            if v is None:
                break
            o = decode_outbound(chain, seq, v)
            out.append({"seq": seq, "ibtp": o.ibtp, "status": o.status, "sigs": sigs.get(seq, [])})
        return {"entries": out, "last_seq": last}


@asynccontextmanager
async def open_node(
    config: NodeConfig, verifiers: VerifierRegistry | None = None
) -> AsyncIterator[Node]:
    """Open the ledger, start block production, yield the node; on exit the pending
    block is committed (shielded) before the store closes."""
    node = Node(config, verifiers)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.serve_committer)
            await nursery.start(node.serve_producer)
            await nursery.start(node.serve_block_log)
            try:
                yield node
            finally:
                with trio.CancelScope(shield=True):
                    node._closing = True
                    while not node._try_seal():
                        await node._wait_commit()
                    while node._sealed:
                        await node._wait_commit()
                    node.block_log.interval = 0.0  # the last blocks' line, now
                    node.log_blocks()
                nursery.cancel_scope.cancel()
    finally:
        node.signer.close()
        node.store.close()
