"""End to end, FISCO ↔ EVM and FISCO ↔ Fabric: the relay, the dev chains and their
gateways, all real, in one process (benchmarks.harness.topology with
``families={"chainS": "fisco"}``).

Transfers both ways reach SUCCESS once each; a transfer the destination refuses (above
its mint cap) ends FAILURE with the source's lock returned; a hostile caller's mint is
refused by the service; supply is conserved after every case; DataSwap answers across
families. The 国密 chain runs the same transfers with SM2 seals and SM3 everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from eth_abi import encode as abi_encode

from appchains.evm.devchain.harness import EvmDevchains
from appchains.fabric.harness import FabricDevchains
from appchains.fisco.harness import FiscoDevchains
from benchmarks.harness.topology import Topology, open_topology
from relay.ibtp import TxStatus
from relay.sdk import InterchainFailed

pytestmark = pytest.mark.slow

MINT_CAP = 10**6  # the FISCO and EVM dev chains' AssetTransfer cap


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
    with trio.fail_after(30):
        while (now := await _supply(topo)) != supply:
            await trio.sleep(0.05)
    assert now == supply


async def _settled(topo: Topology, chain: str, owner: str, expected: int) -> None:
    with trio.fail_after(30):
        while await topo.balance(chain, owner) != expected:
            await trio.sleep(0.05)


async def _transfers_and_refusals(topo: Topology, other: str, cap: int = MINT_CAP) -> None:
    """Both ways SUCCESS, then one refused each way (FAILURE, refunded), supply kept."""
    s, o = topo.chains["chainS"], topo.chains[other]
    supply = await _supply(topo)
    sam, olga = s.users[1].address, o.users[1].address
    sam_before = await topo.balance("chainS", sam)
    olga_before = await topo.balance(other, olga)
    to_o = await topo.transfer_many("chainS", other, [5, 6, 7], user=1, recipient=olga)
    to_s = await topo.transfer_many(other, "chainS", [11, 12], user=1, recipient=sam)
    assert await _final(topo, to_o + to_s) == [TxStatus.SUCCESS] * 5
    await _settled(topo, "chainS", sam, sam_before - 18 + 23)
    await _settled(topo, other, olga, olga_before + 18 - 23)
    await _conserved(topo, supply)

    (refused_o,) = await topo.transfer_many("chainS", other, [cap + 1], user=1, recipient=olga)
    (refused_s,) = await topo.transfer_many(other, "chainS", [MINT_CAP + 1], user=1, recipient=sam)
    assert await _final(topo, [refused_o, refused_s]) == [TxStatus.FAILURE] * 2
    await _settled(topo, "chainS", sam, sam_before - 18 + 23)
    await _settled(topo, other, olga, olga_before + 18 - 23)
    await _conserved(topo, supply)


async def test_fisco_evm_transfers_failures_hostile_mint_and_data(tmp_path: Path) -> None:
    with trio.fail_after(240):
        # No relay allow lists: the services' own counterpart check is what stands
        # between a hostile caller and a mint.
        async with open_topology(
            tmp_path, ("chainA", "chainS"), families={"chainS": "fisco"}, relay_allow_lists=False
        ) as topo:
            await _transfers_and_refusals(topo, "chainA")
            supply = await _supply(topo)
            s = topo.chains["chainS"]

            # An EVM account calls the FISCO AssetTransfer's mint itself: a genuine relay
            # proof, but the service accepts mints only from its counterparts.
            caller = topo.caller("chainA", user=2)
            mallory = "0x00000000000000000000000000000000000bad01"  # holds nothing
            mint = abi_encode(["address", "uint256"], [mallory, 500_000])
            async with topo.client() as client:
                with pytest.raises(InterchainFailed) as info:
                    await client.call(
                        caller.service_id, s.service_id(s.asset), "mint", [mint], via=caller,
                        timeout=60,
                    )  # fmt: skip
            assert "asset: source is not a counterpart" in str(info.value.details["reason"])
            assert await topo.balance("chainS", mallory) == 0
            await _conserved(topo, supply)

            # And a FISCO account calls the EVM one's: refused the same way.
            fcaller = topo.caller("chainS", user=2)
            a = topo.chains["chainA"]
            async with topo.client() as client:
                with pytest.raises(InterchainFailed):
                    await client.call(
                        fcaller.service_id, a.service_id(a.asset), "mint", [mint], via=fcaller,
                        timeout=60,
                    )  # fmt: skip
            await _conserved(topo, supply)

            # DataSwap both ways.
            await topo.data_set("chainA", "colour", b"teal")
            await topo.data_set("chainS", "shape", b"round")
            got = [
                await topo.data_get("chainS", "chainA", "colour"),
                await topo.data_get("chainA", "chainS", "shape"),
            ]
            assert await _final(topo, got) == [TxStatus.SUCCESS] * 2
            with trio.fail_after(30):
                while await topo.fetched("chainS", "chainA", "colour") != b"teal":
                    await trio.sleep(0.05)
                while await topo.fetched("chainA", "chainS", "shape") != b"round":
                    await trio.sleep(0.05)


async def test_a_gm_fisco_chain_transfers_with_sm2_seals_and_sm3(tmp_path: Path) -> None:
    hooks = {"evm": EvmDevchains(), "fisco": FiscoDevchains("sm")}
    with trio.fail_after(240):
        async with open_topology(
            tmp_path, ("chainA", "chainS"), families={"chainS": "fisco"}, devchains=hooks
        ) as topo:
            assert topo.chains["chainS"].trust_root["mode"] == "sm"
            await _transfers_and_refusals(topo, "chainA")


async def test_fisco_fabric_transfers_and_refusals(tmp_path: Path) -> None:
    from appchains.fabric.chaincode.definitions import MINT_CAP as FABRIC_CAP

    hooks = {"fabric": FabricDevchains(), "fisco": FiscoDevchains()}
    with trio.fail_after(240):
        async with open_topology(
            tmp_path,
            ("chainF", "chainS"),
            families={"chainF": "fabric", "chainS": "fisco"},
            devchains=hooks,
        ) as topo:
            await _transfers_and_refusals(topo, "chainF", cap=FABRIC_CAP)
