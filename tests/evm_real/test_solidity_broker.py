"""The Solidity broker and its example services on ganache (docs/broker.md).

The relay's side is played here with ``relay.ibtp`` digests and ``relay.crypto``
signatures, so every accepted delivery also checks that the broker's on-chain
``abi.encode`` + ``keccak256`` digest equals the Python one byte for byte.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from eth_abi import encode as abi_encode

from appchains.evm.rpc import Artifact, Contract, address_of
from relay.crypto import SECP256K1_N, Account
from relay.ibtp import IBTP, IBTPType, Payload, TxStatus, compute_payload_hash

from .support import (
    CHAIN_A,
    HUB,
    INITIAL_SUPPLY,
    MINT_CAP,
    RELAY_VALIDATORS,
    TEST_DEADLINE,
    World,
    expect_revert,
    full_id,
    mint_args,
    receipt_ibtp,
    request_ibtp,
)


def only(events: list[Any]) -> dict[str, Any]:
    assert len(events) == 1, events
    return dict(events[0].args)


async def send_transfer(world: World, amount: int, recipient: str, timeout: int = 0) -> dict:
    receipt = await world.a.asset.transact(
        world.deployer, "transfer", world.b.asset_id, recipient, amount, timeout
    )
    return only(world.a.broker.events(receipt, "InterchainEvent"))


async def test_emit_interchain_event_fields(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        event = await send_transfer(world, 250, recipient, timeout=77)
        arg = mint_args(recipient, 250)
        assert event["from"] == full_id(CHAIN_A, world.a.asset.address)
        assert event["to"] == world.b.asset_id
        assert event["index"] == 1
        assert event["func"] == "mint"
        assert list(event["args"]) == [arg]
        assert event["encrypted"] is False
        assert event["timeout"] == 77
        assert event["payloadHash"] == compute_payload_hash(Payload("mint", (arg,), False))

        src, dst = world.a.asset_id, world.b.asset_id
        assert await world.a.broker.call("outCounter", src, dst) == (1,)
        func, args, timeout = await world.a.broker.call("outMessage", src, dst, 1)
        assert (func, list(args), timeout) == ("mint", [arg], 77)
        assert await world.a.asset.call("balanceOf", world.deployer_address) == (
            INITIAL_SUPPLY - 250,
        )
        assert await world.a.asset.call("totalLocked") == (250,)
        assert await world.a.asset.call("lockOf", dst, 1) == (world.deployer_address, 250)

        second = await send_transfer(world, 1, recipient)
        assert second["index"] == 2
        assert await world.a.broker.call("outCounter", src, dst) == (2,)
        validators, threshold = await world.a.broker.call("relayValidators")
        assert [v.lower() for v in validators] == [v.address for v in RELAY_VALIDATORS]
        assert threshold == 2


async def test_emit_refuses_what_no_ibtp_can_carry(world: World) -> None:
    """Broker.sol refuses at emit time what the relay could never admit (the native
    broker's test_emit_refuses_what_no_ibtp_can_carry has the same cases)."""
    with trio.fail_after(TEST_DEADLINE):
        ok_to = f"{HUB}:evmX:svc"
        cases = [
            (f"{HUB}x:evmX:svc", "f", [], "broker: to is not a service ID of this hub"),
            (f"{HUB}:evmX", "f", [], "broker: to is not a service ID of this hub"),
            (f"{HUB}:evmX:svc:x", "f", [], "broker: to is not a service ID of this hub"),
            (f"{HUB}:evmX:\u00e9", "f", [], "broker: to is not a service ID of this hub"),
            (f"{HUB}:evmX:" + "s" * 129, "f", [], "broker: to is not a service ID of this hub"),
            (ok_to, "f" * 129, [], "broker: func is not 0-128 printable ASCII characters"),
            (ok_to, "caf\u00e9", [], "broker: func is not 0-128 printable ASCII characters"),
            (ok_to, "f", [b""] * 33, "broker: at most 32 args of at most 32768 bytes"),
            (ok_to, "f", [b"x" * 32769], "broker: at most 32 args of at most 32768 bytes"),
        ]
        for to, func, args, reason in cases:
            got = await expect_revert(
                world.a.broker, world.user, "emitInterchain", to, func, args, 0
            )
            assert got == reason, (to[:40], func[:20], got)
        await world.a.broker.transact(
            world.user, "emitInterchain", f"{HUB}:evmX:" + "s" * 128, "f" * 128, [b"x"] * 32, 0
        )


async def test_interchain_success_and_receipt(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        event = await send_transfer(world, 300, recipient)
        src, dst = event["from"], event["to"]

        delivered = await world.deliver_interchain(world.b, event)
        receipt = only(world.b.broker.events(delivered, "ReceiptEvent"))
        result = abi_encode(["address", "uint256"], [recipient, 300])
        assert receipt == {
            "from": src,
            "to": dst,
            "index": 1,
            "typ": 1,
            "result": result,
            "payloadHash": compute_payload_hash(Payload("", (result,), False)),
        }
        assert await world.b.broker.call("inCounter", src, dst) == (1,)
        assert await world.b.broker.call("receiptMessage", src, dst, 1) == (1, result)
        assert await world.b.asset.call("balanceOf", recipient) == (300,)
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY + 300)

        # The same request again is refused: the index was used.
        sigs = world.relay.sign(request_ibtp(event), TxStatus.BEGIN)
        reason = await expect_revert(
            world.b.broker,
            world.gateway,
            "invokeInterchain",
            src,
            dst,
            1,
            "mint",
            list(event["args"]),
            sigs,
        )
        assert reason == "broker: index out of order"

        done = await world.deliver_receipt(
            world.a, src, dst, 1, IBTPType.RECEIPT_SUCCESS, result, TxStatus.SUCCESS
        )
        assert only(world.a.broker.events(done, "CallbackEvent")) == {
            "from": src,
            "to": dst,
            "index": 1,
            "typ": 1,
        }
        assert await world.a.broker.call("callbackCounter", src, dst) == (1,)
        assert await world.a.asset.call("totalLocked") == (0,)
        assert await world.supplies() == (INITIAL_SUPPLY - 300, INITIAL_SUPPLY + 300)

        ibtp = receipt_ibtp(src, dst, 1, IBTPType.RECEIPT_SUCCESS, result)
        again = world.relay.sign(ibtp, TxStatus.SUCCESS)
        reason = await expect_revert(
            world.a.broker, world.gateway, "invokeReceipt", src, dst, 1, 1, result, 1, again
        )
        assert reason == "broker: receipt already processed"


async def test_invoke_interchain_refusals(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        event = await send_transfer(world, 10, address_of(world.user))
        ibtp = request_ibtp(event)
        src, dst, args = ibtp.src, ibtp.dst, list(ibtp.payload.args)
        v0, v1, v2 = RELAY_VALIDATORS
        outsider = Account.from_key("ab" * 32)
        good = world.relay.sign(ibtp, TxStatus.BEGIN)

        async def refused(
            sigs: list[bytes], index: int = 1, to: str = dst, call_args: list[bytes] = args
        ) -> str:
            return await expect_revert(
                world.b.broker,
                world.gateway,
                "invokeInterchain",
                src,
                to,
                index,
                "mint",
                call_args,
                sigs,
            )

        # Wrong index, even with a valid relay proof for that index.
        ahead = world.relay.sign(
            request_ibtp({**event, "index": 2}), TxStatus.BEGIN, signers=[v0, v1]
        )
        assert await refused(ahead, index=2) == "broker: index out of order"
        # Below threshold, and a duplicated signer that counts once.
        assert await refused(good[:1]) == "broker: relay signatures below threshold"
        assert await refused([good[0], good[0]]) == "broker: relay signatures below threshold"
        assert await refused([]) == "broker: relay signatures below threshold"
        # A key that is not a registered relay validator, even alongside a quorum.
        digest_sig = world.relay.sign(ibtp, TxStatus.BEGIN, signers=[outsider])
        assert await refused([*good, *digest_sig]) == "broker: unregistered relay signer"
        # Signatures over something else recover to some other address.
        tampered = [mint_args(address_of(world.user), 10_000)]
        assert await refused(good, call_args=tampered) == "broker: unregistered relay signer"
        other_hub = world.relay.sign(ibtp, TxStatus.BEGIN, hub="hub2")
        assert await refused(other_hub) == "broker: unregistered relay signer"
        other_status = world.relay.sign(ibtp, TxStatus.SUCCESS)
        assert await refused(other_status) == "broker: unregistered relay signer"
        # Malformed signatures: short, bad v, high s.
        assert await refused([good[0][:64], good[1]]) == "broker: malformed relay signature"
        bad_v = good[0][:64] + bytes([29])
        assert await refused([bad_v, good[1]]) == "broker: malformed relay signature"
        s = int.from_bytes(good[0][32:64], "big")
        high_s = good[0][:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[0][64]])
        assert await refused([high_s, good[1]]) == "broker: malformed relay signature"
        # The destination must be a local service, spelled canonically.
        elsewhere = full_id("chainC", world.b.asset.address)
        assert await refused(good, to=elsewhere) == "broker: to is not a local service"
        upper = f"{HUB}:{world.b.chain}:0x{world.b.asset.address[2:].upper()}"
        assert await refused(good, to=upper) == "broker: to is not a local service"

        # A mined refusal changes nothing.
        mined = await world.b.broker.transact(
            world.gateway,
            "invokeInterchain",
            src,
            dst,
            1,
            "mint",
            args,
            good[:1],
            gas=2_000_000,
            check=False,
        )
        assert int(mined["status"], 16) == 0
        assert await world.b.broker.call("inCounter", src, dst) == (0,)

        # Any quorum of distinct validators works; a repeated signature is harmless.
        ok = await world.deliver_interchain(
            world.b, event, signatures=world.relay.sign(ibtp, 0, signers=[v2, v2, v1])
        )
        assert only(world.b.broker.events(ok, "ReceiptEvent"))["typ"] == 1


async def test_failed_destination_call_rolls_back_source(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        event = await send_transfer(world, MINT_CAP + 1, recipient)
        src, dst = event["from"], event["to"]
        assert await world.a.asset.call("balanceOf", world.deployer_address) == (
            INITIAL_SUPPLY - MINT_CAP - 1,
        )

        delivered = await world.deliver_interchain(world.b, event)
        receipt = only(world.b.broker.events(delivered, "ReceiptEvent"))
        reason = b"asset: amount above mint cap"
        assert (receipt["typ"], receipt["result"]) == (2, reason)
        assert receipt["payloadHash"] == compute_payload_hash(Payload("", (reason,), False))
        assert await world.b.broker.call("receiptMessage", src, dst, 1) == (2, reason)
        assert await world.b.broker.call("inCounter", src, dst) == (1,)
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY)

        # A receipt whose status does not belong to its type is refused before signatures.
        sigs = world.relay.sign(
            receipt_ibtp(src, dst, 1, IBTPType.RECEIPT_FAILURE, reason), TxStatus.SUCCESS
        )
        assert (
            await expect_revert(
                world.a.broker, world.gateway, "invokeReceipt", src, dst, 1, 2, reason, 1, sigs
            )
            == "broker: status does not match type"
        )

        done = await world.deliver_receipt(
            world.a, src, dst, 1, IBTPType.RECEIPT_FAILURE, reason, TxStatus.FAILURE
        )
        assert only(world.a.broker.events(done, "CallbackEvent"))["typ"] == 2
        assert await world.a.asset.call("balanceOf", world.deployer_address) == (INITIAL_SUPPLY,)
        assert await world.a.asset.call("totalLocked") == (0,)
        assert await world.a.asset.call("lockOf", dst, 1) == ("0x" + "00" * 20, 0)
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY)

        # Minting to the zero address is the service's other refusal.
        zero = await send_transfer(world, 5, "0x" + "00" * 20)
        failed = await world.deliver_interchain(world.b, zero)
        receipt = only(world.b.broker.events(failed, "ReceiptEvent"))
        assert (receipt["typ"], receipt["result"]) == (2, b"asset: mint to the zero address")


