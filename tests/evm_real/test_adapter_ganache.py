"""The EVM adapter against a real EVM node: ganache with the compiled Solidity broker.

Two broker deployments on the session's ganache are chains ``chainA`` and
``chainB``; one :class:`EvmAdapter` per chain runs in notary mode (ganache does
not seal, so registered notary keys sign the seal digest of each block hash).
The test plays the relay: every IBTP the adapters poll must pass the relay's
:class:`EvmVerifier` against a notary trust root — so the receipt proofs are
checked against ganache's own ``receiptsRoot`` (typed and legacy receipts, a
failed receipt written with status byte 0x00, Shanghai headers, no
``eth_getBlockReceipts``) — and the deliveries carry relay-validator signatures
over ``relay.ibtp.compute_signed_digest`` that the Solidity broker recomputes.

Covered: requests polled and verified; inbound execution (a mint, a mint above
the cap that fails with typ 2); the receipts polled on the destination,
verified, and delivered to the source (burn / lock returned); a timeout's notice
delivered to the destination, whose CallbackEvent (it consumed the index) the adapter
turns into a verified RECEIPT_ROLLBACK, then to the source, likewise; a notice for an
index the destination executed, which changes nothing and is no news; idempotent
re-delivery (ALREADY_DONE, no transaction, no state change); ``counters``;
``refetch`` with and without the poll memo.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import rlp
import trio
from eth_abi import encode as abi_encode

from adapters.base import BrokerCounters, Delivery, DeliveryOutcome
from adapters.evm.errors import EvmCode
from adapters.evm.gateway import EvmAdapter, EvmAdapterConfig
from adapters.evm.proof import decode_evm_proof
from adapters.evm.verifier import EvmVerifier
from adapters.testing import check_adapter
from appchains.evm.ganache import DEFAULT_CHAIN_ID, DEFAULT_KEYS
from appchains.evm.rpc import JsonRpc, RpcError, address_of, send_transaction, sign_transaction
from relay.crypto import Account
from relay.errors import ProofError
from relay.ibtp import IBTP, IBTPType, Payload, TxStatus, compute_ibtp_hash
from relay.validation.base import ChainContext

from .support import HUB, INITIAL_SUPPLY, MINT_CAP, TEST_DEADLINE, Side, World, full_id, mint_args

#: Registered notaries (public test keys); the adapters sign with two, the threshold.
NOTARIES = [Account.from_key(f"{0x100 + i:064x}") for i in range(3)]
NOTARY_THRESHOLD = 2
GAS = 500_000


def trust_root(
    *, chain_id: int = DEFAULT_CHAIN_ID, threshold: int = NOTARY_THRESHOLD
) -> dict[str, Any]:
    return {
        "evm_chain_id": chain_id,
        "mode": "notary",
        "validators": [n.address for n in NOTARIES],
        "threshold": threshold,
    }


def context(verifier: EvmVerifier, side: Side, **root: Any) -> ChainContext:
    """What the relay knows of ``side`` once registered in notary mode."""
    return ChainContext(
        hub_id=HUB,
        chain_id=side.chain,
        family="evm",
        broker=side.broker.address.lower(),
        trust_root=verifier.parse_trust_root(trust_root(**root)),
    )


def make_adapter(url: str, side: Side, key: bytes) -> EvmAdapter:
    return EvmAdapter(
        EvmAdapterConfig(
            chain_id=side.chain,
            rpc=url,
            broker=side.broker.address,
            key=Account.from_key(key),
            seal_mode="notary",
            notary_keys=tuple(NOTARIES[:NOTARY_THRESHOLD]),
            receipt_timeout=20.0,
        )
    )


def verify_all(verifier: EvmVerifier, ctx: ChainContext, ibtps: tuple[IBTP, ...]) -> None:
    for ibtp in ibtps:
        verifier.verify(ctx, ibtp, compute_ibtp_hash(ibtp))


def routed(
    world: World, ibtp: IBTP, status: TxStatus, seq: int, target: str | None = None
) -> Delivery:
    """The relay's delivery of ``ibtp`` to ``target``'s broker (default: the destination's
    chain for a request, the source's for a receipt): no proof, signed by a quorum of
    relay validators."""
    bare = dataclasses.replace(ibtp, proof=b"")
    return Delivery(seq, bare, status, tuple(world.relay.sign(bare, status, target=target)))


def same_message(a: IBTP, b: IBTP) -> bool:
    return dataclasses.replace(a, proof=b"") == dataclasses.replace(b, proof=b"")


async def head(rpc: JsonRpc) -> int:
    return int(await rpc.call("eth_blockNumber"), 16)


async def mine_together(rpc: JsonRpc, raws: list[bytes]) -> list[dict[str, Any]]:
    """Put the signed transactions into one block; their receipts, by transaction index."""
    await rpc.call("miner_stop")
    try:
        hashes = [await rpc.call("eth_sendRawTransaction", "0x" + raw.hex()) for raw in raws]
        await rpc.call("evm_mine")
    finally:
        await rpc.call("miner_start")
    receipts = [await rpc.call("eth_getTransactionReceipt", h) for h in hashes]
    assert len({r["blockNumber"] for r in receipts}) == 1
    return sorted(receipts, key=lambda r: int(r["transactionIndex"], 16))


async def test_adapter_polls_verifies_and_delivers_on_ganache(
    world: World, ganache_url: str
) -> None:
    a, b = world.a, world.b
    verifier = EvmVerifier()
    ctx_a, ctx_b = context(verifier, a), context(verifier, b)
    adapter_a = make_adapter(ganache_url, a, DEFAULT_KEYS[3])
    adapter_b = make_adapter(ganache_url, b, DEFAULT_KEYS[4])
    with trio.fail_after(TEST_DEADLINE):
        await adapter_a.start()
        await adapter_b.start()
        try:
            await _scenario(world, verifier, ctx_a, ctx_b, adapter_a, adapter_b, ganache_url)
        finally:
            await adapter_a.stop()
            await adapter_b.stop()

        # Final balances: 300 moved, the capped mint and the timed-out transfer undone.
        assert await a.asset.call("balanceOf", world.deployer_address) == (INITIAL_SUPPLY - 300,)
        assert await b.asset.call("balanceOf", address_of(world.user)) == (300,)
        assert await world.supplies() == (INITIAL_SUPPLY - 300, INITIAL_SUPPLY + 300)


async def _scenario(
    world: World,
    verifier: EvmVerifier,
    ctx_a: ChainContext,
    ctx_b: ChainContext,
    adapter_a: EvmAdapter,
    adapter_b: EvmAdapter,
    url: str,
) -> None:
    rpc, a, b = world.rpc, world.a, world.b
    deployer, user = world.deployer_address, address_of(world.user)
    src, dst = a.asset_id, b.asset_id
    start = await head(rpc)

    # ganache has no eth_getBlockReceipts: the adapter fetches receipts one by one.
    with pytest.raises(RpcError):
        await rpc.call("eth_getBlockReceipts", hex(start))

    # One block with a legacy value transfer, a typed broker call that fails (its
    # receipt status is written 0x00 by ganache) and a typed transfer A -> B; then a
    # second transfer (above B's cap) and a legacy one (it will time out).
    def transfer(amount: int, timeout: int = 0) -> bytes:
        return a.asset.artifact.encode_call("transfer", dst, user, amount, timeout)

    wrong_index = b.broker.artifact.encode_call(
        "invokeInterchain", src, dst, 9, "mint", [mint_args(user, 1)], []
    )
    raws = [
        await sign_transaction(rpc, world.user, to=deployer, value=1, gas=21_000, legacy=True),
        await sign_transaction(rpc, world.gateway, to=b.broker.address, data=wrong_index, gas=GAS),
        await sign_transaction(
            rpc, world.deployer, to=a.asset.address, data=transfer(300), gas=GAS
        ),
    ]
    receipts = await mine_together(rpc, raws)
    assert sorted(int(r["status"], 16) for r in receipts) == [0, 1, 1]
    assert sorted(int(r.get("type", "0x0"), 16) for r in receipts) == [0, 2, 2]
    block = await rpc.call("eth_getBlockByNumber", receipts[0]["blockNumber"], False)
    assert block.get("withdrawalsRoot"), "ganache is expected to run the shanghai hardfork"
    await a.asset.transact(world.deployer, "transfer", dst, user, MINT_CAP + 1, 0)
    await send_transaction(
        rpc, world.deployer, to=a.asset.address, data=transfer(40, timeout=9), legacy=True
    )

    # Watch A: three requests, each proven against ganache's receiptsRoot.
    polled = await adapter_a.poll(start)
    requests = polled.ibtps
    assert [(i.type, i.index) for i in requests] == [(IBTPType.INTERCHAIN, n) for n in (1, 2, 3)]
    assert [i.payload for i in requests] == [
        Payload("mint", (mint_args(user, amount),), False) for amount in (300, MINT_CAP + 1, 40)
    ]
    assert [i.timeout for i in requests] == [0, 0, 9]
    assert all((i.src, i.dst) == (src, dst) for i in requests)
    verify_all(verifier, ctx_a, requests)
    proofs = [decode_evm_proof(i.proof) for i in requests]
    assert proofs[0].block_hash == bytes.fromhex(block["hash"][2:])
    assert len(rlp.decode(proofs[0].header_rlp)) == 17  # London + Shanghai's withdrawalsRoot
    assert proofs[0].receipt[0] == 2  # typed (EIP-1559) receipt: type byte, then RLP
    assert proofs[2].receipt[0] >= 0xC0  # legacy receipt: bare RLP list
    checkpoint_a = polled.checkpoint
    assert checkpoint_a >= int(block["number"], 16)

    # The proofs are really checked: another chain id, broker or threshold refuses them.
    refusals = [
        (context(verifier, a, chain_id=DEFAULT_CHAIN_ID + 1), EvmCode.SEAL_UNKNOWN_SIGNER),
        (context(verifier, a, threshold=3), EvmCode.SEALS_BELOW_THRESHOLD),
        (dataclasses.replace(ctx_a, broker=b.broker.address), EvmCode.LOG_WRONG_EMITTER),
    ]
    for ctx, code in refusals:
        with pytest.raises(ProofError) as info:
            verify_all(verifier, ctx, requests[:1])
        assert info.value.code == code
    forged = dataclasses.replace(requests[0], payload=Payload("mint", (mint_args(user, 999),)))
    with pytest.raises(ProofError) as info:
        verify_all(verifier, ctx_a, (forged,))
    assert info.value.code == EvmCode.LOG_FIELD_MISMATCH

    # Inbound at B: the mint executes, the mint above the cap fails (typ 2).
    inbound = [routed(world, ibtp, TxStatus.BEGIN, seq) for seq, ibtp in enumerate(requests[:2])]
    assert await adapter_b.deliver(inbound) == [DeliveryOutcome.EXECUTED] * 2
    assert await b.asset.call("balanceOf", user) == (300,)
    assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY + 300)  # A only locked
    assert await a.asset.call("totalLocked") == (300 + MINT_CAP + 1 + 40,)
    # The same batch again: recognised as done, nothing sent, nothing changed.
    before = await head(rpc)
    assert await adapter_b.deliver(inbound) == [DeliveryOutcome.ALREADY_DONE] * 2
    assert await head(rpc) == before
    assert await b.asset.call("balanceOf", user) == (300,)

    # Watch B: the two receipts, proven by B's broker logs.
    answers = (await adapter_b.poll(start)).ibtps
    assert [(i.type, i.index) for i in answers] == [
        (IBTPType.RECEIPT_SUCCESS, 1),
        (IBTPType.RECEIPT_FAILURE, 2),
    ]
    assert answers[0].payload == Payload("", (abi_encode(["address", "uint256"], [user, 300]),))
    assert answers[1].payload == Payload("", (b"asset: amount above mint cap",))
    verify_all(verifier, ctx_b, answers)
    with pytest.raises(ProofError) as info:
        verify_all(verifier, ctx_a, answers[:1])  # B's receipt is not A's to submit
    assert info.value.code == EvmCode.CHAIN_MISMATCH

    # The receipts at A: the success burns its lock, the failure returns it.
    statuses = (TxStatus.SUCCESS, TxStatus.FAILURE)
    back = [
        routed(world, i, s, 10 + n) for n, (i, s) in enumerate(zip(answers, statuses, strict=True))
    ]
    assert await adapter_a.deliver(back) == [DeliveryOutcome.EXECUTED] * 2
    assert await a.asset.call("balanceOf", deployer) == (INITIAL_SUPPLY - 300 - 40,)
    assert await a.asset.call("lockOf", dst, 2) == ("0x" + "00" * 20, 0)
    assert await a.asset.call("totalLocked") == (40,)
    assert await world.supplies() == (INITIAL_SUPPLY - 300, INITIAL_SUPPLY + 300)
    before = await head(rpc)
    assert await adapter_a.deliver(back) == [DeliveryOutcome.ALREADY_DONE] * 2
    assert await head(rpc) == before
    assert await a.asset.call("totalLocked") == (40,)

    # Request 3 timed out on the relay: BEGIN_ROLLBACK, the notice to B; B's broker
    # consumes index 3 unexecuted and acknowledges; then the notice to A.
    rollback = IBTP(src, dst, 3, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
    at_b = [routed(world, rollback, TxStatus.BEGIN_ROLLBACK, 20, target=b.chain)]
    at_a = [routed(world, rollback, TxStatus.BEGIN_ROLLBACK, 21)]
    assert await adapter_b.deliver(at_b) == [DeliveryOutcome.EXECUTED]
    assert await adapter_a.deliver(at_a) == [DeliveryOutcome.EXECUTED]
    assert await a.asset.call("balanceOf", deployer) == (INITIAL_SUPPLY - 300,)
    assert await a.asset.call("totalLocked") == (0,)
    before = await head(rpc)
    assert await adapter_a.deliver(at_a) == [DeliveryOutcome.ALREADY_DONE]
    assert await adapter_b.deliver(at_b) == [DeliveryOutcome.ALREADY_DONE]
    assert await head(rpc) == before
    # The notice consumed index 3 at B: the late request is done there, not executed.
    late = [routed(world, requests[2], TxStatus.BEGIN, 22)]
    assert await adapter_b.deliver(late) == [DeliveryOutcome.ALREADY_DONE]
    assert await b.asset.call("balanceOf", user) == (300,)
    # A notice for index 1, which B executed: taken, nothing undone, no acknowledgement.
    noted = [
        routed(
            world,
            dataclasses.replace(rollback, index=1),
            TxStatus.BEGIN_ROLLBACK,
            23,
            target=b.chain,
        )
    ]
    assert await adapter_b.deliver(noted) == [DeliveryOutcome.EXECUTED]
    assert await b.asset.call("balanceOf", user) == (300,)

    # Watch A again: only the source's rollback acknowledgement is news for the relay
    # (the CallbackEvents of the two receipts are not IBTPs).
    acks = (await adapter_a.poll(checkpoint_a)).ibtps
    assert [(i.type, i.index, i.payload) for i in acks] == [
        (IBTPType.RECEIPT_ROLLBACK, 3, Payload())
    ]
    verify_all(verifier, ctx_a, acks)
    # Watch B: the destination's acknowledgement of index 3 is news for the relay; the
    # late request and the notice for the executed index 1 made none.
    dst_acks = (await adapter_b.poll(start)).ibtps[2:]
    assert [(i.src, i.dst, i.type, i.index, i.payload) for i in dst_acks] == [
        (src, dst, IBTPType.RECEIPT_ROLLBACK, 3, Payload())
    ]
    verify_all(verifier, ctx_b, dst_acks)

    # Counters, as the gateway's recovery reads them.
    assert await adapter_a.counters(src, dst) == BrokerCounters(out=3, inbound=0, callback=3)
    assert await adapter_b.counters(src, dst) == BrokerCounters(out=0, inbound=3, callback=0)

    # Refetch: from the poll memo, and from a fresh adapter that must scan for them.
    fresh_a = make_adapter(url, a, DEFAULT_KEYS[3])
    fresh_b = make_adapter(url, b, DEFAULT_KEYS[4])
    await fresh_a.start()
    await fresh_b.start()
    try:
        for adapter, ctx, wanted in (
            (adapter_a, ctx_a, requests[0]),
            (fresh_a, ctx_a, requests[1]),
            (fresh_a, ctx_a, acks[0]),
            (adapter_b, ctx_b, answers[1]),
            (fresh_b, ctx_b, answers[0]),
            (fresh_b, ctx_b, dst_acks[0]),
        ):
            again = await adapter.refetch(wanted.src, wanted.dst, wanted.index, wanted.type)
            assert again is not None, wanted
            assert same_message(again, wanted)
            verify_all(verifier, ctx, (again,))
        assert await fresh_a.refetch(src, dst, 4, IBTPType.INTERCHAIN) is None
        assert await fresh_b.refetch(src, dst, 1, IBTPType.RECEIPT_ROLLBACK) is None
    finally:
        await fresh_a.stop()
        await fresh_b.stop()


async def test_block_with_two_broker_transactions(world: World, ganache_url: str) -> None:
    """Two transactions of one block emit broker events: both become verified IBTPs.
    (ganache numbers eth_getLogs block-wide but receipt logs per transaction.)"""
    rpc, a, b = world.rpc, world.a, world.b
    user = address_of(world.user)
    verifier = EvmVerifier()
    adapter = make_adapter(ganache_url, a, DEFAULT_KEYS[3])
    with trio.fail_after(TEST_DEADLINE):
        start = await head(rpc)
        await adapter.start()
        try:
            # Same sender, consecutive nonces: the direct emit (one log) comes first,
            # then a transfer (InterchainEvent, then the service's Locked).
            nonce = int(
                await rpc.call("eth_getTransactionCount", world.deployer_address, "latest"), 16
            )
            emit = a.broker.artifact.encode_call(
                "emitInterchain", b.asset_id, "mint", [mint_args(user, 1)], 0
            )
            transfer = a.asset.artifact.encode_call("transfer", b.asset_id, user, 5, 0)
            raws = [
                await sign_transaction(
                    rpc, world.deployer, to=a.broker.address, data=emit, gas=GAS, nonce=nonce
                ),
                await sign_transaction(
                    rpc, world.deployer, to=a.asset.address, data=transfer, gas=GAS, nonce=nonce + 1
                ),
            ]
            receipts = await mine_together(rpc, raws)
            assert [len(r["logs"]) for r in receipts] == [1, 2]
            ibtps = (await adapter.poll(start)).ibtps
            assert [(i.src, i.index) for i in ibtps] == [
                (full_id(a.chain, world.deployer_address), 1),
                (a.asset_id, 1),
            ]
            verify_all(verifier, context(verifier, a), ibtps)
        finally:
            await adapter.stop()


@dataclasses.dataclass
class GanacheConformance:
    """adapters.testing's conformance suite, on ganache with the Solidity broker."""

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
    world: World
    side: Side

    async def emit_request(self, func: str, args: list[bytes]) -> tuple[str, str, int]:
        """The user emits ``func(args)`` straight through the broker; the broker numbers
        it ``outCounter(user, remote)``, read back after mining."""
        user = self.world.user
        data = self.side.broker.artifact.encode_call(
            "emitInterchain", self.remote_service, func, args, 0
        )
        await send_transaction(
            self.world.rpc, user, to=self.side.broker.address, data=data, gas=GAS
        )
        src = full_id(self.side.chain, address_of(user))
        counters = await self.adapter.counters(src, self.remote_service)
        return src, self.remote_service, counters.out

    async def advance(self) -> None:
        await trio.sleep(0.05)


async def test_conformance_suite_on_ganache(world: World, ganache_url: str) -> None:
    verifier = EvmVerifier()
    side = world.a
    with trio.fail_after(TEST_DEADLINE):
        await send_transaction(
            world.rpc,
            world.user,
            to=side.data.address,
            data=side.data.artifact.encode_call("set", "answer", b"forty-two"),
            gas=GAS,
        )
        harness = GanacheConformance(
            adapter=make_adapter(ganache_url, side, DEFAULT_KEYS[4]),
            verifier=verifier,
            context=context(verifier, side),
            adapter_config={
                "type": "evm",
                "id": side.chain,
                "rpc": ganache_url,
                "broker": side.broker.address,
                "key": "0x" + DEFAULT_KEYS[4].hex(),
                "seal_mode": "notary",
                "notary_keys": list(NOTARIES[:NOTARY_THRESHOLD]),
                "receipt_timeout": "20s",
            },
            hub_id=HUB,
            relay_keys=world.relay.validators[: world.relay.threshold],
            local_service=side.data_id,
            remote_service=f"{HUB}:elsewhere:0x00000000000000000000000000000000000a11ce",
            good_call=("get", [abi_encode(["string"], ["answer"])]),
            bad_call=("get", [abi_encode(["string"], ["no-such-key"])]),
            world=world,
            side=side,
        )
        report = await check_adapter(harness)
    assert len(report.checks) == 10
