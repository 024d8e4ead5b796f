"""The solo node on a real SQLite ledger: admission, block sealing, back-pressure,
timeouts through idle blocks, restart, and ``verify_ledger`` (including a corpus of
tampered ledgers, each reported as the first inconsistency at the right height)."""

from __future__ import annotations

import copy
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
import trio.testing
from relayfix import (
    DEADLINE,
    World,
    account,
    node_config,
    notary_registry,
    sid,
    submit_ok,
)

from relay.errors import Code, RelayError
from relay.genesis import Genesis
from relay.ibtp import IBTP, IBTPType, TxStatus
from relay.ledger.store import Store
from relay.ledger.types import (
    BlockHeader,
    compute_block_hash,
    compute_state_root,
    encode_tx,
    sign_tx,
)
from relay.ledger.verify import verify_ledger
from relay.node import Node, open_node

LEDGER = "ledger.sqlite3"


@pytest.fixture
def world() -> World:
    return World(default_timeout_blocks=3)


def committed_status(node: Node, ibtp: IBTP) -> TxStatus | None:
    rec = node.store.get_committed(f"tx/{ibtp.id}")
    return None if rec is None else TxStatus(rec[0])


async def wait_status(node: Node, ibtp: IBTP, want: TxStatus) -> None:
    with trio.fail_after(DEADLINE):
        while committed_status(node, ibtp) != want:
            await node.wait_height(node.head_height + 1)


# --- admission and sealing ------------------------------------------------------------


async def test_wait_commit(tmp_path: Path, world: World) -> None:
    cfg = node_config(tmp_path, world, batch_time=0.2)
    async with open_node(cfg, notary_registry()) as node:
        txs = world.setup_txs()
        res = await node.submit(txs[:3])
        assert [r["ok"] for r in res] == [True] * 3
        assert {r["height"] for r in res} == {1}
        assert [r["tx"] for r in res] == [t.hash.hex() for t in txs[:3]]
        # Admitted, not committed: the block waits for its batch time.
        assert node.head_height == 0
        assert not any(node.store.has_tx(t.hash) for t in txs[:3])
        assert node.mempool_size == 3
        with trio.fail_after(DEADLINE):
            await node.wait_height(1)
        assert all(node.store.has_tx(t.hash) for t in txs[:3])
        # wait_commit answers only once the block is durable.
        refused = world.admin.probe("chain.approve", {"id": "nosuch"})
        res = await node.submit([*txs[3:], refused], wait_commit=True)
        assert [r["ok"] for r in res] == [True] * len(txs[3:]) + [False]
        assert res[-1]["code"] == Code.UNKNOWN_CHAIN
        assert res[-1]["tx"] == refused.hash.hex()
        assert all(node.store.has_tx(t.hash) for t in txs)
        assert not node.store.has_tx(refused.hash)
        assert node.head_height == max(r["height"] for r in res[:-1])
        assert node.mempool_size == 0


async def test_blocks_sealed_by_size(tmp_path: Path, world: World) -> None:
    # A batch time far longer than the test: only size seals blocks here.
    cfg = node_config(tmp_path, world, batch_time=60, max_block_txs=3, max_block_ibtps=4)
    async with open_node(cfg, notary_registry()) as node:
        txs = world.setup_txs()
        assert len(txs) % 3 == 0
        n = len(txs) // 3
        for height in range(1, n + 1):
            chunk = txs[3 * height - 3 : 3 * height]
            with trio.fail_after(DEADLINE):
                res = await node.submit(chunk, wait_commit=True)
            assert [r["height"] for r in res] == [height] * 3
            assert node.head_height == height
            blk = node.store.get_block(height, with_txs=True)
            assert blk is not None
            assert list(blk.txs) == chunk
        # IBTP count seals too: 3 + 2 IBTPs >= 4.
        first = world.ibtp_tx([world.interchain("A", "B") for _ in range(3)])
        second = world.ibtp_tx([world.interchain("C", "B") for _ in range(2)])
        with trio.fail_after(DEADLINE):
            await node.submit([first, second], wait_commit=True)
        blk = node.store.get_block(n + 1, with_txs=True)
        assert blk is not None
        assert [t.hash for t in blk.txs] == [first.hash, second.hash]


