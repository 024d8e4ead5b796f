"""JSON-RPC over HTTP/1.1 via h11 on trio sockets: :class:`EthRpc` minus httpx's per-request cost.

A gateway polls its chain several times a second and a delivery round makes a few
requests more; through httpx (client models, httpcore's pool and its h11 use)
each request cost ~0.8 ms of the gateway's CPU, about what the whole dev chain
spent to answer it (see ``benchmarks/RESULTS.md``, "e2e_transfer").
:class:`LeanEthRpc` drives h11's client state machine directly over a small pool
of keep-alive trio connections: h11 frames the ``POST`` (with ``Content-Length``)
and parses the answer (``Content-Length``, chunked, or read to the end of the
connection) and says whether the connection can be reused; this module only moves
bytes and pools connections. It serves ``http://`` URLs; :func:`open_rpc` hands
out the httpx-based :class:`EthRpc` for anything else.

Errors are those of :class:`EthRpc`: a node that cannot be reached, stops
mid-answer, answers something h11 cannot parse, with a non-200 status or with
something that is not JSON raises :class:`RpcError` (``UPSTREAM_UNAVAILABLE``);
JSON-RPC errors are ``CHAIN_RPC_ERROR`` (8002) with ``rpc_code``, ``rpc_message``
and ``data``. A pooled
connection the server closed before answering is retried on another one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import h11
import trio

from adapters.evm.rpc import EthRpc, RpcError
from relay.errors import Code

#: Idle connections kept per client.
MAX_IDLE = 4
MAX_ANSWER = 256 * 1024 * 1024


class _Closed(Exception):
    """The server closed the connection before answering."""


class _Conn:
    """One keep-alive connection: a trio stream and h11's client state machine."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.answered = False  # some bytes of an answer came on this connection

    async def _event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.receive_some(262144)
            if data:
                self.answered = True
            self.h11.receive_data(data)

    async def exchange(self, request: h11.Request, body: bytes) -> tuple[int, bytes, bool]:
        """Send a request; ``(status, body, keep_alive)`` of the answer."""
        self.answered = False
        conn = self.h11
        await self.stream.send_all(
            (conn.send(request) or b"")
            + (conn.send(h11.Data(data=body)) or b"")
            + (conn.send(h11.EndOfMessage()) or b"")
        )
        try:
            event = await self._event()
            while isinstance(event, h11.InformationalResponse):
                event = await self._event()
        except h11.RemoteProtocolError:
            if not self.answered:  # closed before a byte of the answer
                raise _Closed from None
            raise
        if not isinstance(event, h11.Response):
            raise _Closed
        status = event.status_code
        for name, value in event.headers:
            if name == b"content-length" and int(value) > MAX_ANSWER:
                raise ValueError("answer too large")
        chunks = []
        total = 0
        while True:
            event = await self._event()
            if isinstance(event, h11.Data):
                total += len(event.data)
                if total > MAX_ANSWER:
                    raise ValueError("answer too large")
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise _Closed
        # Reusable when both sides are done and nothing unasked-for came after the answer.
        keep = conn.our_state is h11.DONE and conn.their_state is h11.DONE
        if keep and not conn.trailing_data[0]:
            conn.start_next_cycle()
        else:
            keep = False
        return status, b"".join(chunks), keep


class LeanEthRpc(EthRpc):
    """:class:`EthRpc` for an ``http://`` endpoint, over pooled keep-alive connections (h11)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        super().__init__(url, timeout)
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"LeanEthRpc serves http:// URLs, not {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self._target = path.encode()
        self._headers = [
            (b"host", parts.netloc.rsplit("@", 1)[-1].encode()),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json"),
        ]
        self._timeout = timeout
        self._idle: list[_Conn] = []

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await trio.aclose_forcefully(conn.stream)
        await super().aclose()

    async def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = h11.Request(
            method=b"POST",
            target=self._target,
            headers=[*self._headers, (b"content-length", b"%d" % len(body))],
        )
        try:
            with trio.fail_after(self._timeout):
                status, answer = await self._exchange(request, body)
        except (
            OSError,
            trio.TooSlowError,
            trio.BrokenResourceError,
            _Closed,
            ValueError,
            h11.RemoteProtocolError,
        ) as exc:
            raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"{self.url} unreachable: {exc!r}") from None
        if status != 200:
            raise RpcError(
                Code.UPSTREAM_UNAVAILABLE,
                f"{self.url} answered HTTP {status}: {answer[:200]!r}",
            )
        try:
            return json.loads(answer)
        except ValueError as exc:
            raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"{self.url} sent no JSON: {exc!r}") from None

    async def _exchange(self, request: h11.Request, body: bytes) -> tuple[int, bytes]:
        while self._idle:
            conn = self._idle.pop()
            try:
                status, answer, keep = await conn.exchange(request, body)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, _Closed):
                await trio.aclose_forcefully(conn.stream)
                if conn.answered:
                    raise
                # The server had closed this idle keep-alive connection: try another.
                continue
            except BaseException:
                await trio.aclose_forcefully(conn.stream)
                raise
            await self._release(conn, keep)
            return status, answer
        stream = await trio.open_tcp_stream(self._host, self._port)
        conn = _Conn(stream)
        try:
            status, answer, keep = await conn.exchange(request, body)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        await self._release(conn, keep)
        return status, answer

    async def _release(self, conn: _Conn, keep: bool) -> None:
        if keep and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            await trio.aclose_forcefully(conn.stream)

    async def call(self, method: str, *params: Any) -> Any:
        req = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return self._result(await self._post(req), method)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        reqs = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        answers = await self._post(reqs)
        if not isinstance(answers, list):
            return [self._result(answers, calls[0][0])] * len(calls)
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [self._result(by_id.get(i, {}), calls[i][0]) for i in range(len(calls))]


def open_rpc(url: str, timeout: float = 10.0) -> EthRpc:
    """The JSON-RPC client for ``url``: :class:`LeanEthRpc` for ``http://``, else httpx's."""
    if urlsplit(url).scheme == "http":
        return LeanEthRpc(url, timeout)
    return EthRpc(url, timeout)
