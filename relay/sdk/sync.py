"""The blocking client: :class:`ClientBase` driven by ``httpx.Client``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
import trio

from relay.crypto import AccountLike
from relay.ibtp import IBTP, compute_ibtp_id
from relay.ledger.types import Transaction
from relay.sdk.base import ClientBase, Flow, drive_sync
from relay.sdk.call import CallResult, SourceChain, check_call, interpret_final_status
from relay.sdk.types import IbtpResult, IbtpStatus, OutboundPage, TxResult

T = TypeVar("T")


class RelayClient(ClientBase):
    """Talks to one relay over HTTP, blocking. ``with RelayClient(url) as c: c.status()``.

    Writes are serialised per client (nonces are counted locally). ``transport``
    replaces the network, e.g. ``httpx.MockTransport(handler)`` in tests.
    """

    def __init__(
        self,
        base_url: str,
        account: AccountLike | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, account, **options)
        self._http = httpx.Client(transport=transport)
        self._write_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, flow: Flow[T]) -> T:
        return drive_sync(flow, self._http.send, time.sleep, time.monotonic)

    def _write(self, flow: Flow[T]) -> T:
        with self._write_lock:
            return self._run(flow)

    # --- reads ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._run(self._status_flow())

    def account_info(self, address: str | None = None) -> dict[str, Any]:
        """``{address, nonce}``: the last nonce used (of the client's account by default)."""
        return self._run(self._account_flow(address or self.require_account().address))

    def chain(self, chain_id: str) -> dict[str, Any]:
        return self._run(self._chain_flow(chain_id))

    def chains(self) -> list[dict[str, Any]]:
        return self._run(self._chains_flow())

    def chain_pairs(self, chain_id: str) -> list[dict[str, Any]]:
        """``[{from, to, interchain, receipt}]`` for every pair with an end on the chain
        (what a restarting gateway resumes from)."""
        return self._run(self._chain_pairs_flow(chain_id))

    def service(self, service_id: str) -> dict[str, Any]:
        return self._run(self._service_flow(service_id))

    def pair(self, src: str, dst: str) -> dict[str, Any]:
        return self._run(self._pair_flow(src, dst))

    def ibtp_status(self, ibtp_id: str) -> IbtpStatus:
        return self._run(self._ibtp_status_flow(ibtp_id))

    def wait_final(self, ibtp_id: str, timeout: float = 30.0) -> IbtpStatus:
        """Poll until ``ibtp_id`` is SUCCESS / FAILURE / ROLLBACK, or raise RelayTimeoutError."""
        return self._run(self._wait_final_flow(ibtp_id, timeout))

    def block(self, ref: int | str = "latest", txs: bool = False) -> dict[str, Any]:
        return self._run(self._block_flow(ref, txs))

    def tx(self, tx_hash: bytes | str) -> dict[str, Any]:
        return self._run(self._tx_flow(tx_hash))

    def outbound(self, chain: str, from_seq: int = 1, limit: int = 500) -> OutboundPage:
        return self._run(self._outbound_flow(chain, from_seq, limit))

    # --- writes -----------------------------------------------------------------

    def call(
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
        """Blocking :meth:`AsyncRelayClient.call`: the connector's (async) emit runs in
        its own trio run, then this client waits for the final status."""
        _, dst_service, arglist = check_call(via, src_service, dst_service, args, timeout_blocks)
        height = int(self.status()["height"]) + timeout_blocks if timeout_blocks else 0
        src, dst, index = trio.run(via.emit, dst_service, func, arglist, height)
        st = self.wait_final(compute_ibtp_id(src, dst, index), timeout=timeout)
        return interpret_final_status(st)

    def submit(self, txs: Sequence[Transaction], wait_commit: bool = False) -> list[TxResult]:
        """Submit signed transactions; per-transaction results. Raises the first
        refusal when none was admitted."""
        return self._write(self._submit_flow(txs, wait_commit))

    def send(self, kind: str, body: Any, wait_commit: bool = True) -> TxResult:
        """Sign ``body`` with the client's account and next nonce, submit, return its result."""
        return self._write(self._send_flow(kind, body, wait_commit))

    def submit_ibtps(
        self, ibtps: Iterable[IBTP | bytes], wait_commit: bool = False
    ) -> list[IbtpResult]:
        return self._write(self._submit_ibtps_flow(ibtps, wait_commit))

    def register_chain(
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
        return self._write(
            self._register_chain_flow(
                chain_id, family, trust_root, broker, gateways, name, desc, wait_commit
            )
        )

    def approve_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        return self.send("chain.approve", {"id": chain_id}, wait_commit)

    def reject_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        return self.send("chain.reject", {"id": chain_id}, wait_commit)

    def withdraw_chain(self, chain_id: str, wait_commit: bool = True) -> TxResult:
        """Withdraw this key's own PENDING registration of ``chain_id`` (frees the ID)."""
        return self.send("chain.withdraw", {"id": chain_id}, wait_commit)

    def register_service(
        self,
        service: str,
        *,
        chain: str | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        name: str = "",
        wait_commit: bool = True,
    ) -> TxResult:
        """Register ``service`` (a full ID ``hub:chain:service``, or a bare service ID
        together with ``chain``)."""
        return self._write(
            self._register_service_flow(service, chain, allow, deny, name, wait_commit)
        )
