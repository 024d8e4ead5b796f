"""JSON-RPC over plain HTTP/1.1 on trio sockets: :class:`EthRpc` without httpx's per-request cost.

A gateway polls its chain several times a second and a delivery round makes a few
requests more; through httpx (client models, httpcore's pool, h11) each request
cost ~0.8 ms of the gateway's CPU, about what the whole dev chain spends to
answer it. :class:`LeanEthRpc` keeps a small pool of keep-alive connections and
writes and parses the few bytes HTTP/1.1 needs: a POST with ``Content-Length``,
an answer with ``Content-Length`` or chunked encoding. It serves ``http://`` URLs;
:func:`open_rpc` hands out the httpx-based :class:`EthRpc` for anything else.

Errors are those of :class:`EthRpc`: a node that cannot be reached, stops
mid-answer, answers with a non-200 status or with something that is not JSON
raises :class:`RpcError` (``UPSTREAM_UNAVAILABLE``); JSON-RPC errors are
``BAD_REQUEST`` with ``rpc_code`` and ``data``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import trio

from adapters.evm.rpc import EthRpc, RpcError
from relay.errors import Code

#: Idle connections kept per client.
MAX_IDLE = 4
MAX_ANSWER = 256 * 1024 * 1024


class _Closed(Exception):
    """The server closed the connection before answering."""


class _Conn:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""
        self.answered = False  # some bytes of an answer came on this connection

    async def _more(self) -> None:
        data = await self.stream.receive_some(262144)
        if not data:
            raise _Closed
        self.answered = True
        self.buf += data

    async def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            await self._more()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    async def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send a request; ``(status, body, keep_alive)`` of the answer."""
        self.answered = False
        await self.stream.send_all(request)
        while b"\r\n\r\n" not in self.buf:
            await self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError("not an HTTP/1.x answer")
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        keep = headers.get(b"connection", b"").lower() != b"close" and parts[0] == b"HTTP/1.1"
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            chunks = []
            total = 0
            while True:
                size = int((await self._line()).split(b";", 1)[0], 16)
                if size == 0:
                    while await self._line():  # trailers, then the blank line
                        pass
                    break
                total += size
                if total > MAX_ANSWER:
                    raise ValueError("answer too large")
                chunks.append(await self._exactly(size))
                await self._exactly(2)
            return status, b"".join(chunks), keep
        if b"content-length" in headers:
            length = int(headers[b"content-length"])
            if length > MAX_ANSWER:
                raise ValueError("answer too large")
            return status, await self._exactly(length), keep
        # No length: the body runs to the end of the connection.
        try:
            while True:
                await self._more()
        except _Closed:
            pass
        body, self.buf = self.buf, b""
        return status, body, False


class LeanEthRpc(EthRpc):
    """:class:`EthRpc` for an ``http://`` endpoint, over raw keep-alive connections."""

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
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self._prefix = (
            f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nContent-Length: "
        ).encode()
        self._timeout = timeout
        self._idle: list[_Conn] = []

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await trio.aclose_forcefully(conn.stream)
        await super().aclose()

    async def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = self._prefix + b"%d\r\n\r\n" % len(body) + body
        try:
            with trio.fail_after(self._timeout):
                status, answer = await self._exchange(request)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, _Closed, ValueError) as exc:
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

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        while self._idle:
            conn = self._idle.pop()
            try:
                status, body, keep = await conn.exchange(request)
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
            return status, body
        stream = await trio.open_tcp_stream(self._host, self._port)
        conn = _Conn(stream)
        try:
            status, body, keep = await conn.exchange(request)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        await self._release(conn, keep)
        return status, body

    async def _release(self, conn: _Conn, keep: bool) -> None:
        if keep and not conn.buf and len(self._idle) < MAX_IDLE:
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
