"""End-to-end: relay + two EVM dev chains + gateways, all real, in one process.

Every interchain transfer must reach SUCCESS, supply must be conserved across the
chains, and no transfer may execute twice. Failure and timeout end in FAILURE /
ROLLBACK with the source's lock returned; a timeout returns it only once the
destination (its gateway down until then) has given the call up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from eth_abi import encode as abi_encode

from adapters.evm.client import eth_view
from benchmarks.harness.topology import Topology, open_topology, start_gateway
from relay.ibtp import TxStatus, decode_ibtp
from relay.sdk import InterchainFailed, InterchainRolledBack, RelayClient

pytestmark = pytest.mark.slow


async def _supply(topo: Topology) -> int:
    return sum([await topo.total_supply(c) for c in topo.chains])


async def _broker_counter(topo: Topology, chain: str, name: str, src: str, dst: str) -> int:
    c = topo.chains[chain]
    (v,) = await eth_view(
        topo.rpc(chain), c.broker, f"{name}(string,string)", [src, dst], ["uint64"]
    )
    return int(v)


async def _start_gateway_after_a_timeout(
    topo: Topology, chain: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Once the relay has routed a timeout's notice to ``chain``, have ``chain`` give the
    call up (the notice delivered before the request) and start its gateway, which
    submits the acknowledgement (it keeps running until cancelled)."""
    assert topo.node is not None
    task_status.started()
    while True:
        notices = [
            decode_ibtp(e["ibtp"]).id
            for e in topo.node.outbound(chain, 1, 1000)["entries"]
            if e["status"] == TxStatus.BEGIN_ROLLBACK
        ]
        if notices:
            break
        await trio.sleep(0.05)
    await topo.deliver_notice(chain, notices[0])
    async with start_gateway(topo, chain):
        await trio.sleep_forever()


async def _wait_all(topo: Topology, ids: list[str], timeout: float) -> dict[str, TxStatus]:
    out: dict[str, TxStatus] = {}
    async with topo.client() as client:
        with trio.fail_after(timeout):
            for i in ids:
                st = await client.wait_final(i, timeout=timeout)
                out[i] = st.status
                assert [s for s, _ in st.history].count(st.status) == 1
    return out


async def test_thousand_transfers_all_succeed_once_and_conserve_supply(tmp_path: Path) -> None:
    with trio.fail_after(240):
        async with open_topology(tmp_path, ("chainA", "chainB")) as topo:
            a, b = topo.chains["chainA"], topo.chains["chainB"]
            supply = await _supply(topo)
            bob = b.users[0].address
            bob_before = await topo.balance("chainB", bob)
            amounts = [1 + (i % 7) for i in range(1000)]
            ids: list[str] = []
            for k in range(0, len(amounts), 250):
                ids += await topo.transfer_many("chainA", "chainB", amounts[k : k + 250])
            assert len(ids) == len(set(ids)) == 1000
            statuses = await _wait_all(topo, ids, 180)
            assert set(statuses.values()) == {TxStatus.SUCCESS}
            src, dst = a.service_id(a.asset), b.service_id(b.asset)
            # Executed exactly once each on B; every callback applied exactly once on A.
            assert await _broker_counter(topo, "chainB", "inCounter", src, dst) == 1000
            with trio.fail_after(30):
                while await _broker_counter(topo, "chainA", "callbackCounter", src, dst) < 1000:
                    await trio.sleep(0.1)
            assert await _broker_counter(topo, "chainA", "callbackCounter", src, dst) == 1000
            assert await topo.balance("chainB", bob) - bob_before == sum(amounts)
            assert await _supply(topo) == supply
            async with topo.client() as client:
                pair = await client.pair(src, dst)
            assert pair["interchain"] == 1000 and pair["receipt"] == 1000


