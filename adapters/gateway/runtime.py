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
  re-fetches, in order, requests the relay lacks, and receipts (or, for a request
  timed out on the relay, the broker's acknowledgement that it gave the request up)
  that the relay has not recorded.

Retries back off exponentially up to ``max_backoff``; memory stays bounded (one
poll batch and one stream page at a time).

Nothing blocks the entries behind it for good: a delivery the chain refuses
(:class:`~adapters.base.DeliveryRefused`) or a submission the relay refuses for a
reason that may pass is retried ``max_attempts`` times, then **set aside**
(:mod:`adapters.gateway.parked`: persisted, counted, logged, listed by
``relayhub gateway parked``), and the gateway goes on. Only requests of the same
ordered pair wait behind a set-aside request (they are set aside with it, marked
``blocked_by``); an operator's ``relayhub gateway retry`` sends them again, in order.
A refusal that can never pass (a message the relay cannot decode, a same-chain or
other-hub request) is set aside at once. So a permanent refusal never spins.
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

from adapters.base import (
    ANY_RECEIPT,
    Adapter,
    Delivery,
    DeliveryRefused,
    PollResult,
    Preflight,
    RelayInfo,
)
from adapters.gateway.config import GatewayConfig
from adapters.gateway.parked import (
    DELIVER,
    SUBMIT,
    ParkedItem,
    ParkedStore,
    delivery_key,
    now,
    submission_key,
)
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
#: Seconds between two looks for operator retry requests of set-aside items.
PARKED_CHECK_INTERVAL = 1.0


class PreflightFailed(RelayError):
    """The gateway cannot serve this chain as configured (see :meth:`Gateway.preflight`)."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.CONFIG, message)


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
        self.set_aside = 0


class Gateway:
    def __init__(self, config: GatewayConfig, adapter: Adapter, client: Any) -> None:
        self.config = config
        self.adapter = adapter
        self.client = client  # relay.sdk.AsyncRelayClient signing as the gateway key
        self.state = GatewayState(config.data_dir)
        self.parked = ParkedStore(config.data_dir / "parked.sqlite3")
        self.stats = GatewayStats()
        self.chain_id = adapter.chain_id
        self.admin_url: str | None = None
        #: The chain's head at the last poll, and the relay's last outbound position for
        #: this chain (the stream, and a query every :meth:`serve_relay_position` round):
        #: what the lag metrics subtract the checkpoint and the delivered seq from.
        self.chain_head: int | None = None
        self.relay_seq: int | None = None
        self._dirty = trio.Event()

    @property
    def chain_lag(self) -> int | None:
        """Chain head minus checkpoint, from the last poll (None before the first)."""
        if self.chain_head is None:
            return None
        return max(self.chain_head - self.state.checkpoint, 0)

    @property
    def relay_lag(self) -> int | None:
        """The relay's outbound last seq for this chain minus the delivered stream seq."""
        if self.relay_seq is None:
            return None
        return max(self.relay_seq - self.state.seq, 0)

    def _saw_relay_seq(self, seq: int) -> None:
        self.relay_seq = seq if self.relay_seq is None else max(self.relay_seq, seq)

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
        """Submit ``ibtps`` in order until every one is committed, dropped (the relay
        has decided it already) or set aside (the relay keeps refusing it)."""
        pending = []
        for ibtp in ibtps:
            blocker = self.parked.blocker(SUBMIT, ibtp)
            if blocker is not None:
                self._set_aside_submission(ibtp, f"waits behind {blocker}", 0, blocker)
            else:
                pending.append(ibtp)
        attempts: dict[str, int] = {}
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
                named = isinstance(item, int) and 0 <= item < len(batch)
                if action == SubmitAction.FATAL or (not named and action == SubmitAction.SET_ASIDE):
                    raise  # a misconfiguration (or a gateway bug): stop and say so
                if named:
                    assert isinstance(item, int)
                    target = pending[item]
                    reason = f"[{err.code}] {err.message}"
                    if action == SubmitAction.DROP:
                        pending.pop(item)
                        self.stats.dropped += 1
                        log.warning("relay refused %s for good: %s", target.id, reason)
                        continue
                    if action == SubmitAction.SET_ASIDE:
                        pending = self._park_submission(pending, item, reason, 1)
                        continue
                    if action == SubmitAction.FILL_GAP:
                        blocker = self.parked.blocker(SUBMIT, target)
                        if blocker is not None:
                            pending = self._park_submission(pending, item, reason, 0, blocker)
                            continue
                        try:
                            missing = await self._fetch_gap(target, int(err.details["expected"]))
                        except (OSError, RelayError, trio.TooSlowError) as exc:
                            # The chain could not give them now: not the relay refusing
                            # the item, so no attempt is counted; back off and ask again.
                            self.stats.retries += 1
                            log.info("chain %s: cannot refetch a gap (%s)", self.chain_id, exc)
                            await trio.sleep(backoff)
                            backoff = min(backoff * 2, self.config.max_backoff)
                            continue
                        if missing:
                            pending[item:item] = missing
                            self.stats.resent += len(missing)
                            continue
                    # RETRY, or a gap whose messages the chain could not give again
                    key = submission_key(target)
                    attempts[key] = attempts.get(key, 0) + 1
                    if attempts[key] >= self.config.max_attempts:
                        pending = self._park_submission(pending, item, reason, attempts[key])
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

    def _park_submission(
        self, pending: list[IBTP], item: int, reason: str, attempts: int, blocked_by: str = ""
    ) -> list[IBTP]:
        """Set ``pending[item]`` aside, and with it every later request of its pair (they
        cannot be admitted before it); returns what is left to submit."""
        target = pending[item]
        self._set_aside_submission(target, reason, attempts, blocked_by)
        key = submission_key(target)
        rest = []
        for i, ibtp in enumerate(pending):
            if i == item:
                continue
            if i > item and self.parked.blocker(SUBMIT, ibtp) is not None:
                self._set_aside_submission(ibtp, f"waits behind {key}", 0, key)
                continue
            rest.append(ibtp)
        return rest

    def _set_aside_submission(
        self, ibtp: IBTP, reason: str, attempts: int, blocked_by: str = ""
    ) -> None:
        self._park(
            ParkedItem(
                key=submission_key(ibtp),
                direction=SUBMIT,
                seq=0,
                ibtp_id=ibtp.id,
                type=ibtp.type,
                src=ibtp.src,
                dst=ibtp.dst,
                index=ibtp.index,
                status=0,
                ibtp=encode_ibtp(ibtp),
                sigs=(),
                reason=reason,
                attempts=attempts,
                parked_at=now(),
                blocked_by=blocked_by,
            )
        )

    def _park(self, item: ParkedItem) -> None:
        """Persist, count and log one set-aside item."""
        self.parked.add(item)
        self.stats.set_aside += 1
        log.warning(
            "set aside %s %s (%s) after %d attempts: %s; "
            "`relayhub gateway parked` lists it, `relayhub gateway retry` sends it again",
            f"delivery #{item.seq}" if item.direction == DELIVER else "submission",
            item.ibtp_id,
            item.type.name,
            item.attempts,
            item.reason,
        )

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
                if status.status not in (TxStatus.BEGIN, TxStatus.BEGIN_ROLLBACK):
                    continue
                # The receipt whichever its outcome (adapters.base.Adapter.refetch). After
                # a timeout (BEGIN_ROLLBACK) the broker either ran the request (its receipt
                # still settles it) or consumed the index unexecuted: then the relay waits
                # for the broker's acknowledgement before it tells the source.
                got = await self.adapter.refetch(r.src, r.dst, index, ANY_RECEIPT)
                if got is None and status.status == TxStatus.BEGIN_ROLLBACK:
                    got = await self.adapter.refetch(r.src, r.dst, index, IBTPType.RECEIPT_ROLLBACK)
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
                self.chain_head = res.head
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
                self._saw_relay_seq(entry.seq)
                await send.send(entry)

    async def serve_relay_position(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Ask the relay for this chain's last outbound seq every ``max(poll_interval,
        1s)`` (the stream alone shows only what the gateway has read)."""
        task_status.started()
        while True:
            try:
                page = await self.client.outbound(self.chain_id, self.state.seq + 1, 1)
                self._saw_relay_seq(page.last_seq)
            except (OSError, RelayError, trio.TooSlowError) as exc:
                log.debug("cannot read the relay's outbound position: %s", exc)
            await trio.sleep(max(self.config.poll_interval, 1.0))

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
        await self._deliver_round(deliveries)
        self.state.seq = entries[-1].seq
        self.mark_progress()

    async def _deliver_round(self, deliveries: list[Delivery]) -> None:
        """Deliver in order until each delivery is applied or set aside. A refusal by the
        chain is retried ``max_attempts`` times; a chain that cannot be asked is retried
        with backoff for as long as it takes (nothing to set aside: no answer yet)."""
        todo = []
        for d in deliveries:
            blocker = self.parked.blocker(DELIVER, d.ibtp)
            if blocker is not None:
                self._set_aside_delivery(d, f"waits behind {blocker}", 0, blocker)
            else:
                todo.append(d)
        attempts: dict[int, int] = {}
        backoff = 0.05
        while todo:
            try:
                await self.adapter.deliver(todo)
                self.stats.delivered += len(todo)
                return
            except DeliveryRefused as refusal:
                again = []
                for pos, d in enumerate(todo):
                    if pos not in refusal.refused:
                        self.stats.delivered += 1
                        continue
                    blocker = self.parked.blocker(DELIVER, d.ibtp)
                    if blocker is not None:  # an earlier request of its pair was set aside
                        self._set_aside_delivery(d, f"waits behind {blocker}", 0, blocker)
                        continue
                    n = attempts[d.seq] = attempts.get(d.seq, 0) + 1
                    if n >= self.config.max_attempts:
                        self._set_aside_delivery(d, refusal.refused[pos], n)
                    else:
                        again.append(d)
                todo = again
                if not todo:
                    return
                self.stats.retries += 1
                log.info(
                    "the chain refused %d deliveries (%s); retrying in %.2fs",
                    len(todo),
                    refusal.message,
                    backoff,
                )
            except (OSError, RelayError, trio.TooSlowError) as exc:
                self.stats.retries += 1
                code = exc.code if isinstance(exc, RelayError) else None
                log.info(
                    "delivery of #%d..#%d failed (%s %s); retrying",
                    todo[0].seq,
                    todo[-1].seq,
                    code,
                    exc,
                )
            except Exception:
                self.stats.retries += 1
                log.exception(
                    "unexpected error delivering #%d..#%d; retrying", todo[0].seq, todo[-1].seq
                )
                backoff = self.config.max_backoff
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self.config.max_backoff)

    def _set_aside_delivery(
        self, d: Delivery, reason: str, attempts: int, blocked_by: str = ""
    ) -> None:
        self._park(
            ParkedItem(
                key=delivery_key(d.seq),
                direction=DELIVER,
                seq=d.seq,
                ibtp_id=d.ibtp.id,
                type=d.ibtp.type,
                src=d.ibtp.src,
                dst=d.ibtp.dst,
                index=d.ibtp.index,
                status=int(d.status),
                ibtp=encode_ibtp(d.ibtp),
                sigs=d.signatures,
                reason=reason,
                attempts=attempts,
                parked_at=now(),
                blocked_by=blocked_by,
            )
        )

    async def serve_parked(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Send again, in order, the set-aside items an operator asked to retry
        (``relayhub gateway retry``). Each is taken out of the store first; one refused
        again is set aside again, with its new reason."""
        task_status.started()
        while True:
            await trio.sleep(PARKED_CHECK_INTERVAL)
            deliveries = self.parked.take_retries(DELIVER)
            if deliveries:
                self.parked.remove(i.key for i in deliveries)
                log.info("retrying %d set-aside deliveries", len(deliveries))
                await self._deliver_round(
                    [
                        Delivery(i.seq, decode_ibtp(i.ibtp), TxStatus(i.status), i.sigs)
                        for i in deliveries
                    ]
                )
            submissions = self.parked.take_retries(SUBMIT)
            if submissions:
                self.parked.remove(i.key for i in submissions)
                log.info("retrying %d set-aside submissions", len(submissions))
                await self.submit([decode_ibtp(i.ibtp) for i in submissions])

    async def preflight(self) -> None:
        """Refuse to run for a chain the relay does not route to this gateway: the chain
        is registered and ACTIVE, this gateway's key is one of its gateways, and (the
        adapter's :class:`~adapters.base.Preflight` hook) the chain and its broker are
        the registered ones. Raises :class:`PreflightFailed` listing every mismatch."""
        cid = self.chain_id
        try:
            chain = await self.client.chain(cid)
        except RelayError as err:
            if err.code != Code.UNKNOWN_CHAIN:
                raise
            raise PreflightFailed(
                f"chain {cid} is not registered on the relay {self.config.relay}; register "
                f"it (`relayhub appchain register --id {cid} ...`) and have a hub admin "
                "approve it (docs/operations.md)"
            ) from None
        problems = []
        if chain.get("status") != "ACTIVE":
            problems.append(
                f"chain {cid} is {chain.get('status')} on the relay, not ACTIVE; a hub admin "
                f"approves it with `relayhub appchain approve --key ADMIN_KEY --id {cid}`"
            )
        me = self.client.account.address.lower()
        if me not in [str(g).lower() for g in chain.get("gateways", [])]:
            problems.append(
                f"this gateway's relay key {self.config.key} ({me}) is not a gateway of chain "
                f"{cid} (its gateways: {', '.join(chain.get('gateways', []))}); use that key "
                "or register the chain with --gateway ADDRESS"
            )
        if isinstance(self.adapter, Preflight):
            status = await self.client.status()
            info = RelayInfo(
                hub_id=str(status["hub_id"]),
                validators=tuple(str(v).lower() for v in status["validators"]),
                validator_threshold=int(status["validator_threshold"]),
                chain=chain,
            )
            problems += await self.adapter.preflight(info)
        if problems:
            raise PreflightFailed("; ".join(problems))

    async def _start_and_recover(self) -> None:
        """Connect to the chain and run recovery, waiting (with backoff) for the chain
        and the relay to be reachable: a gateway started before its peers, or while one
        restarts, waits for them instead of exiting."""
        backoff = 0.1
        while True:
            try:
                await self.adapter.start()
                await self.preflight()
                await self.recover()
                return
            except PreflightFailed:
                raise
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
                await nursery.start(self.serve_parked)
                await nursery.start(self.serve_relay_position)
                if self.config.admin is not None:
                    from adapters.gateway.admin import serve_admin

                    host, _, port = self.config.admin.rpartition(":")
                    self.admin_url = await nursery.start(serve_admin, self, host, int(port))
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True):
                await self.adapter.stop()
            self.parked.close()


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
