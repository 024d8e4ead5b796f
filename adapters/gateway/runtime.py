"""The gateway runtime (BitXHub's "pier"): drives one Adapter against the relay.

Three jobs, each a trio task:

* **monitor** — ``adapter.poll`` → IBTPs with proofs → batched ``ibtp``
  transactions to the relay, answered only once committed (``wait=commit``); the
  next poll runs while the relay commits. The chain checkpoint advances only after
  the relay committed everything before it, so a crash of the gateway or of the
  relay re-polls and resubmits (the relay treats repeats as no-ops): nothing is
  lost, nothing is applied twice.
* **executor** — the relay's stream for this chain → ``adapter.deliver`` (the
  broker checks relay signatures and indices) → the stream position advances after
  each delivery; deliveries are idempotent, so a crash between the two repeats a
  delivery the broker recognises as done.

Both positions are written to ``state.json`` at most every ``STATE_SAVE_INTERVAL``
by a saver task (a crash repeats at most that much work, as no-ops).
* **recovery** (at start) — compares the relay's counters with the broker's and
  re-fetches, in order, requests the relay lacks and receipts it has not recorded.

Retries back off exponentially up to ``max_backoff``; memory stays bounded (one
poll batch and one stream page at a time).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from adapters.base import Adapter, Delivery, PollResult
from adapters.gateway.config import GatewayConfig
from adapters.gateway.plan import (
    SubmitAction,
    compute_receipt_checks,
    compute_request_resends,
    decide_on_refusal,
)
from relay.errors import Code, RelayError
from relay.ibtp import IBTP, IBTPType, TxStatus, compute_ibtp_id, decode_ibtp, encode_ibtp
from relay.ibtp.ids import parse_service_id

log = logging.getLogger("relayhub.gateway")

#: Bytes of IBTPs per relay transaction (the relay takes up to 8 MiB per transaction).
MAX_TX_PAYLOAD = 4 * 1024 * 1024
#: Seconds between two saves of the gateway's positions (see Gateway.serve_saver).
STATE_SAVE_INTERVAL = 0.25


class GatewayState:
    """``{"checkpoint": n, "seq": n}`` in ``data_dir/state.json``, replaced atomically."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "state.json"
        self.checkpoint = 0
        self.seq = 0
        if self.path.exists():
            d = json.loads(self.path.read_text())
            self.checkpoint, self.seq = int(d["checkpoint"]), int(d["seq"])

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"checkpoint": self.checkpoint, "seq": self.seq}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


class GatewayStats:
    def __init__(self) -> None:
        self.submitted = 0
        self.delivered = 0
        self.dropped = 0
        self.resent = 0
        self.retries = 0