async def test_timeout_after_execution_keeps_the_mint(world: World) -> None:
    """A destination never undoes: the notice of a timeout that crossed the delivery is
    taken at B and changes nothing (no burn, no event, no revert, also when taken again),
    and the late receipt settles the transfer at A, which burns its lock."""
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        event = await send_transfer(world, 400, recipient)
        src, dst = event["from"], event["to"]
        delivered = await world.deliver_interchain(world.b, event)
        result = only(world.b.broker.events(delivered, "ReceiptEvent"))["result"]
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY + 400)

        # No receipt reached the relay in time: BEGIN_ROLLBACK, a notice to B only.
        rollback = IBTPType.RECEIPT_ROLLBACK
        for _ in range(2):
            on_b = await world.deliver_receipt(
                world.b, src, dst, 1, rollback, b"", TxStatus.BEGIN_ROLLBACK
            )
            assert world.b.broker.events(on_b, "CallbackEvent") == []
            assert await world.b.asset.call("balanceOf", recipient) == (400,)
            assert await world.b.broker.call("receiptMessage", src, dst, 1) == (1, result)
        sigs = world.relay.sign(receipt_ibtp(src, dst, 1, rollback, b""), 5, target=world.b.chain)
        assert (
            await expect_revert(
                world.b.broker, world.gateway, "invokeReceipt", src, dst, 1, 3, b"x", 5, sigs
            )
            == "broker: rollback carries no result"
        )

        # The receipt still reaches the relay, which settles it: A burns the lock.
        done = await world.deliver_receipt(
            world.a, src, dst, 1, IBTPType.RECEIPT_SUCCESS, result, TxStatus.SUCCESS
        )
        assert only(world.a.broker.events(done, "CallbackEvent"))["typ"] == 1
        assert await world.a.asset.call("totalLocked") == (0,)
        assert await world.supplies() == (INITIAL_SUPPLY - 400, INITIAL_SUPPLY + 400)


