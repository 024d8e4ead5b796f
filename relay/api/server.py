"""The relay's HTTP API and gateway stream (I/O shell): starlette on hypercorn's trio worker.

docs/api.md is the contract; ``relay/api/openapi.py`` describes the HTTP part.
Handlers only translate: decode the request, call the node, encode the answer.
Every refusal is a RelayError turned into ``{code, message, details}`` with its
HTTP status; anything unexpected is logged and answered 500 without taking the
node down.
"""

from __future__ import annotations

import logging
from typing import Any

import msgpack
import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from relay.api.openapi import OPENAPI
from relay.api.request import (
    MSGPACK,
    Refused,
    decode_submission,
)
from relay.errors import Code, RelayError, http_status
from relay.ibtp import TxStatus, parse_ibtp_id, parse_service_id
from relay.ledger.types import Block, Transaction
from relay.node import Node
from relay.refusals import describe_refusal

log = logging.getLogger("relayhub.api")

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_OUTBOUND_PAGE = 500
#: Request bodies decoded at once (worker threads); more wait their turn.
DECODE_THREADS = 2


# --- encoding helpers ---------------------------------------------------------


def to_json_value(v: Any) -> Any:
    """JSON form of a msgpack-able value: bytes become 0x-hex."""
    if isinstance(v, bytes | bytearray | memoryview):
        return "0x" + bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [to_json_value(x) for x in v]
    return v