async def test_full_block_sealed_once_the_committer_has_room(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = node_config(tmp_path, world, batch_time=60, max_block_txs=1, max_sealed_blocks=1)
    sealed_in_time = False
    async with open_node(cfg, notary_registry()) as node:
        gate = threading.Event()
        commit_block = node.store.commit_block

        def slow_commit(*args: Any, **kwargs: Any) -> None:
            gate.wait(DEADLINE)
            commit_block(*args, **kwargs)

        monkeypatch.setattr(node.store, "commit_block", slow_commit)
        txs = world.setup_txs()[:2]
        res = await node.submit(txs)  # block 1 sealed; block 2 full, cannot be sealed yet
        assert [r["height"] for r in res] == [1, 2]
        gate.set()
        with trio.move_on_after(2):
            await node.wait_height(2)
            sealed_in_time = True
    assert sealed_in_time, "block 2 (full) was not sealed within 2 s of the committer's room"


async def test_blocks_sealed_by_batch_time(tmp_path: Path, world: World) -> None:
    batch = 0.3
    cfg = node_config(tmp_path, world, batch_time=batch)
    async with open_node(cfg, notary_registry()) as node:
        txs = world.setup_txs()
        t0 = trio.current_time()
        await node.submit(txs[:1])
        await trio.sleep(batch / 3)
        await node.submit(txs[1:2])  # joins the open block
        await trio.sleep(batch / 3)
        assert node.head_height == 0
        with trio.fail_after(DEADLINE):
            await node.wait_height(1)
        assert trio.current_time() - t0 >= batch
        blk = node.store.get_block(1, with_txs=True)
        assert blk is not None
        assert [t.hash for t in blk.txs] == [t.hash for t in txs[:2]]


async def test_mempool_full(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = node_config(tmp_path, world, max_block_txs=1, max_sealed_blocks=1)
    async with open_node(cfg, notary_registry()) as node:
        for tx in world.setup_txs():
            await submit_ok(node, [tx])
        height = node.head_height
        gate, entered = threading.Event(), threading.Event()
        commit_block = node.store.commit_block

        def blocked_commit(*args: Any, **kwargs: Any) -> None:
            entered.set()
            gate.wait(DEADLINE)
            commit_block(*args, **kwargs)

        monkeypatch.setattr(node.store, "commit_block", blocked_commit)
        try:
            reqs = [world.interchain("A", "B") for _ in range(3)]
            first = await node.submit([world.ibtp_tx(reqs[:1])])
            assert first[0]["ok"]  # sealed at once (full), the committer is now stuck
            with trio.fail_after(DEADLINE):
                await trio.to_thread.run_sync(entered.wait)
            second = await node.submit([world.ibtp_tx(reqs[1:2])])
            assert second[0]["ok"]  # the next block fills; it cannot be sealed
            before = copy.deepcopy(node._pending.layer.writes)
            third_tx = world.gateway("A").probe("ibtp", world.ibtp_probe(reqs[2:]).body)
            (third,) = await node.submit([third_tx])
            assert not third["ok"]
            assert third["code"] == Code.MEMPOOL_FULL == 6001
            assert third["details"] == {"retry_after": 1}
            assert node._pending.layer.writes == before
            assert node.mempool_size == 2
            refused = node.metrics.txs_refused.labels(str(int(Code.MEMPOOL_FULL)))
            assert refused._value.get() == 1
        finally:
            gate.set()
        with trio.fail_after(DEADLINE):
            await node.wait_height(height + 2)
        assert node.store.get_committed(f"pair/{sid('A')}~{sid('B')}") == [2, 0]
        assert not node.store.has_tx(third_tx.hash)
        # The refused transaction did not use its nonce or index: it goes in as is.
        await submit_ok(node, [third_tx])
        world.gateway("A").nonce += 1
        assert node.store.get_committed(f"pair/{sid('A')}~{sid('B')}") == [3, 0]


async def test_shutting_down_refuses(tmp_path: Path, world: World) -> None:
    async with open_node(node_config(tmp_path, world), notary_registry()) as node:
        pass
    with pytest.raises(RelayError) as err:
        node.admit(world.setup_txs()[0])
    assert err.value.code == Code.SHUTTING_DOWN


# --- timeouts through idle blocks ----------------------------------------------------


async def test_timeouts_fire_through_idle_blocks(tmp_path: Path, world: World) -> None:
    idle = 0.02
    cfg = node_config(tmp_path, world, idle_block_interval=idle)
    async with open_node(cfg, notary_registry()) as node:
        await submit_ok(node, world.setup_txs())
        quiet = node.head_height
        await trio.sleep(idle * 5)
        assert node.head_height == quiet, "idle blocks without open timeouts"
        req = world.interchain("A", "B")
        (res,) = await submit_ok(node, [world.ibtp_tx([req])])
        accepted_at = res["height"]
        await wait_status(node, req, TxStatus.BEGIN_ROLLBACK)
        rec = node.store.get_committed(f"tx/{req.id}")
        assert rec[3] == [[0, accepted_at], [5, accepted_at + 3]]
        # The blocks in between carry no transaction.
        for height in range(accepted_at + 1, accepted_at + 4):
            blk = node.store.get_block(height, with_txs=True)
            assert blk is not None and blk.txs == ()
        # The notice goes to the destination only (the source waits for its answer).
        assert node.outbound("A", 1)["entries"] == []
        entries = node.outbound("B", 1)["entries"]
        assert [(e["seq"], e["status"]) for e in entries] == [
            (1, TxStatus.BEGIN),
            (2, TxStatus.BEGIN_ROLLBACK),
        ]
        assert node.metrics.timeouts._value.get() == 1
        # No open timeout left: block production goes quiet again.
        stop = node.head_height
        await trio.sleep(idle * 5)
        assert node.head_height == stop


@pytest.fixture
def lazy_clock() -> trio.testing.MockClock:
    """Virtual time that jumps once the loop has been idle for 50 ms of real time (the
    committer's thread gets that long to finish a block before the clock moves on)."""
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_timeouts_on_virtual_time(
    tmp_path: Path, world: World, lazy_clock: trio.testing.MockClock
) -> None:
    """The default one-second idle interval, on virtual time: the timeout fires after
    three relay blocks, i.e. within three idle intervals."""
    cfg = node_config(tmp_path, world, idle_block_interval=1.0, batch_time=0.05)
    async with open_node(cfg, notary_registry()) as node:
        await submit_ok(node, world.setup_txs())
        req = world.interchain("A", "B")
        (res,) = await submit_ok(node, [world.ibtp_tx([req])])
        t0 = trio.current_time()
        await wait_status(node, req, TxStatus.BEGIN_ROLLBACK)
        # Two idle intervals to reach the block before the timeout height; the timeout
        # block itself is sealed at once (it has work). Slack for a slow commit thread.
        elapsed = trio.current_time() - t0
        assert elapsed <= 3.0 + 0.5, elapsed
        assert node.head_height == res["height"] + 3


# --- restart ------------------------------------------------------------------------------


async def test_restart_resumes(tmp_path: Path, world: World) -> None:
    # Slow idle blocks in the first run (the timeout must not fire yet), fast ones after.
    first_cfg = node_config(tmp_path, world, idle_block_interval=60)
    done = world.interchain("A", "B")
    pending = world.interchain("C", "B", timeout=8)
    async with open_node(first_cfg, notary_registry()) as node:
        await submit_ok(node, world.setup_txs())
        await submit_ok(node, [world.ibtp_tx([done]), world.ibtp_tx([pending])])
        await submit_ok(node, [world.ibtp_tx([world.receipt(done)])])
        # Leave an admitted, uncommitted transaction: closing commits it.
        late = world.interchain("A", "B")
        late_tx = world.ibtp_tx([late])
        (res,) = await node.submit([late_tx])
        assert res["ok"]
        assert not node.store.has_tx(late_tx.hash)
    store = Store(tmp_path / LEDGER)
    try:
        head = store.head()
        state = dict(store.iter_state())
    finally:
        store.close()
    # (An empty block may follow: timeouts are open, so the producer may seal one.)
    assert head is not None and head[0] >= res["height"]
    assert state[f"tx/{late.id}"][0] == TxStatus.BEGIN

    async with open_node(node_config(tmp_path, world, idle_block_interval=0.02)) as node:
        assert (node.head_height, node.head_hash, node.head_state) == head
        assert dict(node.store.iter_state()) == state
        # Nonces and indices continue; the old request is a duplicate.
        nxt = world.interchain("A", "B")
        assert nxt.index == 3
        (r1, r2) = await submit_ok(node, [world.ibtp_tx([nxt]), world.ibtp_tx([done])])
        assert r1["height"] > head[0]
        assert r2["results"] == [[done.id, TxStatus.SUCCESS, True]]
        # The timeout set before the restart fires at its height (idle blocks resume).
        await wait_status(node, pending, TxStatus.BEGIN_ROLLBACK)
        assert node.store.get_committed(f"tx/{pending.id}")[3][-1] == [5, 8]
    assert verify_ledger(tmp_path / LEDGER, world.genesis, True, notary_registry()).ok


async def test_restart_with_another_genesis(tmp_path: Path, world: World) -> None:
    async with open_node(node_config(tmp_path, world), notary_registry()) as node:
        await submit_ok(node, world.setup_txs()[:1])
    other = World(hub="otherhub")
    with pytest.raises(RelayError) as err:
        async with open_node(node_config(tmp_path, other), notary_registry()):
            pass
    assert err.value.code == Code.CONFIG


# --- verify_ledger on a real run, and on tampered copies -----------------------------


@dataclass
class Built:
    path: Path
    genesis: Genesis
    head: int
    #: height of a block in the middle that holds transactions
    mid: int
    #: height at which out/B/1 (relay proof of B #1) was written
    out_b1: int


async def run_scenario(data_dir: Path, world: World) -> Built:
    """Registration, requests, both receipts, a BEGIN_FAILURE and its ack, duplicates,
    refusals, and timeouts fired through idle blocks, then given up by the destination
    and acknowledged by the source, or settled by a late receipt."""
    cfg = node_config(data_dir, world, idle_block_interval=0.02)
    async with open_node(cfg, notary_registry()) as node:
        await submit_ok(node, world.setup_txs())
        ab = [world.interchain("A", "B") for _ in range(3)]
        cb = [world.interchain("C", "B") for _ in range(2)]
        lost = world.interchain("A", "Z")
        res = await submit_ok(node, [world.ibtp_tx(ab), world.ibtp_tx(cb), world.ibtp_tx([lost])])
        out_b1 = res[0]["height"]
        mid = node.head_height
        await submit_ok(
            node,
            [
                world.ibtp_tx([world.receipt(ab[0])]),
                world.ibtp_tx([world.receipt(ab[1], IBTPType.RECEIPT_FAILURE)]),
                world.ibtp_tx([world.rollback_ack(lost)]),
                world.ibtp_tx([ab[0]]),  # a duplicate: admitted as a no-op
            ],
        )
        refused = await node.submit([world.ibtp_probe([world.interchain("A", "B", index=9)])])
        assert not refused[0]["ok"]
        for req in (ab[2], *cb):
            await wait_status(node, req, TxStatus.BEGIN_ROLLBACK)
        # B gives ab[2] up (the notice to the source follows), then A acknowledges; cb[0]
        # has a late receipt; cb[1] stays in BEGIN_ROLLBACK.
        await submit_ok(
            node,
            [
                world.ibtp_tx([world.dst_ack(ab[2])], "B"),
                world.ibtp_tx([world.receipt(cb[0])]),
            ],
        )
        await submit_ok(node, [world.ibtp_tx([world.rollback_ack(ab[2])])])
        head = node.head_height
    assert mid < head - 3
    return Built(data_dir / LEDGER, world.genesis, head, mid, out_b1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("built")
    return trio.run(run_scenario, path, World(default_timeout_blocks=3))


def test_verify_after_a_run(built: Built) -> None:
    for replay in (False, True):
        rep = verify_ledger(built.path, built.genesis, replay, notary_registry())
        assert rep.ok, rep.first_error
        assert rep.blocks == built.head
        assert rep.replayed is replay
        assert rep.txs > 20
        assert rep.relay_proofs >= 10


def test_verify_with_installed_verifiers(built: Built) -> None:
    """The default registry (entry points) replays the ledger too."""
    rep = verify_ledger(built.path, built.genesis, replay=True)
    assert rep.ok, rep.first_error


def test_verify_refuses_another_genesis(built: Built) -> None:
    rep = verify_ledger(built.path, World(hub="otherhub").genesis)
    assert not rep.ok
    assert rep.first_error == {"height": 0, "what": "the ledger was created with another genesis"}


Tamper = Callable[[sqlite3.Connection, Built], int]


def _block_row(db: sqlite3.Connection, height: int) -> tuple[bytes, bytes]:
    header, sigs = db.execute(
        "SELECT header, signatures FROM blocks WHERE height=?", (height,)
    ).fetchone()
    return bytes(header), bytes(sigs)


def _first_tx(db: sqlite3.Connection, height: int) -> tuple[bytes, bytes]:
    tx_hash, raw = db.execute(
        "SELECT hash, raw FROM txs WHERE height=? ORDER BY idx LIMIT 1", (height,)
    ).fetchone()
    return bytes(tx_hash), bytes(raw)


def tamper_state_value(db: sqlite3.Connection, b: Built) -> int:
    value = msgpack.packb({"id": "A", "status": "FROZEN"}, use_bin_type=True)
    db.execute("UPDATE state SET value=? WHERE key='chain/A'", (value,))
    return b.head


def tamper_state_extra(db: sqlite3.Connection, b: Built) -> int:
    db.execute("INSERT INTO state(key, value) VALUES ('acct/0xdead', ?)", (msgpack.packb(1),))
    return b.head


def tamper_state_missing(db: sqlite3.Connection, b: Built) -> int:
    db.execute("DELETE FROM state WHERE key='chain/B'")
    return b.head


def tamper_tx_signature(db: sqlite3.Connection, b: Built) -> int:
    tx_hash, raw = _first_tx(db, b.mid)
    obj = msgpack.unpackb(raw)
    obj[5] = account("intruder").sign(bytes(tx_hash))
    db.execute(
        "UPDATE txs SET raw=? WHERE hash=?", (msgpack.packb(obj, use_bin_type=True), tx_hash)
    )
    return b.mid


def tamper_tx_body(db: sqlite3.Connection, b: Built) -> int:
    """Swap in another transaction, properly signed by its (attacker) sender."""
    tx_hash, _ = _first_tx(db, b.mid)
    forged = sign_tx(account("intruder"), b.genesis.hub_id, 1, "chain.register", {"id": "X"})
    db.execute("UPDATE txs SET raw=? WHERE hash=?", (encode_tx(forged), tx_hash))
    return b.mid


def tamper_tx_deleted(db: sqlite3.Connection, b: Built) -> int:
    tx_hash, _ = _first_tx(db, b.mid)
    db.execute("DELETE FROM txs WHERE hash=?", (tx_hash,))
    return b.mid


def tamper_receipt(db: sqlite3.Connection, b: Built) -> int:
    tx_hash, _ = _first_tx(db, b.mid)
    (raw,) = db.execute("SELECT receipt FROM txs WHERE hash=?", (tx_hash,)).fetchone()
    rc = msgpack.unpackb(raw)
    rc[3] = [["forged", 1, False]]
    db.execute(
        "UPDATE txs SET receipt=? WHERE hash=?", (msgpack.packb(rc, use_bin_type=True), tx_hash)
    )
    return b.mid


def tamper_header(db: sqlite3.Connection, b: Built) -> int:
    header, _ = _block_row(db, b.mid)
    h = BlockHeader.decode(header)
    forged = BlockHeader(*[*h.to_list()[:2], h.timestamp_ms + 1, *h.to_list()[3:]])
    db.execute("UPDATE blocks SET header=? WHERE height=?", (forged.encode(), b.mid))
    return b.mid


def tamper_header_rehashed(db: sqlite3.Connection, b: Built) -> int:
    """A new header with its hash updated: the validator's signature no longer matches."""
    header, _ = _block_row(db, b.mid)
    h = BlockHeader.decode(header)
    forged = BlockHeader(*[*h.to_list()[:2], h.timestamp_ms + 1, *h.to_list()[3:]])
    db.execute(
        "UPDATE blocks SET header=?, hash=? WHERE height=?",
        (forged.encode(), compute_block_hash(forged), b.mid),
    )
    return b.mid


def tamper_block_signature(db: sqlite3.Connection, b: Built) -> int:
    (bhash,) = db.execute("SELECT hash FROM blocks WHERE height=?", (b.mid,)).fetchone()
    sigs = msgpack.packb([account("intruder").sign(bytes(bhash))], use_bin_type=True)
    db.execute("UPDATE blocks SET signatures=? WHERE height=?", (sigs, b.mid))
    return b.mid


def tamper_block_deleted(db: sqlite3.Connection, b: Built) -> int:
    db.execute("DELETE FROM blocks WHERE height=?", (b.mid,))
    return b.mid


def tamper_diff(db: sqlite3.Connection, b: Built) -> int:
    (diff,) = db.execute("SELECT diff FROM blocks WHERE height=?", (b.mid,)).fetchone()
    pairs = msgpack.unpackb(diff)
    pairs.append(["zz/forged", 1])
    db.execute(
        "UPDATE blocks SET diff=? WHERE height=?",
        (msgpack.packb(pairs, use_bin_type=True), b.mid),
    )
    return b.mid


def tamper_relay_sig(db: sqlite3.Connection, b: Built) -> int:
    sigs = msgpack.packb([account("intruder").sign(bytes(32))], use_bin_type=True)
    db.execute("UPDATE relay_sigs SET sigs=? WHERE chain='B' AND seq=1", (sigs,))
    return b.out_b1


def tamper_relay_sig_deleted(db: sqlite3.Connection, b: Built) -> int:
    db.execute("DELETE FROM relay_sigs WHERE chain='B' AND seq=1")
    return b.out_b1


def tamper_head(db: sqlite3.Connection, b: Built) -> int:
    (raw,) = db.execute("SELECT value FROM meta WHERE key='head'").fetchone()
    head = msgpack.unpackb(raw)
    head[0] -= 1
    db.execute(
        "UPDATE meta SET value=? WHERE key='head'", (msgpack.packb(head, use_bin_type=True),)
    )
    return b.head


TAMPERS: dict[str, tuple[Tamper, str]] = {
    "state-value": (tamper_state_value, "state table differs"),
    "state-extra": (tamper_state_extra, "state table differs"),
    "state-missing": (tamper_state_missing, "state table differs"),
    "tx-signature": (tamper_tx_signature, "signature recovers to"),
    "tx-body": (tamper_tx_body, "transaction root does not match"),
    "tx-deleted": (tamper_tx_deleted, "transaction root does not match"),
    "receipt": (tamper_receipt, "receipt root does not match"),
    "header": (tamper_header, "header does not hash"),
    "header-rehashed": (tamper_header_rehashed, "not signed by a threshold"),
    "block-signature": (tamper_block_signature, "not signed by a threshold"),
    "block-deleted": (tamper_block_deleted, "expected block"),
    "diff": (tamper_diff, "state root does not match"),
    "relay-sig": (tamper_relay_sig, "relay proof of B #1 does not verify"),
    "relay-sig-deleted": (tamper_relay_sig_deleted, "relay proof of B #1 does not verify"),
    "head": (tamper_head, "head record does not name the last block"),
}


def tampered_copy(built: Built, tmp_path: Path, tamper: Tamper) -> tuple[Path, int]:
    path = tmp_path / LEDGER
    shutil.copy(built.path, path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        height = tamper(db, built)
    finally:
        db.close()
    return path, height


@pytest.mark.parametrize("name", list(TAMPERS))
@pytest.mark.parametrize("replay", [False, True], ids=["plain", "replay"])
def test_tampering_is_reported(built: Built, tmp_path: Path, name: str, replay: bool) -> None:
    tamper, what = TAMPERS[name]
    path, height = tampered_copy(built, tmp_path, tamper)
    rep = verify_ledger(path, built.genesis, replay, notary_registry())
    assert not rep.ok
    assert rep.first_error is not None
    assert rep.first_error["height"] == height, rep.first_error
    assert what in rep.first_error["what"], rep.first_error


def _resign_from(db: sqlite3.Connection, b: Built, height: int, diff: bytes) -> None:
    """Rewrite block ``height`` with ``diff`` and re-chain every later block, signed by
    the real validator key: a forgery only re-execution can tell."""
    validator = World().validator
    prev = db.execute("SELECT hash, header FROM blocks WHERE height=?", (height - 1,)).fetchone()
    parent, state_root = bytes(prev[0]), BlockHeader.decode(bytes(prev[1])).state_root
    rows = db.execute(
        "SELECT height, header, diff FROM blocks WHERE height>=? ORDER BY height", (height,)
    ).fetchall()
    for h, header, old_diff in rows:
        d = diff if h == height else bytes(old_diff)
        state_root = compute_state_root(state_root, d)
        hd = BlockHeader.decode(bytes(header))
        new = BlockHeader(
            hd.height, parent, hd.timestamp_ms, hd.tx_root, hd.receipt_root, state_root, hd.proposer
        )
        bhash = compute_block_hash(new)
        sigs = msgpack.packb([validator.sign(bhash)], use_bin_type=True)
        db.execute(
            "UPDATE blocks SET header=?, hash=?, signatures=?, diff=? WHERE height=?",
            (new.encode(), bhash, sigs, d, h),
        )
        parent = bhash
    head = [rows[-1][0], parent, state_root]
    db.execute(
        "UPDATE meta SET value=? WHERE key='head'", (msgpack.packb(head, use_bin_type=True),)
    )


def test_only_replay_catches_a_resigned_forgery(built: Built, tmp_path: Path) -> None:
    def forge(db: sqlite3.Connection, b: Built) -> int:
        (diff,) = db.execute("SELECT diff FROM blocks WHERE height=?", (b.mid,)).fetchone()
        pairs = msgpack.unpackb(diff)
        pairs.append(["zz/forged", 1])
        pairs.sort()
        _resign_from(db, b, b.mid, msgpack.packb(pairs, use_bin_type=True))
        db.execute("INSERT INTO state(key, value) VALUES ('zz/forged', ?)", (msgpack.packb(1),))
        return b.mid

    path, height = tampered_copy(built, tmp_path, forge)
    plain = verify_ledger(path, built.genesis, False, notary_registry())
    assert plain.ok, plain.first_error
    rep = verify_ledger(path, built.genesis, True, notary_registry())
    assert rep.first_error == {
        "height": height,
        "what": "replay: re-execution gives a different state diff",
    }


def test_undecodable_tx_is_reported(built: Built, tmp_path: Path) -> None:
    def truncate(db: sqlite3.Connection, b: Built) -> int:
        tx_hash, raw = _first_tx(db, b.mid)
        db.execute("UPDATE txs SET raw=? WHERE hash=?", (raw[:-3], tx_hash))
        return b.mid

    path, height = tampered_copy(built, tmp_path, truncate)
    rep = verify_ledger(path, built.genesis, False, notary_registry())
    assert not rep.ok
    assert rep.first_error is not None and rep.first_error["height"] == height
