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

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
import trio

from relay.crypto import Account, keccak
from relay.errors import Code, RelayError
from relay.executor import Executor, Outbound, decode_outbound
from relay.genesis import Genesis
from relay.ibtp.digest import RELAY_PROOF_DOMAIN
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
from relay.metrics import Metrics
from relay.validation.registry import VerifierRegistry

log = logging.getLogger("relayhub.node")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path
    genesis: Genesis
    key: Account
    max_block_txs: int = 1000
    max_block_ibtps: int = 4000
    batch_time: float = 0.03
    max_sealed_blocks: int = 4
    idle_block_interval: float = 1.0
    durability: str = "normal"
    #: Where relay proofs are signed: ``"process"`` (a worker process for blocks that
    #: route at least ``RelayProofSigner.PROCESS_MIN`` IBTPs, the committer thread for
    #: smaller ones) or ``"thread"`` (always the committer thread).
    relay_signer: str = "process"


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
        self._hub_abi = _abi_dynamic(self.genesis.hub_id.encode())
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
            sealed.pending.committed.set()
            async with self._committed_cond:
                self._committed_cond.notify_all()

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
        proofs = self.signer.submit([(ibtp, status) for _, _, ibtp, status in routed])
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

    def relay_digest(self, out: Outbound) -> bytes:
        """The signed digest (docs/protocol.md §2.2) of an outbound entry."""
        return compute_relay_digest_of(self._hub_abi, out.ibtp, out.status)

    # --- queries (committed state only) ----------------------------------------

    async def wait_height(self, height: int) -> None:
        while self.head_height < height:
            await self._wait_commit()

    async def wait_outbound(self, chain: str, after_seq: int) -> None:
        """Return once chain's committed outbound queue has an entry past ``after_seq``."""
        while int(self.store.get_committed(f"outseq/{chain}") or 0) <= after_seq:
            await self._wait_commit()

    def outbound(self, chain: str, from_seq: int, limit: int = 500) -> list[dict[str, Any]]:
        last = int(self.store.get_committed(f"outseq/{chain}") or 0)
        sigs = self.store.relay_sigs(chain, from_seq, limit)
        out = []
        for seq in range(max(from_seq, 1), min(last, from_seq + limit - 1) + 1):
            v = self.store.get_committed(f"out/{chain}/{seq:016x}")
            if v is None:
                break
            o = decode_outbound(chain, seq, v)
            out.append({"seq": seq, "ibtp": o.ibtp, "status": o.status, "sigs": sigs.get(seq, [])})
        return out


# --- relay-proof digests -------------------------------------------------------------
#
# The committer signs one relay proof per routed IBTP. ``compute_signed_digest``
# (relay.ibtp.digest) is the reference: it decodes through eth-abi, which validates
# and dispatches per value and costs ~250 us an IBTP, as much as the rest of a
# block's finalisation together. The outbound entry was encoded by the executor from
# an IBTP it had validated, so the committer unpacks it without re-validating and
# lays out the same ABI words directly. ``verify_ledger`` re-checks every relay
# proof against the reference digest, so the two cannot drift unnoticed.

_U256_0 = bytes(32)
_U256_1 = (1).to_bytes(32, "big")


def _abi_dynamic(data: bytes) -> bytes:
    """ABI tail of a ``bytes`` / ``string`` value: length word, data zero-padded to 32."""
    return len(data).to_bytes(32, "big") + data + bytes(-len(data) % 32)


def _abi_payload_hash(func: str, args: list[bytes], encrypted: bool) -> bytes:
    """keccak256(abi.encode(string func, bytes[] args, bool encrypted))."""
    f = _abi_dynamic(func.encode())
    items = [_abi_dynamic(a) for a in args]
    offsets, pos = [], 32 * len(items)
    for it in items:
        offsets.append(pos.to_bytes(32, "big"))
        pos += len(it)
    return keccak(
        b"".join(
            (
                (96).to_bytes(32, "big"),
                (96 + len(f)).to_bytes(32, "big"),
                _U256_1 if encrypted else _U256_0,
                f,
                len(items).to_bytes(32, "big"),
                *offsets,
                *items,
            )
        )
    )


def compute_relay_digest_of(hub_abi: bytes, unproven_ibtp: bytes, status: int) -> bytes:
    """``compute_signed_digest(hub, ibtp, status)`` for the canonical bytes of an IBTP the
    executor encoded (so already validated); ``hub_abi`` is ``_abi_dynamic(hub id)``."""
    _v, src, dst, index, typ, _timeout, (func, args, enc), _proof, _extra = msgpack.unpackb(
        unproven_ibtp, raw=False
    )
    s, d = _abi_dynamic(src.encode()), _abi_dynamic(dst.encode())
    o2 = 256 + len(hub_abi)
    return keccak(
        b"".join(
            (
                RELAY_PROOF_DOMAIN,
                (256).to_bytes(32, "big"),
                o2.to_bytes(32, "big"),
                (o2 + len(s)).to_bytes(32, "big"),
                index.to_bytes(32, "big"),
                typ.to_bytes(32, "big"),
                _abi_payload_hash(func, args, enc),
                status.to_bytes(32, "big"),
                hub_abi,
                s,
                d,
            )
        )
    )


def sign_relay_proofs(
    key: Account, hub_abi: bytes, entries: list[tuple[bytes, int]]
) -> list[bytes]:
    """One relay-validator signature per (unproven IBTP bytes, status) entry."""
    return [key.sign(compute_relay_digest_of(hub_abi, ibtp, status)) for ibtp, status in entries]


