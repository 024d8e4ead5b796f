"""Hostile input at the API edges (issue 8), against a real node and API on loopback.

Each test was a failure on main: a body that stalls the event loop, a stream position
that crashes the stream or is silently misread, messages that say nothing or the
wrong thing, refusals without their ``details``. Every refusal here must carry its
stable code and leave the relay serving. Load loops have a count and a deadline.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgpack
import pytest
import trio
from relayfix import (
    DEADLINE,
    HUB,
    World,
    assert_refusal,
    node_config,
    notary_registry,
    response_body,
)
from trio_websocket import ConnectionClosed, open_websocket_url

import relay.api.server as server
from relay.api.request import decode_envelope
from relay.cli import main
from relay.errors import Code, RelayError
from relay.ibtp import TxStatus, encode_ibtp
from relay.ledger.types import MAX_TX_OBJECTS, encode_tx
from relay.node import Node, open_node
from relay.refusals import RefusalLog
from relay.sdk import AsyncRelayClient, RelayApiError, RelayTimeoutError
from relay.sdk.base import describe_wait_timeout, stream_refusal
from relay.sdk.types import IbtpStatus

MSGPACK = "application/msgpack"


@dataclass
class Relay:
    world: World
    node: Node
    http: httpx.AsyncClient
    url: str


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    world = World()
    cfg = node_config(tmp_path, world)
    async with open_node(cfg, notary_registry()) as node, trio.open_nursery() as nursery:
        url = await nursery.start(server.serve_api, node, "127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=url, timeout=DEADLINE) as http:
            r = await http.post(
                "/v1/txs",
                content=msgpack.packb([encode_tx(t) for t in world.setup_txs()]),
                params={"wait": "commit"},
                headers={"content-type": MSGPACK},
            )
            assert r.status_code == 200, r.text
            yield Relay(world, node, http, url)
        nursery.cancel_scope.cancel()


body = response_body


def _raw_tx(sender: str, body: Any) -> bytes:
    """A transaction-shaped array with a bad signature (anyone can send one)."""
    return msgpack.packb([HUB, sender, 1, "ibtp", body, b"\x00" * 65], use_bin_type=True)


def hostile_bodies(world: World) -> dict[str, bytes]:
    sender = world.admin.address
    # The reported case: ~15 MiB of small integers, in two transactions (each under the
    # 8 MiB transaction limit) inside a body under the 16 MiB request limit.
    huge = _raw_tx(sender, [[1] * 100_000] * 79)
    # Just within the per-transaction value limit, as many as the request allows.
    at_limit = _raw_tx(sender, [[1] * 4000, [1] * 4000])
    return {
        "15MiB-of-small-ints": msgpack.packb([huge, huge]),
        "txs-at-the-value-limit": msgpack.packb([at_limit] * 1000),
    }


async def test_hostile_bodies_do_not_stall_the_relay(relay: Relay) -> None:
    """While a few posters send bodies of millions of small values (each refused
    after a bounded walk, in a worker thread), /healthz answers within 100 ms at p99."""
    bodies = hostile_bodies(relay.world)
    assert len(bodies["15MiB-of-small-ints"]) > 15 * 2**20
    assert all(len(b) < server.MAX_BODY_BYTES for b in bodies.values())
    head = relay.node.head_height
    latencies: list[float] = []
    refusals: list[dict[str, Any]] = []
    posting = True

    async def poster(content: bytes) -> None:
        async with httpx.AsyncClient(base_url=relay.url, timeout=DEADLINE) as http:
            for _ in range(4):  # bounded count, and the deadline below
                if not posting:
                    return
                r = await http.post("/v1/txs", content=content, headers={"content-type": MSGPACK})
                refusals.append(assert_refusal(r, body(r)["code"]))

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=relay.url, timeout=DEADLINE) as http:
            await http.get("/healthz")  # connect first: measure answers, not handshakes
            for _ in range(300):
                t0 = time.perf_counter()
                r = await http.get("/healthz")
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 200
                await trio.sleep(0.005)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for content in [*bodies.values(), *bodies.values()]:  # 4 posters
                nursery.start_soon(poster, content)
            await prober()
            posting = False
    assert len(refusals) >= 4
    for doc in refusals:
        assert doc["code"] in (Code.FIELD_TOO_LARGE, Code.FIELD_TYPE), doc
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 0.100, f"/healthz p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    # Nothing was admitted, and the relay still takes valid work.
    assert relay.node.head_height >= head
    assert relay.node.mempool_size == 0
    w = relay.world
    r = await relay.http.post(
        "/v1/txs",
        content=msgpack.packb([encode_tx(w.ibtp_tx([w.interchain("A", "B")]))]),
        params={"wait": "commit"},
        headers={"content-type": MSGPACK},
    )
    assert r.status_code == 200, body(r)


def test_tx_value_limit_fits_a_full_ibtp_transaction() -> None:
    from relay.executor import MAX_IBTPS_PER_TX

    # [hub, sender, nonce, kind, [ibtp * N], sig]: 1 + 6 + N values.
    assert 1 + 6 + MAX_IBTPS_PER_TX <= MAX_TX_OBJECTS


# --- the gateway stream refuses bad positions ---------------------------------------


@pytest.mark.parametrize("from_seq", ["-1", "0", "abc", "", "\u00b2", str(2**63), str(2**64)])
async def test_stream_refuses_bad_positions(relay: Relay, from_seq: str) -> None:
    """(Was: 2^63 closed with 1011, an unhandled SQLite OverflowError; non-numeric or
    negative positions were silently read as 1.)"""
    url = (
        relay.url.replace("http://", "ws://") + "/v1/stream/B?" + urlencode({"from_seq": from_seq})
    )
    with trio.fail_after(DEADLINE):
        async with open_websocket_url(url) as ws:
            frame = msgpack.unpackb(await ws.get_message(), raw=False)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
    assert frame["code"] == Code.BAD_REQUEST, frame
    assert "1.." in frame["message"] and "from_seq" in frame["message"]
    assert isinstance(frame["details"], dict)
    reason = closed.value.reason
    assert reason is not None and reason.code == server.STREAM_REFUSED
    assert reason.reason.startswith(f"[{int(Code.BAD_REQUEST)}] from_seq")
    assert (await relay.http.get("/healthz")).status_code == 200


async def test_stream_accepts_the_whole_valid_range(relay: Relay) -> None:
    """1..2^63-1 is served (the top end simply has nothing yet)."""
    w = relay.world
    r = await relay.http.post(
        "/v1/txs",
        content=msgpack.packb([encode_tx(w.ibtp_tx([w.interchain("A", "B")]))]),
        params={"wait": "commit"},
        headers={"content-type": MSGPACK},
    )
    assert r.status_code == 200, body(r)
    base = relay.url.replace("http://", "ws://") + "/v1/stream/B"
    async with open_websocket_url(base + "?from_seq=1") as ws:
        with trio.fail_after(DEADLINE):
            frame = msgpack.unpackb(await ws.get_message(), raw=False)
        assert [e["seq"] for e in frame["entries"]] == [1]
    async with open_websocket_url(base + f"?from_seq={2**63 - 1}") as ws:
        with trio.move_on_after(0.3) as quiet:
            await ws.get_message()
        assert quiet.cancelled_caught  # open, and nothing to send


async def test_sdk_subscribe_surfaces_the_refusal(relay: Relay) -> None:
    async with AsyncRelayClient(relay.url) as client:
        with trio.fail_after(DEADLINE), pytest.raises(RelayApiError) as err:
            async with client.subscribe("B", from_seq=2**63, max_retries=0) as entries:
                async for _ in entries:
                    pass
    assert err.value.code == Code.BAD_REQUEST
    assert "from_seq" in err.value.message


def test_sdk_reads_a_refusing_close() -> None:
    """Without the frame (a proxy dropped it), the close code and reason still say it."""
    exc = stream_refusal(4400, "[1009] from_seq must be ...", "ws://x")
    assert exc is not None and exc.code == 1009 and exc.message == "from_seq must be ..."
    assert exc.details["close_code"] == 4400
    assert stream_refusal(1011, "internal", "ws://x") is None
    assert stream_refusal(None, "", "ws://x") is None


# --- messages say what happened and what to do ------------------------------------------

MALFORMED = {
    "reserved-byte": b"\xc1",
    "truncated": b"\x92\x01",
    "ext-type": b"\xd4\x01\x01",
    "too-deep": b"\x91" * 2000 + b"\x01",
    "trailing": b"\x01\x02",
    "str-for-tx": msgpack.packb(["x"]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_msgpack_refusals_describe_the_problem(name: str) -> None:
    """(Was: "not valid msgpack (FormatError): " with nothing after it.)"""
    with pytest.raises(RelayError) as err:
        decode_envelope(MSGPACK, MALFORMED[name])
    msg = err.value.message
    assert not msg.rstrip().endswith(":") and len(msg) > 30, msg
    if name in ("reserved-byte", "ext-type", "too-deep"):
        assert "at byte" in msg, msg


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_msgpack_refusals_over_http(relay: Relay, name: str) -> None:
    r = await relay.http.post("/v1/txs", content=MALFORMED[name], headers={"content-type": MSGPACK})
    doc = assert_refusal(r, body(r)["code"])
    assert doc["code"] in (Code.MALFORMED_ENCODING, Code.NON_CANONICAL, Code.FIELD_TYPE), doc
    assert not doc["message"].rstrip().endswith(":"), doc


def test_wait_timeout_names_the_side_that_has_not_acted() -> None:
    """(Was: "not seen by the relay ... check that the destination's gateway is running"
    when it was the source that never delivered.)"""
    i = "h:A:s~h:B:s~1"

    def status(s: TxStatus) -> IbtpStatus:
        return IbtpStatus(i, s, s.name, s.is_final, b"", 0, [])

    never = describe_wait_timeout(i, 5, None, None)
    assert "source chain's gateway has not submitted it" in never
    assert "destination" not in never
    refused = {"code": 5101, "message": "1 of 2 notaries", "height": 7}
    assert "the relay refused it: [5101] 1 of 2 notaries" in describe_wait_timeout(
        i, 5, None, refused
    )
    begin = describe_wait_timeout(i, 5, status(TxStatus.BEGIN), None)
    assert "destination chain's gateway" in begin and "source" not in begin
    for s in (TxStatus.SOURCE_ROLLBACK, TxStatus.BEGIN_FAILURE):
        assert "source chain's gateway" in describe_wait_timeout(i, 5, status(s), None)
    # A timeout waits for the destination first (it gives the call up, or its receipt).
    timed_out = describe_wait_timeout(i, 5, status(TxStatus.BEGIN_ROLLBACK), None)
    assert "destination chain's gateway" in timed_out


@pytest.mark.parametrize(
    ("history", "timed_out"),
    [
        (
            [TxStatus.BEGIN, TxStatus.BEGIN_ROLLBACK, TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK],
            True,
        ),
        ([TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK], True),
        ([TxStatus.BEGIN_FAILURE, TxStatus.ROLLBACK], False),
    ],
)
def test_rolled_back_calls_say_whether_they_timed_out(
    history: list[TxStatus], timed_out: bool
) -> None:
    from relay.sdk.call import InterchainRolledBack, interpret_final_status

    st = IbtpStatus(
        "h:A:s~h:B:s~1",
        TxStatus.ROLLBACK,
        "ROLLBACK",
        True,
        b"",
        0,
        [(s, h) for h, s in enumerate(history, 1)],
    )
    with pytest.raises(InterchainRolledBack) as err:
        interpret_final_status(st)
    assert err.value.details["timed_out"] is timed_out


def test_a_late_receipt_is_the_calls_answer() -> None:
    """A timed-out call whose destination had run it ends SUCCESS: its result stands."""
    from relay.sdk.call import interpret_final_status

    history = [(TxStatus.BEGIN, 1), (TxStatus.BEGIN_ROLLBACK, 4), (TxStatus.SUCCESS, 5)]
    st = IbtpStatus(
        "h:A:s~h:B:s~1", TxStatus.SUCCESS, "SUCCESS", True, b"", 0, history, result=b"minted"
    )
    assert interpret_final_status(st).result == b"minted"


async def test_a_stranger_cannot_write_an_ibtps_last_refusal(relay: Relay) -> None:
    """A key that is no gateway of the IBTP's submitting chain is refused (2005), and that
    refusal is not kept as the IBTP's last one: anyone could otherwise plant a misleading
    "the relay refused it" on any IBTP ID, or push real ones out of the bounded log."""
    from relayfix import account

    from relay.ledger.types import sign_tx

    w = relay.world
    req = w.interchain("A", "B")
    stranger = sign_tx(account("stranger"), HUB, 1, "ibtp", [encode_ibtp(req)])
    r = await relay.http.post(
        "/v1/txs",
        content=msgpack.packb([encode_tx(stranger)]),
        headers={"content-type": MSGPACK},
    )
    refusal = body(r)["results"][0]
    assert not refusal["ok"] and refusal["code"] == Code.UNAUTHORIZED, refusal
    doc = assert_refusal(await relay.http.get(f"/v1/ibtps/{req.id}"), Code.UNKNOWN_IBTP)
    assert "last_refusal" not in doc["details"], doc


async def test_last_refusal_is_kept_and_shown(
    relay: Relay, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused IBTP's last refusal is served by GET /v1/ibtps/{id} (in the 404's details,
    then as a field once recorded), and the SDK's timeout and `relayhub tx status` show it."""
    w = relay.world
    req = w.interchain("A", "B", prove=False)  # no notary signatures: refused
    r = await relay.http.post(
        "/v1/txs",
        content=msgpack.packb([encode_tx(w.ibtp_probe([req]))]),  # keeps the nonce
        headers={"content-type": MSGPACK},
    )
    refusal = body(r)["results"][0]
    assert not refusal["ok"] and refusal["details"]["item"] == 0, refusal
    code = refusal["code"]
    state = relay.node.head_state

    r = await relay.http.get(f"/v1/ibtps/{req.id}")
    doc = assert_refusal(r, Code.UNKNOWN_IBTP)
    last = doc["details"]["last_refusal"]
    assert last["code"] == code and last["message"] == refusal["message"]
    assert last["sender"] == w.gateway("A").address
    assert f"the relay refused it: [{code}]" in doc["message"]

    async with AsyncRelayClient(relay.url, poll_interval=0.05) as client:
        with pytest.raises(RelayTimeoutError) as err:
            await client.wait_final(req.id, timeout=0.3)
    assert f"the relay refused it: [{code}]" in err.value.message
    assert err.value.details["last_refusal"]["code"] == code

    rc = await trio.to_thread.run_sync(main, ["tx", "status", req.id, "--relay", relay.url])
    assert rc == 2
    assert f"the relay refused it: [{code}]" in capsys.readouterr().err

    # Memory only: the refusal changed no state and nothing waits to be committed.
    assert relay.node.head_state == state and relay.node.mempool_size == 0
    assert relay.node.store.get_committed(f"tx/{req.id}") is None

    good = w.prove(req, "A")
    r = await relay.http.post(
        "/v1/txs",
        content=msgpack.packb([encode_tx(w.ibtp_tx([good]))]),
        params={"wait": "commit"},
        headers={"content-type": MSGPACK},
    )
    assert r.status_code == 200, body(r)
    doc = body(await relay.http.get(f"/v1/ibtps/{req.id}"))
    assert doc["status_name"] == "BEGIN" and doc["last_refusal"]["code"] == code
    async with AsyncRelayClient(relay.url, poll_interval=0.05) as client:
        st = await client.ibtp_status(req.id)
        assert st.last_refusal is not None and st.last_refusal["code"] == code
        with pytest.raises(RelayTimeoutError) as err:
            await client.wait_final(req.id, timeout=0.2)
    assert "destination chain's gateway" in err.value.message
    rc = await trio.to_thread.run_sync(main, ["tx", "status", req.id, "--relay", relay.url])
    assert rc == 0
    assert f"[{code}]" in capsys.readouterr().out


