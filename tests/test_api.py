"""The HTTP API and gateway stream, in-process on loopback: every route of docs/api.md,
msgpack and JSON forms, statuses and error codes, the WebSocket stream, metrics and
OpenAPI; then a bounded property test that throws random and mutated requests at
``POST /v1/txs`` and the read routes and requires a coded 4xx for each, with the
ledger untouched and verifiable afterwards."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import trio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from relayfix import (
    DEADLINE,
    HUB,
    World,
    account,
    assert_refusal,
    json_txs,
    node_config,
    notary_registry,
    pack_txs,
    replace_ibtp,
    response_body,
    serve_in_thread,
    sid,
)
from trio_websocket import open_websocket_url

import relay.api.server as server
from relay.crypto import Account, recover_address
from relay.errors import Code, http_status
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_signed_digest,
    decode_ibtp,
    encode_ibtp,
)
from relay.ledger.types import Transaction, encode_tx, sign_tx
from relay.ledger.verify import verify_ledger
from relay.node import Node, open_node

MSGPACK = "application/msgpack"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METRICS = (
    "relayhub_txs_accepted_total",
    "relayhub_txs_refused_total",
    "relayhub_ibtps_total",
    "relayhub_timeouts_total",
    "relayhub_blocks_committed_total",
    "relayhub_block_height",
    "relayhub_mempool_txs",
    "relayhub_block_commit_seconds",
    "relayhub_block_txs",
    "relayhub_outbound_total",
    "relayhub_stream_clients",
    "relayhub_http_requests_total",
)


@dataclass
class Api:
    world: World
    node: Node
    http: httpx.AsyncClient
    url: str

    async def post_txs(
        self, txs: list[Transaction], *, json_form: bool = False, wait: bool = True
    ) -> httpx.Response:
        params = {"wait": "commit"} if wait else {}
        if json_form:
            return await self.http.post("/v1/txs", json=json_txs(txs), params=params)
        return await self.http.post(
            "/v1/txs", content=pack_txs(txs), params=params, headers={"content-type": MSGPACK}
        )

    async def post_ok(self, txs: list[Transaction]) -> dict[str, Any]:
        r = await self.post_txs(txs)
        assert r.status_code == 200, body(r)
        return body(r)

    def ws_url(self, chain: str, from_seq: int | None = None) -> str:
        q = "" if from_seq is None else f"?from_seq={from_seq}"
        return self.url.replace("http://", "ws://") + f"/v1/stream/{chain}{q}"


body = response_body


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    world = World()
    cfg = node_config(tmp_path, world)
    async with open_node(cfg, notary_registry()) as node, trio.open_nursery() as nursery:
        url = await nursery.start(server.serve_api, node, "127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=url, timeout=DEADLINE) as http:
            a = Api(world, node, http, url)
            await a.post_ok(world.setup_txs())
            yield a
        nursery.cancel_scope.cancel()


# --- POST /v1/txs ------------------------------------------------------------------------


async def test_submit_msgpack(api: Api) -> None:
    w = api.world
    reqs = [w.interchain("A", "B"), w.interchain("A", "B")]
    txs = [w.ibtp_tx(reqs), w.ibtp_tx([w.interchain("C", "B")])]
    r = await api.post_txs(txs)
    assert r.status_code == 200
    assert r.headers["content-type"] == MSGPACK
    doc = body(r)
    assert [x["ok"] for x in doc["results"]] == [True, True]
    assert [x["tx"] for x in doc["results"]] == [t.hash.hex() for t in txs]
    assert doc["results"][0]["results"] == [[q.id, TxStatus.BEGIN, False] for q in reqs]
    assert doc["height"] == api.node.head_height
    # wait=commit: committed when answered.
    for t in txs:
        got = await api.http.get(f"/v1/txs/{t.hash.hex()}")
        assert got.status_code == 200


async def test_submit_json(api: Api) -> None:
    w = api.world
    req = w.interchain("A", "C")
    r = await api.post_txs([w.ibtp_tx([req])], json_form=True)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    (res,) = r.json()["results"]
    assert res["ok"] and res["results"] == [[req.id, 0, False]]
    got = (await api.http.get(f"/v1/ibtps/{req.id}")).json()
    assert got["hash"].startswith("0x") and len(got["hash"]) == 66  # bytes as 0x-hex in JSON


async def test_accept_header_chooses_the_form(api: Api) -> None:
    w = api.world
    r = await api.http.post(
        "/v1/txs",
        content=pack_txs([w.ibtp_tx([w.interchain("A", "B")])]),
        headers={"content-type": MSGPACK, "accept": "application/json"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    r = await api.http.post(
        "/v1/txs",
        json=json_txs([w.ibtp_tx([w.interchain("A", "B")])]),
        headers={"accept": MSGPACK},
    )
    assert r.status_code == 200 and r.headers["content-type"] == MSGPACK
    r = await api.http.get("/v1/status", headers={"accept": MSGPACK})
    assert body(r)["hub_id"] == HUB
    assert (await api.http.get("/v1/status")).json()["hub_id"] == HUB


async def test_partial_and_full_refusal(api: Api) -> None:
    w = api.world
    replay = w.gateway("A").probe("ibtp", [], nonce=1)
    good = w.ibtp_tx([w.interchain("A", "B")])
    r = await api.post_txs([good, replay])
    assert r.status_code == 207
    ok, bad = body(r)["results"]
    assert ok["ok"] and not bad["ok"]
    assert bad["code"] == Code.NONCE_USED
    assert bad["details"]["expected"] == w.gateway("A").nonce + 1
    # Nothing admitted: the status of the first refusal, its code on top.
    gap = w.gateway("B").probe("ibtp", [], nonce=w.gateway("B").nonce + 3)
    r = await api.post_txs([gap, replay])
    doc = assert_refusal(r, Code.NONCE_GAP)
    assert [x["code"] for x in doc["results"]] == [Code.NONCE_GAP, Code.NONCE_USED]
    r = await api.post_txs([w.ibtp_probe([w.interchain("A", "B", index=9)])], json_form=True)
    doc = assert_refusal(r, Code.INDEX_GAP)
    assert doc["results"][0]["details"] == {"expected": 2, "item": 0}


async def test_one_undecodable_tx_refuses_the_request(api: Api) -> None:
    w = api.world
    good = w.gateway("A").probe("ibtp", [encode_ibtp(w.interchain("A", "B", index=1))])
    raw = msgpack.packb([encode_tx(good), b"\xc1junk"], use_bin_type=True)
    r = await api.http.post("/v1/txs", content=raw, headers={"content-type": MSGPACK})
    doc = assert_refusal(r, Code.MALFORMED_ENCODING)
    assert Code.MALFORMED_ENCODING in [x.get("code") for x in doc["results"]]
    assert not any(x["ok"] for x in doc["results"])
    # The good transaction was not admitted: its nonce is still free.
    await api.post_ok([good])


async def test_wait_or_not(api: Api) -> None:
    w = api.world
    tx = w.ibtp_tx([w.interchain("A", "B")])
    r = await api.post_txs([tx], wait=False)
    assert r.status_code == 200
    with trio.fail_after(DEADLINE):
        while (await api.http.get(f"/v1/txs/{tx.hash.hex()}")).status_code == 404:
            await trio.sleep(0.01)


@pytest.mark.parametrize(
    ("content", "ctype", "code"),
    [
        pytest.param(b"\xc1", MSGPACK, Code.MALFORMED_ENCODING, id="msgpack-garbage"),
        pytest.param(b"\x92\x01", MSGPACK, Code.MALFORMED_ENCODING, id="msgpack-truncated"),
        pytest.param(msgpack.packb({"a": 1}), MSGPACK, Code.FIELD_TYPE, id="msgpack-map"),
        pytest.param(msgpack.packb([1, 2]), MSGPACK, Code.FIELD_TYPE, id="msgpack-ints"),
        pytest.param(msgpack.packb([]), MSGPACK, Code.FIELD_TYPE, id="msgpack-empty"),
        pytest.param(msgpack.packb([b"x"] * 1001), MSGPACK, Code.FIELD_TYPE, id="msgpack-1001-txs"),
        pytest.param(b"{", "application/json", Code.MALFORMED_ENCODING, id="json-garbage"),
        pytest.param(b"\xff\xfe{", "application/json", Code.MALFORMED_ENCODING, id="json-utf"),
        pytest.param(b"[]", "application/json", Code.FIELD_TYPE, id="json-list"),
        pytest.param(b'{"txs": 5}', "application/json", Code.FIELD_TYPE, id="json-txs-int"),
        pytest.param(b'{"txs": [5]}', "application/json", Code.FIELD_TYPE, id="json-tx-int"),
        pytest.param(b'{"txs": ["ab"]}', "application/json", Code.FIELD_TYPE, id="json-no-0x"),
        pytest.param(b'{"txs": ["0xzz"]}', "application/json", Code.FIELD_TYPE, id="json-hex"),
        pytest.param(b'{"txs": []}', "application/json", Code.FIELD_TYPE, id="json-empty"),
        pytest.param(b'{"txs": ["0xc1"]}', "", Code.MALFORMED_ENCODING, id="no-ctype-is-json"),
        pytest.param(b"x", "text/plain", Code.UNSUPPORTED_MEDIA_TYPE, id="text"),
        pytest.param(b"x", "application/xml", Code.UNSUPPORTED_MEDIA_TYPE, id="xml"),
    ],
)
async def test_malformed_requests(api: Api, content: bytes, ctype: str, code: int) -> None:
    headers = {"content-type": ctype} if ctype else {}
    req = api.http.build_request("POST", "/v1/txs", content=content, headers=headers)
    if not ctype:
        req.headers.pop("content-type", None)
    assert_refusal(await api.http.send(req), code)


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"\x00" * size


async def post_chunked(url: str, n: int, size: int) -> httpx.Response:
    """POST a body of ``n`` chunks without a declared length, on a fresh connection (see
    test_connection_survives_a_chunked_413)."""
    async with httpx.AsyncClient(base_url=url, timeout=DEADLINE) as fresh:
        return await fresh.post(
            "/v1/txs", content=_chunks(n, size), headers={"content-type": MSGPACK}
        )


async def test_body_too_large(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit: a declared 16 MiB + 1 is refused before it is read ...
    big = b"\x00" * (server.MAX_BODY_BYTES + 1)
    r = await api.http.post("/v1/txs", content=big, headers={"content-type": MSGPACK})
    assert_refusal(r, Code.BODY_TOO_LARGE)
    # ... and a chunked one once more than the limit has arrived.
    assert_refusal(await post_chunked(api.url, 17 * 16, 64 * 1024), Code.BODY_TOO_LARGE)
    monkeypatch.setattr(server, "MAX_BODY_BYTES", 1000)
    r = await api.http.post("/v1/txs", content=b"\x00" * 1001, headers={"content-type": MSGPACK})
    assert_refusal(r, Code.BODY_TOO_LARGE)
    assert_refusal(await post_chunked(api.url, 4, 300), Code.BODY_TOO_LARGE)
    # At the limit it is read (and then refused for what it is).
    r = await api.http.post("/v1/txs", content=b"\x00" * 1000, headers={"content-type": MSGPACK})
    assert r.status_code == 400
    assert body(r)["code"] in (Code.MALFORMED_ENCODING, Code.NON_CANONICAL)
    assert (await api.http.get("/healthz")).status_code == 200


def test_connection_survives_a_chunked_413(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(17 * 16):
            yield b"\x00" * (64 * 1024)

    with (
        serve_in_thread(node_config(tmp_path, World()), notary_registry()) as srv,
        httpx.Client(base_url=srv.url, timeout=DEADLINE) as client,
    ):
        r = client.post("/v1/txs", content=chunks(), headers={"content-type": MSGPACK})
        assert_refusal(r, Code.BODY_TOO_LARGE)
        if r.headers.get("connection") != "close":
            assert client.get("/healthz").status_code == 200


async def test_mempool_full_is_503(
    api: Api, monkeypatch: pytest.MonkeyPatch, expect_retry_after: bool = False
) -> None:
    """With every committer slot taken and the pending block full, a submission is
    answered 503 / 6001 with Retry-After."""
    gate = threading.Event()
    commit_block = api.node.store.commit_block

    def slow_commit(*args: Any, **kwargs: Any) -> None:
        gate.wait(DEADLINE)
        commit_block(*args, **kwargs)

    monkeypatch.setattr(api.node.store, "commit_block", slow_commit)
    tight = dataclasses.replace(api.node.config, max_block_txs=1, max_sealed_blocks=1)
    monkeypatch.setattr(api.node, "config", tight)
    w = api.world
    try:
        first = await api.post_txs([w.ibtp_tx([w.interchain("A", "B")])], wait=False)
        second = await api.post_txs([w.ibtp_tx([w.interchain("A", "B")])], wait=False)
        assert (first.status_code, second.status_code) == (200, 200)
        third = await api.post_txs([w.ibtp_probe([w.interchain("A", "B")])], wait=False)
        doc = assert_refusal(third, Code.MEMPOOL_FULL)
        assert doc["results"][0]["details"] == {"retry_after": 1}
        if expect_retry_after:
            assert third.headers.get("retry-after") == "1"
    finally:
        gate.set()


async def test_mempool_full_has_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await test_mempool_full_is_503(api, monkeypatch, expect_retry_after=True)


# --- reads -------------------------------------------------------------------------------


@dataclass
class Seeded:
    reqs: list[IBTP]
    txs: list[Transaction]


async def seed(api: Api) -> Seeded:
    """A -> B twice (one answered by a receipt), C -> B once, A -> Z (BEGIN_FAILURE)."""
    w = api.world
    reqs = [w.interchain("A", "B"), w.interchain("A", "B"), w.interchain("C", "B")]
    reqs.append(w.interchain("A", "Z"))
    txs = [w.ibtp_tx(reqs[:2]), w.ibtp_tx(reqs[2:3]), w.ibtp_tx(reqs[3:])]
    await api.post_ok(txs)
    rcpt = w.ibtp_tx([w.receipt(reqs[0], result=b"done")])
    await api.post_ok([rcpt])
    return Seeded(reqs, [*txs, rcpt])


#: Every route of docs/api.md (normalised: parameters as {}) -> a test below covers it.
ROUTES = {
    "POST /v1/txs",
    "GET /v1/status",
    "GET /v1/blocks/{}",
    "GET /v1/txs/{}",
    "GET /v1/ibtps/{}",
    "GET /v1/accounts/{}",
    "GET /v1/chains",
    "GET /v1/chains/{}",
    "GET /v1/chains/{}/pairs",
    "GET /v1/services/{}",
    "GET /v1/pairs/{}/{}",
    "GET /v1/outbound/{}",
    "GET /healthz",
    "GET /metrics",
    "GET /openapi.json",
    "WS /v1/stream/{}",
}


def documented_routes() -> set[str]:
    found = set()
    for m in re.finditer(r"`((?:GET|POST|WS) /(?:[^`\s\[?{]|\{[^}]*\})*)", DOCS.read_text()):
        found.add(re.sub(r"\{[^}]*\}", "{}", m.group(1).replace("\\|", "|")))
    return found


def test_every_documented_route_is_tested() -> None:
    assert documented_routes() == ROUTES


async def test_status_health_accounts(api: Api) -> None:
    w = api.world
    st_ = (await api.http.get("/v1/status")).json()
    assert st_["hub_id"] == HUB
    assert st_["height"] == api.node.head_height >= 1
    assert st_["validators"] == [w.validator.address]
    assert st_["validator_threshold"] == 1
    assert st_["default_timeout_blocks"] == w.default_timeout_blocks
    assert st_["families"] == ["notary"]
    assert st_["mempool_txs"] == 0
    assert st_["head_hash"] == "0x" + api.node.head_hash.hex()
    assert st_["state_root"] == "0x" + api.node.head_state.hex()
    assert (await api.http.get("/healthz")).json() == {"ok": True, "height": st_["height"]}
    gw = w.gateway("A")
    acct = (await api.http.get(f"/v1/accounts/{gw.address.upper().replace('0X', '0x')}")).json()
    assert acct == {"address": gw.address, "nonce": gw.nonce}
    fresh = (await api.http.get(f"/v1/accounts/{account('nobody').address}")).json()
    assert fresh["nonce"] == 0


async def test_blocks_and_txs(api: Api) -> None:
    s = await seed(api)
    head = api.node.head_height
    latest = body(await api.http.get("/v1/blocks/latest", headers={"accept": MSGPACK}))
    assert latest["height"] == head
    assert latest["hash"] == api.node.head_hash
    assert set(latest) >= {
        "parent_hash",
        "timestamp_ms",
        "tx_root",
        "receipt_root",
        "state_root",
        "proposer",
        "signatures",
    }
    signer = recover_address(latest["hash"], latest["signatures"][0])
    assert signer == api.world.validator.address
    one = (await api.http.get("/v1/blocks/1", params={"txs": "1"})).json()
    assert one["parent_hash"] == "0x" + api.world.genesis.hash.hex()
    assert one["txs"][0]["kind"] == "chain.register"
    assert "txs" not in (await api.http.get("/v1/blocks/1")).json()
    assert_refusal(await api.http.get(f"/v1/blocks/{head + 5}"), Code.NOT_FOUND)
    assert_refusal(await api.http.get("/v1/blocks/-1"), Code.BAD_REQUEST)
    assert_refusal(await api.http.get("/v1/blocks/first"), Code.BAD_REQUEST)
    tx = s.txs[0]
    got = body(await api.http.get(f"/v1/txs/0x{tx.hash.hex()}", headers={"accept": MSGPACK}))
    assert got["tx"]["sender"] == tx.sender
    assert got["tx"]["nonce"] == tx.nonce
    assert got["tx"]["kind"] == "ibtp"
    assert got["tx"]["body"] == tx.body
    assert got["tx"]["sig"] == tx.sig
    assert got["receipt"]["results"] == [[q.id, 0, False] for q in s.reqs[:2]]
    assert_refusal(await api.http.get("/v1/txs/" + "ab" * 32), Code.NOT_FOUND)
    assert_refusal(await api.http.get("/v1/txs/xyz"), Code.BAD_REQUEST)


async def test_ibtps(api: Api) -> None:
    s = await seed(api)
    done, open_, _, lost = s.reqs
    got = (await api.http.get(f"/v1/ibtps/{done.id}")).json()
    assert got["id"] == done.id
    assert (got["status"], got["status_name"], got["final"]) == (1, "SUCCESS", True)
    assert [st for st, _ in got["history"]] == [0, 1]
    assert got["result"] == "0x" + b"done".hex()  # what the destination returned
    got = (await api.http.get(f"/v1/ibtps/{open_.id}")).json()
    assert (got["status_name"], got["final"], got["result"]) == ("BEGIN", False, "0x")
    assert got["timeout"] == got["history"][0][1] + api.world.default_timeout_blocks
    got = (await api.http.get(f"/v1/ibtps/{lost.id}")).json()
    assert got["status_name"] == "BEGIN_FAILURE"
    unknown = replace_ibtp(open_, index=99).id
    assert_refusal(await api.http.get(f"/v1/ibtps/{unknown}"), Code.UNKNOWN_IBTP)
    assert_refusal(await api.http.get("/v1/ibtps/not-an-id"), Code.BAD_REQUEST)


async def test_chains_services_pairs(api: Api) -> None:
    await seed(api)
    w = api.world
    chains = (await api.http.get("/v1/chains")).json()
    assert [c["id"] for c in chains] == ["A", "B", "C"]
    a = (await api.http.get("/v1/chains/A")).json()
    assert a == next(c for c in chains if c["id"] == "A")
    assert a["status"] == "ACTIVE"
    assert a["gateways"] == [w.gateway("A").address]
    assert a["trust_roots"] == [[1, w.chains["A"].trust_root()]]
    assert set(a) >= {"family", "broker", "name", "desc", "registrar", "registered_at", "history"}
    assert_refusal(await api.http.get("/v1/chains/Z"), Code.UNKNOWN_CHAIN)
    svc = (await api.http.get(f"/v1/services/{sid('B')}")).json()
    assert svc["id"] == sid("B") and "ordered" not in svc
    assert svc["counters"] == {
        "interchain": {},
        "source_interchain": {sid("A"): 2, sid("C"): 1},
        "receipt": {sid("A"): 1, sid("C"): 0},
        "source_receipt": {},
    }
    svc = (await api.http.get(f"/v1/services/{sid('A')}")).json()
    assert svc["counters"]["interchain"] == {sid("B"): 2, sid("Z"): 1}
    assert svc["counters"]["source_receipt"] == {sid("B"): 1, sid("Z"): 0}
    assert_refusal(await api.http.get(f"/v1/services/{sid('B', 'none')}"), Code.UNKNOWN_SERVICE)
    assert_refusal(await api.http.get("/v1/services/B:svc"), Code.BAD_SERVICE_ID)
    got = (await api.http.get(f"/v1/pairs/{sid('A')}/{sid('B')}")).json()
    assert got == {"from": sid("A"), "to": sid("B"), "interchain": 2, "receipt": 1}
    got = (await api.http.get(f"/v1/pairs/{sid('B')}/{sid('A')}")).json()
    assert (got["interchain"], got["receipt"]) == (0, 0)
    assert_refusal(await api.http.get(f"/v1/pairs/x/{sid('A')}"), Code.BAD_SERVICE_ID)
    pairs = (await api.http.get("/v1/chains/B/pairs")).json()
    assert sorted((p["from"], p["to"], p["interchain"], p["receipt"]) for p in pairs) == [
        (sid("A"), sid("B"), 2, 1),
        (sid("C"), sid("B"), 1, 0),
    ]


def check_entry(world: World, chain: str, e: dict[str, Any]) -> IBTP:
    """An outbound entry: an unproven IBTP routed to ``chain``, with a relay proof that
    recovers to the validator over the signed digest of (hub, ibtp, status)."""
    ibtp = decode_ibtp(e["ibtp"])
    assert ibtp.proof == b""
    assert chain in (ibtp.dst.split(":")[1], ibtp.src.split(":")[1])
    digest = compute_signed_digest(HUB, chain, ibtp, e["status"])
    assert [recover_address(digest, sig) for sig in e["sigs"]] == [world.validator.address]
    return ibtp


async def test_outbound(api: Api) -> None:
    s = await seed(api)
    w = api.world
    doc = body(await api.http.get("/v1/outbound/B", headers={"accept": MSGPACK}))
    assert doc["last_seq"] == 3
    assert [e["seq"] for e in doc["entries"]] == [1, 2, 3]
    routed = [check_entry(w, "B", e) for e in doc["entries"]]
    assert routed == [replace_ibtp(q, proof=b"") for q in s.reqs[:3]]
    page = body(
        await api.http.get("/v1/outbound/B?from_seq=2&limit=1", headers={"accept": MSGPACK})
    )
    assert [e["seq"] for e in page["entries"]] == [2]
    doc = body(await api.http.get("/v1/outbound/A", headers={"accept": MSGPACK}))
    assert [(e["seq"], e["status"]) for e in doc["entries"]] == [
        (1, TxStatus.BEGIN_FAILURE),
        (2, TxStatus.SUCCESS),
    ]
    for e in doc["entries"]:
        check_entry(w, "A", e)
    js = (await api.http.get("/v1/outbound/A?from_seq=2")).json()
    assert js["entries"][0]["ibtp"].startswith("0x")
    empty = (await api.http.get("/v1/outbound/Q")).json()
    assert empty == {"entries": [], "last_seq": 0}
    assert (await api.http.get("/v1/outbound/B?from_seq=99")).json()["entries"] == []
    assert_refusal(await api.http.get("/v1/outbound/B?from_seq=x"), Code.BAD_REQUEST)
    assert_refusal(await api.http.get("/v1/outbound/B?limit=-1"), Code.BAD_REQUEST)


async def test_unknown_routes_and_methods(api: Api) -> None:
    for path in ("/nope", "/v1", "/v1/txs/a/b", "/v2/status"):
        assert (await api.http.get(path)).status_code == 404
    assert (await api.http.get("/v1/txs")).status_code == 405
    assert (await api.http.delete("/v1/status")).status_code == 405


async def test_unknown_route_refusal_has_a_code(api: Api) -> None:
    r = await api.http.get("/nope")
    assert isinstance(body(r)["code"], int)


async def test_metrics(api: Api) -> None:
    await seed(api)
    await api.post_txs([api.world.gateway("A").probe("ibtp", [], nonce=1)])
    text = (await api.http.get("/metrics")).text
    for name in METRICS:
        assert re.search(rf"^{name}(\{{|\s|_bucket)", text, re.M), name
    assert 'relayhub_txs_accepted_total{kind="ibtp"} 4.0' in text
    assert 'relayhub_txs_refused_total{code="2003"} 1.0' in text
    assert 'relayhub_ibtps_total{outcome="new"} 5.0' in text
    assert 'relayhub_http_requests_total{route="submit",status="409"} 1.0' in text


async def test_openapi(api: Api) -> None:
    doc = (await api.http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    listed = {
        f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}"
        for path, ops in doc["paths"].items()
        for method in ops
    }
    http_routes = {r for r in ROUTES if not r.startswith("WS ")}
    # /openapi.json itself: see test_openapi_lists_itself.
    assert http_routes - {"GET /openapi.json"} <= listed, http_routes - listed
    # Every listed route is served: a route's own refusals carry a code, an unknown
    # route's 404 does not.
    for route in listed:
        method, path = route.split(" ")
        if method == "GET":
            r = await api.http.get(path.replace("{}", "A"))
            assert r.status_code != 404 or "code" in r.text, (route, r.status_code)


async def test_openapi_lists_itself(api: Api) -> None:
    doc = (await api.http.get("/openapi.json")).json()
    assert "/openapi.json" in doc["paths"]


# --- the gateway stream ------------------------------------------------------------------


async def test_stream_delivers_in_order_and_resumes(api: Api) -> None:
    w = api.world
    sent: list[IBTP] = []

    async def send(n_ab: int, n_cb: int) -> None:
        batches = [[w.interchain("A", "B") for _ in range(n_ab)]]
        batches.append([w.interchain("C", "B") for _ in range(n_cb)])
        await api.post_ok([w.ibtp_tx(b) for b in batches if b])
        sent.extend([*batches[0], *batches[1]])

    done: list[int] = []  # seqs the "gateway" finished, in order
    got: list[IBTP] = []

    async def consume(from_seq: int | None, stop_after: int, during: Callable[[], Any]) -> None:
        """Read frames until ``stop_after`` entries are finished; run ``during`` once the
        first frame arrived (more blocks commit while connected)."""
        async with open_websocket_url(api.ws_url("B", from_seq)) as ws:
            first = True
            while len(done) < stop_after:
                with trio.fail_after(DEADLINE):
                    frame = msgpack.unpackb(await ws.get_message(), raw=False)
                assert frame["last_seq"] >= frame["entries"][-1]["seq"]
                assert len(frame["entries"]) <= 500
                for e in frame["entries"]:
                    if len(done) == stop_after:
                        break  # the gateway "dies" mid-frame
                    assert e["seq"] == (done[-1] + 1 if done else 1)
                    got.append(check_entry(w, "B", e))
                    done.append(e["seq"])
                if first:
                    first = False
                    await during()

    await send(4, 3)  # 7 committed before anyone connects
    await consume(None, 5, lambda: send(2, 0))  # 9 by now; stop after 5
    await send(1, 2)  # 12, while disconnected
    await consume(done[-1] + 1, 14, lambda: send(1, 1))
    assert done == list(range(1, 15))
    assert got == [replace_ibtp(q, proof=b"") for q in sent[:14]]
    # A third connection from the end only sees what commits next.
    async with open_websocket_url(api.ws_url("B", 15)) as ws:
        await send(0, 1)
        with trio.fail_after(DEADLINE):
            frame = msgpack.unpackb(await ws.get_message(), raw=False)
        assert [e["seq"] for e in frame["entries"]] == [15]
    text = (await api.http.get("/metrics")).text
    assert "relayhub_stream_clients 0.0" in text


async def test_stream_sends_only_committed(api: Api) -> None:
    w = api.world
    async with open_websocket_url(api.ws_url("C")) as ws:
        req = w.interchain("A", "C")
        r = await api.post_txs([w.ibtp_tx([req])], wait=False)
        assert r.status_code == 200
        with trio.fail_after(DEADLINE):
            frame = msgpack.unpackb(await ws.get_message(), raw=False)
        # The frame came after the commit: the entry is in the committed store.
        assert api.node.store.get_committed(f"tx/{req.id}") is not None
        assert [e["seq"] for e in frame["entries"]] == [1]


# --- known 500s: each is a refusal the API should give, here a crash ----------------------


def assert_coded_4xx(r: httpx.Response) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert type(body(r)["code"]) is int


async def test_unicode_digit_height(api: Api) -> None:
    assert_coded_4xx(await api.http.get("/v1/blocks/\u00b2"))


async def test_huge_height(api: Api) -> None:
    r = await api.http.get(f"/v1/blocks/{2**64}")
    assert r.status_code < 500
    if r.status_code >= 400:
        assert_coded_4xx(r)


async def test_huge_from_seq(api: Api) -> None:
    r = await api.http.get(f"/v1/outbound/A?from_seq={2**64}")
    assert r.status_code < 500
    if r.status_code >= 400:
        assert_coded_4xx(r)


async def test_unicode_digit_from_seq(api: Api) -> None:
    assert_coded_4xx(await api.http.get("/v1/outbound/A?from_seq=\u00b2"))


async def test_deeply_nested_json(api: Api) -> None:
    """(Was a 500: json.loads raised RecursionError.)"""
    r = await api.http.post(
        "/v1/txs", content=b"[" * 100_000, headers={"content-type": "application/json"}
    )
    assert_coded_4xx(r)


def _raw_tx(world: World, body: Any) -> bytes:
    return msgpack.packb(
        [HUB, world.admin.address, 1, "chain.register", body, b"\x00" * 65], use_bin_type=True
    )


async def test_mixed_key_types_in_body(api: Api) -> None:
    raw = _raw_tx(api.world, {"a": 1, b"b": 2})
    r = await api.http.post(
        "/v1/txs", content=msgpack.packb([raw]), headers={"content-type": MSGPACK}
    )
    assert_coded_4xx(r)


async def test_deeply_nested_msgpack_body(api: Api) -> None:
    nested: list[Any] = []
    for _ in range(600):
        nested = [nested]
    r = await api.http.post(
        "/v1/txs",
        content=msgpack.packb([_raw_tx(api.world, nested)]),
        headers={"content-type": MSGPACK},
    )
    assert_coded_4xx(r)


async def test_large_tx_in_msgpack(api: Api) -> None:
    w = api.world
    tx = w.ibtp_tx([w.interchain("A", "B", args=(b"x" * 3000,)) for _ in range(100)])
    assert len(encode_tx(tx)) > 256 * 1024
    r = await api.post_txs([tx])
    assert r.status_code == 200, body(r)


async def test_large_tx_in_json(api: Api) -> None:
    w = api.world
    tx = w.ibtp_tx([w.interchain("A", "B", args=(b"x" * 3000,)) for _ in range(100)])
    assert len(encode_tx(tx)) > 256 * 1024
    r = await api.post_txs([tx], json_form=True)
    assert r.status_code == 200, r.text


# --- property test: random and mutated requests -------------------------------------------


@dataclass
class Fuzz:
    """What the fuzzers build on: the world after setup + seed, and committed txs."""

    world: World
    client: httpx.Client
    committed: list[bytes]
    answered: IBTP  # A -> B #1, SUCCESS
    counters: dict[tuple[str, str], int]
    head_at_start: int


def expect_refused(r: httpx.Response) -> int:
    assert 400 <= r.status_code < 500, (r.status_code, r.content[:300])
    doc = body(r)
    assert isinstance(doc, dict), doc
    code = doc["code"]
    assert type(code) is int, doc
    assert http_status(code) == r.status_code, (code, r.status_code)
    return code


def post(f: Fuzz, content: bytes, ctype: str, accept: str | None = None) -> httpx.Response:
    headers = {"content-type": ctype}
    if accept:
        headers["accept"] = accept
    return f.client.post("/v1/txs", content=content, headers=headers)


def post_tx(f: Fuzz, raw: bytes, form: str) -> httpx.Response:
    if form == "json":
        return post(f, json.dumps({"txs": ["0x" + raw.hex()]}).encode(), "application/json")
    return post(f, msgpack.packb([raw], use_bin_type=True), MSGPACK, accept=MSGPACK)


FORMS = st.sampled_from(["msgpack", "json"])
CTYPES = st.sampled_from(
    [MSGPACK, "application/x-msgpack", "application/json", "text/plain", "application/cbor"]
)


def valid_txs(f: Fuzz) -> list[Transaction]:
    """Transactions that would be admitted as they are (next nonces, next indices)."""
    w = f.world

    def fresh(src: str, dst: str, **kw: Any) -> IBTP:
        return w.interchain(src, dst, index=f.counters[(src, dst)] + 1, **kw)

    return [
        w.ibtp_probe([fresh("A", "B")]),
        w.ibtp_probe([fresh("C", "B"), w.interchain("C", "A", index=1)]),
        w.ibtp_probe([fresh("A", "B", timeout=10_000)]),
        w.gateway("A").probe("service.register", {"service": sid("A", "fuzz")}),
        w.outsider.probe("chain.register", w.register_body("A", id="Q")),
    ]


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for op, pos, val in edits:
        if not out:
            break
        i = pos % len(out)
        if op == 0:
            out[i] ^= 1 << (val % 8)
        elif op == 1:
            out[i] = val
        elif op == 2:
            out.insert(i, val)
        elif op == 3:
            del out[i]
        else:
            del out[i:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4
)


def semantic_refusals(f: Fuzz, pick: int, salt: bytes) -> tuple[Transaction, set[int]]:
    """A well-formed, correctly signed transaction (next nonce) that must be refused,
    with the codes it may be refused with."""
    w = f.world
    a_b = f.counters[("A", "B")]
    gw_a = w.gateway("A")

    def req(**kw: Any) -> IBTP:
        kw.setdefault("index", a_b + 1)
        kw.setdefault("args", (salt,))
        return w.interchain("A", "B", **kw)

    proof_req = req(prove=False)
    sigs = msgpack.unpackb(w.prove(proof_req, "A").proof)
    cases: list[tuple[Callable[[], Transaction], set[int]]] = [
        # unknown chains
        (
            lambda: w.ibtp_probe([w.prove(replace_ibtp(req(prove=False), src=sid("Z")), "A")], "A"),
            {Code.UNKNOWN_CHAIN},
        ),
        (
            lambda: w.ibtp_probe(
                [w.prove(replace_ibtp(req(prove=False), src=sid("A", hub="h2")), "A")], "A"
            ),
            {Code.WRONG_HUB},
        ),
        (
            lambda: w.ibtp_probe(
                [w.prove(replace_ibtp(req(prove=False), dst=sid("B", hub="h2")), "A")], "A"
            ),
            {Code.WRONG_HUB},
        ),
        (
            lambda: w.admin.probe("chain.approve", {"id": "Z" + salt.hex()[:8]}),
            {Code.UNKNOWN_CHAIN},
        ),
        (lambda: gw_a.probe("service.register", {"service": sid("Z", "s")}), {Code.UNKNOWN_CHAIN}),
        # wrong index / duplicates with other content
        (lambda: w.ibtp_probe([req(index=a_b + 2 + salt[0] % 500)]), {Code.INDEX_GAP}),
        (lambda: w.ibtp_probe([req(index=1, func="other")]), {Code.CONFLICTING_DUPLICATE}),
        # proofs
        (
            lambda: w.ibtp_probe([replace_ibtp(proof_req, proof=salt)]),
            {
                Code.PROOF_MALFORMED,
                Code.NOTARY_BAD_SIGNATURE,
                Code.NOTARY_BELOW_THRESHOLD,
                Code.NOTARY_UNKNOWN_SIGNER,
            },
        ),
        (
            lambda: w.ibtp_probe([replace_ibtp(proof_req, proof=msgpack.packb(sigs[:1]))]),
            {Code.NOTARY_BELOW_THRESHOLD},
        ),
        (
            lambda: w.ibtp_probe(
                [
                    w.prove(
                        proof_req,
                        "A",
                        [
                            Account.from_key(
                                (int.from_bytes(salt[:8].ljust(8, b"\x01"), "big") + 1).to_bytes(
                                    32, "big"
                                )
                            )
                        ],
                    )
                ]
            ),
            {Code.NOTARY_UNKNOWN_SIGNER, Code.NOTARY_BELOW_THRESHOLD},
        ),
        (
            lambda: w.ibtp_probe([w.prove(proof_req, "A", w.chains["C"].notaries)]),
            {Code.NOTARY_UNKNOWN_SIGNER},
        ),
        (
            lambda: w.ibtp_probe([replace_ibtp(w.prove(proof_req, "A"), extra=salt + b"!")]),
            {Code.NOTARY_UNKNOWN_SIGNER, Code.NOTARY_BAD_SIGNATURE},
        ),
        (
            lambda: w.ibtp_probe([replace_ibtp(w.prove(proof_req, "A"), payload=Payload("x"))]),
            {Code.NOTARY_UNKNOWN_SIGNER, Code.NOTARY_BAD_SIGNATURE},
        ),
        # who submits
        (lambda: w.ibtp_probe([req()], "B"), {Code.UNAUTHORIZED, Code.WRONG_SUBMITTER}),
        (
            lambda: w.ibtp_probe([w.receipt(f.answered, IBTPType.RECEIPT_FAILURE, salt)], "A"),
            {Code.UNAUTHORIZED, Code.WRONG_SUBMITTER},
        ),
        (
            lambda: w.ibtp_probe([w.receipt(f.answered, IBTPType.RECEIPT_FAILURE, salt)], "C"),
            {Code.UNAUTHORIZED},
        ),
        # receipts
        (
            lambda: w.ibtp_probe([w.receipt(f.answered, IBTPType.RECEIPT_FAILURE, salt)]),
            {Code.LATE_RECEIPT},
        ),
        (lambda: w.ibtp_probe([w.receipt(req(index=a_b + 50), result=salt)]), {Code.UNKNOWN_IBTP}),
        (lambda: w.ibtp_probe([w.rollback_ack(f.answered)]), {Code.INVALID_TRANSITION}),
        (
            lambda: w.ibtp_probe([w.interchain("A", "A", dst_svc="free", index=1)]),
            {Code.SAME_CHAIN},
        ),
        # registry
        (lambda: w.outsider.probe("chain.register", w.register_body("A")), {Code.CHAIN_EXISTS}),
        (lambda: w.outsider.probe("chain.approve", {"id": "A"}), {Code.UNAUTHORIZED}),
        (lambda: w.admin.probe("chain.approve", {"id": "A"}), {Code.NOT_PENDING}),
        (lambda: gw_a.probe("service.register", w.service_body("A", "svc")), {Code.SERVICE_EXISTS}),
        (
            lambda: w.outsider.probe("chain.register", w.register_body("A", id="Q", family="x")),
            {Code.UNKNOWN_FAMILY},
        ),
        (
            lambda: w.outsider.probe(
                "chain.register",
                w.register_body("A", id="Q", trust_root={"keys": [], "threshold": salt[0]}),
            ),
            {Code.BAD_TRUST_ROOT},
        ),
        # transaction envelope
        (lambda: gw_a.probe("ibtp", [], hub="h2"), {Code.WRONG_HUB}),
        (lambda: gw_a.probe("x" + salt.hex(), []), {Code.UNKNOWN_TX_KIND}),
        (lambda: gw_a.probe("ibtp", [], nonce=gw_a.nonce + 2 + salt[0]), {Code.NONCE_GAP}),
        (
            lambda: gw_a.probe("ibtp", [salt]),
            {
                Code.MALFORMED_ENCODING,
                Code.NON_CANONICAL,
                Code.FIELD_TYPE,
                Code.FIELD_TOO_LARGE,
                Code.BAD_SERVICE_ID,
                Code.UNSUPPORTED_VERSION,
            },
        ),
    ]
    make, codes = cases[pick % len(cases)]
    return make(), {int(c) for c in codes}


def run_fuzzers(f: Fuzz, examples: int) -> None:
    cfg = settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )

    @cfg
    # At most 512 bytes: 1000 nested JSON arrays are a known 500 (test_deeply_nested_json).
    @given(data=st.binary(max_size=512), ctype=CTYPES)
    def random_bodies(data: bytes, ctype: str) -> None:
        expect_refused(post(f, data, ctype))

    @cfg
    @given(pick=st.integers(0, 4), edits=EDITS, form=FORMS)
    def mutated_valid_txs(pick: int, edits: list[tuple[int, int, int]], form: str) -> None:
        raw = encode_tx(valid_txs(f)[pick])
        bad = mutate(raw, edits)
        assume(bad != raw)
        expect_refused(post_tx(f, bad, form))

    @cfg
    @given(pick=st.integers(0, 4), sig=st.binary(min_size=0, max_size=70), form=FORMS)
    def bad_signatures(pick: int, sig: bytes, form: str) -> None:
        tx = valid_txs(f)[pick]
        assume(sig != tx.sig)
        bad = Transaction(tx.hub_id, tx.sender, tx.nonce, tx.kind, tx.body, sig, tx.hash)
        code = expect_refused(post_tx(f, encode_tx(bad), form))
        assert code in (Code.BAD_SIGNATURE, Code.SIGNER_MISMATCH, Code.FIELD_TYPE), code

    @cfg
    @given(pick=st.integers(0, 4), form=FORMS)
    def signed_by_another_key(pick: int, form: str) -> None:
        tx = valid_txs(f)[pick]
        other = sign_tx(account("mallory"), tx.hub_id, tx.nonce, tx.kind, tx.body)
        forged = Transaction(tx.hub_id, tx.sender, tx.nonce, tx.kind, tx.body, other.sig, tx.hash)
        assert expect_refused(post_tx(f, encode_tx(forged), form)) == Code.SIGNER_MISMATCH

    @cfg
    @given(i=st.integers(0, 10_000), form=FORMS)
    def replayed(i: int, form: str) -> None:
        raw = f.committed[i % len(f.committed)]
        assert expect_refused(post_tx(f, raw, form)) == Code.NONCE_USED

    @cfg
    @given(pick=st.integers(0, 10_000), salt=st.binary(min_size=1, max_size=40), form=FORMS)
    def semantic(pick: int, salt: bytes, form: str) -> None:
        tx, codes = semantic_refusals(f, pick, salt)
        code = expect_refused(post_tx(f, encode_tx(tx), form))
        assert code in codes, (pick, code, codes)

    json_leaf = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
    )
    json_value = st.recursive(
        json_leaf,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=12,
    )

    @cfg
    @given(value=json_value, where=st.integers(0, 2))
    def json_types(value: Any, where: int) -> None:
        doc = value if where == 0 else {"txs": value} if where == 1 else {"txs": [value, "0x"]}
        expect_refused(post(f, json.dumps(doc).encode(), "application/json"))

    path_text = st.text(
        alphabet=st.sampled_from("abcxyzABC0123456789_.-~:"), min_size=1, max_size=40
    )
    # Bounded ints and an ASCII alphabet: the known 500s (test_huge_*, test_unicode_*)
    # are kept out until they are fixed.
    number = st.integers(0, 2**62).map(str)

    @cfg
    @given(
        route=st.sampled_from(
            [
                "/v1/blocks/{}",
                "/v1/txs/{}",
                "/v1/ibtps/{}",
                "/v1/accounts/{}",
                "/v1/chains/{}",
                "/v1/chains/{}/pairs",
                "/v1/services/{}",
                "/v1/pairs/{}/{}",
                "/v1/outbound/{}?from_seq={}&limit={}",
                "/v1/blocks/{}?txs={}",
            ]
        ),
        parts=st.lists(path_text | number, min_size=3, max_size=3),
        accept=st.sampled_from([MSGPACK, "application/json", "*/*"]),
    )
    def reads(route: str, parts: list[str], accept: str) -> None:
        assume(all(p.strip(".") for p in parts))  # "." and ".." are path syntax
        url = route.format(*parts[: route.count("{}")])
        r = f.client.get(url, headers={"accept": accept})
        assert r.status_code < 500, (url, r.status_code, r.text[:300])
        if r.status_code >= 400:
            expect_refused(r)

    for fuzzer in (
        random_bodies,
        mutated_valid_txs,
        bad_signatures,
        signed_by_another_key,
        replayed,
        semantic,
        json_types,
        reads,
    ):
        fuzzer()


def snapshot(client: httpx.Client, world: World) -> dict[str, Any]:
    chains = client.get("/v1/chains").json()
    pairs = {c: client.get(f"/v1/chains/{c}/pairs").json() for c in ("A", "B", "C", "Z", "Q")}
    nonces = {s.address: client.get(f"/v1/accounts/{s.address}").json() for s in world.signers()}
    metrics = client.get("/metrics").text
    accepted = sorted(line for line in metrics.splitlines() if "txs_accepted_total{" in line)
    return {"chains": chains, "pairs": pairs, "nonces": nonces, "accepted": accepted}


def test_fuzzed_requests_are_refused(tmp_path: Path) -> None:
    world = World()
    # Slow idle blocks: nothing times out during the run.
    cfg = node_config(tmp_path, world, idle_block_interval=1.0)
    with (
        serve_in_thread(cfg, notary_registry()) as srv,
        httpx.Client(base_url=srv.url, timeout=DEADLINE) as client,
    ):
        setup = world.setup_txs()
        reqs = [world.interchain("A", "B"), world.interchain("A", "B")]
        reqs.append(world.interchain("C", "B"))
        txs = [*setup, world.ibtp_tx(reqs[:2]), world.ibtp_tx(reqs[2:])]
        txs.append(world.ibtp_tx([world.receipt(reqs[0])]))
        r = client.post(
            "/v1/txs?wait=commit", content=pack_txs(txs), headers={"content-type": MSGPACK}
        )
        assert r.status_code == 200, r.text
        f = Fuzz(
            world,
            client,
            [encode_tx(t) for t in txs],
            reqs[0],
            {("A", "B"): 2, ("C", "B"): 1},
            srv.node.head_height,
        )
        before = snapshot(client, world)
        run_fuzzers(f, examples=120)
        # Still serving, and nothing moved.
        assert client.get("/healthz").status_code == 200
        assert snapshot(client, world) == before
        # A valid transaction still goes through afterwards.
        ok = world.ibtp_tx([world.interchain("A", "B")])
        r = client.post(
            "/v1/txs?wait=commit", content=pack_txs([ok]), headers={"content-type": MSGPACK}
        )
        assert r.status_code == 200, r.text
    rep = verify_ledger(tmp_path / "ledger.sqlite3", world.genesis, True, notary_registry())
    assert rep.ok, rep.first_error