def _signer_worker_main() -> None:
    """The relay-proof signer process (started by :class:`RelayProofSigner`).

    msgpack over stdin/stdout: first ``[secret, hub_id]`` in, ``"ready"`` out; then
    per request ``[id, [[ibtp, status], ...]]`` in, ``[id, [signature, ...]]`` out.
    Exits when stdin closes (the node closed it, or died)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the node decides when it stops
    out = sys.stdout.buffer
    requests = _read_messages(sys.stdin.buffer)
    secret, hub_id = next(requests)
    key, hub_abi = Account.from_key(secret), _abi_dynamic(hub_id.encode())
    out.write(msgpack.packb("ready"))
    out.flush()
    for rid, entries in requests:
        sigs = sign_relay_proofs(key, hub_abi, [(bytes(i), int(st)) for i, st in entries])
        out.write(msgpack.packb([rid, sigs], use_bin_type=True))
        out.flush()


def _read_messages(stream: Any) -> Iterator[Any]:
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
    while True:
        data = stream.read1(1 << 20)
        if not data:
            return
        unpacker.feed(data)
        yield from unpacker


class RelayProofSigner:
    """Signs a block's relay proofs, in a worker process when the block is large.

    Each routed IBTP costs a signed digest and a signature (~60 us, mostly Python).
    In the committer thread that Python holds the GIL the event loop needs for
    admission; in a worker process it runs on another core while the committer
    builds the block. The worker (``python -c ...``, so nothing of the node's main
    module is re-run) is started on the first block that routes ``PROCESS_MIN``
    IBTPs; until it says it is ready, and for small blocks, signing stays in the
    thread. If it cannot start or dies, signing falls back to the thread for good.
    Signatures are deterministic (RFC 6979): where they are made changes nothing
    in the ledger."""

    PROCESS_MIN = 256

    def __init__(self, key: Account, hub_id: str, mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise RelayError(Code.CONFIG, "relay_signer must be 'process' or 'thread'")
        self._key = key
        self._hub_id = hub_id
        self._hub_abi = _abi_dynamic(hub_id.encode())
        self._use_process = mode == "process"
        self._proc: subprocess.Popen[bytes] | None = None
        self._responses: Iterator[Any] | None = None
        self._ready = False
        self._last_id = 0
        #: Id of the request whose answer is still to be read (one at a time).
        self._outstanding: int | None = None
        self._lock = threading.Lock()

    def _worker(self) -> subprocess.Popen[bytes] | None:
        """The ready worker process, or None (not wanted, starting, or failed)."""
        if not self._use_process:
            return None
        if self._proc is None:
            root = str(Path(__file__).resolve().parent.parent)
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            }
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", "from relay.node import _signer_worker_main as m; m()"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
                assert self._proc.stdin is not None and self._proc.stdout is not None
                self._proc.stdin.write(
                    msgpack.packb([self._key.key.secret, self._hub_id], use_bin_type=True)
                )
                self._proc.stdin.flush()
                self._responses = _read_messages(self._proc.stdout)
            except OSError as exc:
                self._give_up(exc)
            return None
        if not self._ready:
            assert self._proc.stdout is not None and self._responses is not None
            if not select.select([self._proc.stdout], [], [], 0)[0]:
                return None  # still starting: this block is signed in the thread
            if next(self._responses, None) != "ready":
                self._give_up(EOFError("the signer process did not start"))
                return None
            self._ready = True
        return self._proc

    def submit(self, entries: list[tuple[bytes, int]]) -> Callable[[], list[bytes]]:
        """Start signing ``entries``; the returned function gives the signatures (call
        it before the next ``submit``)."""
        with self._lock:
            if self._outstanding is not None:  # an answer was never read: out of step
                self._give_up(RuntimeError("relay-proof request left unanswered"))
            proc = self._worker() if len(entries) >= self.PROCESS_MIN else None
            if proc is not None:
                assert proc.stdin is not None
                self._last_id += 1
                try:
                    proc.stdin.write(msgpack.packb([self._last_id, entries], use_bin_type=True))
                    proc.stdin.flush()
                except OSError as exc:
                    self._give_up(exc)
                else:
                    self._outstanding = self._last_id
                    return partial(self._result, self._last_id, entries)
        sigs = sign_relay_proofs(self._key, self._hub_abi, entries)
        return lambda: sigs

    def _result(self, rid: int, entries: list[tuple[bytes, int]]) -> list[bytes]:
        with self._lock:
            if self._outstanding == rid and self._responses is not None:
                self._outstanding = None
                err: BaseException = EOFError("the signer process exited")
                try:
                    answer = next(self._responses, None)
                except (OSError, ValueError) as exc:  # ValueError: msgpack refused the stream
                    answer, err = None, exc
                if (
                    isinstance(answer, list)
                    and len(answer) == 2
                    and answer[0] == rid
                    and isinstance(answer[1], list)
                    and len(answer[1]) == len(entries)
                ):
                    return answer[1]
                self._give_up(err)
        return sign_relay_proofs(self._key, self._hub_abi, entries)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("relay-proof signer process failed (%r); signing in-thread from now on", exc)
        self._use_process = False
        self._stop()

    def _stop(self) -> None:
        proc, self._proc, self._responses, self._ready = self._proc, None, None, False
        self._outstanding = None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()  # the worker exits on end of input
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._use_process = False
            self._stop()


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
            try:
                yield node
            finally:
                with trio.CancelScope(shield=True):
                    node._closing = True
                    while not node._try_seal():
                        await node._wait_commit()
                    while node._sealed:
                        await node._wait_commit()
                nursery.cancel_scope.cancel()
    finally:
        node.signer.close()
        node.store.close()