def _wants_msgpack(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if MSGPACK in accept or "application/x-msgpack" in accept:
        return True
    if "application/json" in accept:
        return False
    ctype = request.headers.get("content-type", "")
    return ctype.startswith((MSGPACK, "application/x-msgpack"))


def reply(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if _wants_msgpack(request):
        return Response(
            msgpack.packb(body, use_bin_type=True),
            status_code=status,
            media_type=MSGPACK,
            headers=headers,
        )
    return JSONResponse(to_json_value(body), status_code=status, headers=headers)


def refuse(request: Request, exc: RelayError) -> Response:
    headers = None
    if exc.code == Code.MEMPOOL_FULL:
        headers = {"Retry-After": str(exc.details.get("retry_after", 1))}
    elif exc.code == Code.BODY_TOO_LARGE:
        # The rest of the body was not read: the connection cannot be reused.
        headers = {"Connection": "close"}
    return reply(request, exc.to_dict(), exc.http_status, headers)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and _is_decimal(declared) and int(declared) > MAX_BODY_BYTES:
        raise RelayError(Code.BODY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes; split it")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RelayError(
                Code.BODY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes; split it"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# --- handlers -----------------------------------------------------------------


class Api:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._decode_limiter: trio.CapacityLimiter | None = None

    def _limiter(self) -> trio.CapacityLimiter:
        # Made on first use, inside the trio run that serves the app.
        if self._decode_limiter is None:
            self._decode_limiter = trio.CapacityLimiter(DECODE_THREADS)
        return self._decode_limiter

    async def submit_txs(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        body = await read_body(request)
        # Decoding, hashing and signature recovery are CPU work bounded per request
        # (relay/api/request.py): they run in a worker thread, a few at a time, so a
        # hostile body never holds the event loop (and /healthz) up.
        sub = await trio.to_thread.run_sync(
            decode_submission, ctype, body, self.node.genesis.hub_id, limiter=self._limiter()
        )
        if sub.undecodable:
            # One undecodable transaction refuses the request whole: nothing is admitted.
            first_err = next(d for d in sub.items if isinstance(d, RelayError))
            refused = [
                {"ok": False, "tx": "", **d.to_dict()}
                if isinstance(d, RelayError)
                else {
                    "ok": False,
                    "tx": d.hash.hex(),
                    "code": int(Code.BAD_REQUEST),
                    "message": "not admitted: another transaction in this request does not "
                    "decode; fix that one and resend all",
                    "details": {},
                }
                for d in sub.items
                if not isinstance(d, Refused)
            ]
            return reply(
                request, {**first_err.to_dict(), "results": refused}, first_err.http_status
            )
        txs = [d for d in sub.items if isinstance(d, Transaction)]
        wait = request.query_params.get("wait") == "commit"
        admitted = iter(await self.node.submit(txs, wait_commit=wait))
        results: list[dict[str, Any]] = []
        for d in sub.items:
            if isinstance(d, Refused):  # its signature did not recover
                self.node.metrics.txs_refused.labels(str(d.error.code)).inc()
                results.append({"ok": False, "tx": d.tx.hash.hex(), **d.error.to_dict()})
            else:
                results.append(next(admitted))
        ok = sum(1 for r in results if r["ok"])
        payload = {"results": results, "height": self.node.head_height}
        if ok == len(results):
            return reply(request, payload, 200)
        if ok:
            return reply(request, payload, 207)
        first = results[0]
        retry = {"Retry-After": "1"} if first["code"] == Code.MEMPOOL_FULL else None
        return reply(
            request,
            {
                **payload,
                "code": first["code"],
                "message": first["message"],
                "details": first.get("details", {}),
            },
            http_status(int(first["code"])),
            retry,
        )

    async def status(self, request: Request) -> Response:
        n = self.node
        g = n.genesis
        return reply(
            request,
            {
                "hub_id": g.hub_id,
                "height": n.head_height,
                "head_hash": n.head_hash,
                "state_root": n.head_state,
                "validators": list(g.validators),
                "validator_threshold": g.validator_threshold,
                "default_timeout_blocks": g.default_timeout_blocks,
                "families": n.executor.verifiers.families,
                "mempool_txs": n.mempool_size,
            },
        )

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "height": self.node.head_height})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def block(self, request: Request) -> Response:
        ref = request.path_params["ref"]
        if ref == "latest":
            height = self.node.head_height
        elif _is_decimal(ref) and int(ref) < 2**63:
            height = int(ref)
        else:
            raise RelayError(Code.BAD_REQUEST, "block reference is a height or 'latest'")
        with_txs = request.query_params.get("txs") in ("1", "true")
        blk = self.node.store.get_block(height, with_txs=with_txs)
        if blk is None:
            raise RelayError(
                Code.NOT_FOUND, f"no block at height {height} (head is {self.node.head_height})"
            )
        return reply(request, block_view(blk, with_txs))

    async def tx(self, request: Request) -> Response:
        h = request.path_params["hash"].removeprefix("0x")
        try:
            tx_hash = bytes.fromhex(h)
        except ValueError:
            raise RelayError(Code.BAD_REQUEST, "transaction hash is hex") from None
        found = self.node.store.get_tx(tx_hash)
        if found is None:
            raise RelayError(Code.NOT_FOUND, f"no committed transaction {h}")
        tx, rc = found
        return reply(
            request,
            {
                "tx": {
                    "hub": tx.hub_id,
                    "sender": tx.sender,
                    "nonce": tx.nonce,
                    "kind": tx.kind,
                    "body": tx.body,
                    "sig": tx.sig,
                    "hash": tx.hash,
                },
                "receipt": {"height": rc.height, "index": rc.index, "results": list(rc.results)},
            },
        )

    async def ibtp(self, request: Request) -> Response:
        ibtp_id = request.path_params["ibtp_id"]
        parse_ibtp_id(ibtp_id)
        rec = self.node.store.get_committed(f"tx/{ibtp_id}")
        refusal = self.node.refusals.get(ibtp_id)
        if rec is None:
            if refusal is None:
                raise RelayError(
                    Code.UNKNOWN_IBTP,
                    f"no interchain transaction {ibtp_id} on this relay: its source chain's "
                    "gateway has not submitted it (or it is not committed yet)",
                )
            raise RelayError(
                Code.UNKNOWN_IBTP,
                f"no interchain transaction {ibtp_id} on this relay; the relay refused it: "
                f"{describe_refusal(refusal)}",
                last_refusal=refusal,
            )
        status = TxStatus(rec[0])
        return reply(
            request,
            {
                "id": ibtp_id,
                "status": int(status),
                "status_name": status.name,
                "final": status.is_final,
                "hash": rec[1],
                "timeout": rec[2],
                "history": rec[3],
                "result": rec[5],
                "last_refusal": refusal,
            },
        )

    async def account(self, request: Request) -> Response:
        addr = request.path_params["address"].lower()
        return reply(
            request,
            {"address": addr, "nonce": int(self.node.store.get_committed(f"acct/{addr}") or 0)},
        )

    async def chains(self, request: Request) -> Response:
        return reply(request, [v for _, v in self.node.store.scan_committed("chain/")])

    async def chain(self, request: Request) -> Response:
        cid = request.path_params["chain_id"]
        rec = self.node.store.get_committed(f"chain/{cid}")
        if rec is None:
            raise RelayError(Code.UNKNOWN_CHAIN, f"chain {cid!r} is not registered")
        return reply(request, rec)

    async def service(self, request: Request) -> Response:
        sid = str(parse_service_id(request.path_params["service_id"]))
        rec = self.node.store.get_committed(f"svc/{sid}")
        if rec is None:
            raise RelayError(Code.UNKNOWN_SERVICE, f"service {sid} is not registered")
        counters: dict[str, dict[str, int]] = {
            "interchain": {},
            "source_interchain": {},
            "receipt": {},
            "source_receipt": {},
        }
        for key, (ic, rc) in self.node.store.scan_committed("pair/"):
            src, dst = key[5:].split("~")
            if src == sid:
                counters["interchain"][dst] = ic
                counters["source_receipt"][dst] = rc
            if dst == sid:
                counters["source_interchain"][src] = ic
                counters["receipt"][src] = rc
        return reply(request, {**rec, "counters": counters})

    async def pair(self, request: Request) -> Response:
        src = str(parse_service_id(request.path_params["src"]))
        dst = str(parse_service_id(request.path_params["dst"]))
        ic, rc = self.node.store.get_committed(f"pair/{src}~{dst}") or (0, 0)
        return reply(request, {"from": src, "to": dst, "interchain": ic, "receipt": rc})

    async def chain_pairs(self, request: Request) -> Response:
        cid = request.path_params["chain_id"]
        out = []
        for key, (ic, rc) in self.node.store.scan_committed("pair/"):
            src, dst = key[5:].split("~")
            if parse_service_id(src).chain == cid or parse_service_id(dst).chain == cid:
                out.append({"from": src, "to": dst, "interchain": ic, "receipt": rc})
        return reply(request, out)

    async def outbound(self, request: Request) -> Response:
        chain = request.path_params["chain"]
        from_seq = _int_param(request, "from_seq", 1)
        limit = min(_int_param(request, "limit", MAX_OUTBOUND_PAGE), MAX_OUTBOUND_PAGE)
        return reply(request, self.node.outbound(chain, from_seq, limit))

    async def stream(self, ws: WebSocket) -> None:
        chain = ws.path_params["chain"]
        await ws.accept()
        try:
            seq = parse_stream_position(ws.query_params.get("from_seq"))
        except RelayError as exc:
            # The refusal as a first frame (the SDK raises it as a RelayApiError with
            # its code), then an application close code carrying the same code.
            await ws.send_bytes(msgpack.packb(exc.to_dict(), use_bin_type=True))
            await ws.close(STREAM_REFUSED, f"[{exc.code}] {exc.message}"[:120])
            return
        self.node.metrics.stream_clients.inc()
        try:
            async with trio.open_nursery() as nursery:
                # Read the socket too, so a client that leaves a quiet chain is noticed.
                nursery.start_soon(self._watch_disconnect, ws, nursery.cancel_scope)
                await self._send_outbound(ws, chain, seq)
        except (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.node.metrics.stream_clients.dec()

    async def _send_outbound(self, ws: WebSocket, chain: str, seq: int) -> None:
        while True:
            page = self.node.outbound(chain, seq, MAX_OUTBOUND_PAGE)
            if page["entries"]:
                await ws.send_bytes(msgpack.packb(page, use_bin_type=True))
                seq = page["entries"][-1]["seq"] + 1
                continue
            await self.node.wait_outbound(chain, seq - 1)

    @staticmethod
    async def _watch_disconnect(ws: WebSocket, scope: trio.CancelScope) -> None:
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        scope.cancel()


#: WebSocket close code of a refused stream request (4000 + HTTP 400); the reason and
#: the frame sent before it carry the relay error code.
STREAM_REFUSED = 4400
#: Highest stream position: what the store's 64-bit signed integers hold.
MAX_SEQ = 2**63 - 1


def parse_stream_position(raw: str | None) -> int:
    """``from_seq`` of ``WS /v1/stream/{chain}``: a decimal in 1..2^63-1 (default 1)."""
    if raw is None:
        return 1
    if not _is_decimal(raw) or not 1 <= int(raw) <= MAX_SEQ:
        raise RelayError(
            Code.BAD_REQUEST,
            f"from_seq must be a decimal integer in 1..{MAX_SEQ} (got {raw[:40]!r}); "
            "reconnect with the last seq you finished + 1, or 1 to start over",
            from_seq=raw[:40],
        )
    return int(raw)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _is_decimal(raw) or int(raw) >= 2**63:
        raise RelayError(
            Code.BAD_REQUEST, f"query parameter {name} must be an integer in 0..2^63-1"
        )
    return int(raw)


def _is_decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²' and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def block_view(blk: Block, with_txs: bool) -> dict[str, Any]:
    h = blk.header
    out: dict[str, Any] = {
        "height": h.height,
        "hash": blk.hash,
        "parent_hash": h.parent_hash,
        "timestamp_ms": h.timestamp_ms,
        "tx_root": h.tx_root,
        "receipt_root": h.receipt_root,
        "state_root": h.state_root,
        "proposer": h.proposer,
        "signatures": list(blk.signatures),
    }
    if with_txs:
        out["txs"] = [
            {
                "hash": tx.hash,
                "sender": tx.sender,
                "nonce": tx.nonce,
                "kind": tx.kind,
                "results": list(r.results),
            }
            for tx, r in zip(blk.txs, blk.receipts, strict=True)
        ]
    return out


def _route(node: Node, name: str, handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        status = 500
        try:
            resp: Response = await handler(request)
            status = resp.status_code
            return resp
        except RelayError as exc:
            status = exc.http_status
            return refuse(request, exc)
        except Exception:
            log.exception("unhandled error in %s", name)
            return reply(
                request,
                {
                    "code": int(Code.STORAGE),
                    "message": "internal error; see the node log",
                    "details": {},
                },
                500,
            )
        finally:
            node.metrics.http_requests.labels(name, str(status)).inc()

    return endpoint


def create_app(node: Node) -> Starlette:
    api = Api(node)
    routes = [
        Route("/v1/txs", _route(node, "submit", api.submit_txs), methods=["POST"]),
        Route("/v1/status", _route(node, "status", api.status)),
        Route("/v1/blocks/{ref}", _route(node, "block", api.block)),
        Route("/v1/txs/{hash}", _route(node, "tx", api.tx)),
        Route("/v1/ibtps/{ibtp_id:path}", _route(node, "ibtp", api.ibtp)),
        Route("/v1/accounts/{address}", _route(node, "account", api.account)),
        Route("/v1/chains", _route(node, "chains", api.chains)),
        Route("/v1/chains/{chain_id}", _route(node, "chain", api.chain)),
        Route("/v1/chains/{chain_id}/pairs", _route(node, "chain_pairs", api.chain_pairs)),
        Route("/v1/services/{service_id}", _route(node, "service", api.service)),
        Route("/v1/pairs/{src}/{dst}", _route(node, "pair", api.pair)),
        Route("/v1/outbound/{chain}", _route(node, "outbound", api.outbound)),
        Route("/healthz", _route(node, "healthz", api.healthz)),
        Route("/metrics", _route(node, "metrics", api.metrics)),
        Route("/openapi.json", _route(node, "openapi", api.openapi)),
        WebSocketRoute("/v1/stream/{chain}", api.stream),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return reply(
            request,
            {
                "code": int(Code.NOT_FOUND),
                "message": f"no route {request.url.path}; see /openapi.json for the routes",
                "details": {},
            },
            404,
        )

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return reply(
            request,
            {
                "code": int(Code.BAD_REQUEST),
                "message": f"{request.method} is not allowed on {request.url.path}",
                "details": {},
            },
            405,
        )

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


async def serve_api(
    node: Node,
    host: str = "127.0.0.1",
    port: int = 8710,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API until cancelled; ``task_status.started(url)`` once listening."""
    cfg = HyperConfig()
    cfg.keep_alive_timeout = 75
    cfg.websocket_ping_interval = 20
    cfg.h11_max_incomplete_size = 64 * 1024
    await serve_asgi(create_app(node), host, port, cfg, task_status=task_status)


async def serve_asgi(
    app: Any,
    host: str,
    port: int,
    cfg: HyperConfig | None = None,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve an ASGI ``app`` on hypercorn's trio worker at ``host:port`` (0: any free
    port) until cancelled, without access or error logs; ``task_status.started(url)``
    with the bound URL once listening. Shared by the relay API and the gateway's
    admin endpoint."""
    cfg = cfg or HyperConfig()
    cfg.bind = [f"{host}:{port}"]
    cfg.accesslog = None
    cfg.errorlog = None

    async def run(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await serve(app, cfg, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(run)
        task_status.started(binds[0] if binds else f"http://{host}:{port}")
