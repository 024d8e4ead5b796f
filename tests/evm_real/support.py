"""Shared helpers of the real-EVM tier: two simulated app chains, a relay that signs,
gateway steps. See conftest.py for the fixtures that use them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode

from appchains.evm.build_contracts import CONTRACTS_DIR, SOLC_PACKAGE, run_solcjs
from appchains.evm.ganache import GANACHE_BIN, ganache_available
from appchains.evm.rpc import Artifact, Contract, JsonRpc, RpcError, address_of
from relay.crypto import Account
from relay.ibtp import IBTP, IBTPType, Payload, TxStatus, compute_signed_digest

HUB = "hub1"
CHAIN_A = "chainA"
CHAIN_B = "chainB"
MINT_CAP = 1_000
INITIAL_SUPPLY = 10_000
#: Bound for one test's body (deployments included); the tier has no unbounded waits.
TEST_DEADLINE = 60.0


def require_ganache() -> None:
    """Skip without the pinned npm peers (ganache, solc); fail instead under CI=true."""
    if ganache_available() and (SOLC_PACKAGE / "package.json").exists():
        return
    message = (
        f"ganache or solc is not installed ({GANACHE_BIN}, {SOLC_PACKAGE}) or node is "
        "missing: run `npm ci` "
        "(`make test` does it through the node_modules/.installed stamp)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — the real-EVM tier must run in CI")
    pytest.skip(message)


def full_id(chain: str, address: str) -> str:
    return f"{HUB}:{chain}:{address.lower()}"


@dataclass
class Side:
    """One simulated app chain: its broker and the example services on it."""

    chain: str
    broker: Contract
    asset: Contract
    data: Contract

    @property
    def asset_id(self) -> str:
        return full_id(self.chain, self.asset.address)

    @property
    def data_id(self) -> str:
        return full_id(self.chain, self.data.address)


class Relay:
    """Plays the relay: its validators sign the digest of docs/protocol.md §2.2."""

    def __init__(self, validators: Sequence[Account], threshold: int) -> None:
        self.validators = list(validators)
        self.threshold = threshold

    def sign(
        self,
        ibtp: IBTP,
        status: TxStatus | int,
        signers: Sequence[Account] | None = None,
        hub: str = HUB,
        target: str | None = None,
    ) -> list[bytes]:
        """Signatures over the digest addressed to ``target``'s broker (default: the
        destination's chain for a request, the source's for a receipt or rollback)."""
        if target is None:
            end = ibtp.dst if ibtp.type == IBTPType.INTERCHAIN else ibtp.src
            target = end.split(":")[1]
        digest = compute_signed_digest(hub, target, ibtp, status)
        chosen = self.validators[: self.threshold] if signers is None else signers
        return [account.sign(digest) for account in chosen]


@dataclass
class World:
    rpc: JsonRpc
    relay: Relay
    a: Side
    b: Side
    deployer: bytes  # holds the initial asset supply on both chains
    gateway: bytes  # any account may deliver: the relay proof is what counts
    user: bytes

    @property
    def deployer_address(self) -> str:
        return address_of(self.deployer)

    # -- relay + gateway steps -------------------------------------------------

    async def deliver_interchain(
        self,
        dst: Side,
        event: dict[str, Any],
        *,
        signatures: list[bytes] | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Route an InterchainEvent's message to ``dst``'s broker with a relay proof."""
        ibtp = request_ibtp(event)
        sigs = (
            self.relay.sign(ibtp, TxStatus.BEGIN, target=dst.chain)
            if signatures is None
            else signatures
        )
        return await dst.broker.transact(
            self.gateway,
            "invokeInterchain",
            ibtp.src,
            ibtp.dst,
            ibtp.index,
            ibtp.payload.func,
            list(ibtp.payload.args),
            sigs,
            check=check,
        )

    async def deliver_receipt(
        self,
        side: Side,
        src: str,
        dst: str,
        index: int,
        typ: IBTPType,
        result: bytes,
        status: TxStatus,
        *,
        signatures: list[bytes] | None = None,
    ) -> dict[str, Any]:
        """Route a receipt (typ 1/2) or a rollback (typ 3) to ``side``'s broker."""
        ibtp = receipt_ibtp(src, dst, index, typ, result)
        sigs = (
            self.relay.sign(ibtp, status, target=side.chain) if signatures is None else signatures
        )
        return await side.broker.transact(
            self.gateway, "invokeReceipt", src, dst, index, int(typ), result, int(status), sigs
        )

    async def supplies(self) -> tuple[int, int]:
        (sa,) = await self.a.asset.call("totalSupply")
        (sb,) = await self.b.asset.call("totalSupply")
        return int(sa), int(sb)


