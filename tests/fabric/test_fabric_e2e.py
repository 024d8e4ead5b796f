"""End to end, EVM ↔ Fabric: the relay, an EVM dev chain, a Fabric dev chain and both
gateways, all real, in one process (benchmarks.harness.topology with
``families={"chainF": "fabric"}``).

Transfers in both directions reach SUCCESS once each; a transfer the destination
refuses (above its mint cap) ends FAILURE with the source's lock returned; a hostile
caller's mint is refused by the service; supply is conserved across the two chains
after every case; DataSwap answers across families.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from eth_abi import encode as abi_encode

from appchains.fabric.chaincode.definitions import MINT_CAP
from benchmarks.harness.topology import Topology, open_topology
from relay.ibtp import TxStatus
from relay.sdk import InterchainFailed

pytestmark = pytest.mark.slow

CHAINS = ("chainA", "chainF")
FAMILIES = {"chainF": "fabric"}


async def _supply(topo: Topology) -> int:
    return sum([await topo.total_supply(c) for c in topo.chains])


async def _final(topo: Topology, ids: list[str], timeout: float = 60) -> list[TxStatus]:
    out = []
    async with topo.client() as client:
        for i in ids:
            st = await client.wait_final(i, timeout=timeout)
            assert [s for s, _ in st.history].count(st.status) == 1
            out.append(st.status)
    return out


async def _conserved(topo: Topology, supply: int) -> None:
    """Wait for the supply across the chains to be ``supply`` again: a source burns its
    lock when the success receipt's callback lands, after the relay's final status."""
    with trio.fail_after(30):
        while (now := await _supply(topo)) != supply:
            await trio.sleep(0.05)
    assert now == supply


async def _settled(topo: Topology, chain: str, owner: str, expected: int) -> None:
    """Wait for ``owner``'s balance on ``chain`` to reach ``expected`` (callbacks and
    refunds land after the relay's final status)."""
    with trio.fail_after(30):
        while await topo.balance(chain, owner) != expected:
            await trio.sleep(0.05)


async def test_transfers_both_ways_failures_and_a_hostile_mint(tmp_path: Path) -> None:
    with trio.fail_after(240):
        # No relay allow lists: the services' own counterpart check is what stands
        # between a hostile caller and a mint.
        async with open_topology(
            tmp_path, CHAINS, families=FAMILIES, relay_allow_lists=False
        ) as topo:
            a, f = topo.chains["chainA"], topo.chains["chainF"]
            supply = await _supply(topo)
            alice, fred = a.users[0].address, f.users[1].address
            fred_before = await topo.balance("chainF", fred)
            alice_before = await topo.balance("chainA", alice)

            # EVM → Fabric and Fabric → EVM, a few each, all SUCCESS once.
            to_f = await topo.transfer_many("chainA", "chainF", [5, 6, 7], recipient=fred)
            to_a = await topo.transfer_many("chainF", "chainA", [11, 12], user=1, recipient=alice)
            assert await _final(topo, to_f + to_a) == [TxStatus.SUCCESS] * 5
            await _settled(topo, "chainF", fred, fred_before + 18 - 23)
            await _settled(topo, "chainA", alice, alice_before - 18 + 23)
            await _conserved(topo, supply)

            # The destination refuses (above its mint cap): FAILURE, the source refunds.
            big = MINT_CAP + 1
            (refused_f,) = await topo.transfer_many("chainA", "chainF", [big], recipient=fred)
            (refused_a,) = await topo.transfer_many(
                "chainF", "chainA", [big * 2], user=1, recipient=alice
            )
            assert await _final(topo, [refused_f, refused_a]) == [TxStatus.FAILURE] * 2
            await _settled(topo, "chainA", alice, alice_before - 18 + 23)
            await _settled(topo, "chainF", fred, fred_before + 18 - 23)
            await _conserved(topo, supply)

            # A Fabric client calls the EVM AssetTransfer's mint itself: a genuine relay
            # proof, but the service accepts mints only from its counterparts.
            caller = topo.caller("chainF", user=2)
            mallory = f.users[2].address
            mint = abi_encode(["address", "uint256"], [mallory, 500_000])
            async with topo.client() as client:
                with pytest.raises(InterchainFailed) as info:
                    await client.call(
                        caller.service_id, a.service_id(a.asset), "mint", [mint], via=caller,
                        timeout=60,
                    )  # fmt: skip
            assert "asset: source is not a counterpart" in str(info.value.details["reason"])
            assert await topo.balance("chainA", mallory) == 0
            await _conserved(topo, supply)

            # DataSwap across families: F asks A for a value.
            await topo.data_set("chainA", "colour", b"teal")
            got = await topo.data_get("chainF", "chainA", "colour")
            assert await _final(topo, [got]) == [TxStatus.SUCCESS]
            with trio.fail_after(30):
                while await topo.fetched("chainF", "chainA", "colour") != b"teal":
                    await trio.sleep(0.05)
