"""The dev chain's HTTP/1.1 shell: what JSON-RPC clients send, and what it refuses."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import httpx
import trio

from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.node import open_devchain

BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode()


async def _raw(url: str, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the server says until it closes."""
    u = urlparse(url)
    stream = await trio.open_tcp_stream(u.hostname or "127.0.0.1", u.port or 80)
    out = b""
    async with stream:
        await stream.send_all(data)
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                out += chunk
    return out


def _post(body: bytes, extra: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return (
        b"POST / "
        + version
        + b"\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
        + extra
        + b"\r\n"
        + body
    )


async def test_http_shell_over_the_wire() -> None:
    async with open_devchain(DevchainConfig(seed="http", port=0)) as chain:
        # httpx: keep-alive, many requests on one connection, GET and PUT
        async with httpx.AsyncClient(base_url=chain.url) as client:
            for _ in range(3):
                r = await client.post("/", content=BODY)
                assert r.status_code == 200 and r.json()["result"] == hex(chain.chain_id)
            assert r.headers["content-type"] == "application/json"
            assert (await client.get("/")).text.startswith("relayhub-devchain")
            assert (await client.put("/")).status_code == 405
        # two pipelined requests, then Connection: close ends the exchange
        got = await _raw(chain.url, _post(BODY) + _post(BODY, b"Connection: close\r\n"))
        assert got.count(b"HTTP/1.1 200 OK") == 2 and got.endswith(b'"result":"0x539"}')
        # HTTP/1.0 closes unless asked to keep alive
        assert (await _raw(chain.url, _post(BODY, version=b"HTTP/1.0"))).count(b"200 OK") == 1
        # Expect: 100-continue is answered before the body is read
        u = urlparse(chain.url)
        stream = await trio.open_tcp_stream(u.hostname or "", u.port or 0)
        async with stream:
            head = _post(BODY, b"Expect: 100-continue\r\nConnection: close\r\n")
            await stream.send_all(head[: -len(BODY)])
            with trio.fail_after(5):
                assert (await stream.receive_some(100)).startswith(b"HTTP/1.1 100 Continue")
            await stream.send_all(BODY)
            with trio.fail_after(5):
                assert b"200 OK" in await stream.receive_some(65536)
        # refusals close the connection with a status
        big = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (6 * 1024 * 1024)
        assert (await _raw(chain.url, big)).startswith(b"HTTP/1.1 413")
        chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        assert (await _raw(chain.url, chunked)).startswith(b"HTTP/1.1 411")
        assert (await _raw(chain.url, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400")
        assert (await _raw(chain.url, b"X" * 70_000)).startswith(b"HTTP/1.1 431")
        # and the server still answers afterwards
        async with httpx.AsyncClient(base_url=chain.url) as client:
            assert (await client.post("/", content=BODY)).status_code == 200


async def test_http_shell_refuses_malformed_heads() -> None:
    """h11 parses the heads: what it refuses gets 400 and the connection ends."""
    async with open_devchain(DevchainConfig(seed="http-bad", port=0)) as chain:
        for bad in (
            b"POST / SPDY/3\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",  # HTTP/1.1 without Host
        ):
            assert (await _raw(chain.url, bad)).startswith(b"HTTP/1.1 400"), bad
        # Connection: Keep-Alive on HTTP/1.1 keeps it open; HTTP/1.0 gets one answer
        ka = _post(BODY, b"Connection: Keep-Alive\r\n")
        got = await _raw(chain.url, ka + _post(BODY, b"Connection: close\r\n"))
        assert got.count(b"200 OK") == 2
        got = await _raw(chain.url, _post(BODY, b"Connection: keep-alive\r\n", b"HTTP/1.0") * 2)
        assert got.count(b"200 OK") == 1 and b"connection: close" in got.lower()
