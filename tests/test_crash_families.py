"""Crash consistency with a chain of each non-EVM family: ``kill -9`` the dev chain's
process — Fabric: its peers and its orderer, one process; FISCO: its node — in the
middle of transfers in both directions between an EVM chain and it, restart it, and
check that every transfer ends in exactly one final state (SUCCESS), each executed once
on its destination (the brokers' counters) and supply is conserved. Every component is
its own OS process (benchmarks.harness.procs). The EVM chain's own crash tests are in
tests/test_crash_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from benchmarks.harness.procs import ProcTopology, open_proc_topology
from relay.ibtp import FINAL_STATUSES, TxStatus

pytestmark = pytest.mark.slow

PER_BATCH = 6
BATCHES = 6


async def _supply(pt: ProcTopology) -> int:
    assert pt.topo is not None
    return sum([await pt.topo.total_supply(c) for c in pt.topo.chains])


@pytest.mark.parametrize(("family", "name"), [("fabric", "chainF"), ("fisco", "chainS")])
async def test_kill_the_chain_mid_run(tmp_path: Path, family: str, name: str) -> None:
    with trio.fail_after(300):
        async with open_proc_topology(
            tmp_path, chains=("chainA", name), families={name: family}
        ) as pt:
            topo = pt.topo
            assert topo is not None
            a, x = topo.chains["chainA"], topo.chains[name]
            supply = await _supply(pt)
            ids: list[str] = []
            for k in range(BATCHES):
                ids += await topo.transfer_many(
                    "chainA", name, [3] * PER_BATCH, recipient=x.users[2].address
                )
                ids += await topo.transfer_many(
                    name, "chainA", [2] * PER_BATCH, user=1, recipient=a.users[0].address
                )
                if k == BATCHES // 2:
                    # Let deliveries reach the chain, then kill it mid-flight, restart it.
                    await trio.sleep(0.2)
                    pt.kill(name)
                    await trio.sleep(0.5)
                    await pt.restart(name)
                    await topo.driver(name).aclose()  # reconnect to the new process
            assert len(set(ids)) == len(ids) == 2 * PER_BATCH * BATCHES
            async with topo.client() as client:
                for i in ids:
                    st = await client.wait_final(i, timeout=120)
                    finals = [s for s, _ in st.history if s in FINAL_STATUSES]
                    assert finals == [st.status], f"{i}: {st.history}"
                    assert st.status == TxStatus.SUCCESS, f"{i}: {st.history}"
            with trio.fail_after(60):
                while await _supply(pt) != supply:
                    await trio.sleep(0.1)
            # Each transfer executed once on its destination: the broker's counters.
            for src, dst in ((a, x), (x, a)):
                pair = (src.service_id(src.asset), dst.service_id(dst.asset))
                counters = await topo.broker_counters(dst.name, *pair)
                assert counters.inbound == PER_BATCH * BATCHES, pair
