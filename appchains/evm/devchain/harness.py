"""The EVM family's dev-chain hook for the harness topology (entry point ``relayhub.devchains``).

``benchmarks.harness.topology`` starts one dev chain per topology chain through the
hook of the chain's family and wires it from what the hook reports, in plain data
(this module imports neither the relay nor the adapters; keys are 0x hex):

* ``registration``: ``family``, ``trust_root`` and ``broker`` for ``chain.register``;
* ``adapter_config``: the gateway's ``[chain]`` table for ``AdapterRegistry.create``;
* ``services``: the example services (``asset`` = AssetTransfer, ``data_swap`` =
  DataSwap), as the service part of their full IDs;
* ``user_keys``: funded accounts for workloads; the gateway's own chain account is
  the one in ``adapter_config``.

The hook (docs/families.md, "Dev chain for the harness") is an object with a
``family`` name and ``open_dev_chain(**spec)``, an async context manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.node import DevchainHandle, open_devchain


@dataclass
class EvmDevChain:
    """A running EVM dev chain as the topology sees it."""

    name: str
    rpc_url: str
    registration: dict[str, Any]
    adapter_config: dict[str, Any]
    services: dict[str, str]
    user_keys: list[str]
    handle: DevchainHandle | None = field(default=None, repr=False)


def registration(
    evm_chain_id: int, validators: Sequence[str], threshold: int, broker: str
) -> dict[str, Any]:
    """``chain.register``'s family, trust root (mode ``seal``) and broker for a dev chain."""
    return {
        "family": "evm",
        "trust_root": {
            "evm_chain_id": evm_chain_id,
            "mode": "seal",
            "validators": [v.lower() for v in validators],
            "threshold": threshold,
        },
        "broker": broker.lower(),
    }


def adapter_config(name: str, rpc_url: str, broker: str, key: str) -> dict[str, Any]:
    """The gateway's ``[chain]`` table for the EVM adapter of a dev chain."""
    return {"type": "evm", "id": name, "rpc": rpc_url, "broker": broker, "key": key}


class EvmDevchains:
    """``relayhub.devchains: evm``: PoA dev chains (4 validators, 3 sealing)."""

    family: ClassVar[str] = "evm"

    @asynccontextmanager
    async def open_dev_chain(
        self,
        *,
        name: str,
        index: int,
        seed: str,
        hub_id: str,
        relay_validators: Sequence[str],
        relay_threshold: int,
        block_interval: float,
        data_dir: Path,
    ) -> AsyncIterator[EvmDevChain]:
        cfg = DevchainConfig(
            chain_id=1000 + index,
            chain_name=name,
            hub_id=hub_id,
            seed=f"{seed}-{name}",
            relay_validators=tuple(relay_validators),
            relay_threshold=relay_threshold,
            block_interval=block_interval,
            empty_block_interval=1.0,
            data_dir=data_dir,
        )
        async with open_devchain(cfg) as handle:
            keys = ["0x" + k.secret.hex() for k in handle.accounts]
            yield EvmDevChain(
                name=name,
                rpc_url=handle.url,
                registration=registration(
                    handle.chain_id, handle.validators, handle.config.threshold, handle.broker
                ),
                # The last dev account sends the gateway's broker transactions.
                adapter_config=adapter_config(name, handle.url, handle.broker, keys[-1]),
                services={
                    "asset": handle.asset_transfer.lower(),
                    "data_swap": handle.data_swap.lower(),
                },
                user_keys=keys[:-1],
                handle=handle,
            )
