"""The adapter conformance suite (adapters.testing) against the EVM adapter on the dev chain.

The same suite runs against ganache in tests/evm_real/test_adapter_conformance.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trio
from eth_abi import encode as abi_encode

from adapters.evm.client import EvmSender, calldata, interchain_events
from adapters.evm.gateway import EvmAdapter, EvmAdapterConfig
from adapters.evm.rpc import EthRpc
from adapters.evm.verifier import EvmVerifier
from adapters.testing import check_adapter
from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.node import open_devchain
from relay.crypto import Account
from relay.validation.base import ChainContext

HUB = "hub0"


@dataclass
class DevchainConformance:
    adapter: EvmAdapter
    verifier: EvmVerifier
    context: ChainContext
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
    assert len(report.checks) == 7