async def test_timeout_before_delivery_is_not_executed(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        event = await send_transfer(world, 500, recipient)
        src, dst = event["from"], event["to"]
        rollback = IBTPType.RECEIPT_ROLLBACK

        # The rollback reaches the destination before the request does: it consumes the
        # index, so the request is no longer next and never runs.
        await world.deliver_receipt(world.b, src, dst, 1, rollback, b"", TxStatus.BEGIN_ROLLBACK)
        assert await world.b.broker.call("inCounter", src, dst) == (1,)
        reason = await expect_revert(
            world.b.broker,
            world.gateway,
            "invokeInterchain",
            src,
            dst,
            1,
            event["func"],
            list(event["args"]),
            world.relay.sign(request_ibtp(event), TxStatus.BEGIN, target=world.b.chain),
        )
        assert reason == "broker: index out of order"
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY)

        # The source, told BEGIN_FAILURE-style or BEGIN_ROLLBACK-style, returns the lock.
        await world.deliver_receipt(world.a, src, dst, 1, rollback, b"", TxStatus.BEGIN_FAILURE)
        assert await world.a.asset.call("balanceOf", world.deployer_address) == (INITIAL_SUPPLY,)

        # The channel is not stuck: the next index executes normally.
        nxt = await send_transfer(world, 7, recipient)
        ok = await world.deliver_interchain(world.b, nxt)
        assert only(world.b.broker.events(ok, "ReceiptEvent"))["typ"] == 1
        assert await world.b.asset.call("balanceOf", recipient) == (7,)


