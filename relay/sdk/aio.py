"""The async client for trio: :class:`ClientBase` driven by ``httpx.AsyncClient``,
plus the gateway stream over trio-websocket."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    open_websocket_url,
)

from relay.crypto import AccountLike
from relay.errors import Code
from relay.ibtp import IBTP
from relay.ledger.types import Transaction
from relay.sdk.base import (
    Call,
    ClientBase,
    Flow,
    Sleep,
    connection_error,
    parse_stream_frame,
    stream_refusal,
)
from relay.sdk.call import CallResult, SourceChain, call_async
from relay.sdk.errors import RelayApiError, RelayConnectionError
from relay.sdk.types import IbtpResult, IbtpStatus, OutboundEntry, OutboundPage, TxResult

T = TypeVar("T")

log = logging.getLogger("relayhub.sdk")

#: A stream frame holds up to 500 IBTPs of up to 256 KiB each.
MAX_FRAME_BYTES = 160 * 1024 * 1024
RECONNECT_FIRST = 0.1
RECONNECT_MAX = 2.0


class AsyncRelayClient(ClientBase):
    """Talks to one relay over HTTP from trio: ``async with AsyncRelayClient(url) as c``.

    Same methods as :class:`relay.sdk.RelayClient`, awaited, plus :meth:`subscribe`.
    Writes are serialised per client (nonces are counted locally).
    """

    def __init__(
        self,
        base_url: str,
        account: AccountLike | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, account, **options)
        self._http = httpx.AsyncClient(transport=transport)
        self._write_lock = trio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRelayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with trio.CancelScope(shield=True):
            await self.aclose()

    async def _run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(step, Call):
                try:
                    value = await self._http.send(step.request)
                except httpx.TransportError as exc:
                    error = connection_error(step.request, exc)
            elif isinstance(step, Sleep):
                await trio.sleep(step.seconds)
            else:
                value = trio.current_time()

    async def _write(self, flow: Flow[T]) -> T:
        async with self._write_lock:
            return await self._run(flow)

    # --- reads ------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        return await self._run(self._status_flow())

    async def account_info(self, address: str | None = None) -> dict[str, Any]:
        return await self._run(self._account_flow(address or self.require_account().address))

    async def chain(self, chain_id: str) -> dict[str, Any]:
        return await self._run(self._chain_flow(chain_id))

    async def chains(self) -> list[dict[str, Any]]:
        return await self._run(self._chains_flow())

    async def chain_pairs(self, chain_id: str) -> list[dict[str, Any]]:
        """``[{from, to, interchain, receipt}]`` for every pair with an end on the chain
        (what a restarting gateway resumes from)."""
        return await self._run(self._chain_pairs_flow(chain_id))

    async def service(self, service_id: str) -> dict[str, Any]:
        return await self._run(self._service_flow(service_id))

    async def pair(self, src: str, dst: str) -> dict[str, Any]:
        return await self._run(self._pair_flow(src, dst))

    async def ibtp_status(self, ibtp_id: str) -> IbtpStatus:
        return await self._run(self._ibtp_status_flow(ibtp_id))

    async def wait_final(self, ibtp_id: str, timeout: float = 30.0) -> IbtpStatus:
        """Poll until ``ibtp_id`` is SUCCESS / FAILURE / ROLLBACK, or raise RelayTimeoutError."""
        return await self._run(self._wait_final_flow(ibtp_id, timeout))

    async def block(self, ref: int | str = "latest", txs: bool = False) -> dict[str, Any]:
        return await self._run(self._block_flow(ref, txs))

    async def tx(self, tx_hash: bytes | str) -> dict[str, Any]:
        return await self._run(self._tx_flow(tx_hash))

    async def outbound(self, chain: str, from_seq: int = 1, limit: int = 500) -> OutboundPage:
        return await self._run(self._outbound_flow(chain, from_seq, limit))

    # --- writes -----------------------------------------------------------------

    async def call(
        self,
        src_service: str,
        dst_service: str,
        func: str,
        args: Sequence[bytes],
        *,
        via: SourceChain,
        timeout: float = 60.0,
        timeout_blocks: int = 0,
    ) -> CallResult:
        """Call ``dst_service.func(*args)`` from ``src_service`` through its chain's
        broker (``via``) and return the destination's result. Raises InterchainFailed
        (7004), InterchainRolledBack (7005) or RelayTimeoutError (7002); see
        :mod:`relay.sdk.call`. ``timeout_blocks`` sets the relay timeout height
        (0 = the hub's default)."""
        return await call_async(
            self,
            src_service,
            dst_service,
            func,
            list(args),
            via=via,
            timeout=timeout,
            timeout_blocks=timeout_blocks,
        )

    async def submit(self, txs: Sequence[Transaction], wait_commit: bool = False) -> list[TxResult]:
        return await self._write(self._submit_flow(txs, wait_commit))

    async def send(self, kind: str, body: Any, wait_commit: bool = True) -> TxResult:
        return await self._write(self._send_flow(kind, body, wait_commit))

    async def submit_ibtps(
        self, ibtps: Iterable[IBTP | bytes], wait_commit: bool = False
    ) -> list[IbtpResult]:
        return await self._write(self._submit_ibtps_flow(ibtps, wait_commit))

    async def register_chain(
        self,
        chain_id: str,
        family: str,
        trust_root: Any,
        broker: str,
        *,
        gateways: Sequence[str] | None = None,
        name: str = "",
        desc: str = "",
        wait_commit: bool = True,
    ) -> TxResult:
        return await self._write(
            self._register_chain_flow(
                chain_id, family, trust_root, broker, gateways, name, desc, wait_commit
            )
        )

    async def approve_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        return await self.send("chain.approve", {"id": chain_id}, wait_commit)

    async def reject_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        return await self.send("chain.reject", {"id": chain_id}, wait_commit)

    async def withdraw_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        """Withdraw this key's own PENDING registration of ``chain_id`` (frees the ID)."""
        return await self.send("chain.withdraw", {"id": chain_id}, wait_commit)

    async def register_service(
        self,
        service: str,
        *,
        chain: str | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        name: str = "",
        wait_commit: bool = True,
    ) -> TxResult:
        return await self._write(
            self._register_service_flow(service, chain, allow, deny, name, wait_commit)
        )

    # --- the gateway stream -----------------------------------------------------

    @trio.as_safe_channel
    async def subscribe(
        self, chain: str, from_seq: int = 1, *, max_retries: int | None = None
    ) -> AsyncGenerator[OutboundEntry, None]:
        """The IBTPs routed to ``chain``, in ``seq`` order from ``from_seq``, forever::

            async with client.subscribe("chainB", from_seq=1) as entries:
                async for entry in entries:
                    ...

        Reconnects (with backoff) whenever the connection drops, resuming after the
        last entry handed out: nothing is lost or repeated. Gives up with
        RelayConnectionError after ``max_retries`` failed attempts in a row (never
        by default); a 4xx handshake refusal raises RelayApiError at once.
        """
        next_seq = max(from_seq, 1)
        failures = 0
        while True:
            url = self.stream_url(chain, next_seq)
            reason = ""
            try:
                async with open_websocket_url(
                    url,
                    max_message_size=MAX_FRAME_BYTES,
                    connect_timeout=self.timeout,
                    disconnect_timeout=1.0,
                ) as ws:
                    while True:
                        frame = parse_stream_frame(chain, await ws.get_message())
                        failures = 0
                        for entry in frame.entries:
                            if entry.seq < next_seq:
                                continue  # already handed out
                            if entry.seq > next_seq:
                                raise _Gap(f"stream skipped from seq {next_seq} to {entry.seq}")
                            yield entry
                            next_seq = entry.seq + 1
            except ConnectionRejected as exc:
                if 400 <= exc.status_code < 500:
                    raise RelayApiError(
                        Code.NOT_FOUND if exc.status_code == 404 else Code.BAD_REQUEST,
                        f"the relay refused the stream {url} (HTTP {exc.status_code})",
                        {"url": url},
                        status=exc.status_code,
                    ) from None
                reason = f"handshake refused (HTTP {exc.status_code})"
            except ConnectionClosed as exc:
                close = exc.reason
                refused = stream_refusal(
                    close.code if close else None, (close.reason if close else None) or "", url
                )
                if refused is not None:
                    raise refused from None
                reason = f"{type(exc).__name__}: {exc}"
            except (HandshakeError, OSError, trio.BrokenResourceError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except _Gap as exc:
                reason = str(exc)
            failures += 1
            log.warning(
                "stream %s: %s; reconnecting from seq %d (attempt %d)",
                chain,
                reason,
                next_seq,
                failures,
            )
            if max_retries is not None and failures > max_retries:
                raise RelayConnectionError(
                    f"stream {url} failed {failures} times in a row ({reason}); "
                    "check that the relay is running",
                    url=url,
                )
            await trio.sleep(min(RECONNECT_FIRST * 2 ** (failures - 1), RECONNECT_MAX))


class _Gap(Exception):
    """The stream skipped a seq; reconnect from the first missing one."""
