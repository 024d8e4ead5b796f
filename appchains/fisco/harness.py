"""The FISCO family's dev-chain hook for the harness topology (entry point
``relayhub.devchains``: ``fisco``), modelled on the EVM one.

It runs a FISCO BCOS-like chain (:mod:`appchains.fisco.node`) in this process and
reports, in plain data (this module imports neither the relay nor the adapters):

* ``registration``: family ``fisco``, the trust root of docs/fisco.md §4 (mode, group,
  chain ID, the sorted sealer list from height 0) and the broker's address;
* ``adapter_config``: the gateway's ``[chain]`` table (``adapters.fisco.gateway``):
  ``rpc``, ``group_id``, ``mode``, ``broker`` and the last dev account's key;
* ``services``: ``asset`` (AssetTransfer) and ``data_swap`` (DataSwap) addresses;
* ``user_keys``: the other dev accounts' private keys (0x hex; in the chain's mode:
  secp256k1 or SM2 scalars). ``user_keys[0]`` owns AssetTransfer.

:func:`describe_chain` computes all of it from the config alone, so a chain run as its
own process (``python -m appchains.fisco``) is described the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from appchains.fisco.chain import FiscoSetup, make_setup
from appchains.fisco.config import FiscoConfig
from appchains.fisco.node import FiscoHandle, open_fisco_chain


@dataclass
class FiscoDevChain:
    """A running FISCO dev chain as the topology sees it."""

    name: str
    rpc_url: str
    registration: dict[str, Any]
    adapter_config: dict[str, Any]
    services: dict[str, str]
    user_keys: list[str]
    handle: FiscoHandle | None = field(default=None, repr=False)


def trust_root(setup: FiscoSetup) -> dict[str, Any]:
    c = setup.config
    return {
        "mode": c.mode,
        "group_id": c.group_id,
        "chain_id": c.chain_id,
        "sealers": [{"from_height": 0, "nodes": [n.hex() for n in setup.sealer_list]}],
    }


def describe_chain(name: str, rpc_url: str, setup: FiscoSetup) -> FiscoDevChain:
    c = setup.config
    keys = ["0x" + a.private_key.hex() for a in setup.accounts]
    broker = "0x" + setup.broker.hex()
    return FiscoDevChain(
        name=name,
        rpc_url=rpc_url,
        registration={"family": "fisco", "trust_root": trust_root(setup), "broker": broker},
        # The last dev account sends the gateway's broker transactions.
        adapter_config={
            "type": "fisco",
            "id": name,
            "rpc": rpc_url,
            "group_id": c.group_id,
            "mode": c.mode,
            "broker": broker,
            "key": keys[-1],
        },
        services={
            "asset": "0x" + setup.asset_transfer.hex(),
            "data_swap": "0x" + setup.data_swap.hex(),
        },
        user_keys=keys[:-1],
    )


def dev_config(
    *,
    name: str,
    seed: str,
    hub_id: str,
    relay_validators: Sequence[str],
    relay_threshold: int,
    block_interval: float,
    data_dir: Path | None,
    mode: str = "secp256k1",
    port: int = 0,
) -> FiscoConfig:
    """The config of the topology's FISCO chain ``name`` (in-process and as a process)."""
    return FiscoConfig(
        chain_name=name,
        hub_id=hub_id,
        mode=mode,
        seed=f"{seed}-{name}",
        relay_validators=tuple(relay_validators),
        relay_threshold=relay_threshold,
        block_interval=block_interval,
        data_dir=data_dir,
        port=port,
    )


class FiscoDevchains:
    """``relayhub.devchains: fisco``: a group of 4 PBFT sealers (f = 1), secp256k1 unless
    ``mode="sm"`` (国密)."""

    family: ClassVar[str] = "fisco"

    def __init__(self, mode: str = "secp256k1") -> None:
        self.mode = mode

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
    ) -> AsyncIterator[FiscoDevChain]:
        config = dev_config(
            name=name,
            seed=seed,
            hub_id=hub_id,
            relay_validators=relay_validators,
            relay_threshold=relay_threshold,
            block_interval=block_interval,
            data_dir=data_dir,
            mode=self.mode,
        )
        async with open_fisco_chain(config) as handle:
            dev = describe_chain(name, handle.url, handle.setup)
            dev.handle = handle
            yield dev


__all__ = ["FiscoDevChain", "FiscoDevchains", "describe_chain", "dev_config", "make_setup"]