async def test_supply_is_conserved_across_outcomes(world: World) -> None:
    """Transfers both ways ending in SUCCESS, FAILURE and ROLLBACK keep the sum."""
    with trio.fail_after(TEST_DEADLINE):
        total = 2 * INITIAL_SUPPLY
        user = address_of(world.user)
        plan: list[tuple[int, str]] = [
            (100, "success"),
            (MINT_CAP + 50, "failure"),
            (200, "timeout-after"),
            (300, "timeout-before"),
            (400, "success"),
        ]
        for amount, outcome in plan:
            event = await send_transfer(world, amount, user)
            src, dst, index = event["from"], event["to"], event["index"]
            if outcome != "timeout-before":
                delivered = await world.deliver_interchain(world.b, event)
                receipt = only(world.b.broker.events(delivered, "ReceiptEvent"))
                typ, result = receipt["typ"], receipt["result"]
                assert typ == (2 if outcome == "failure" else 1)
            if outcome in ("success", "timeout-after"):
                if outcome == "timeout-after":
                    # The timeout's notice reaches B after the mint: taken, nothing undone;
                    # the late receipt settles it at A (docs/protocol.md §3).
                    await world.deliver_receipt(
                        world.b,
                        src,
                        dst,
                        index,
                        IBTPType.RECEIPT_ROLLBACK,
                        b"",
                        TxStatus.BEGIN_ROLLBACK,
                    )
                await world.deliver_receipt(
                    world.a, src, dst, index, IBTPType.RECEIPT_SUCCESS, result, TxStatus.SUCCESS
                )
            elif outcome == "failure":
                await world.deliver_receipt(
                    world.a, src, dst, index, IBTPType.RECEIPT_FAILURE, result, TxStatus.FAILURE
                )
            else:
                # B gives it up first (its acknowledgement), then A rolls back.
                for side in (world.b, world.a):
                    await world.deliver_receipt(
                        side,
                        src,
                        dst,
                        index,
                        IBTPType.RECEIPT_ROLLBACK,
                        b"",
                        TxStatus.BEGIN_ROLLBACK,
                    )
            if outcome == "timeout-before":
                # The notice consumed the index: the request behind it is done, not run.
                assert await world.b.broker.call("inCounter", src, dst) == (index,)
            assert sum(await world.supplies()) == total, outcome

        # And back from B to A: the recipient returns part of what it got.
        receipt = await world.b.asset.transact(
            world.user, "transfer", world.a.asset_id, world.deployer_address, 250, 0
        )
        event = only(world.b.broker.events(receipt, "InterchainEvent"))
        delivered = await world.deliver_interchain(world.a, event)
        result = only(world.a.broker.events(delivered, "ReceiptEvent"))["result"]
        await world.deliver_receipt(
            world.b,
            event["from"],
            event["to"],
            1,
            IBTPType.RECEIPT_SUCCESS,
            result,
            TxStatus.SUCCESS,
        )
        supply_a, supply_b = await world.supplies()
        assert supply_a + supply_b == total
        # Settled at B: 100, 200 (its notice came after the mint) and 400; 250 came back.
        assert (supply_a, supply_b) == (INITIAL_SUPPLY - 700 + 250, INITIAL_SUPPLY + 700 - 250)
        for side in (world.a, world.b):
            assert await side.asset.call("totalLocked") == (0,)


