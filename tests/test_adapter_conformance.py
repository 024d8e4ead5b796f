"""The adapter conformance suite (adapters.testing) against the EVM adapter on the dev chain.

The same suite runs against ganache in tests/evm_real/test_adapter_conformance.py.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from eth_abi import encode as abi_encode

from adapters.base import Adapter, AdapterRegistry
from adapters.evm.client import EvmSender, calldata, interchain_events
from adapters.evm.gateway import EvmAdapter, EvmAdapterConfig
from adapters.evm.rpc import EthRpc
from adapters.evm.verifier import EvmVerifier
from adapters.testing import check_adapter
from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.node import open_devchain
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.validation.base import ChainContext

HUB = "hub0"


@dataclass
class DevchainConformance:
    adapter: EvmAdapter
    verifier: EvmVerifier
    context: ChainContext
    adapter_config: dict[str, Any]
    hub_id: str
    relay_keys: list[Account]
    local_service: str
    remote_service: str
    good_call: tuple[str, list[bytes]]
    bad_call: tuple[str, list[bytes]]
    sender: EvmSender
    data_swap: str
    broker: str

    async def emit_request(self, func: str, args: list[bytes]) -> tuple[str, str, int]:
        # Straight through the broker from a user account: exactly func(args).
        outcome = await self.sender.send(
            self.broker,
            calldata(
                "emitInterchain(string,string,bytes[],uint64)", [self.remote_service, func, args, 0]
            ),
        )
        assert outcome.ok
        (event,) = interchain_events(outcome.receipt, self.broker)
        return event

    async def advance(self) -> None:
        await trio.sleep(0.05)


async def test_evm_adapter_passes_the_conformance_suite(tmp_path: Path) -> None:
    relay_key = Account.from_key(b"\x11" * 32)
    cfg = DevchainConfig(
        chain_id=4242,
        chain_name="conf",
        hub_id=HUB,
        seed="conformance",
        relay_validators=(relay_key.address,),
        relay_threshold=1,
        block_interval=0.02,
        data_dir=tmp_path / "chain",
    )
    with trio.fail_after(60):
        async with open_devchain(cfg) as chain:
            users = [Account.from_key(k.secret) for k in chain.accounts]
            rpc = EthRpc(chain.url)
            sender = EvmSender(rpc, users[0])
            set_ok = await sender.send(
                chain.data_swap, calldata("set(string,bytes)", ["answer", b"forty-two"])
            )
            assert set_ok.ok
            verifier = EvmVerifier()
            root = verifier.parse_trust_root(
                {
                    "evm_chain_id": 4242,
                    "mode": "seal",
                    "validators": [v.lower() for v in chain.validators],
                    "threshold": cfg.threshold,
                }
            )
            harness = DevchainConformance(
                adapter=EvmAdapter(
                    EvmAdapterConfig(
                        chain_id="conf",
                        rpc=chain.url,
                        broker=chain.broker,
                        key=users[1],
                        receipt_timeout=10,
                    )
                ),
                verifier=verifier,
                context=ChainContext(HUB, "conf", "evm", chain.broker.lower(), root),
                adapter_config={
                    "type": "evm",
                    "id": "conf",
                    "rpc": chain.url,
                    "broker": chain.broker,
                    "key": users[1],
                    "receipt_timeout": "10s",
                },
                hub_id=HUB,
                relay_keys=[relay_key],
                local_service=chain.full_id(chain.data_swap),
                remote_service=f"{HUB}:elsewhere:0x00000000000000000000000000000000000a11ce",
                good_call=("get", [abi_encode(["string"], ["answer"])]),
                bad_call=("get", [abi_encode(["string"], ["no-such-key"])]),
                sender=sender,
                data_swap=chain.data_swap,
                broker=chain.broker,
            )
            report = await check_adapter(harness)
            await rpc.aclose()
    assert len(report.checks) == 10


class _NoFactory:
    """An adapter class that forgot its factory."""

    type = "nofactory"


def test_registry_refuses_a_class_without_from_config() -> None:
    with pytest.raises(RelayError) as info:
        AdapterRegistry({"nofactory": _NoFactory}).create("nofactory", {"id": "x"})
    assert info.value.code == Code.CONFIG and "from_config" in info.value.message


def test_registry_refuses_an_adapter_of_another_family() -> None:
    table = {"type": "fisco", "id": "c", "rpc": "http://127.0.0.1:1", "broker": "0x" + "ab" * 20}
    table["key"] = "0x" + "11" * 32
    with pytest.raises(RelayError) as info:
        AdapterRegistry({"fisco": EvmAdapter}).create("fisco", table)
    assert info.value.code == Code.CONFIG and "'evm'" in info.value.message
    adapter = AdapterRegistry({"evm": EvmAdapter}).create("evm", {**table, "type": "evm"})
    assert isinstance(adapter, Adapter) and adapter.chain_id == "c"


def test_evm_entry_point_factory_is_declared() -> None:
    registry = AdapterRegistry.from_entry_points()
    assert "evm" in registry.types
    assert callable(getattr(EvmAdapter, "from_config", None))
    # A declared member of the protocol: isinstance(x, Adapter) needs it.
    assert "from_config" in typing._get_protocol_attrs(Adapter)  # type: ignore[attr-defined]