async def test_never_submitted_ibtp_points_at_the_source(relay: Relay) -> None:
    i = "testhub:A:svc~testhub:B:svc~99"
    doc = assert_refusal(await relay.http.get(f"/v1/ibtps/{i}"), Code.UNKNOWN_IBTP)
    assert "source chain's gateway" in doc["message"] and doc["details"] == {}
    async with AsyncRelayClient(relay.url, poll_interval=0.05) as client:
        with pytest.raises(RelayTimeoutError) as err:
            await client.wait_final(i, timeout=0.2)
    assert "source chain's gateway has not submitted it" in err.value.message


def test_refusal_log_is_bounded() -> None:
    log = RefusalLog(capacity=100)
    exc = RelayError(Code.INDEX_GAP, "gap", expected=3)
    for n in range(250):
        log.record(f"h:A:s~h:B:s~{n + 1}", exc, "0xabc", n)
    assert len(log) == 100
    assert log.get("h:A:s~h:B:s~1") is None
    assert log.get("h:A:s~h:B:s~250") == {
        "code": 4001,
        "message": "gap",
        "details": {"expected": 3},
        "sender": "0xabc",
        "height": 249,
    }


async def test_every_refusal_carries_details(relay: Relay) -> None:
    """docs/api.md: every refusal is {code, message, details}, details always an object."""
    w = relay.world
    stale = w.gateway("A").probe("ibtp", [b"\x01"])  # nonce reuse, after decode
    cases = [
        await relay.http.get("/v1/no-such-route"),
        await relay.http.put("/v1/txs"),
        await relay.http.get("/v1/chains/nope"),
        await relay.http.get("/v1/blocks/xyz"),
        await relay.http.post("/v1/txs", content=b"{}", headers={"content-type": "text/plain"}),
        await relay.http.post("/v1/txs", json={"txs": []}),
        await relay.http.post("/v1/txs", json={"txs": ["0x" + encode_tx(stale).hex()]}),
    ]
    for r in cases:
        doc = body(r)
        assert 400 <= r.status_code < 500 and type(doc["code"]) is int, doc
        assert isinstance(doc["details"], dict), doc
        for res in doc.get("results", []):
            assert isinstance(res["details"], dict), res