async def test_dataswap_get_round_trip(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        await world.b.data.transact(world.user, "set", "color", b"\x00blue\xff")
        assert await world.b.data.call("valueOf", "color") == (True, b"\x00blue\xff")

        asked = await world.a.data.transact(world.user, "get", world.b.data_id, "color", 0)
        event = only(world.a.broker.events(asked, "InterchainEvent"))
        assert (event["func"], list(event["args"])) == ("get", [abi_encode(["string"], ["color"])])
        delivered = await world.deliver_interchain(world.b, event)
        receipt = only(world.b.broker.events(delivered, "ReceiptEvent"))
        assert (receipt["typ"], receipt["result"]) == (1, b"\x00blue\xff")
        await world.deliver_receipt(
            world.a,
            event["from"],
            event["to"],
            event["index"],
            IBTPType.RECEIPT_SUCCESS,
            receipt["result"],
            TxStatus.SUCCESS,
        )
        assert await world.a.data.call("fetched", world.b.data_id, "color") == (b"\x00blue\xff",)

        # An unknown key fails on the destination; the source stores nothing.
        asked = await world.a.data.transact(world.user, "get", world.b.data_id, "shape", 0)
        event = only(world.a.broker.events(asked, "InterchainEvent"))
        delivered = await world.deliver_interchain(world.b, event)
        receipt = only(world.b.broker.events(delivered, "ReceiptEvent"))
        assert (receipt["typ"], receipt["result"]) == (2, b"dataswap: unknown key")
        await world.deliver_receipt(
            world.a,
            event["from"],
            event["to"],
            event["index"],
            IBTPType.RECEIPT_FAILURE,
            receipt["result"],
            TxStatus.FAILURE,
        )
        assert await world.a.data.call("fetched", world.b.data_id, "shape") == (b"",)


async def test_service_calls_are_broker_only(world: World) -> None:
    with trio.fail_after(TEST_DEADLINE):
        reason = await expect_revert(
            world.b.asset,
            world.user,
            "onInterchain",
            world.a.asset_id,
            1,
            "mint",
            [mint_args(address_of(world.user), 1)],
        )
        assert reason == "asset: only the broker"
        reason = await expect_revert(world.a.data, world.user, "onRollback", world.b.data_id, 1)
        assert reason == "dataswap: only the broker"


async def test_mint_only_from_registered_counterparts(world: World) -> None:
    """An account on chain A emits ``mint`` to B's AssetTransfer through A's broker: the
    relay proof is valid, but B's service refuses the caller and mints nothing."""
    with trio.fail_after(TEST_DEADLINE):
        a, b = world.a, world.b
        assert await b.asset.call("owner") == (world.deployer_address,)
        assert await b.asset.call("isCounterpart", a.asset_id) == (True,)
        attacker = address_of(world.user)
        attacker_id = full_id(CHAIN_A, attacker)
        assert await b.asset.call("isCounterpart", attacker_id) == (False,)
        emitted = await a.broker.transact(
            world.user, "emitInterchain", b.asset_id, "mint", [mint_args(attacker, 500_000)], 0
        )
        event = only(a.broker.events(emitted, "InterchainEvent"))
        assert event["from"] == attacker_id
        delivered = await world.deliver_interchain(b, event)
        receipt = only(b.broker.events(delivered, "ReceiptEvent"))
        assert (receipt["typ"], receipt["result"]) == (2, b"asset: source is not a counterpart")
        assert b.asset.events(delivered, "Minted") == []
        assert await b.asset.call("balanceOf", attacker) == (0,)
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY)
        assert await b.broker.call("inCounter", attacker_id, b.asset_id) == (1,)

        # Only the owner changes the list; its changes are events.
        for service in (attacker_id, a.asset_id):
            reason = await expect_revert(b.asset, world.user, "setCounterpart", service, True)
            assert reason == "asset: only the owner"
        changed = await b.asset.transact(world.deployer, "setCounterpart", a.asset_id, False)
        assert only(b.asset.events(changed, "CounterpartSet")) == {
            "service": a.asset_id,
            "allowed": False,
        }
        assert await b.asset.call("isCounterpart", a.asset_id) == (False,)
        reason = await expect_revert(
            b.asset, world.deployer, "transfer", a.asset_id, attacker, 5, 0
        )
        assert reason == "asset: destination is not a counterpart"
        # A transfer A -> B now fails at B (no longer a counterpart) and A gets its lock back.
        event = await send_transfer(world, 40, attacker)
        delivered = await world.deliver_interchain(b, event)
        receipt = only(b.broker.events(delivered, "ReceiptEvent"))
        assert (receipt["typ"], receipt["result"]) == (2, b"asset: source is not a counterpart")
        await world.deliver_receipt(
            a,
            a.asset_id,
            b.asset_id,
            int(event["index"]),
            IBTPType.RECEIPT_FAILURE,
            receipt["result"],
            TxStatus.FAILURE,
        )
        assert await a.asset.call("balanceOf", world.deployer_address) == (INITIAL_SUPPLY,)
        assert await world.supplies() == (INITIAL_SUPPLY, INITIAL_SUPPLY)