async def test_failure_and_timeout_roll_back_on_the_source(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with open_topology(
            tmp_path, ("chainA", "chainB", "chainC"), without_gateway=("chainC",)
        ) as topo:
            alice = topo.chains["chainA"].users[0].address
            supply = await _supply(topo)
            before = await topo.balance("chainA", alice)
            (over_cap,) = await topo.transfer_many("chainA", "chainB", [5_000_000])
            async with topo.client() as client:
                height = (await client.status())["height"]
            (to_c,) = await topo.transfer_many("chainA", "chainC", [10], timeout=height + 8)
            assert (await _wait_all(topo, [over_cap], 60)) == {over_cap: TxStatus.FAILURE}
            # Timed out, with chainC's gateway down: the notice waits for chainC, and
            # chainA keeps the lock (chainC might have run the call).
            async with topo.client() as client:
                with trio.fail_after(60):
                    while (await client.ibtp_status(to_c)).status != TxStatus.BEGIN_ROLLBACK:
                        await trio.sleep(0.05)
            await trio.sleep(1)
            assert await topo.balance("chainA", alice) == before - 10
            # chainC gives the call up (its broker takes the notice before the request);
            # its gateway, started, submits the acknowledgement; then chainA rolls back.
            await topo.deliver_notice("chainC", to_c)
            await trio.sleep(1)
            assert await topo.balance("chainA", alice) == before - 10
            async with start_gateway(topo, "chainC"):
                assert (await _wait_all(topo, [to_c], 60)) == {to_c: TxStatus.ROLLBACK}
            with trio.fail_after(20):
                while await topo.balance("chainA", alice) != before:
                    await trio.sleep(0.05)
            assert await _supply(topo) == supply
            async with topo.client() as client:
                st = await client.ibtp_status(to_c)
            assert [s for s, _ in st.history] == [
                TxStatus.BEGIN,
                TxStatus.BEGIN_ROLLBACK,
                TxStatus.SOURCE_ROLLBACK,
                TxStatus.ROLLBACK,
            ]


async def test_data_swap_returns_the_destination_value(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with open_topology(tmp_path, ("chainA", "chainB")) as topo:
            await topo.data_set("chainB", "k", b"v-from-B")
            did = await topo.data_get("chainA", "chainB", "k")
            assert (await _wait_all(topo, [did], 30))[did] == TxStatus.SUCCESS
            with trio.fail_after(10):
                while await topo.fetched("chainA", "chainB", "k") != b"v-from-B":
                    await trio.sleep(0.05)


async def test_sdk_call_returns_results_and_names_each_failure(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with open_topology(
            tmp_path, ("chainA", "chainB", "chainC"), without_gateway=("chainC",)
        ) as topo:
            b, c = topo.chains["chainB"], topo.chains["chainC"]
            caller = topo.caller("chainA", user=1)
            swap_b = b.service_id(b.data_swap)
            await topo.data_set("chainB", "answer", b"forty-two")
            key = abi_encode(["string"], ["answer"])
            async with topo.client() as client:
                got = await client.call(caller.service_id, swap_b, "get", [key], via=caller)
                assert got.result == b"forty-two"
                assert [s for s, _ in got.status.history] == [TxStatus.BEGIN, TxStatus.SUCCESS]

                missing = abi_encode(["string"], ["no-such-key"])
                with pytest.raises(InterchainFailed) as failed:
                    await client.call(caller.service_id, swap_b, "get", [missing], via=caller)
                assert failed.value.code == 7004
                assert failed.value.details["reason"] == "dataswap: unknown key"

                # AssetTransfer only accepts the other chains' AssetTransfer: not routed.
                mint = abi_encode(["address", "uint256"], [caller.account.address, 5])
                with pytest.raises(InterchainRolledBack) as refused:
                    await client.call(
                        caller.service_id, b.service_id(b.asset), "mint", [mint], via=caller
                    )
                assert refused.value.details["timed_out"] is False

                # chainC's gateway is down: the call times out; it rolls back once the
                # gateway is back and chainC's broker gave the call up.
                async with trio.open_nursery() as nursery:
                    await nursery.start(_start_gateway_after_a_timeout, topo, "chainC")
                    with pytest.raises(InterchainRolledBack) as late:
                        await client.call(
                            caller.service_id,
                            c.service_id(c.data_swap),
                            "get",
                            [key],
                            via=caller,
                            timeout_blocks=6,
                        )
                    nursery.cancel_scope.cancel()
                assert late.value.details["timed_out"] is True

            def blocking() -> bytes:
                with RelayClient(topo.relay_url) as sync_client:
                    return sync_client.call(
                        caller.service_id, swap_b, "get", [key], via=caller
                    ).result

            assert await trio.to_thread.run_sync(blocking) == b"forty-two"