def request_ibtp(event: dict[str, Any]) -> IBTP:
    """The INTERCHAIN IBTP a gateway builds from an InterchainEvent's fields."""
    return IBTP(
        src=event["from"],
        dst=event["to"],
        index=int(event["index"]),
        type=IBTPType.INTERCHAIN,
        timeout=int(event["timeout"]),
        payload=Payload(
            func=event["func"], args=tuple(event["args"]), encrypted=bool(event["encrypted"])
        ),
    )


def receipt_ibtp(src: str, dst: str, index: int, typ: IBTPType, result: bytes) -> IBTP:
    args: tuple[bytes, ...] = () if typ == IBTPType.RECEIPT_ROLLBACK else (result,)
    return IBTP(src=src, dst=dst, index=index, type=typ, payload=Payload("", args, False))


def mint_args(recipient: str, amount: int) -> bytes:
    return abi_encode(["address", "uint256"], [recipient, amount])


async def expect_revert(contract: Contract, sender_key: bytes, function: str, *args: Any) -> str:
    """eth_call ``function`` as ``sender``; it must revert. Returns the revert reason."""
    with pytest.raises(RpcError) as info:
        await contract.call(function, *args, sender=address_of(sender_key))
    reason = info.value.revert_reason
    assert reason is not None, f"no revert reason in {info.value!r} / {info.value.data!r}"
    return reason


ARTIFACTS = {name: Artifact.load(name) for name in ("Broker", "AssetTransfer", "DataSwap")}


async def deploy_side(
    rpc: JsonRpc, deployer: bytes, chain: str, validators: Sequence[str], threshold: int
) -> Side:
    broker = await Contract.deploy(
        rpc, deployer, ARTIFACTS["Broker"], HUB, chain, list(validators), threshold
    )
    asset = await Contract.deploy(
        rpc, deployer, ARTIFACTS["AssetTransfer"], broker.address, INITIAL_SUPPLY, MINT_CAP
    )
    data = await Contract.deploy(rpc, deployer, ARTIFACTS["DataSwap"], broker.address)
    return Side(chain, broker, asset, data)


async def pair_asset_transfers(owner: bytes, a: Side, b: Side) -> None:
    """The owner (deployer) registers each side's AssetTransfer with the other's."""
    await a.asset.transact(owner, "setCounterpart", b.asset_id, True)
    await b.asset.transact(owner, "setCounterpart", a.asset_id, True)


#: Relay validator keys 1, 2, 3 (public test keys); any two of them form a quorum.
RELAY_VALIDATORS = [Account.from_key(f"{i + 1:064x}") for i in range(3)]
RELAY_THRESHOLD = 2


async def deploy_world(rpc: JsonRpc, keys: Sequence[bytes]) -> World:
    deployer, gateway, user = keys[0], keys[1], keys[2]
    validators = [v.address for v in RELAY_VALIDATORS]
    a = await deploy_side(rpc, deployer, CHAIN_A, validators, RELAY_THRESHOLD)
    b = await deploy_side(rpc, deployer, CHAIN_B, validators, RELAY_THRESHOLD)
    await pair_asset_transfers(deployer, a, b)
    return World(rpc, Relay(RELAY_VALIDATORS, RELAY_THRESHOLD), a, b, deployer, gateway, user)


TEST_CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


def compile_test_contract(name: str) -> Artifact:
    """Compile ``tests/evm_real/contracts/<name>.sol`` (it may import the service interface)."""
    sources = {
        f"{name}.sol": {"content": (TEST_CONTRACTS_DIR / f"{name}.sol").read_text()},
        "IInterchainService.sol": {
            "content": (CONTRACTS_DIR / "IInterchainService.sol").read_text()
        },
    }
    output = run_solcjs(
        {
            "language": "Solidity",
            "sources": sources,
            "settings": {
                "evmVersion": "paris",
                "optimizer": {"enabled": True, "runs": 200},
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
            },
        }
    )
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    data = output["contracts"][f"{name}.sol"][name]
    return Artifact(name, data["abi"], bytes.fromhex(data["evm"]["bytecode"]["object"]))
