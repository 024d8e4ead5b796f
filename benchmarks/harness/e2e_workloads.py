"""Reusable workloads of the end-to-end transfer benchmark (``benchmarks/e2e_transfer.py``).

A round trip is ``AssetTransfer.transfer`` on the source chain → InterchainEvent →
source gateway → relay (BEGIN) → destination gateway → ``invokeInterchain`` (mint)
→ ReceiptEvent → destination gateway → relay (SUCCESS) → source gateway →
``invokeReceipt`` → the source broker's **CallbackEvent**. A transfer counts as
complete only when that CallbackEvent is in a block of the source chain (the
receipt was *applied* there), not when the relay records SUCCESS.

Pieces, each usable on its own (by this benchmark or a future ``relayhub bench run``):

* :class:`TransferSigner` pre-signs ``transfer`` transactions for many user
  accounts, round robin, each with its own nonce stream, so that any prefix of
  the list can be sent in one go and the chain can include them in any
  interleaving. Signing happens before timing starts.
* :func:`send_raw` pushes pre-signed transactions in JSON-RPC batches.
* :class:`CallbackTracker` follows the source broker's logs with ``eth_getLogs``:
  InterchainEvent gives ``tx hash -> index`` (the broker numbers a pair's requests
  in inclusion order, not send order), CallbackEvent ``index -> completion time``.
* :func:`run_throughput` (closed batch: offer a fixed count faster than the
  pipeline absorbs it) and :func:`run_latency` (open loop: intended send times
  ``t0 + i / rate``, latency counted from the intended time, so a sender that
  falls behind does not hide the queueing — no coordinated omission).
* :func:`process_cpu_seconds` reads a process's user + system CPU time from
  ``/proc``, to attribute cost per transfer to each process.

Time is ``trio.current_time()`` (monotonic) everywhere.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from eth_abi import decode as abi_decode

from adapters.evm.client import calldata, sign_legacy_transaction
from adapters.evm.proof import (
    CALLBACK_EVENT_TOPIC,
    CALLBACK_EVENT_TYPES,
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
)
from adapters.evm.rpc import EthRpc, RpcError, hex_to_bytes, hex_to_int
from benchmarks.harness.topology import ChainSetup
from relay.crypto import Account, keccak

#: Gas given to each ``transfer``; the native AssetTransfer uses about a tenth.
TRANSFER_GAS = 600_000
#: Transactions per ``eth_sendRawTransaction`` batch (the dev chain takes up to 1,000).
SEND_BATCH = 250
#: Blocks per ``eth_getLogs`` query of the tracker (stays under the 10,000-log cap).
LOG_BLOCK_SPAN = 200
#: CallbackEvent typ of a successful receipt.
TYP_SUCCESS = 1


# --- signing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedTransfer:
    raw: bytes
    tx_hash: bytes  # keccak(raw), what the chain calls it


class TransferSigner:
    """Pre-signs ``AssetTransfer.transfer(dst, recipient, amount, timeout)`` on ``src``.

    Transactions are assigned to ``users`` round robin; each user's nonces are
    consecutive from :attr:`nonces` (fetch them with :meth:`sync_nonces`), so the
    first ``k`` transactions of any :meth:`sign` result are sendable on their own.
    """

    def __init__(
        self,
        src: ChainSetup,
        dst: ChainSetup,
        users: Sequence[Account],
        *,
        gas_price: int,
        amount: int = 1,
        timeout: int = 0,
        gas: int = TRANSFER_GAS,
    ) -> None:
        if not users:
            raise ValueError("need at least one user account")
        self.src, self.dst, self.users = src, dst, list(users)
        self.gas_price, self.gas = gas_price, gas
        self.nonces = [0] * len(self.users)
        self._next_user = 0
        # Every user sends to its namesake on the destination chain (any address works).
        self._data = [
            calldata(
                "transfer(string,address,uint256,uint64)",
                [dst.service_id(dst.asset), dst.users[i % len(dst.users)].address, amount, timeout],
            )
            for i in range(len(self.users))
        ]

    async def sync_nonces(self, rpc: EthRpc) -> None:
        got = await rpc.batch(
            [("eth_getTransactionCount", [u.address, "pending"]) for u in self.users]
        )
        self.nonces = [hex_to_int(n) for n in got]

    def sign(self, count: int) -> list[SignedTransfer]:
        out = []
        for _ in range(count):
            u = self._next_user
            self._next_user = (u + 1) % len(self.users)
            raw = sign_legacy_transaction(
                self.users[u],
                nonce=self.nonces[u],
                gas_price=self.gas_price,
                gas=self.gas,
                to=self.src.asset,
                value=0,
                data=self._data[u],
                chain_id=int(self.src.trust_root["evm_chain_id"]),  # an EVM-family chain
            )
            self.nonces[u] += 1
            out.append(SignedTransfer(raw, keccak(raw)))
        return out


async def send_raw(rpc: EthRpc, txs: Sequence[SignedTransfer], batch: int = SEND_BATCH) -> None:
    """``eth_sendRawTransaction`` for each, in JSON-RPC batches; any refusal raises."""
    for lo in range(0, len(txs), batch):
        chunk = txs[lo : lo + batch]
        await rpc.batch([("eth_sendRawTransaction", ["0x" + t.raw.hex()]) for t in chunk])


# --- completion tracking -------------------------------------------------------


class CallbackTracker:
    """Follows the source broker's InterchainEvent / CallbackEvent logs for one pair.

    ``index_of[tx_hash]`` is the broker index a transfer got; ``done_at[index]`` the
    time a poll first saw that index's CallbackEvent (an upper bound of when the
    block applying it was made: at most one poll interval late); ``failed`` the
    indices whose callback was a failure or rollback (typ 2 / 3).
    """

    def __init__(self, rpc: EthRpc, broker: str, src_service: str, dst_service: str) -> None:
        self.rpc = rpc
        self.broker = broker.lower()
        self.pair = (src_service, dst_service)
        self.index_of: dict[bytes, int] = {}
        self.done_at: dict[int, float] = {}
        self.failed: set[int] = set()
        self.next_block = 0
        self.changed = trio.Event()

    async def start_at_head(self) -> None:
        self.next_block = hex_to_int(await self.rpc.call("eth_blockNumber")) + 1

    def _filter(self, lo: int, hi: int | str) -> dict[str, Any]:
        return {
            "fromBlock": hex(lo),
            "toBlock": hi if isinstance(hi, str) else hex(hi),
            "address": self.broker,
            "topics": [["0x" + INTERCHAIN_EVENT_TOPIC.hex(), "0x" + CALLBACK_EVENT_TOPIC.hex()]],
        }

    async def poll_once(self) -> int:
        """Read new logs up to the head; return how many callbacks were new.

        One HTTP request per poll (a batch of ``eth_blockNumber`` and ``eth_getLogs`` to
        ``latest``), so that tracking loads the source chain as little as possible; logs
        of a block read twice (if the head moved between the two) are ignored the
        second time. After a long gap, falls back to fixed block spans."""
        new = 0
        try:
            flt = self._filter(self.next_block, "latest")
            head_hex, logs = await self.rpc.batch([("eth_blockNumber", []), ("eth_getLogs", [flt])])
            seen = trio.current_time()
            for lg in logs or []:
                new += self._take(lg, seen)
            self.next_block = max(self.next_block, hex_to_int(head_hex) + 1)
        except RpcError:  # too many logs at once: walk the range in spans
            head = hex_to_int(await self.rpc.call("eth_blockNumber"))
            while self.next_block <= head:
                to = min(head, self.next_block + LOG_BLOCK_SPAN - 1)
                logs = await self.rpc.call("eth_getLogs", self._filter(self.next_block, to))
                seen = trio.current_time()
                for lg in logs or []:
                    new += self._take(lg, seen)
                self.next_block = to + 1
        if new:
            self.changed.set()
            self.changed = trio.Event()
        return new

    def _take(self, lg: dict[str, Any], seen: float) -> int:
        topic = hex_to_bytes(lg["topics"][0])
        data = hex_to_bytes(lg["data"])
        if topic == INTERCHAIN_EVENT_TOPIC:
            src, dst, index, *_ = abi_decode(INTERCHAIN_EVENT_TYPES, data)
            if (src, dst) == self.pair:
                self.index_of[hex_to_bytes(lg["transactionHash"])] = int(index)
            return 0
        src, dst, index, typ = abi_decode(CALLBACK_EVENT_TYPES, data)
        if (src, dst) != self.pair or index in self.done_at:
            return 0
        self.done_at[int(index)] = seen
        if typ != TYP_SUCCESS:
            self.failed.add(int(index))
        return 1

    async def serve(
        self, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await self.poll_once()
            await trio.sleep(interval)

    def completed(self, tx: SignedTransfer) -> float | None:
        index = self.index_of.get(tx.tx_hash)
        return None if index is None else self.done_at.get(index)

    async def wait_all(self, txs: Sequence[SignedTransfer], deadline: float) -> int:
        """Wait (until ``deadline``, a ``trio.current_time()``) for every transfer's
        callback; return how many are still missing."""
        remaining = list(txs)
        with trio.move_on_at(deadline):
            while True:
                remaining = [t for t in remaining if self.completed(t) is None]
                if not remaining:
                    break
                await self.changed.wait()
        return sum(1 for t in remaining if self.completed(t) is None)


# --- phases ----------------------------------------------------------------------


@dataclass
class ThroughputRun:
    transfers: int
    offered_per_s: float  # how fast the client pushed them into the source chain
    completed_per_s: float  # transfers / (last completion - first send)
    steady_per_s: float  # between the 10th and the 90th percentile completion
    seconds: float
    missing: int
    failed: int
    cpu_s: dict[str, float] = field(default_factory=dict)


async def run_throughput(
    rpc: EthRpc,
    tracker: CallbackTracker,
    txs: Sequence[SignedTransfer],
    *,
    deadline_s: float,
    pids: dict[str, int] | None = None,
) -> ThroughputRun:
    """Offer all of ``txs`` (pre-signed) at once and time until the last round trip ends."""
    cpu0 = {n: process_cpu_seconds(p) for n, p in (pids or {}).items()}
    t0 = trio.current_time()
    await send_raw(rpc, txs)
    t_sent = trio.current_time()
    missing = await tracker.wait_all(txs, t0 + deadline_s)
    cpu = {n: process_cpu_seconds(p) - cpu0[n] for n, p in (pids or {}).items()}
    done = sorted(t for t in (tracker.completed(x) for x in txs) if t is not None)
    n = len(txs)
    end = done[-1] if done else trio.current_time()
    elapsed = max(end - t0, 1e-9)
    lo, hi = done[len(done) // 10] if done else t0, done[(len(done) * 9) // 10 - 1] if done else t0
    steady = (len(done) * 8 // 10) / (hi - lo) if hi > lo else 0.0
    failed = sum(1 for x in txs if tracker.index_of.get(x.tx_hash, -1) in tracker.failed)
    return ThroughputRun(
        transfers=n,
        offered_per_s=n / max(t_sent - t0, 1e-9),
        completed_per_s=(n - missing) / elapsed,
        steady_per_s=steady,
        seconds=elapsed,
        missing=missing,
        failed=failed,
        cpu_s=cpu,
    )


@dataclass
class LatencyRun:
    rate: float
    transfers: int
    latencies_s: list[float]  # per transfer, from its intended send time; missing ones excluded
    missing: int
    failed: int
    max_send_lag_s: float  # how far the sender ever fell behind the schedule
    seconds: float
    cpu_s: dict[str, float] = field(default_factory=dict)


async def run_latency(
    rpc: EthRpc,
    tracker: CallbackTracker,
    txs: Sequence[SignedTransfer],
    rate: float,
    *,
    tick: float = 0.01,
    drain_s: float = 30.0,
    pids: dict[str, int] | None = None,
) -> LatencyRun:
    """Open-loop load: transfer ``i`` is due at ``t0 + i / rate``; each round sends, in one
    batch, everything due by then (at least ``tick`` apart). Latency is completion time
    minus *intended* time, so falling behind shows up in the figures."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    cpu0 = {n: process_cpu_seconds(p) for n, p in (pids or {}).items()}
    n = len(txs)
    t0 = trio.current_time() + 0.05
    intended = [t0 + i / rate for i in range(n)]
    sent = 0
    max_lag = 0.0
    while sent < n:
        now = trio.current_time()
        due = min(n, math.floor((now - t0) * rate) + 1) if now >= t0 else 0
        if due > sent:
            max_lag = max(max_lag, now - intended[sent])
            await send_raw(rpc, txs[sent:due])
            sent = due
            if sent >= n:
                break
        await trio.sleep_until(max(intended[sent], trio.current_time() + tick))
    missing = await tracker.wait_all(txs, intended[-1] + drain_s)
    cpu = {k: process_cpu_seconds(p) - cpu0[k] for k, p in (pids or {}).items()}
    latencies = []
    for tx, t in zip(txs, intended, strict=True):
        done = tracker.completed(tx)
        if done is not None:
            latencies.append(done - t)
    failed = sum(1 for x in txs if tracker.index_of.get(x.tx_hash, -1) in tracker.failed)
    return LatencyRun(
        rate=rate,
        transfers=n,
        latencies_s=latencies,
        missing=missing,
        failed=failed,
        max_send_lag_s=max_lag,
        seconds=trio.current_time() - t0,
        cpu_s=cpu,
    )


# --- helpers ---------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``); 0 if it is gone.
    ``pid`` 0 means the whole machine: every core's non-idle time (``/proc/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        if pid == 0:
            cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in cpu[:8])
            return (user + nice + system + irq + softirq + steal) / ticks
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / ticks


async def wait_quiet(
    pids: dict[str, int], timeout: float, *, threshold: float = 0.25, window: float = 2.0
) -> float:
    """Wait (at most ``timeout`` seconds) until processes other than ``pids`` used less
    than ``threshold`` cores over ``window`` seconds; return the last such reading."""
    if timeout <= 0:
        return 0.0
    deadline = trio.current_time() + timeout
    others = 0.0
    while True:
        ours0 = sum(process_cpu_seconds(p) for n, p in pids.items() if p)
        all0 = process_cpu_seconds(0)
        await trio.sleep(window)
        ours = sum(process_cpu_seconds(p) for n, p in pids.items() if p) - ours0
        others = max(process_cpu_seconds(0) - all0 - ours, 0.0) / window
        if others < threshold or trio.current_time() >= deadline:
            return others


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0
