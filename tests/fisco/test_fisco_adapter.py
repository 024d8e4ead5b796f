"""The adapter conformance suite (adapters.testing) against the FISCO adapter on the
FISCO BCOS-like dev chain, in both crypto modes: FISCO JSON-RPC, signed FISCO
transactions, proofs the relay-side ``FiscoVerifier`` accepts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from eth_abi import encode as abi_encode

from adapters.base import AdapterRegistry
from adapters.fisco.client import FiscoAccount, FiscoSender, calldata, interchain_events
from adapters.fisco.gateway import FiscoAdapter
from adapters.fisco.hashing import CryptoMode
from adapters.fisco.verifier import FiscoVerifier
from adapters.testing import check_adapter
from appchains.fisco.harness import FiscoDevchains
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.validation.base import ChainContext

HUB = "hub0"
TEST_DEADLINE = 90


@dataclass
class FiscoConformance:
    adapter: FiscoAdapter
    verifier: FiscoVerifier
    context: ChainContext
    adapter_config: dict[str, Any]
    hub_id: str
    relay_keys: list[Account]
    local_service: str
    remote_service: str
    good_call: tuple[str, list[bytes]]
    bad_call: tuple[str, list[bytes]]
    sender: FiscoSender
    broker: str

    async def emit_request(self, func: str, args: list[bytes]) -> tuple[str, str, int]:
        # Straight through the broker from a user account: exactly func(args).
        outcome = await self.sender.send(
            self.broker,
            calldata(
                "emitInterchain(string,string,bytes[],uint64)",
                [self.remote_service, func, args, 0],
                self.sender.account.mode,
            ),
        )
        assert outcome.ok
        (event,) = interchain_events(outcome.receipt, self.broker, self.sender.account.mode)
        return event

    async def advance(self) -> None:
        await trio.sleep(0.05)


@pytest.mark.parametrize("mode", ["secp256k1", "sm"])
async def test_fisco_adapter_passes_the_conformance_suite(tmp_path: Path, mode: CryptoMode) -> None:
    relay_key = Account.from_key(b"\x11" * 32)
    with trio.fail_after(TEST_DEADLINE):
        async with FiscoDevchains(mode).open_dev_chain(
            name="conf",
            index=0,
            seed="conformance",
            hub_id=HUB,
            relay_validators=[relay_key.address],
            relay_threshold=1,
            block_interval=0.02,
            data_dir=tmp_path / "conf",
        ) as dev:
            config = dict(dev.adapter_config)
            adapter = AdapterRegistry.from_entry_points().create("fisco", config)
            assert isinstance(adapter, FiscoAdapter)
            user = FiscoAccount.from_key(dev.user_keys[1], mode)
            sender = FiscoSender(adapter.rpc, user, 1)
            await adapter.start()
            set_ok = await sender.send(
                dev.services["data_swap"],
                calldata("set(string,bytes)", ["answer", b"forty-two"], mode),
            )
            assert set_ok.ok
            verifier = FiscoVerifier()
            reg = verifier.check_registration(
                dev.registration["trust_root"], dev.registration["broker"]
            )
            harness = FiscoConformance(
                adapter=adapter,
                verifier=verifier,
                context=ChainContext(HUB, "conf", "fisco", reg.broker, reg.trust_root),
                adapter_config=config,
                hub_id=HUB,
                relay_keys=[relay_key],
                local_service=f"{HUB}:conf:{dev.services['data_swap']}",
                remote_service=f"{HUB}:elsewhere:0x00000000000000000000000000000000000a11ce",
                good_call=("get", [abi_encode(["string"], ["answer"])]),
                bad_call=("get", [abi_encode(["string"], ["no-such-key"])]),
                sender=sender,
                broker=dev.registration["broker"],
            )
            report = await check_adapter(harness)
            await adapter.stop()
    assert len(report.checks) == 10


async def test_the_adapter_refuses_a_node_of_the_other_mode(tmp_path: Path) -> None:
    relay_key = Account.from_key(b"\x11" * 32)
    with trio.fail_after(TEST_DEADLINE):
        async with FiscoDevchains("sm").open_dev_chain(
            name="conf",
            index=0,
            seed="mode",
            hub_id=HUB,
            relay_validators=[relay_key.address],
            relay_threshold=1,
            block_interval=0.02,
            data_dir=tmp_path / "conf",
        ) as dev:
            config = {**dev.adapter_config, "mode": "secp256k1"}
            adapter = FiscoAdapter.from_config(config)
            with pytest.raises(RelayError) as err:
                await adapter.start()
            await adapter.stop()
    assert err.value.code == Code.CONFIG
    assert "mode" in err.value.message
