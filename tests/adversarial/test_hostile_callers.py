"""Hostile callers against the example services, on the real in-process topology.

The bridge-incident class: a destination service that trusts whatever the
dispatcher hands it mints for any caller. Here an externally owned account on
chainA uses the SDK (``client.call(..., via=EvmCaller(...))``) to send ``mint`` to
chainB's AssetTransfer. Its relay proof is genuine: the broker on chainB executes
the call, and only the service's own check (``from`` must be a registered
counterpart) stands between the caller and the mint.

Two topologies:

* the relay's allow list open (``relay_allow_lists=False``): the relay routes the
  call, chainB's AssetTransfer refuses it — FAILURE with the service's reason;
* the default one, where the relay's allow list refuses to route it first
  (ROLLBACK without execution) — defence in depth, not the service's only guard.

Each checks that nothing is minted, supply is conserved across the chains, and an
honest transfer succeeds afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from eth_abi import encode as abi_encode

from adapters.evm.client import eth_view
from benchmarks.harness.demo import hostile_mint
from benchmarks.harness.topology import Topology, open_topology
from relay.ibtp import TxStatus
from relay.sdk import InterchainFailed, InterchainRolledBack

pytestmark = pytest.mark.slow

HOSTILE_AMOUNT = 500_000  # below chainB's mint cap: only the caller check refuses it


async def _supply(topo: Topology) -> int:
    return sum([await topo.total_supply(c) for c in topo.chains])


async def _receipt_message(topo: Topology, chain: str, src: str, dst: str, index: int) -> tuple:
    c = topo.chains[chain]
    return await eth_view(
        topo.rpc(chain),
        c.broker,
        "receiptMessage(string,string,uint64)",
        [src, dst, index],
        ["uint8", "bytes"],
    )


async def _honest_transfer_succeeds(topo: Topology, amount: int) -> None:
    """chainA's AssetTransfer → chainB's: SUCCESS, the recipient is credited once, and
    the source's callback lands (its lock burned: the supply across chains is back)."""
    bob = topo.chains["chainB"].users[0].address
    before = await topo.balance("chainB", bob)
    supply = await _supply(topo)
    (tid,) = await topo.transfer_many("chainA", "chainB", [amount])
    async with topo.client() as client:
        st = await client.wait_final(tid, timeout=30)
    assert st.status == TxStatus.SUCCESS
    assert await topo.balance("chainB", bob) == before + amount
    # The relay records SUCCESS before chainA applies the receipt: until then the
    # amount is both locked on A and minted on B.
    with trio.fail_after(30):
        while await _supply(topo) != supply:
            await trio.sleep(0.05)


async def test_service_refuses_a_hostile_mint_the_relay_routes(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with open_topology(tmp_path, ("chainA", "chainB"), relay_allow_lists=False) as topo:
            b = topo.chains["chainB"]
            asset_b = b.service_id(b.asset)
            caller = topo.caller("chainA", user=2)  # an EOA, no counterpart of anything
            attacker = caller.account.address
            supply = await _supply(topo)
            supply_b = await topo.total_supply("chainB")
            victim = b.users[1].address
            victim_before = await topo.balance("chainB", victim)
            async with topo.client() as client:
                # the relay would route it: nothing but the service refuses
                svc = await client.service(asset_b)
                assert svc["allow"] == [] and svc["deny"] == []
                for recipient in (attacker, victim):
                    mint = abi_encode(["address", "uint256"], [recipient, HOSTILE_AMOUNT])
                    with pytest.raises(InterchainFailed) as failed:
                        await client.call(caller.service_id, asset_b, "mint", [mint], via=caller)
                    assert failed.value.code == 7004
                    assert failed.value.details["reason"] == "asset: source is not a counterpart"
                    history = [TxStatus(s) for s, _ in failed.value.details["history"]]
                    assert history == [TxStatus.BEGIN, TxStatus.FAILURE]
            # executed on chainB (both indexes consumed) as failures; nothing minted
            for index in (1, 2):
                typ, result = await _receipt_message(
                    topo, "chainB", caller.service_id, asset_b, index
                )
                assert (typ, result) == (2, b"asset: source is not a counterpart")
            assert await topo.balance("chainB", attacker) == 0
            assert await topo.balance("chainB", victim) == victim_before
            assert await topo.total_supply("chainB") == supply_b
            assert await _supply(topo) == supply
            # the counterpart list is what it was: only chainA's AssetTransfer
            (registered,) = await eth_view(
                topo.rpc("chainB"), b.asset, "isCounterpart(string)", [caller.service_id], ["bool"]
            )
            assert registered is False
            await _honest_transfer_succeeds(topo, 9)
            assert await _supply(topo) == supply


async def test_the_demo_row_shows_the_refusal(tmp_path: Path) -> None:
    """``make demo``'s call 5 is the same attack: FAILURE, the reason, nothing minted."""
    with trio.fail_after(90):
        async with open_topology(tmp_path, ("chainA", "chainB"), relay_allow_lists=False) as topo:
            supply = await _supply(topo)
            outcome = await hostile_mint(topo, "chainA", "chainB")
            assert outcome.ok and outcome.status.status == TxStatus.FAILURE
            assert outcome.status.result == b"asset: source is not a counterpart"
            assert "minted 0" in outcome.note
            assert await _supply(topo) == supply


async def test_dataswap_serves_a_hostile_caller_a_read_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """DataSwap serves any caller (its answer is a read anyone can make with valueOf)."""
    with trio.fail_after(90):
        async with open_topology(tmp_path, ("chainA", "chainB"), relay_allow_lists=False) as topo:
            b = topo.chains["chainB"]
            caller = topo.caller("chainA", user=2)
            await topo.data_set("chainB", "price", b"42 EUR")
            supply = await _supply(topo)
            key = abi_encode(["string"], ["price"])
            async with topo.client() as client:
                got = await client.call(
                    caller.service_id, b.service_id(b.data_swap), "get", [key], via=caller
                )
            assert got.result == b"42 EUR"
            (found, value) = await eth_view(
                topo.rpc("chainB"), b.data_swap, "valueOf(string)", ["price"], ["bool", "bytes"]
            )
            assert (found, value) == (True, b"42 EUR")
            assert await _supply(topo) == supply


async def test_relay_allow_list_refuses_first_and_the_service_still_holds(
    tmp_path: Path,
) -> None:
    with trio.fail_after(120):
        async with open_topology(tmp_path, ("chainA", "chainB")) as topo:
            b = topo.chains["chainB"]
            asset_b = b.service_id(b.asset)
            caller = topo.caller("chainA", user=2)
            attacker = caller.account.address
            supply = await _supply(topo)
            mint = abi_encode(["address", "uint256"], [attacker, HOSTILE_AMOUNT])
            async with topo.client() as client:
                with pytest.raises(InterchainRolledBack) as refused:
                    await client.call(caller.service_id, asset_b, "mint", [mint], via=caller)
            assert refused.value.details["timed_out"] is False  # the relay did not route it
            assert await topo.balance("chainB", attacker) == 0
            assert await _supply(topo) == supply
            await _honest_transfer_succeeds(topo, 4)
            assert await _supply(topo) == supply
