"""The harness topology finds each chain's family through entry points, never by name.

``relayhub.devchains`` gives the dev chain, ``relayhub.verifiers`` checks its
registration, ``relayhub.adapters`` builds its gateway's adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import pytest
import trio

from adapters.base import AdapterRegistry
from appchains.evm.devchain.harness import EvmDevchains
from benchmarks.harness.drivers import DRIVERS_GROUP
from benchmarks.harness.topology import (
    DevChain,
    DevChainFamily,
    devchain_families,
    open_topology,
)
from relay.errors import Code, RelayError
from relay.validation.registry import VerifierRegistry


def test_every_dev_chain_family_has_a_verifier_and_an_adapter() -> None:
    hooks = devchain_families()
    assert "evm" in hooks and isinstance(hooks["evm"], EvmDevchains)
    for family, hook in hooks.items():
        assert isinstance(hook, DevChainFamily) and hook.family == family
        assert family in VerifierRegistry.from_entry_points().families
        assert family in AdapterRegistry.from_entry_points().types
        assert family in {ep.name for ep in entry_points(group=DRIVERS_GROUP)}


async def test_a_family_without_a_hook_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(RelayError) as info:
        async with open_topology(tmp_path / "t", ("chainA",), families={"chainA": "nosuch"}):
            raise AssertionError("a topology without a hook for its family started")
    assert info.value.code == Code.CONFIG and "'nosuch'" in info.value.message
    assert not (tmp_path / "t").exists()


class _Observed:
    """The EVM hook under another object: the topology uses what it is given."""

    family: ClassVar[str] = "evm"

    def __init__(self) -> None:
        self.opened: list[dict[str, Any]] = []
        self.chains: list[DevChain] = []

    @asynccontextmanager
    async def open_dev_chain(
        self, *, relay_validators: Sequence[str], **spec: Any
    ) -> AsyncIterator[DevChain]:
        self.opened.append({**spec, "relay_validators": list(relay_validators)})
        async with EvmDevchains().open_dev_chain(relay_validators=relay_validators, **spec) as c:
            self.chains.append(c)
            yield c


async def test_topology_wires_chains_from_the_hook(tmp_path: Path) -> None:
    hook = _Observed()
    with trio.fail_after(60):
        async with open_topology(tmp_path, ("chainA", "chainB"), devchains={"evm": hook}) as topo:
            assert [o["name"] for o in hook.opened] == ["chainA", "chainB"]
            assert [o["index"] for o in hook.opened] == [0, 1]
            for dev in hook.chains:
                c = topo.chains[dev.name]
                assert c.family == "evm" and c.registration == dev.registration
                assert c.gateway is not None and c.gateway.adapter.chain_id == dev.name
                async with topo.client() as client:
                    info = await client.chain(dev.name)
                assert info["family"] == "evm"
                assert info["broker"] == dev.registration["broker"]
            (ibtp_id,) = await topo.transfer_many("chainA", "chainB", [3])
            async with topo.client() as client:
                st = await client.wait_final(ibtp_id, timeout=30)
            assert st.status.name == "SUCCESS"
