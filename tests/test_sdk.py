"""The client SDK: request building, response parsing, error mapping and nonce
tracking against an in-process fake (httpx.MockTransport), the stream's resume logic
against a misbehaving WebSocket server, and everything end to end against a real
node and API server on loopback."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgpack
import pytest
import trio
import trio.testing
from relayfix import DEADLINE, HUB, World, node_config, notary_registry
from trio_websocket import WebSocketRequest, serve_websocket

from relay.crypto import Account, recover_address
from relay.errors import Code, RelayError, http_status
from relay.ibtp import (
    IBTP,
    Payload,
    TxStatus,
    compute_signed_digest,
    decode_ibtp,
    encode_ibtp,
)
from relay.ledger.types import Transaction, decode_tx, sign_tx
from relay.node import Node, open_node
from relay.sdk import (
    AsyncRelayClient,
    ClientBase,
    ClientCode,
    RelayApiError,
    RelayClient,
    RelayConnectionError,
    RelayResponseError,
    RelayTimeoutError,
)
from relay.sdk.base import from_json, is_doomed_by

URL = "http://relay.test"


# --- a fake relay behind httpx.MockTransport ----------------------------------------


def hexify(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, dict):
        return {k: hexify(x) for k, x in v.items()}
    if isinstance(v, list):
        return [hexify(x) for x in v]
    return v


class FakeRelay:
    """Just enough of docs/api.md for the SDK: nonces, atomic ``ibtp`` transactions with
    ordered pairs (INDEX_GAP), a notary-less "proof" check (func ``bad`` is refused),
    IBTP statuses that turn final after a few polls, and scripted failures."""

    def __init__(self, fmt: str = "msgpack") -> None:
        self.fmt = fmt
        self.nonces: dict[str, int] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.requests: list[httpx.Request] = []
        self.batches: list[list[Transaction]] = []
        self.final_after = 3
        self.polls = 0
        self.mempool_full = 0  # refuse this many transactions with MEMPOOL_FULL

    def count(self, path_prefix: str) -> int:
        return sum(1 for r in self.requests if r.url.path.startswith(path_prefix))

    def reply(self, body: Any, status: int = 200) -> httpx.Response:
        if self.fmt == "json":
            return httpx.Response(status, json=hexify(body))
        return httpx.Response(
            status,
            content=msgpack.packb(body, use_bin_type=True),
            headers={"content-type": "application/msgpack"},
        )

    def refuse(self, code: Code, message: str, **details: Any) -> httpx.Response:
        return self.reply(
            {"code": int(code), "message": message, "details": details}, http_status(code)
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v1/status":
            return self.reply(
                {
                    "hub_id": HUB,
                    "height": 7,
                    "head_hash": b"\x11" * 32,
                    "state_root": b"\x22" * 32,
                    "validators": ["0x" + "ab" * 20],
                }
            )
        if path.startswith("/v1/accounts/"):
            addr = path.rsplit("/", 1)[1]
            return self.reply({"address": addr, "nonce": self.nonces.get(addr, 0)})
        if path == "/v1/txs" and request.method == "POST":
            return self.submit(request)
        if path.startswith("/v1/ibtps/"):
            ibtp_id = path[len("/v1/ibtps/") :]
            self.polls += 1
            if self.polls == 1:
                return self.refuse(Code.UNKNOWN_IBTP, f"no interchain transaction {ibtp_id}")
            done = self.polls >= self.final_after
            status = TxStatus.SUCCESS if done else TxStatus.BEGIN
            history = [[0, 5]] + ([[1, 9]] if done else [])
            return self.reply(
                {
                    "id": ibtp_id,
                    "status": int(status),
                    "status_name": status.name,
                    "final": status.is_final,
                    "hash": b"\x33" * 32,
                    "timeout": 205,
                    "history": history,
                }
            )
        if path.startswith("/v1/outbound/"):
            ibtp = encode_ibtp(IBTP(f"{HUB}:A:svc", f"{HUB}:B:svc", 1))
            return self.reply(
                {
                    "entries": [{"seq": 1, "ibtp": ibtp, "status": 0, "sigs": [b"\x44" * 65]}],
                    "last_seq": 1,
                }
            )
        if path.startswith("/v1/txs/"):
            tx = sign_tx(Account.from_key(b"\x01" * 32), HUB, 1, "ibtp", [b"\x99\x01"])
            return self.reply(
                {
                    "tx": {
                        "hub": HUB,
                        "sender": tx.sender,
                        "nonce": 1,
                        "kind": "ibtp",
                        "body": tx.body,
                        "sig": tx.sig,
                        "hash": tx.hash,
                    },
                    "receipt": {"height": 3, "index": 0, "results": []},
                }
            )
        return self.refuse(Code.NOT_FOUND, f"no route {path}")

    def submit(self, request: httpx.Request) -> httpx.Response:
        raws = msgpack.unpackb(request.content, raw=False)
        txs = [decode_tx(r) for r in raws]
        self.batches.append(txs)
        results = []
        for tx in txs:
            try:
                results.append(
                    {"ok": True, "tx": tx.hash.hex(), "height": 8, "results": self.apply(tx)}
                )
            except RelayError as exc:
                results.append({"ok": False, "tx": tx.hash.hex(), **exc.to_dict()})
        ok = sum(1 for r in results if r["ok"])
        body: dict[str, Any] = {"results": results, "height": 7}
        if ok == len(results):
            return self.reply(body, 200)
        if ok:
            return self.reply(body, 207)
        first = results[0]
        body.update(code=first["code"], message=first["message"])
        return self.reply(body, http_status(first["code"]))

    def apply(self, tx: Transaction) -> list[Any]:
        if self.mempool_full:
            self.mempool_full -= 1
            raise RelayError(Code.MEMPOOL_FULL, "the mempool is full", retry_after=0.01)
        last = self.nonces.get(tx.sender, 0)
        if tx.nonce <= last:
            raise RelayError(Code.NONCE_USED, "nonce used", expected=last + 1)
        if tx.nonce != last + 1:
            raise RelayError(Code.NONCE_GAP, "nonce gap", expected=last + 1)
        out: list[Any] = []
        if tx.kind == "ibtp":
            counters = dict(self.counters)
            for i, raw in enumerate(tx.body):
                ibtp = decode_ibtp(raw)
                if ibtp.payload.func == "bad":
                    raise RelayError(Code.PROOF_INVALID, "bad proof", item=i)
                pair = (ibtp.src, ibtp.dst)
                if ibtp.index != counters.get(pair, 0) + 1:
                    raise RelayError(
                        Code.INDEX_GAP, "gap", item=i, expected=counters.get(pair, 0) + 1
                    )
                counters[pair] = ibtp.index
                out.append([ibtp.id, 0, False])
            self.counters = counters
        else:
            out = ["done"]
        self.nonces[tx.sender] = tx.nonce
        return out


def mk(index: int, func: str = "f", dst: str = "B") -> IBTP:
    return IBTP(f"{HUB}:A:svc", f"{HUB}:{dst}:svc", index, payload=Payload(func, (b"x",)))


@pytest.fixture
def fake() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def gateway() -> Account:
    return Account.from_key(b"\x07" * 32)


def client(fake: FakeRelay, account: Account | None = None, **kw: Any) -> RelayClient:
    return RelayClient(URL, account, transport=httpx.MockTransport(fake), **kw)


# --- request building ----------------------------------------------------------------


def test_reads_ask_for_msgpack(fake: FakeRelay) -> None:
    with client(fake) as c:
        st = c.status()
    req = fake.requests[0]
    assert (req.method, str(req.url)) == ("GET", f"{URL}/v1/status")
    assert req.headers["accept"] == "application/msgpack"
    assert st["head_hash"] == b"\x11" * 32
    assert c.hub_id == HUB  # learnt on the way


def test_urls_keep_prefix_and_ids_intact() -> None:
    base = ClientBase("http://h:1/relay/")
    assert str(base.build_request("GET", "/v1/status").url) == "http://h:1/relay/v1/status"
    assert base.stream_url("B", 7) == "ws://h:1/relay/v1/stream/B?from_seq=7"
    assert ClientBase("https://h").stream_url("B", 1).startswith("wss://h/v1/stream/B")
    with pytest.raises(ValueError):
        ClientBase("h:1")


def test_ids_with_colons_and_tildes_reach_the_path(fake: FakeRelay) -> None:
    ibtp_id = f"{HUB}:A:svc~{HUB}:B:svc~3"
    with client(fake) as c, pytest.raises(RelayApiError):
        c.ibtp_status(ibtp_id)
    assert fake.requests[-1].url.path == f"/v1/ibtps/{ibtp_id}"


def test_submit_body_is_a_msgpack_array_of_tx_bytes(fake: FakeRelay, gateway: Account) -> None:
    tx = sign_tx(gateway, HUB, 1, "chain.approve", {"id": "A"})
    with client(fake) as c:
        [result] = c.submit([tx], wait_commit=True)
    req = fake.requests[0]
    assert req.url.params["wait"] == "commit"
    assert req.headers["content-type"] == "application/msgpack"
    assert [decode_tx(r) for r in msgpack.unpackb(req.content)] == [tx]
    assert result.ok and result.tx == tx.hash.hex() and result.height == 8


# --- response parsing ------------------------------------------------------------------


def test_json_answers_get_their_bytes_back() -> None:
    fake = FakeRelay(fmt="json")
    with client(fake) as c:
        st = c.status()
        page = c.outbound("B")
        tx = c.tx(b"\x01" * 32)
        ibtp = c.wait_final(f"{HUB}:A:svc~{HUB}:B:svc~1", timeout=5)
    assert st["head_hash"] == b"\x11" * 32
    assert st["validators"] == ["0x" + "ab" * 20]  # addresses stay text
    entry = page.entries[0]
    assert decode_ibtp(entry.ibtp).id == f"{HUB}:A:svc~{HUB}:B:svc~1"
    assert entry.sigs == [b"\x44" * 65] and entry.status is TxStatus.BEGIN
    assert tx["tx"]["sig"][:1] and isinstance(tx["tx"]["sig"], bytes)
    assert tx["tx"]["body"] == [b"\x99\x01"]  # ibtp bodies are bytes
    assert tx["tx"]["sender"].startswith("0x") and isinstance(tx["tx"]["sender"], str)
    assert ibtp.hash == b"\x33" * 32


def test_from_json_leaves_other_strings_alone() -> None:
    doc = {"hash": "0xzz", "name": "0xabcd", "sigs": ["0x00ff"], "tx": "0xab"}
    assert from_json(doc) == {"hash": "0xzz", "name": "0xabcd", "sigs": [b"\x00\xff"], "tx": "0xab"}


# --- errors ------------------------------------------------------------------------------


def test_refusals_are_relay_errors_with_code_details_and_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={"code": 3001, "message": "chain 'X' is not registered", "details": {"id": "X"}},
        )

    with (
        RelayClient(URL, transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RelayError) as info,
    ):
        c.chain("X")
    err = info.value
    assert isinstance(err, RelayApiError)
    assert (err.code, err.status, err.http_status) == (Code.UNKNOWN_CHAIN, 404, 404)
    assert err.message == "chain 'X' is not registered" and err.details == {"id": "X"}


def test_an_answer_that_is_not_the_relays_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}
        )

    with (
        RelayClient(URL, transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RelayResponseError) as info,
    ):
        c.status()
    assert info.value.code == ClientCode.BAD_RESPONSE and info.value.details["status"] == 502


def test_transport_failures_are_connection_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        RelayClient(URL, transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RelayConnectionError) as info,
    ):
        c.status()
    assert info.value.code == ClientCode.CONNECTION
    assert info.value.details["url"] == f"{URL}/v1/status"


def test_submit_raises_the_first_refusal_when_nothing_was_admitted(fake: FakeRelay) -> None:
    other = Account.from_key(b"\x08" * 32)
    txs = [sign_tx(other, HUB, n, "x", {}) for n in (2, 3)]  # nonce 1 missing
    with client(fake) as c, pytest.raises(RelayApiError) as info:
        c.submit(txs)
    err = info.value
    assert err.code == Code.NONCE_GAP and err.details == {"expected": 1}
    assert err.status == http_status(Code.NONCE_GAP)  # the status the relay sent
    assert err.results is not None and [r.code for r in err.results] == [2004, 2004]


def test_submit_returns_partial_results(fake: FakeRelay) -> None:
    other = Account.from_key(b"\x08" * 32)
    txs = [sign_tx(other, HUB, n, "x", {}) for n in (1, 3)]
    with client(fake) as c:
        results = c.submit(txs)
    assert [r.ok for r in results] == [True, False]
    assert results[1].code == Code.NONCE_GAP and results[1].details["expected"] == 2


# --- nonces ---------------------------------------------------------------------------


def sent_nonces(fake: FakeRelay) -> list[int]:
    return [tx.nonce for batch in fake.batches for tx in batch]


def test_nonce_is_read_once_then_counted(fake: FakeRelay, gateway: Account) -> None:
    fake.nonces[gateway.address] = 4
    with client(fake, gateway) as c:
        for _ in range(3):
            assert c.send("chain.approve", {"id": "A"}).results == ["done"]
    assert sent_nonces(fake) == [5, 6, 7]
    assert fake.count("/v1/accounts/") == 1 and fake.count("/v1/status") == 1


@pytest.mark.parametrize(("local", "relay"), [(2, 5), (10, 3)], ids=["used", "gap"])
def test_nonce_resyncs_from_expected(
    fake: FakeRelay, gateway: Account, local: int, relay: int
) -> None:
    fake.nonces[gateway.address] = relay
    with client(fake, gateway, hub_id=HUB) as c:
        c.next_nonce = local  # stale: another process used the key, or a bad guess
        result = c.send("chain.approve", {"id": "A"})
        assert result.ok and c.next_nonce == relay + 2
    assert sent_nonces(fake) == [local, relay + 1]
    assert fake.count("/v1/accounts/") == 0


def test_a_connection_failure_makes_the_nonce_unknown(gateway: Account) -> None:
    fake = FakeRelay()
    broken = {"on": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if broken["on"] and request.method == "POST":
            raise httpx.ReadTimeout("timed out", request=request)
        return fake(request)

    with RelayClient(URL, gateway, transport=httpx.MockTransport(handler)) as c:
        c.send("x", {})
        broken["on"] = True
        with pytest.raises(RelayConnectionError):
            c.send("x", {})
        assert c.next_nonce is None
        broken["on"] = False
        c.send("x", {})
    assert fake.count("/v1/accounts/") == 2
    assert sent_nonces(fake) == [1, 2]


# --- submit_ibtps ----------------------------------------------------------------------


def test_submit_ibtps_batches_per_tx_and_per_request(fake: FakeRelay, gateway: Account) -> None:
    ibtps = [mk(i) for i in range(1, 8)]
    with client(fake, gateway, max_ibtps_per_tx=3, max_txs_per_request=2) as c:
        results = c.submit_ibtps(ibtps)
    assert [[len(tx.body) for tx in b] for b in fake.batches] == [[3, 3], [1]]
    assert [r.ibtp_id for r in results] == [i.id for i in ibtps]
    assert all(r.ok and r.status is TxStatus.BEGIN and not r.duplicate for r in results)
    assert {r.tx for r in results[:3]} != {r.tx for r in results[3:6]}
    assert sent_nonces(fake) == [1, 2, 3]


def test_submit_ibtps_splits_around_the_refused_ibtp(fake: FakeRelay, gateway: Account) -> None:
    fake.counters[(f"{HUB}:A:svc", f"{HUB}:C:svc")] = 0
    ibtps = [mk(1), mk(2), mk(1, "bad", dst="C"), mk(3), mk(4)]
    with client(fake, gateway) as c:
        results = c.submit_ibtps(ibtps)
    assert [r.ok for r in results] == [True, True, False, True, True]
    bad = results[2].error
    assert isinstance(bad, RelayApiError) and bad.code == Code.PROOF_INVALID
    assert bad.details["item"] == 2 and bad.status == 422
    # one refused transaction, then the two runs around the culprit
    assert [[len(tx.body) for tx in b] for b in fake.batches] == [[5], [2, 2]]


def test_submit_ibtps_skips_what_an_index_gap_dooms(fake: FakeRelay, gateway: Account) -> None:
    ibtps = [mk(1), mk(2), mk(4), mk(5), mk(1, dst="C"), mk(6)]
    with client(fake, gateway) as c:
        results = c.submit_ibtps(ibtps)
    assert [r.ok for r in results] == [True, True, False, False, True, False]
    assert all(r.error is not None and r.error.code == Code.INDEX_GAP for r in results if not r.ok)
    # the gap at index 4 dooms 5 and 6 of the same pair without a round trip each
    assert [[len(tx.body) for tx in b] for b in fake.batches] == [[6], [2, 1]]
    assert is_doomed_by(Code.INDEX_GAP, encode_ibtp(mk(4)), encode_ibtp(mk(6)))
    assert not is_doomed_by(Code.INDEX_GAP, encode_ibtp(mk(4)), encode_ibtp(mk(6, dst="C")))


def test_submit_ibtps_resends_after_a_nonce_gap(fake: FakeRelay, gateway: Account) -> None:
    # tx 1 of 3 is refused, so txs 2 and 3 hit NONCE_GAP and are resent re-signed.
    ibtps = [mk(1), mk(1, "bad", dst="C"), mk(2), mk(3)]
    with client(fake, gateway, max_ibtps_per_tx=1) as c:
        results = c.submit_ibtps(ibtps)
    assert [r.ok for r in results] == [True, False, True, True]
    assert [[tx.nonce for tx in b] for b in fake.batches] == [[1, 2, 3, 4], [2, 3]]
    assert fake.nonces[gateway.address] == 3


def test_submit_ibtps_waits_out_a_full_mempool(fake: FakeRelay, gateway: Account) -> None:
    fake.mempool_full = 1
    with client(fake, gateway) as c:
        results = c.submit_ibtps([mk(1), mk(2)])
    assert all(r.ok for r in results) and len(fake.batches) == 2


def test_submit_ibtps_raises_when_everything_is_refused(fake: FakeRelay, gateway: Account) -> None:
    with client(fake, gateway) as c, pytest.raises(RelayApiError) as info:
        c.submit_ibtps([mk(5), mk(6)])
    assert info.value.code == Code.INDEX_GAP and info.value.details["expected"] == 1


def test_writes_need_an_account(fake: FakeRelay) -> None:
    with client(fake) as c, pytest.raises(RelayError) as info:
        c.send("x", {})
    assert info.value.code == Code.BAD_REQUEST and "account" in info.value.message


# --- the async client and wait_final on virtual time -----------------------------------


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def aclient(fake: FakeRelay, account: Account | None = None, **kw: Any) -> AsyncRelayClient:
    return AsyncRelayClient(URL, account, transport=httpx.MockTransport(fake), **kw)


async def test_async_client_shares_the_flows(fake: FakeRelay, gateway: Account) -> None:
    async with aclient(fake, gateway) as c:
        assert (await c.status())["hub_id"] == HUB
        results = await c.submit_ibtps([mk(1), mk(2)], wait_commit=True)
        assert [r.status for r in results] == [TxStatus.BEGIN, TxStatus.BEGIN]
        assert (await c.approve_chain("A")).results == ["done"]
        with pytest.raises(RelayApiError) as info:
            await c.chain("nope")
    assert info.value.code == Code.NOT_FOUND
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.url.params.get("wait") for r in posts] == ["commit", "commit"]
    assert sent_nonces(fake) == [1, 2]


async def test_wait_final_polls_with_backoff(
    fake: FakeRelay, autojump_clock: trio.testing.MockClock
) -> None:
    fake.final_after = 5  # 404, BEGIN, BEGIN, BEGIN, SUCCESS
    async with aclient(fake, poll_interval=0.1, max_poll_interval=0.2) as c:
        t0 = trio.current_time()
        st = await c.wait_final(f"{HUB}:A:svc~{HUB}:B:svc~1", timeout=60)
    assert st.final and st.status is TxStatus.SUCCESS
    assert st.history == [(TxStatus.BEGIN, 5), (TxStatus.SUCCESS, 9)]
    assert trio.current_time() - t0 == pytest.approx(0.1 + 0.16 + 0.2 + 0.2)


async def test_wait_final_times_out_exactly(
    fake: FakeRelay, autojump_clock: trio.testing.MockClock
) -> None:
    fake.final_after = 10**9
    async with aclient(fake) as c:
        t0 = trio.current_time()
        with pytest.raises(RelayTimeoutError) as info:
            await c.wait_final("a~b~1", timeout=7.5)
    assert trio.current_time() - t0 == pytest.approx(7.5)
    err = info.value
    assert err.code == ClientCode.TIMEOUT
    assert err.details == {
        "ibtp_id": "a~b~1",
        "last_status": int(TxStatus.BEGIN),
        "last_refusal": None,
    }


def test_sync_wait_final(fake: FakeRelay) -> None:
    with client(fake, poll_interval=0.001) as c:
        assert c.wait_final("a~b~1", timeout=5).status is TxStatus.SUCCESS
        fake.final_after, fake.polls = 10**9, 0
        with pytest.raises(RelayTimeoutError):
            c.wait_final("a~b~1", timeout=0.05)


# --- the stream: resume without loss or duplicates -------------------------------------


def frame(seqs: list[int]) -> bytes:
    entries = [
        {"seq": s, "ibtp": encode_ibtp(mk(s)), "status": 0, "sigs": [b"\x01" * 65]} for s in seqs
    ]
    return msgpack.packb({"entries": entries, "last_seq": max(seqs)}, use_bin_type=True)


async def test_subscribe_resumes_after_drops_overlaps_and_gaps(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    # Each connection gets its frames, then is closed by the server (the last stays open).
    script = [[[1, 2], [3]], [[3, 4, 5]], [[7]], [[6, 7, 8]]]
    asked: list[int] = []

    async def handler(request: WebSocketRequest) -> None:
        asked.append(int(parse_qs(urlsplit(request.path).query)["from_seq"][0]))
        ws = await request.accept()
        for seqs in script[len(asked) - 1]:
            await ws.send_message(frame(seqs))
        if len(asked) < len(script):
            await ws.aclose()
        else:
            await trio.sleep_forever()

    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    got: list[int] = []
    with trio.fail_after(DEADLINE), caplog.at_level(logging.WARNING, "relayhub.sdk"):
        async with (
            AsyncRelayClient(f"http://127.0.0.1:{server.port}") as c,
            c.subscribe("B", from_seq=1) as entries,
        ):
            async for entry in entries:
                assert entry.chain == "B" and decode_ibtp(entry.ibtp).index == entry.seq
                got.append(entry.seq)
                if entry.seq == 8:
                    break
    assert got == [1, 2, 3, 4, 5, 6, 7, 8]
    assert asked == [1, 4, 6, 6]  # after 3, after 5, and again after the gap at 7
    assert sum("reconnecting" in r.message for r in caplog.records) == 3


async def test_subscribe_gives_up_after_max_retries() -> None:
    with trio.socket.socket() as s:  # a port nobody listens on
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with trio.fail_after(DEADLINE):
        async with AsyncRelayClient(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(RelayConnectionError) as info:
                async with c.subscribe("B", max_retries=2) as entries:
                    async for _ in entries:
                        pass
    assert "3 times" in info.value.message


# --- end to end: a real node and API server on loopback --------------------------------


async def _serve(node: Node, port: int, *, task_status: Any) -> None:
    from relay.api.server import serve_api

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as n:
            url = await n.start(serve_api, node, "127.0.0.1", port)
            task_status.started((scope, url))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_end_to_end(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    a, b = world.chains["A"], world.chains["B"]
    with trio.fail_after(DEADLINE):
        async with (
            open_node(node_config(tmp_path, world), notary_registry()) as node,
            trio.open_nursery() as nursery,
        ):
            server, url = await nursery.start(_serve, node, 0)
            ca = AsyncRelayClient(url, a.gateway.account)
            cb = AsyncRelayClient(url, b.gateway.account)
            admin = AsyncRelayClient(url, world.admin.account)

            # registry: two notary chains, approved, and a service on B
            for c, keys in ((ca, a), (cb, b)):
                r = await c.register_chain(
                    keys.id, "notary", keys.trust_root(), keys.broker, name=f"chain {keys.id}"
                )
                assert r.results == [keys.id, "PENDING"]
            assert (await admin.approve_chain("A")).results == ["A", "ACTIVE"]
            assert (await admin.approve_chain("B")).results == ["B", "ACTIVE"]
            with pytest.raises(RelayApiError) as info:
                await ca.approve_chain("B")
            assert info.value.code == Code.UNAUTHORIZED and info.value.status == 403
            assert (await cb.register_service("svc", chain="B")).results == [
                f"{HUB}:B:svc",
                "ACTIVE",
            ]
            chain_a = await ca.chain("A")
            assert chain_a["status"] == "ACTIVE" and chain_a["gateways"] == [a.gateway.address]
            assert [c["id"] for c in await ca.chains()] == ["A", "B"]
            assert "ordered" not in (await ca.service(f"{HUB}:B:svc"))

            # notarized requests A -> B, batched; a resend is an idempotent duplicate
            first = [world.interchain("A", "B") for _ in range(5)]
            results = await ca.submit_ibtps(first, wait_commit=True)
            assert [(r.ibtp_id, r.status, r.duplicate) for r in results] == [
                (i.id, TxStatus.BEGIN, False) for i in first
            ]
            again = await ca.submit_ibtps(first[:2], wait_commit=True)
            assert all(r.ok and r.duplicate for r in again)
            tampered = world.interchain("A", "B", prove=False)
            with pytest.raises(RelayApiError) as info:
                await ca.submit_ibtps([tampered])
            assert info.value.code == Code.PROOF_MALFORMED and info.value.status == 422
            world.issued[(tampered.src, tampered.dst)] -= 1
            pair = await ca.pair(first[0].src, first[0].dst)
            assert (pair["interchain"], pair["receipt"]) == (5, 0)

            # B's receipt, then wait_final from A's side
            await cb.submit_ibtps([world.receipt(first[0])])
            final = await ca.wait_final(first[0].id, timeout=10)
            assert final.status is TxStatus.SUCCESS and final.final
            assert [s for s, _ in final.history] == [TxStatus.BEGIN, TxStatus.SUCCESS]
            assert final.result == b"ok"  # what B's receipt carried
            assert await ca.chain_pairs("A") == [
                {"from": first[0].src, "to": first[0].dst, "interchain": 5, "receipt": 1}
            ]
            back = await ca.outbound("A")
            assert [(e.seq, e.status) for e in back.entries] == [(1, TxStatus.SUCCESS)]

            # B's stream: 5 entries, the server restarts, 3 more arrive, nothing twice
            more = [world.interchain("A", "B") for _ in range(3)]
            got = []
            with caplog.at_level(logging.WARNING, "relayhub.sdk"):
                async with cb.subscribe("B") as entries:
                    async for entry in entries:
                        got.append(entry)
                        if entry.seq == 3:
                            server.cancel()
                            await trio.sleep(0.2)
                            server, url = await nursery.start(_serve, node, _port(url))
                            await ca.submit_ibtps(more, wait_commit=True)
                        if entry.seq == 8:
                            break
            assert [e.seq for e in got] == list(range(1, 9))
            assert [decode_ibtp(e.ibtp).id for e in got] == [i.id for i in first + more]
            for e in got:
                digest = compute_signed_digest(HUB, "B", decode_ibtp(e.ibtp), e.status)
                assert recover_address(digest, e.sigs[0]) == world.validator.address
            assert any("reconnecting" in r.message for r in caplog.records)

            # blocks and transactions
            latest = await ca.block("latest", txs=True)
            assert latest["height"] == node.head_height and isinstance(latest["hash"], bytes)
            tx = await ca.tx(results[0].tx)
            assert tx["tx"]["kind"] == "ibtp" and tx["tx"]["body"][0] == encode_ibtp(first[0])
            st = await ca.status()
            assert st["hub_id"] == HUB and st["families"] == ["notary"]

            for c in (ca, cb, admin):
                await c.aclose()
            server.cancel()


def test_sync_client_end_to_end(tmp_path: Any) -> None:
    from relayfix import serve_in_thread

    world = World()
    a, b = world.chains["A"], world.chains["B"]
    with (
        serve_in_thread(node_config(tmp_path, world), notary_registry()) as srv,
        RelayClient(srv.url, a.gateway.account) as ca,
        RelayClient(srv.url, b.gateway.account) as cb,
        RelayClient(srv.url, world.admin.account) as admin,
    ):
        ca.register_chain("A", "notary", a.trust_root(), a.broker)
        cb.register_chain("B", "notary", b.trust_root(), b.broker)
        admin.approve_chain("A")
        r = admin.reject_chain("B")
        assert r.results == ["B", "REJECTED"]
        req = world.interchain("A", "B")
        [res] = ca.submit_ibtps([req], wait_commit=True)
        # B is rejected: the request is proven but cannot be routed
        assert res.status is TxStatus.BEGIN_FAILURE and "not an active chain" in res.reason
        ca.submit_ibtps([world.rollback_ack(req)], wait_commit=True)
        st = ca.wait_final(req.id, timeout=10)
        assert st.status is TxStatus.ROLLBACK
        assert ca.account_info()["nonce"] == 3
        blk = ca.block(1, txs=True)
        assert blk["txs"][0]["kind"] == "chain.register"


# --- a timeout that cannot work ------------------------------------------------------


class _NeverEmits:
    """A source-chain connector that must not be reached: the timeout is refused first."""

    service_id = f"{HUB}:A:svc"

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        raise AssertionError("emitted a call whose timeout cannot work")


@pytest.mark.parametrize("blocks", [1, 2, -1])
def test_call_refuses_a_timeout_that_cannot_work(blocks: int) -> None:
    """timeout_blocks 1 or 2 expires before a receipt can be recorded; the SDK says so
    before anything is emitted (no relay needed: nothing is sent)."""
    with RelayClient("http://127.0.0.1:9") as client, pytest.raises(RelayError) as err:
        client.call(
            f"{HUB}:A:svc", f"{HUB}:B:svc", "f", [], via=_NeverEmits(), timeout_blocks=blocks
        )
    assert err.value.code == Code.TIMEOUT_EXPIRED
    assert "timeout_blocks" in err.value.message


async def test_async_call_refuses_a_timeout_that_cannot_work() -> None:
    async with AsyncRelayClient("http://127.0.0.1:9") as client:
        with pytest.raises(RelayError) as err:
            await client.call(
                f"{HUB}:A:svc", f"{HUB}:B:svc", "f", [], via=_NeverEmits(), timeout_blocks=1
            )
    assert err.value.code == Code.TIMEOUT_EXPIRED
    assert err.value.details["minimum"] == 3
