"""Crash consistency across the whole system: ``kill -9`` a gateway, the relay or an
app chain in the middle of a 500-transfer run, restart it, and check that every
transfer ends in exactly one final state, nothing executed twice, and supply is
conserved. Each component runs as its own OS process (benchmarks.harness.procs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from adapters.evm.client import eth_view
from benchmarks.harness.procs import ProcTopology, open_proc_topology
from relay.ibtp import FINAL_STATUSES, TxStatus

pytestmark = pytest.mark.slow

TRANSFERS = 500


async def _counter(pt: ProcTopology, chain: str, name: str, src: str, dst: str) -> int:
    assert pt.topo is not None
    c = pt.topo.chains[chain]
    (v,) = await eth_view(
        pt.topo.rpc(chain), c.broker, f"{name}(string,string)", [src, dst], ["uint64"]
    )
    return int(v)


async def _run_with_crash(tmp_path: Path, victim: str) -> None:
    async with open_proc_topology(tmp_path) as pt:
        topo = pt.topo
        assert topo is not None
        a, b = topo.chains["chainA"], topo.chains["chainB"]
        supply = sum([await topo.total_supply(c) for c in topo.chains])
        bob = b.users[0].address
        bob_before = await topo.balance("chainB", bob)
        ids: list[str] = []
        batches = 10
        for k in range(batches):
            ids += await topo.transfer_many("chainA", "chainB", [2] * (TRANSFERS // batches))
            if k == batches // 2:
                # Let traffic reach the victim, then kill it mid-flight and restart it.
                await trio.sleep(0.3)
                pt.kill(victim)
                await trio.sleep(0.5)
                await pt.restart(victim)
        assert len(set(ids)) == TRANSFERS
        async with topo.client() as client:
            for i in ids:
                st = await client.wait_final(i, timeout=120)
                assert st.status in FINAL_STATUSES
                finals = [s for s, _ in st.history if s in FINAL_STATUSES]
                assert finals == [st.status], f"{i}: {st.history}"
                assert st.status == TxStatus.SUCCESS, f"{i}: {st.history}"
        src, dst = a.service_id(a.asset), b.service_id(b.asset)
        assert await _counter(pt, "chainB", "inCounter", src, dst) == TRANSFERS
        with trio.fail_after(60):
            while await _counter(pt, "chainA", "callbackCounter", src, dst) < TRANSFERS:
                await trio.sleep(0.2)
        assert await _counter(pt, "chainA", "callbackCounter", src, dst) == TRANSFERS
        assert await topo.balance("chainB", bob) - bob_before == 2 * TRANSFERS
        assert sum([await topo.total_supply(c) for c in topo.chains]) == supply


@pytest.mark.parametrize("victim", ["gateway-chainB", "relay", "chainB"])
async def test_kill_9_mid_run(tmp_path: Path, victim: str) -> None:
    try:
        with trio.fail_after(300):
            await _run_with_crash(tmp_path, victim)
    except BaseException:
        # Show what every process said: the failure is usually in one of them.
        for log in sorted((tmp_path / "logs").glob("*.log")):
            print(
                f"==== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            )
        raise
