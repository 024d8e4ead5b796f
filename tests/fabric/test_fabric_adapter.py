"""The adapter conformance suite (adapters.testing) against the Fabric adapter on the
Fabric dev chain: the broker set, Fabric's gRPC Gateway and Endorser services, proofs
the relay-side verifier accepts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from eth_abi import encode as abi_encode

from adapters.base import AdapterRegistry
from adapters.fabric.client import ClientIdentity, PeerClient, submit_transaction
from adapters.fabric.gateway import FabricAdapter
from adapters.fabric.proposal import INTERCHAIN_EVENT, decode_event
from adapters.fabric.verifier import FabricVerifier
from adapters.testing import check_adapter
from appchains.fabric.harness import FabricDevchains
from relay.crypto import Account
from relay.validation.base import ChainContext

HUB = "hub0"
TEST_DEADLINE = 90


@dataclass
class FabricConformance:
    adapter: FabricAdapter
    verifier: FabricVerifier
    context: ChainContext
    adapter_config: dict[str, Any]
    hub_id: str
    relay_keys: list[Account]
    local_service: str
    remote_service: str
    good_call: tuple[str, list[bytes]]
    bad_call: tuple[str, list[bytes]]
    gateway: PeerClient
    user: ClientIdentity
    channel: str

    async def emit_request(self, func: str, args: list[bytes]) -> tuple[str, str, int]:
        # A client's own call through the broker: exactly func(args).
        done = await submit_transaction(
            self.gateway,
            self.user,
            self.channel,
            "broker",
            [
                b"emitInterchain",
                self.remote_service.encode(),
                func.encode(),
                json.dumps([a.hex() for a in args], separators=(",", ":")).encode(),
                b"0",
            ],
            10,
        )
        assert done.valid and done.event is not None and done.event[0] == INTERCHAIN_EVENT
        event = decode_event(*done.event)
        return event.from_, event.to, event.index

    async def advance(self) -> None:
        await trio.sleep(0.05)


def identity(user_key: str) -> ClientIdentity:
    u = json.loads(user_key)
    return ClientIdentity.from_pem(u["msp_id"], u["cert"].encode(), u["key"].encode())


async def test_fabric_adapter_passes_the_conformance_suite(tmp_path: Path) -> None:
    relay_key = Account.from_key(b"\x11" * 32)
    with trio.fail_after(TEST_DEADLINE):
        async with FabricDevchains().open_dev_chain(
            name="conf",
            index=0,
            seed="conformance",
            hub_id=HUB,
            relay_validators=[relay_key.address],
            relay_threshold=1,
            block_interval=0.02,
            data_dir=tmp_path / "conf",
        ) as dev:
            user = identity(dev.user_keys[1])
            gateway = PeerClient(dev.adapter_config["gateway"])
            set_ok = await submit_transaction(
                gateway,
                user,
                "mychannel",
                "broker",
                [b"invokeService", b"dataswap", b"set", b"answer", b"forty-two"],
                10,
            )
            assert set_ok.valid
            verifier = FabricVerifier()
            reg = verifier.check_registration(dev.registration["trust_root"], "broker")
            config = dict(dev.adapter_config)
            harness = FabricConformance(
                adapter=AdapterRegistry.from_entry_points().create("fabric", config),  # type: ignore[arg-type]
                verifier=verifier,
                context=ChainContext(HUB, "conf", "fabric", reg.broker, reg.trust_root),
                adapter_config=config,
                hub_id=HUB,
                relay_keys=[relay_key],
                local_service=f"{HUB}:conf:dataswap",
                remote_service=f"{HUB}:elsewhere:0x00000000000000000000000000000000000a11ce",
                good_call=("get", [abi_encode(["string"], ["answer"])]),
                bad_call=("get", [abi_encode(["string"], ["no-such-key"])]),
                gateway=gateway,
                user=user,
                channel="mychannel",
            )
            try:
                report = await check_adapter(harness)
            finally:
                gateway.close()
    assert len(report.checks) == 10
