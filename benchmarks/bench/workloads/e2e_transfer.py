"""End-to-end interchain transfers between two EVM dev chains (a full round trip each).

One transaction of the benchmark is one ``AssetTransfer.transfer`` from ``src`` to
``dst``: chain → source gateway → relay (BEGIN) → destination gateway → mint on
``dst`` → relay (SUCCESS) → source gateway → ``invokeReceipt`` on ``src``. It counts
as **confirmed** when the source broker's CallbackEvent for it is in a block of
``src`` (the receipt was applied there), seen by this worker's log poller
(``poll``, default 20 ms: completion times are late by at most one poll); a
callback of a failure or rollback counts as failed (code ``callback-2`` /
``callback-3``).

Params: ``src``, ``dst`` (default chainA, chainB), ``users`` (funded accounts of
``src`` used, split over the workers; default 120), ``poll`` (s), ``presign``
(transfers signed in ``before_run``, per worker; more are signed when they run out).

The **reference** (``reference`` hook, before and after the load): the same dev
chains doing local, non-interchain transfers — ``reference_transfers`` plain value
transfers between ``src``'s last 8 accounts (not used by the load), sent at once
in JSON-RPC batches; units/s = transfers ÷ (last receipt - first send). So
``floor_ratio`` = interchain round trips/s ÷ local transfers/s: how much of a dev
chain's own transfer rate survives the relay and the gateways.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

from adapters.evm.client import sign_legacy_transaction
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.proof import INTERCHAIN_EVENT_TOPIC
from adapters.evm.rpc import hex_to_bytes, hex_to_int
from benchmarks.bench.topo import chain_setups
from benchmarks.bench.workload import BenchContext, Failed
from benchmarks.harness.e2e_workloads import (
    CallbackTracker,
    SignedTransfer,
    TransferSigner,
    send_raw,
)
from relay.crypto import keccak

REFERENCE_USERS = 8
#: Transactions per eth_sendRawTransaction batch of the sender task (at most).
SEND_BATCH = 250


class Sender:
    """Sends what ``run`` calls hand it in JSON-RPC batches: whatever has queued while
    the previous batch was in flight goes in the next one (at low rates a batch is a
    single transaction, so no latency is added waiting for a batch to fill). One
    request per transaction would cost the chain's server more than the transaction."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc
        self.send, self.receive = trio.open_memory_channel[tuple[bytes, trio.Event, list]](100_000)

    async def submit(self, raw: bytes) -> None:
        done = trio.Event()
        box: list[BaseException] = []
        await self.send.send((raw, done, box))
        await done.wait()
        if box:
            raise box[0]

    async def serve(self) -> None:
        async for first in self.receive:
            batch = [first]
            while len(batch) < SEND_BATCH:
                try:
                    batch.append(self.receive.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                await self.rpc.batch(
                    [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw, _, _ in batch]
                )
            except Exception as exc:
                for _, _, box in batch:
                    box.append(exc)
            for _, done, _ in batch:
                done.set()


class WaitingTracker(CallbackTracker):
    """A CallbackTracker that wakes exactly the transfer whose callback arrived."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.waiting: dict[bytes, trio.Event] = {}
        self.tx_of: dict[int, bytes] = {}

    def _take(self, lg: dict[str, Any], seen: float) -> int:
        new = super()._take(lg, seen)
        if hex_to_bytes(lg["topics"][0]) == INTERCHAIN_EVENT_TOPIC:
            tx = hex_to_bytes(lg["transactionHash"])
            index = self.index_of.get(tx)
            if index is not None:
                self.tx_of[index] = tx
                if index in self.done_at:
                    self._wake(tx)
        elif new:
            waiter = self.tx_of.get(next(reversed(self.done_at)))  # the callback just recorded
            if waiter is not None:
                self._wake(waiter)
        return new

    def _wake(self, tx: bytes) -> None:
        ev = self.waiting.get(tx)
        if ev is not None:
            ev.set()

    async def wait(self, tx: SignedTransfer) -> bool:
        """Wait for ``tx``'s callback; True if it was a success."""
        if self.completed(tx) is None:
            ev = self.waiting[tx.tx_hash] = trio.Event()
            try:
                while self.completed(tx) is None:
                    await ev.wait()
                    ev = self.waiting[tx.tx_hash] = trio.Event()
            finally:
                self.waiting.pop(tx.tx_hash, None)
        return self.index_of[tx.tx_hash] not in self.failed


def _names(ctx: BenchContext) -> tuple[str, str]:
    return str(ctx.params.get("src", "chainA")), str(ctx.params.get("dst", "chainB"))


async def before_run(ctx: BenchContext) -> None:
    src_name, dst_name = _names(ctx)
    chains = chain_setups(ctx.endpoints)
    src, dst = chains[src_name], chains[dst_name]
    n_users = min(int(ctx.params.get("users", 120)), len(src.users) - REFERENCE_USERS)
    mine = [u for k, u in enumerate(src.users[:n_users]) if k % ctx.workers == ctx.worker]
    if not mine:
        raise Failed("config", f"worker {ctx.worker}: no user accounts left for it")
    rpc = open_rpc(src.rpc_url, timeout=60.0)
    gas_price = hex_to_int(await rpc.call("eth_gasPrice"))
    signer = TransferSigner(src, dst, mine, gas_price=gas_price)
    await signer.sync_nonces(rpc)
    tracker = WaitingTracker(rpc, src.broker, src.service_id(src.asset), dst.service_id(dst.asset))
    await tracker.start_at_head()
    ctx.state.update(
        rpc=rpc,
        signer=signer,
        tracker=tracker,
        queue=deque(signer.sign(int(ctx.params.get("presign", 2000)))),
    )
    # The poller runs until after_run: a system task outlives the hooks' own scopes.
    cancel = trio.CancelScope()
    ctx.state["poller"] = cancel

    sender = ctx.state["sender"] = Sender(rpc)

    async def background() -> None:
        with cancel:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(tracker.serve, float(ctx.params.get("poll", 0.02)))
                nursery.start_soon(sender.serve)

    trio.lowlevel.spawn_system_task(background)


async def run(ctx: BenchContext, i: int) -> int:
    s = ctx.state
    queue: deque[SignedTransfer] = s["queue"]
    if not queue:
        queue.extend(s["signer"].sign(256))
    tx = queue.popleft()
    await s["sender"].submit(tx.raw)
    ok = await s["tracker"].wait(tx)
    if not ok:
        raise Failed("callback-failure", "the round trip ended in a failure or rollback")
    return 1


async def after_run(ctx: BenchContext) -> None:
    s = ctx.state
    if "poller" in s:
        s["poller"].cancel()
    if "rpc" in s:
        await s["rpc"].aclose()


async def reference(ctx: BenchContext) -> dict[str, Any]:
    """Local value transfers on ``src`` (see the module doc)."""
    src_name, _ = _names(ctx)
    src = chain_setups(ctx.endpoints)[src_name]
    users = src.users[-REFERENCE_USERS:]
    count = int(ctx.params.get("reference_transfers", 2000))
    rpc = open_rpc(src.rpc_url, timeout=60.0)
    try:
        gas_price = hex_to_int(await rpc.call("eth_gasPrice"))
        nonces = [
            hex_to_int(n)
            for n in await rpc.batch(
                [("eth_getTransactionCount", [u.address, "pending"]) for u in users]
            )
        ]
        chain_id = int(src.trust_root["evm_chain_id"])
        txs = []
        for k in range(count):
            u = k % len(users)
            raw = sign_legacy_transaction(
                users[u],
                nonce=nonces[u],
                gas_price=gas_price,
                gas=21_000,
                to=users[(u + 1) % len(users)].address,
                value=1,
                data=b"",
                chain_id=chain_id,
            )
            nonces[u] += 1
            txs.append(SignedTransfer(raw, keccak(raw)))
        t0 = trio.current_time()
        await send_raw(rpc, txs)
        last = txs[-len(users) :]  # each account's last: all are in once these are
        with trio.fail_after(120):
            while True:
                got = await rpc.batch(
                    [("eth_getTransactionReceipt", ["0x" + t.tx_hash.hex()]) for t in last]
                )
                if all(r is not None for r in got):
                    break
                await trio.sleep(0.01)
        elapsed = trio.current_time() - t0
    finally:
        await rpc.aclose()
    return {
        "per_s": round(count / elapsed, 2),
        "what": f"local value transfers on {src_name} ({count} sent at once, same dev chain)",
        "transfers": count,
        "seconds": round(elapsed, 3),
    }