@pytest.mark.parametrize("fraction", [0.5, 0.95])
async def test_starved_service_call_reverts_the_delivery(
    world: World, gas_hungry: Artifact, fraction: float
) -> None:
    """A delivery given too little gas reverts whole; it never becomes a forged FAILURE.

    Anyone may deliver a relay proof. Without the broker's out-of-gas check, a caller
    could give just enough gas for the broker to finish after starving the service
    (EIP-150 keeps 1/64 back), and the starved call would be recorded and receipted
    as the service's refusal.
    """
    with trio.fail_after(TEST_DEADLINE):
        hungry = await Contract.deploy(
            world.rpc, world.deployer, gas_hungry, world.b.broker.address
        )
        dst = full_id(world.b.chain, hungry.address)
        rounds = abi_encode(["uint256"], [2_000_000])  # about 8M gas of memory
        ibtp = IBTP(src=world.a.data_id, dst=dst, index=1, payload=Payload("burn", (rounds,)))
        call = (ibtp.src, dst, 1, "burn", [rounds], world.relay.sign(ibtp, TxStatus.BEGIN))
        request = {
            "from": address_of(world.gateway),
            "to": world.b.broker.address,
            "data": "0x" + world.b.broker.artifact.encode_call("invokeInterchain", *call).hex(),
        }
        estimate = int(await world.rpc.call("eth_estimateGas", request), 16)
        assert estimate > 6_000_000  # heavy enough that 1/64 of it would finish the broker

        short = await world.b.broker.transact(
            world.gateway, "invokeInterchain", *call, gas=int(estimate * fraction), check=False
        )
        assert int(short["status"], 16) == 0
        assert await world.b.broker.call("inCounter", ibtp.src, dst) == (0,)

        enough = await world.b.broker.transact(world.gateway, "invokeInterchain", *call)
        assert only(world.b.broker.events(enough, "ReceiptEvent"))["typ"] == 1
