"""The real-EVM tier: the Solidity broker and example services on ganache 7.

One ganache (the npm package pinned by package-lock.json) runs for the whole
session on loopback; each test deploys fresh contracts, so tests share no state.
Two app chains are simulated by two broker deployments with different chain IDs
(``chainA`` and ``chainB``) on the same hub; the tests play the relay (signing
with relay-validator keys through ``relay.ibtp`` / ``relay.crypto``, so the
Solidity digest is cross-checked against the Python one) and the gateways.

Without ganache (``npm ci`` not run) the tier is skipped, except under CI=true,
where it fails: CI must never pass by silently running none of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import trio

from appchains.evm.ganache import DEFAULT_KEYS, launch_ganache
from appchains.evm.rpc import Artifact, JsonRpc

from .support import TEST_DEADLINE, World, compile_test_contract, deploy_world, require_ganache


@pytest.fixture(scope="session")
def ganache_url() -> Iterator[str]:
    require_ganache()
    with launch_ganache() as node:
        yield node.url


@pytest.fixture
async def rpc(ganache_url: str) -> AsyncIterator[JsonRpc]:
    async with JsonRpc(ganache_url) as client:
        yield client


@pytest.fixture(scope="session")
def gas_hungry() -> Artifact:
    """The test-only GasHungry service, compiled with the pinned solcjs."""
    require_ganache()
    return compile_test_contract("GasHungry")


@pytest.fixture
async def world(rpc: JsonRpc) -> World:
    with trio.fail_after(TEST_DEADLINE):
        return await deploy_world(rpc, DEFAULT_KEYS)
