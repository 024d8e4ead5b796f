"""HTTP shell of the JSON-RPC server: a small HTTP/1.1 server on trio, loopback only.

``POST /`` with a JSON-RPC body (single or batch) answers ``200`` with the JSON-RPC
response (``204`` for notifications only); ``GET /`` answers the client version;
other methods get ``405``; bodies over 5 MiB get ``413``; a body without
``Content-Length`` gets ``411``. Connections are kept alive (HTTP/1.1 default,
``Connection: keep-alive`` for HTTP/1.0) and closed after ``KEEP_ALIVE_TIMEOUT``
idle seconds. All method logic is in :mod:`.rpc`.

Why not an ASGI server: a JSON-RPC round trip through hypercorn (h11 + ASGI
events) cost ~0.9 ms of the chain's CPU, more than executing a transaction, and
gateways poll chains many times a second. This shell parses what JSON-RPC
clients send (a request line, headers, a ``Content-Length`` body) in ~0.1 ms.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from functools import partial

import trio

from appchains.evm.devchain.config import LOOPBACK_HOSTS
from appchains.evm.devchain.rpc import CLIENT_VERSION, JsonRpc

log = logging.getLogger("relayhub.devchain.http")

MAX_BODY = 5 * 1024 * 1024
MAX_HEAD = 64 * 1024
KEEP_ALIVE_TIMEOUT = 60.0
BODY_TIMEOUT = 30.0

_REASONS = {
    100: b"Continue",
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    405: b"Method Not Allowed",
    411: b"Length Required",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
}


class HttpError(Exception):
    """A request this server answers with ``status`` and then closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: bytes
    target: bytes
    keep_alive: bool
    content_length: int
    expect_continue: bool


def parse_request_head(head: bytes) -> RequestHead:
    """Parse a request line and headers (without the blank line); raise :class:`HttpError`."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        headers[name.lower()] = value.strip()
    if b"transfer-encoding" in headers:
        raise HttpError(411, "send the body with a Content-Length")
    try:
        length = int(headers.get(b"content-length", b"0"))
    except ValueError:
        raise HttpError(400, "bad Content-Length") from None
    if length < 0:
        raise HttpError(400, "bad Content-Length")
    connection = headers.get(b"connection", b"").lower()
    keep_alive = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
    return RequestHead(
        method,
        target,
        keep_alive,
        length,
        headers.get(b"expect", b"").lower() == b"100-continue",
    )


def format_response(status: int, body: bytes, content_type: bytes, keep_alive: bool) -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n" % (
        status,
        _REASONS.get(status, b"Unknown"),
        content_type,
        len(body),
    )
    if not keep_alive:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body


def respond(rpc: JsonRpc, method: bytes, body: bytes) -> tuple[int, bytes, bytes]:
    """``(status, body, content type)`` for a complete request."""
    if method == b"GET":
        return 200, CLIENT_VERSION.encode(), b"text/plain"
    if method != b"POST":
        return 405, b"use POST with a JSON-RPC body", b"text/plain"
    answer = rpc.handle_body(body)
    if answer is None:
        return 204, b"", b"application/json"
    return 200, answer, b"application/json"


async def _serve_connection(rpc: JsonRpc, stream: trio.SocketStream) -> None:
    buf = b""
    try:
        while True:
            with trio.move_on_after(KEEP_ALIVE_TIMEOUT) as idle:
                while b"\r\n\r\n" not in buf:
                    if len(buf) > MAX_HEAD:
                        raise HttpError(431, "request head too large")
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buf += data
            if idle.cancelled_caught:
                return
            head_bytes, _, buf = buf.partition(b"\r\n\r\n")
            head = parse_request_head(head_bytes)
            if head.content_length > MAX_BODY:
                raise HttpError(413, "request body too large")
            if head.expect_continue and len(buf) < head.content_length:
                await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            with trio.fail_after(BODY_TIMEOUT):
                while len(buf) < head.content_length:
                    data = await stream.receive_some(max(65536, head.content_length - len(buf)))
                    if not data:
                        return
                    buf += data
            body, buf = buf[: head.content_length], buf[head.content_length :]
            status, out, content_type = respond(rpc, head.method, body)
            await stream.send_all(format_response(status, out, content_type, head.keep_alive))
            if not head.keep_alive:
                return
    except HttpError as exc:
        message = str(exc).encode()
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(format_response(exc.status, message, b"text/plain", False))
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def serve_json_rpc(
    rpc: JsonRpc,
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
