"""Crash safety: a real relay process (``python -m relay.cli relay start``) is killed
with SIGKILL several times under load, at random moments, and restarted.

Three gateways (A -> B, B -> C, C -> A) submit notarized IBTP batches with
``?wait=commit`` in a loop. After every kill, offline: ``verify_ledger`` (with replay)
passes, no block is half-written, and every IBTP whose submission was answered
"committed" is on the ledger. After every restart the relay resumes at the last
committed height. At the end every IBTP ever built is resubmitted: what is there is a
duplicate, what was lost fills the gap, and the counters end exactly at the last index.

No external peer is involved (the CI rule for real peers does not apply). Set
``RELAYHUB_CRASH_SEED`` to replay a run's kill timings.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import trio
from relayfix import Signer, World, pack_txs, sid

from relay.crypto import read_key_file
from relay.genesis import Genesis
from relay.ibtp import IBTP, TxStatus
from relay.ledger.store import Store
from relay.ledger.verify import verify_ledger

pytestmark = pytest.mark.slow

ROUNDS = 4
BATCH = 20
REPO = Path(__file__).resolve().parent.parent
MSGPACK = {"content-type": "application/msgpack", "accept": "application/json"}
LANES = (("A", "B"), ("B", "C"), ("C", "A"))


@dataclass
class Lane:
    """One gateway sending an ordered stream of requests src -> dst."""

    world: World
    src: str
    dst: str
    #: highest index whose submission was answered "committed"
    acked: int = 0
    #: next index to send
    next: int = 1
    built: dict[int, IBTP] = field(default_factory=dict)

    def ibtp(self, index: int) -> IBTP:
        """The request with ``index``: the same message every time it is built."""
        if index not in self.built:
            self.built[index] = self.world.interchain(
                self.src, self.dst, index=index, args=(f"crash {index}".encode(),)
            )
        return self.built[index]

    @property
    def pair(self) -> str:
        return f"{sid(self.src)}~{sid(self.dst)}"


class Relay:
    """A relay process started by the CLI on a free port."""

    def __init__(self, directory: Path, log: Path) -> None:
        self.dir = directory
        self.log = log
        self.proc: trio.Process | None = None
        self.url = ""

    async def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = await trio.lowlevel.open_process(
                [
                    sys.executable,
                    "-m",
                    "relay.cli",
                    "relay",
                    "start",
                    "--dir",
                    str(self.dir),
                    "--port",
                    "0",
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=REPO,
            )
        assert self.proc.stdout is not None
        seen = b""
        with trio.fail_after(60):
            while b"\n" not in seen or not re.search(rb"serving (http://\S+)", seen):
                chunk = await self.proc.stdout.receive_some(4096)
                assert chunk, f"relay exited: {seen!r}; see {self.log}"
                seen += chunk
        m = re.search(rb"serving (http://\S+)", seen)
        assert m is not None
        self.url = m.group(1).decode()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        with trio.fail_after(30):
            await self.proc.wait()
        if self.proc.stdout is not None:
            await self.proc.stdout.aclose()

    async def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        with trio.fail_after(30):
            assert await self.proc.wait() == 0
        if self.proc.stdout is not None:
            await self.proc.stdout.aclose()


async def post(http: httpx.AsyncClient, txs: list[Any]) -> httpx.Response:
    return await http.post("/v1/txs?wait=commit", content=pack_txs(txs), headers=MSGPACK)


async def resync(http: httpx.AsyncClient, world: World, lanes: list[Lane]) -> None:
    """After a restart: nonces and next indices from the relay (a lost answer may or may
    not have committed)."""
    for signer in world.signers():
        signer.nonce = (await http.get(f"/v1/accounts/{signer.address}")).json()["nonce"]
    for lane in lanes:
        doc = (await http.get(f"/v1/pairs/{sid(lane.src)}/{sid(lane.dst)}")).json()
        assert doc["interchain"] >= lane.acked, "an acknowledged commit was lost"
        lane.next = doc["interchain"] + 1


async def load(http: httpx.AsyncClient, lane: Lane) -> None:
    """Submit batches until the relay goes away."""
    gw = lane.world.gateway(lane.src)
    while True:
        items = [lane.ibtp(i) for i in range(lane.next, lane.next + BATCH)]
        tx = lane.world.ibtp_tx(items)
        try:
            r = await post(http, [tx])
        except httpx.TransportError:
            return
        if r.status_code == 503:
            gw.nonce -= 1  # refused: the nonce was not used
            await trio.sleep(0.05)
            continue
        assert r.status_code == 200, r.text
        (res,) = r.json()["results"]
        assert [x[0] for x in res["results"]] == [i.id for i in items]
        lane.acked = lane.next + BATCH - 1
        lane.next += BATCH


def check_offline(ledger: Path, genesis: Genesis, lanes: list[Lane]) -> int:
    """After a kill: the ledger verifies (with replay), holds only whole blocks, and
    every acknowledged IBTP. Returns the head height."""
    rep = verify_ledger(ledger, genesis, replay=True)
    assert rep.ok, rep.first_error
    db = sqlite3.connect(ledger)
    try:
        heights = [h for (h,) in db.execute("SELECT height FROM blocks ORDER BY height")]
        assert heights == list(range(1, len(heights) + 1))
        per_block = dict(db.execute("SELECT height, tx_count FROM blocks"))
        stored = dict(db.execute("SELECT height, COUNT(*) FROM txs GROUP BY height"))
        assert {h: n for h, n in per_block.items() if n} == stored, "a half-written block"
        (raw,) = db.execute("SELECT value FROM meta WHERE key='head'").fetchone()
        head = msgpack.unpackb(raw)[0] if heights else 0
        assert head == (heights[-1] if heights else 0)
    finally:
        db.close()
    store = Store(ledger)
    try:
        for lane in lanes:
            ic, _ = store.get_committed(f"pair/{lane.pair}") or (0, 0)
            assert ic >= lane.acked
            for i in range(1, lane.acked + 1):
                rec = store.get_committed(f"tx/{lane.ibtp(i).id}")
                assert rec is not None and rec[0] == TxStatus.BEGIN, (lane.pair, i)
    finally:
        store.close()
    return int(head)


async def test_kill9_under_load(tmp_path: Path) -> None:
    seed = int(os.environ.get("RELAYHUB_CRASH_SEED", random.randrange(2**32)))
    print(f"RELAYHUB_CRASH_SEED={seed}")
    rng = random.Random(seed)
    d = tmp_path / "relay"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "relay.cli",
            "relay",
            "init",
            "--dir",
            str(d),
            "--hub-id",
            "testhub",
            "--default-timeout-blocks",
            "1000000",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    )
    genesis = Genesis.load(d / "genesis.json")
    ledger = d / "data" / "ledger.sqlite3"
    world = World(hub=genesis.hub_id)
    world.admin = Signer(read_key_file(d / "keys" / "admin.key"), genesis.hub_id)
    lanes = [Lane(world, s, t) for s, t in LANES]
    relay = Relay(d, tmp_path / "relay.log")
    head = 0
    for rnd in range(ROUNDS):
        await relay.start()
        try:
            async with httpx.AsyncClient(base_url=relay.url, timeout=30) as http:
                status = (await http.get("/v1/status")).json()
                assert status["height"] == head, "the relay did not resume at the last block"
                if rnd == 0:
                    r = await post(http, world.setup_txs())
                    assert r.status_code == 200, r.text
                await resync(http, world, lanes)
                async with trio.open_nursery() as nursery:
                    for lane in lanes:
                        nursery.start_soon(load, http, lane)
                    await trio.sleep(rng.uniform(0.3, 1.5))
                    await relay.kill()
        finally:
            if relay.proc is not None and relay.proc.returncode is None:
                relay.proc.kill()
        head = check_offline(ledger, genesis, lanes)
    assert all(lane.acked > 0 for lane in lanes), "no load got through"

    # Resubmit everything ever built: duplicates where present, gaps filled.
    await relay.start()
    async with httpx.AsyncClient(base_url=relay.url, timeout=30) as http:
        assert (await http.get("/v1/status")).json()["height"] == head
        await resync(http, world, lanes)
        present = {lane.pair: lane.next - 1 for lane in lanes}
        print(
            "ibtps built / present after the last kill / acknowledged:",
            [(max(lane.built), present[lane.pair], lane.acked) for lane in lanes],
        )
        for lane in lanes:
            top = max(lane.built)
            for start in range(1, top + 1, 100):
                items = [lane.ibtp(i) for i in range(start, min(start + 100, top + 1))]
                r = await post(http, [world.ibtp_tx(items)])
                assert r.status_code == 200, r.text
                (res,) = r.json()["results"]
                for item, (ibtp_id, status, dup) in zip(items, res["results"], strict=True):
                    assert ibtp_id == item.id
                    assert status == TxStatus.BEGIN
                    assert dup == (item.index <= present[lane.pair]), (item.index, dup)
            doc = (await http.get(f"/v1/pairs/{sid(lane.src)}/{sid(lane.dst)}")).json()
            assert doc["interchain"] == top
        await relay.stop()
    rep = verify_ledger(ledger, genesis, replay=True)
    assert rep.ok, rep.first_error
    assert sum(max(lane.built) for lane in lanes) >= ROUNDS * BATCH
