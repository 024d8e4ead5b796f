"""HTTP shell of the JSON-RPC server: HTTP/1.1 on trio sockets via h11, loopback only.

``POST /`` with a JSON-RPC body (single or batch) answers ``200`` with the JSON-RPC
response (``204`` for notifications only); ``GET /`` answers the client version;
other methods get ``405``; bodies over 5 MiB get ``413``; a chunked body (no
``Content-Length``) gets ``411``; a request h11 cannot parse gets its status hint
(``400``, or ``431`` for a head over 64 KiB). Connections are kept alive as h11
decides (HTTP/1.1 unless ``Connection: close``; HTTP/1.0 clients get one request per
connection), pipelined requests are answered in order, and idle connections are
closed after ``KEEP_ALIVE_TIMEOUT`` seconds. All method logic is in :mod:`.rpc`.

HTTP/1.1 framing is h11's (a sans-I/O state machine); this module only moves bytes
between it and the socket. Why not an ASGI server: a JSON-RPC round trip through
hypercorn (h11 + ASGI events and tasks) cost ~0.9 ms of the chain's CPU, more than
executing a transaction, and gateways poll chains many times a second (see
``benchmarks/RESULTS.md``, "e2e_transfer"); h11 driven directly costs a fraction
of that.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from typing import Protocol

import h11
import trio

from appchains.evm.devchain.config import LOOPBACK_HOSTS
from appchains.evm.devchain.rpc import CLIENT_VERSION

log = logging.getLogger("relayhub.devchain.http")

MAX_BODY = 5 * 1024 * 1024
MAX_HEAD = 64 * 1024
KEEP_ALIVE_TIMEOUT = 60.0
BODY_TIMEOUT = 30.0

_REASONS = {
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    405: b"Method Not Allowed",
    411: b"Length Required",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
}


class RpcBody(Protocol):
    """What the shell serves: a JSON-RPC body in, a body out (:class:`JsonRpc`, or another
    chain's method set, e.g. the FISCO dev chain's)."""

    def handle_body(self, body: bytes) -> bytes | None: ...


class HttpError(Exception):
    """A request this server answers with ``status`` and then closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def respond(rpc: RpcBody, method: bytes, body: bytes) -> tuple[int, bytes, bytes]:
    """``(status, body, content type)`` for a complete request."""
    if method == b"GET":
        return 200, CLIENT_VERSION.encode(), b"text/plain"
    if method != b"POST":
        return 405, b"use POST with a JSON-RPC body", b"text/plain"
    answer = rpc.handle_body(body)
    if answer is None:
        return 204, b"", b"application/json"
    return 200, answer, b"application/json"


def _response(
    conn: h11.Connection, status: int, body: bytes, content_type: bytes, close: bool = False
) -> bytes:
    """The bytes of a whole response, through ``conn``'s state machine."""
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    if close:
        headers.append((b"connection", b"close"))
    reason = _REASONS.get(status, b"Unknown")
    out = conn.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b""
    if body:
        out += conn.send(h11.Data(data=body)) or b""
    return out + (conn.send(h11.EndOfMessage()) or b"")


async def _next_event(conn: h11.Connection, stream: trio.SocketStream) -> h11.Event:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        conn.receive_data(await stream.receive_some(65536))


async def _serve_connection(rpc: RpcBody, stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    try:
        while True:
            with trio.move_on_after(KEEP_ALIVE_TIMEOUT) as idle:
                request = await _next_event(conn, stream)
            if idle.cancelled_caught or not isinstance(request, h11.Request):
                return  # idle too long, or the client closed (ConnectionClosed)
            length = b""
            for name, value in request.headers:
                if name == b"content-length":
                    length = value
                elif name == b"transfer-encoding":
                    raise HttpError(411, "send the body with a Content-Length")
            if length and int(length) > MAX_BODY:  # h11 has checked it is digits
                raise HttpError(413, "request body too large")
            if conn.they_are_waiting_for_100_continue:
                await stream.send_all(
                    conn.send(
                        h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                    )
                    or b""
                )
            chunks = []
            with trio.fail_after(BODY_TIMEOUT):
                while True:
                    event = await _next_event(conn, stream)
                    if isinstance(event, h11.Data):
                        chunks.append(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:  # ConnectionClosed before the body was complete
                        return
            status, out, content_type = respond(rpc, request.method, b"".join(chunks))
            await stream.send_all(_response(conn, status, out, content_type))
            if conn.our_state is not h11.DONE:
                return  # h11 decided this connection ends here (MUST_CLOSE)
            conn.start_next_cycle()
    except (HttpError, h11.RemoteProtocolError) as exc:
        status = exc.status if isinstance(exc, HttpError) else exc.error_status_hint
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            answer = _response(conn, status, str(exc).encode(), b"text/plain", close=True)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(answer)
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def serve_json_rpc(
    rpc: RpcBody,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``rpc`` on ``http://host:port`` (loopback only); ``started`` with the URL."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to bind {host}: the dev chain serves loopback only")

    async def handler(stream: trio.SocketStream) -> None:
        await _serve_connection(rpc, stream)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, port, host=host))
        bound = listeners[0].socket.getsockname()
        where = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        task_status.started(f"http://{where}:{bound[1]}")