class Gateway:
    def __init__(self, config: GatewayConfig, adapter: Adapter, client: Any) -> None:
        self.config = config
        self.adapter = adapter
        self.client = client  # relay.sdk.AsyncRelayClient signing as the gateway key
        self.state = GatewayState(config.data_dir)
        self.stats = GatewayStats()
        self.chain_id = adapter.chain_id
        self._dirty = trio.Event()

    def mark_progress(self) -> None:
        """The checkpoint or the stream position moved: :meth:`serve_saver` persists it."""
        self._dirty.set()

    async def serve_saver(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Persist the positions at most every ``STATE_SAVE_INTERVAL``, off the event loop.

        A save (JSON + fsync + rename) costs milliseconds of CPU and blocks its thread;
        saving after every poll and every delivery round took a fifth of a gateway's
        CPU under load. A crash loses at most the last interval's progress, which the
        restarted gateway re-polls and redelivers: the relay and the brokers take
        repeats as no-ops."""
        task_status.started()
        try:
            while True:
                await self._dirty.wait()
                self._dirty = trio.Event()
                await trio.to_thread.run_sync(self.state.save)
                await trio.sleep(STATE_SAVE_INTERVAL)
        finally:
            if self._dirty.is_set():  # stopping: keep what was reached
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(self.state.save)

    # --- submission to the relay ------------------------------------------------

    async def submit(self, ibtps: list[IBTP]) -> None:
        """Submit ``ibtps`` in order until every one is committed or dropped."""
        pending = list(ibtps)
        backoff = 0.05
        while pending:
            encoded: list[bytes] = []
            size = 0
            for ibtp in pending[: self.config.batch]:
                raw = encode_ibtp(ibtp)
                if encoded and size + len(raw) > MAX_TX_PAYLOAD:
                    break
                encoded.append(raw)
                size += len(raw)
            batch = pending[: len(encoded)]
            try:
                await self.client.send("ibtp", encoded, wait_commit=True)
            except RelayError as err:
                item = err.details.get("item")
                action = decide_on_refusal(err)
                if action == SubmitAction.FATAL:
                    raise
                if action == SubmitAction.DROP and isinstance(item, int) and item < len(batch):
                    dropped = pending.pop(item)
                    self.stats.dropped += 1
                    log.warning(
                        "relay refused %s for good: [%s] %s", dropped.id, err.code, err.message
                    )
                    continue
                if action == SubmitAction.FILL_GAP and isinstance(item, int) and item < len(batch):
                    missing = await self._fetch_gap(batch[item], int(err.details["expected"]))
                    if missing:
                        pending[item:item] = missing
                        self.stats.resent += len(missing)
                        continue
                self.stats.retries += 1
                log.info(
                    "relay refused a batch ([%s] %s); retrying in %.2fs",
                    err.code,
                    err.message,
                    backoff,
                )
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
                continue
            except (OSError, trio.TooSlowError) as exc:
                self.stats.retries += 1
                log.info("relay unreachable (%s); retrying in %.2fs", exc, backoff)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
                continue
            del pending[: len(batch)]
            self.stats.submitted += len(batch)
            backoff = 0.05

    async def _fetch_gap(self, ibtp: IBTP, expected: int) -> list[IBTP]:
        out = []
        for index in range(expected, ibtp.index):
            got = await self.adapter.refetch(ibtp.src, ibtp.dst, index, IBTPType.INTERCHAIN)
            if got is None:
                return []
            out.append(got)
        return out

    # --- the three jobs ---------------------------------------------------------

    async def recover(self) -> None:
        """Resend what the relay lacks, judged by counters on both sides."""
        pairs = await self.client.chain_pairs(self.chain_id)
        requests: dict[tuple[str, str], tuple[int, int]] = {}
        receipts: dict[tuple[str, str], tuple[int, int]] = {}
        for p in pairs:
            src, dst = p["from"], p["to"]
            bc = await self.adapter.counters(src, dst)
            if parse_service_id(src).chain == self.chain_id:
                requests[(src, dst)] = (p["interchain"], bc.out)
            if parse_service_id(dst).chain == self.chain_id:
                receipts[(src, dst)] = (p["receipt"], bc.inbound)
        for r in compute_request_resends(requests):
            batch = []
            for index in range(r.first, r.last + 1):
                got = await self.adapter.refetch(r.src, r.dst, index, IBTPType.INTERCHAIN)
                if got is not None:
                    batch.append(got)
            log.info("recovery: resending %d requests %s -> %s", len(batch), r.src, r.dst)
            self.stats.resent += len(batch)
            await self.submit(batch)
        for r in compute_receipt_checks(receipts):
            batch = []
            for index in range(r.first, r.last + 1):
                try:
                    status = await self.client.ibtp_status(compute_ibtp_id(r.src, r.dst, index))
                except RelayError as err:
                    if err.code == Code.UNKNOWN_IBTP:
                        continue
                    raise
                if status.status != TxStatus.BEGIN:
                    continue
                got = await self.adapter.refetch(r.src, r.dst, index, IBTPType.RECEIPT_SUCCESS)
                if got is not None:
                    batch.append(got)
            if batch:
                log.info("recovery: resending %d receipts %s -> %s", len(batch), r.src, r.dst)
                self.stats.resent += len(batch)
                await self.submit(batch)

    async def serve_monitor(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Chain -> relay. One task polls ahead while this one submits, so that the next
        poll (chain round trips, proof building) overlaps the relay's commit of the
        previous batch; at most one polled batch waits. The checkpoint is saved only
        once everything before it is committed."""
        send, recv = trio.open_memory_channel[PollResult](1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._poll_ahead, send)
            task_status.started()
            async with recv:
                async for res in recv:
                    if res.ibtps:
                        await self.submit(list(res.ibtps))
                    if res.checkpoint != self.state.checkpoint:
                        self.state.checkpoint = res.checkpoint
                        self.mark_progress()

    async def _poll_ahead(self, send: trio.MemorySendChannel[PollResult]) -> None:
        backoff = 0.05
        position = self.state.checkpoint
        async with send:
            while True:
                try:
                    res = await self.adapter.poll(position, self.config.batch)
                except (OSError, RelayError, trio.TooSlowError) as exc:
                    log.info(
                        "chain %s unreachable (%s); retrying in %.2fs", self.chain_id, exc, backoff
                    )
                    await trio.sleep(backoff)
                    backoff = min(backoff * 2, self.config.max_backoff)
                    continue
                except Exception:
                    # An adapter bug must not stop the gateway: log it loudly and retry.
                    log.exception("unexpected error polling %s; retrying", self.chain_id)
                    await trio.sleep(self.config.max_backoff)
                    continue
                backoff = 0.05
                if res.ibtps or res.checkpoint != position:
                    await send.send(res)
                    position = res.checkpoint
                if res.checkpoint >= res.head:
                    await trio.sleep(self.config.poll_interval)

    async def serve_executor(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Relay stream -> broker, in seq order, in batches of what has arrived."""
        send, recv = trio.open_memory_channel[Any](self.config.batch)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump_stream, send)
            task_status.started()
            async with recv:
                while True:
                    entries = [await recv.receive()]
                    while len(entries) < self.config.batch:
                        try:
                            entries.append(recv.receive_nowait())
                        except trio.WouldBlock:
                            break
                    await self._deliver(entries)

    async def _pump_stream(self, send: trio.MemorySendChannel[Any]) -> None:
        stream = self.client.subscribe(self.chain_id, from_seq=self.state.seq + 1)
        async with send, stream as entries:
            async for entry in entries:
                await send.send(entry)

    async def _deliver(self, entries: list[Any]) -> None:
        deliveries = [
            Delivery(
                seq=e.seq,
                ibtp=decode_ibtp(e.ibtp),
                status=TxStatus(e.status),
                signatures=tuple(e.sigs),
            )
            for e in entries
        ]
        backoff = 0.05
        while True:
            try:
                await self.adapter.deliver(deliveries)
                break
            except (OSError, RelayError, trio.TooSlowError) as exc:
                self.stats.retries += 1
                code = exc.code if isinstance(exc, RelayError) else None
                log.info(
                    "delivery of #%d..#%d failed (%s %s); retrying",
                    entries[0].seq,
                    entries[-1].seq,
                    code,
                    exc,
                )
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
            except Exception:
                self.stats.retries += 1
                log.exception(
                    "unexpected error delivering #%d..#%d; retrying",
                    entries[0].seq,
                    entries[-1].seq,
                )
                await trio.sleep(self.config.max_backoff)
        self.state.seq = entries[-1].seq
        self.mark_progress()
        self.stats.delivered += len(entries)

    async def _start_and_recover(self) -> None:
        """Connect to the chain and run recovery, waiting (with backoff) for the chain
        and the relay to be reachable: a gateway started before its peers, or while one
        restarts, waits for them instead of exiting."""
        backoff = 0.1
        while True:
            try:
                await self.adapter.start()
                await self.recover()
                return
            except (OSError, RelayError, trio.TooSlowError) as exc:
                if isinstance(exc, RelayError) and decide_on_refusal(exc) == SubmitAction.FATAL:
                    raise
                log.warning(
                    "gateway for %s cannot start yet (%s); retrying in %.1fs",
                    self.chain_id,
                    exc,
                    backoff,
                )
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await self._start_and_recover()
            async with trio.open_nursery() as nursery:
                await nursery.start(self.serve_saver)
                await nursery.start(self.serve_executor)
                await nursery.start(self.serve_monitor)
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True):
                await self.adapter.stop()


@asynccontextmanager
async def open_gateway(
    config: GatewayConfig, adapter: Adapter, client: Any
) -> AsyncIterator[Gateway]:
    gw = Gateway(config, adapter, client)
    async with trio.open_nursery() as nursery:
        await nursery.start(gw.run)
        try:
            yield gw
        finally:
            nursery.cancel_scope.cancel()
