"""The native broker and example services, driven through the pure core.

Calldata and relay signatures come from eth-abi and relay.ibtp (see
devchain_helpers), so these tests check the broker against docs/broker.md and
docs/protocol.md rather than against its own encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from devchain_helpers import (
    CALLBACK_TOPIC,
    HUB,
    INTERCHAIN_TOPIC,
    OTHER,
    OUTSIDER,
    RECEIPT_TOPIC,
    RELAY_KEYS,
    CoreChain,
    calldata,
    error_data,
    interchain_call,
    make_config,
    receipt_call,
    receipt_payload_hash,
    relay_sign,
)
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak

from appchains.evm.devchain.broker import Broker, compute_relay_digest
from appchains.evm.devchain.chain import TxReceipt
from appchains.evm.devchain.config import ConfigError
from appchains.evm.devchain.services import AssetTransfer, DataSwap
from relay.ibtp import IBTP, IBTPType, Payload, compute_payload_hash, compute_signed_digest

TRANSFER = "transfer(string,address,uint256,uint64)"
SET_COUNTERPART = "setCounterpart(string,bool)"
RECIPIENT = "0x" + "cc" * 20
MINT_CAP = 10**6
ARTIFACTS = Path(__file__).resolve().parents[2] / "appchains" / "evm" / "artifacts"

SERVICE_TOPICS = {
    keccak(b"Locked(string,uint64,address,address,uint256)"): "Locked",
    keccak(b"Minted(string,uint64,address,uint256)"): "Minted",
    keccak(b"Burned(uint256)"): "Burned",
    keccak(b"Unlocked(address,uint256)"): "Unlocked",
    keccak(b"CounterpartSet(string,bool)"): "CounterpartSet",
    keccak(b"ValueSet(string,bytes)"): "ValueSet",
    keccak(b"ValueFetched(string,string,bytes)"): "ValueFetched",
    INTERCHAIN_TOPIC: "InterchainEvent",
    RECEIPT_TOPIC: "ReceiptEvent",
    CALLBACK_TOPIC: "CallbackEvent",
}


def names(receipt: TxReceipt) -> list[str]:
    return [SERVICE_TOPICS[log.topics[0]] for log in receipt.receipt.logs]


def mint_arg(recipient: str = RECIPIENT, amount: int = 300) -> bytes:
    return abi_encode(["address", "uint256"], [recipient, amount])


def add_counterparts(chain: CoreChain, *services: str) -> None:
    """The owner (dev account 0) registers ``services`` with the chain's AssetTransfer."""
    for service in services:
        receipt = chain.send(chain.asset, calldata(SET_COUNTERPART, service, True))
        assert receipt.receipt.status == 1 and names(receipt) == ["CounterpartSet"]


@pytest.fixture
def chain() -> CoreChain:
    """A dev chain whose AssetTransfer has the service OTHER as its counterpart."""
    chain = CoreChain()
    add_counterparts(chain, OTHER)
    return chain


def counters(chain: CoreChain, src: str, dst: str) -> tuple[int, ...]:
    return tuple(
        chain.view(chain.broker, f"{name}(string,string)", ["uint64"], src, dst)
        for name in ("outCounter", "inCounter", "callbackCounter")
    )


def supply(chain: CoreChain) -> int:
    return int(chain.view(chain.asset, "totalSupply()", ["uint256"]))


def balance(chain: CoreChain, address: str) -> int:
    return int(chain.view(chain.asset, "balanceOf(address)", ["uint256"], address))


def expect_revert(chain: CoreChain, to: str, data: bytes, message: str | None) -> None:
    """Both as eth_call (revert data) and as a transaction (status 0, no logs, no state change)."""
    ok, out = chain.call(to, data, sender=chain.address())
    assert not ok
    assert out == (error_data(message) if message is not None else b"")
    root = chain.state.world.root
    receipt = chain.send(to, data)
    assert receipt.receipt.status == 0 and receipt.receipt.logs == ()
    sender = bytes.fromhex(chain.address()[2:])
    # only the sender's nonce and fee changed
    changed = {a for a, s in chain.state.world.accounts.items() if a != sender}
    assert chain.state.world.root != root and changed


# ---------------------------------------------------------------------- sending
def test_transfer_emits_interchain_event(chain: CoreChain) -> None:
    sender = chain.address()
    data = calldata(TRANSFER, OTHER, RECIPIENT, 500, 77)
    ok, out = chain.call(chain.asset, data, sender=sender)
    assert ok and abi_decode(["uint64"], out) == (1,)  # transfer returns the index
    receipt = chain.send(chain.asset, data)
    assert receipt.receipt.status == 1
    assert names(receipt) == ["InterchainEvent", "Locked"]
    event, locked = receipt.receipt.logs
    assert event.address.hex() == chain.broker[2:] and event.topics == (INTERCHAIN_TOPIC,)
    src, dst, index, func, args, encrypted, timeout, payload_hash = abi_decode(
        ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"], event.data
    )
    asset_id = chain.full_id(chain.asset)
    assert (src, dst, index, func, encrypted, timeout) == (asset_id, OTHER, 1, "mint", False, 77)
    assert list(args) == [mint_arg(RECIPIENT, 500)]
    assert payload_hash == compute_payload_hash(Payload("mint", tuple(args), False))
    assert locked.address.hex() == chain.asset[2:]
    assert locked.topics[1] == abi_encode(["address"], [sender])
    assert counters(chain, asset_id, OTHER) == (1, 0, 0)
    out_message = chain.view(
        chain.broker,
        "outMessage(string,string,uint64)",
        ["string", "bytes[]", "uint64"],
        asset_id,
        OTHER,
        1,
    )
    assert out_message == ("mint", (mint_arg(RECIPIENT, 500),), 77)
    assert balance(chain, sender) == 10**9 - 500
    assert chain.view(chain.asset, "totalLocked()", ["uint256"]) == 500
    assert chain.view(chain.asset, "lockOf(string,uint64)", ["address", "uint256"], OTHER, 1) == (
        sender,
        500,
    )
    # the second transfer to the same service gets index 2
    second = chain.send(chain.asset, calldata(TRANSFER, OTHER, RECIPIENT, 1, 0))
    values = abi_decode(
        ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"],
        second.receipt.logs[0].data,
    )
    assert values[2] == 2
    assert counters(chain, asset_id, OTHER)[0] == 2


def test_emit_interchain_from_an_account(chain: CoreChain) -> None:
    data = calldata(
        "emitInterchain(string,string,bytes[],uint64)", OTHER, "ping", [b"\x01", b""], 5
    )
    receipt = chain.send(chain.broker, data)
    (log,) = receipt.receipt.logs
    values = abi_decode(
        ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"], log.data
    )
    assert values[0] == chain.full_id(chain.address())
    assert values[2] == 1 and values[4] == (b"\x01", b"")


def test_transfer_refusals(chain: CoreChain) -> None:
    expect_revert(
        chain, chain.asset, calldata(TRANSFER, OTHER, RECIPIENT, 0, 0), "asset: zero amount"
    )
    expect_revert(
        chain,
        chain.asset,
        calldata(TRANSFER, OTHER, RECIPIENT, 10**9 + 1, 0),
        "asset: insufficient balance",
    )


# ---------------------------------------------------------------------- receiving
def test_invoke_interchain_mints_and_emits_receipt(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    before = supply(chain)
    receipt = chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]))
    assert receipt.receipt.status == 1
    assert names(receipt) == ["Minted", "ReceiptEvent"]
    log = receipt.receipt.logs[1]
    assert log.address.hex() == chain.broker[2:] and log.topics == (RECEIPT_TOPIC,)
    src, dst, index, typ, result, payload_hash = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], log.data
    )
    assert (src, dst, index, typ) == (OTHER, asset_id, 1, 1)
    assert result == mint_arg()  # onInterchain returns abi.encode(recipient, amount)
    assert payload_hash == receipt_payload_hash(result)
    assert balance(chain, RECIPIENT) == 300 and supply(chain) == before + 300
    assert counters(chain, OTHER, asset_id) == (0, 1, 0)
    stored = chain.view(
        chain.broker, "receiptMessage(string,string,uint64)", ["uint8", "bytes"], OTHER, asset_id, 1
    )
    assert stored == (1, result)


@pytest.mark.parametrize(
    ("signers", "message"),
    [
        ([OUTSIDER, RELAY_KEYS[0]], "broker: unregistered relay signer"),
        ([RELAY_KEYS[0]], "broker: relay signatures below threshold"),
        ([RELAY_KEYS[0], RELAY_KEYS[0]], "broker: relay signatures below threshold"),
        ([], "broker: relay signatures below threshold"),
    ],
)
def test_invoke_interchain_refuses_bad_relay_proofs(
    chain: CoreChain, signers: list[Any], message: str
) -> None:
    asset_id = chain.full_id(chain.asset)
    data = interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()], signers=signers)
    expect_revert(chain, chain.broker, data, message)
    assert counters(chain, OTHER, asset_id) == (0, 0, 0)
    assert balance(chain, RECIPIENT) == 0


def _invoke_with_sigs(
    src: str, dst: str, index: int, args: list[bytes], sigs: list[bytes]
) -> bytes:
    return calldata(
        "invokeInterchain(string,string,uint64,string,bytes[],bytes[])",
        src,
        dst,
        index,
        "mint",
        args,
        sigs,
    )


def test_invoke_interchain_refuses_signatures_over_other_fields(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    good = Payload("mint", (mint_arg(),), False)
    cases = {
        "other hub": relay_sign(OTHER, asset_id, 1, IBTPType.INTERCHAIN, good, 0, hub="hub2"),
        "other amount": relay_sign(
            OTHER,
            asset_id,
            1,
            IBTPType.INTERCHAIN,
            Payload("mint", (mint_arg(amount=301),), False),
            0,
        ),
        "other status": relay_sign(OTHER, asset_id, 1, IBTPType.INTERCHAIN, good, 1),
        "other index": relay_sign(OTHER, asset_id, 2, IBTPType.INTERCHAIN, good, 0),
    }
    for sigs in cases.values():
        expect_revert(
            chain,
            chain.broker,
            _invoke_with_sigs(OTHER, asset_id, 1, [mint_arg()], sigs),
            "broker: unregistered relay signer",
        )
    sigs = relay_sign(OTHER, asset_id, 1, IBTPType.INTERCHAIN, good, 0)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (
        sigs[0][:32]
        + (n - int.from_bytes(sigs[0][32:64], "big")).to_bytes(32, "big")
        + bytes([55 - sigs[0][64]])
    )
    for bad in (sigs[0][:64], sigs[0] + b"\x00", sigs[0][:64] + b"\x01", high_s, b"\x00" * 65):
        data = _invoke_with_sigs(OTHER, asset_id, 1, [mint_arg()], [bad, sigs[1]])
        expect_revert(chain, chain.broker, data, "broker: malformed relay signature")
    # the good proof still works afterwards, and extra valid signatures are fine
    all_sigs = relay_sign(OTHER, asset_id, 1, IBTPType.INTERCHAIN, good, 0, signers=RELAY_KEYS)
    receipt = chain.send(
        chain.broker, _invoke_with_sigs(OTHER, asset_id, 1, [mint_arg()], all_sigs)
    )
    assert receipt.receipt.status == 1


def test_invoke_interchain_index_and_destination_checks(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    expect_revert(
        chain,
        chain.broker,
        interchain_call(OTHER, asset_id, 2, "mint", [mint_arg()]),
        "broker: index out of order",
    )
    assert (
        chain.send(
            chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()])
        ).receipt.status
        == 1
    )
    expect_revert(
        chain,
        chain.broker,
        interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]),
        "broker: index out of order",
    )
    for not_local in (
        f"{HUB}:evmB:{chain.asset}",
        f"hub2:evmA:{chain.asset}",
        f"{HUB}:evmA:0x" + "AB" * 20,  # uppercase hex is not the canonical local ID
        f"{HUB}:evmA:{chain.asset}:x",
        f"{HUB}:evmA:{chain.asset[:-1]}",
    ):
        data = interchain_call(OTHER, not_local, 1, "mint", [mint_arg()])
        expect_revert(chain, chain.broker, data, "broker: to is not a local service")


@pytest.mark.parametrize(
    ("func", "args", "result"),
    [
        ("mint", [mint_arg(amount=MINT_CAP + 1)], b"asset: amount above mint cap"),
        ("mint", [mint_arg(recipient="0x" + "00" * 20)], b"asset: mint to the zero address"),
        ("burn", [mint_arg()], b"asset: unknown function"),
        ("mint", [mint_arg(), mint_arg()], b"asset: mint takes one argument"),
        ("mint", [b"\x01\x02"], b""),  # abi.decode failure: empty revert data
    ],
)
def test_failing_service_gives_receipt_typ_2(
    chain: CoreChain, func: str, args: list[bytes], result: bytes
) -> None:
    asset_id = chain.full_id(chain.asset)
    before = supply(chain)
    receipt = chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, func, args))
    assert receipt.receipt.status == 1
    assert names(receipt) == ["ReceiptEvent"]  # the service's Minted log is rolled back too
    values = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], receipt.receipt.logs[0].data
    )
    assert values[:4] == (OTHER, asset_id, 1, 2)
    assert values[4] == result  # Error(string) -> its message bytes, as Broker.sol records
    assert values[5] == receipt_payload_hash(result)
    assert supply(chain) == before and balance(chain, RECIPIENT) == 0
    assert counters(chain, OTHER, asset_id) == (0, 1, 0)


def test_service_without_code(chain: CoreChain) -> None:
    eoa_id = chain.full_id(chain.address(1))
    receipt = chain.send(chain.broker, interchain_call(OTHER, eoa_id, 1, "mint", [mint_arg()]))
    values = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], receipt.receipt.logs[0].data
    )
    assert values[3:5] == (2, b"no service code")


# ---------------------------------------------------------------------- counterparts
HOSTILE = "hub1:evmB:0x" + "66" * 20  # a service on another chain nobody registered


def test_owner_manages_counterparts() -> None:
    chain = CoreChain()
    assert chain.view(chain.asset, "owner()", ["address"]) == chain.address(0)
    assert chain.setup.service_owner.hex() == chain.address(0)[2:]
    is_counterpart = "isCounterpart(string)"
    assert chain.view(chain.asset, is_counterpart, ["bool"], OTHER) is False  # genesis: none
    refused = calldata(SET_COUNTERPART, OTHER, True)
    ok, out = chain.call(chain.asset, refused, sender=chain.address(1))
    assert (ok, out) == (False, error_data("asset: only the owner"))
    assert chain.send(chain.asset, refused, sender=1).receipt.status == 0
    assert chain.view(chain.asset, is_counterpart, ["bool"], OTHER) is False

    receipt = chain.send(chain.asset, calldata(SET_COUNTERPART, OTHER, True))
    (log,) = receipt.receipt.logs
    assert log.address.hex() == chain.asset[2:]
    assert log.topics == (keccak(b"CounterpartSet(string,bool)"),)
    assert abi_decode(["string", "bool"], log.data) == (OTHER, True)
    assert chain.view(chain.asset, is_counterpart, ["bool"], OTHER) is True
    # exact bytes: another case or another chain is another service
    for other in (OTHER.upper(), OTHER.replace("evmB", "evmC"), HOSTILE):
        assert chain.view(chain.asset, is_counterpart, ["bool"], other) is False
    receipt = chain.send(chain.asset, calldata(SET_COUNTERPART, OTHER, False))
    assert abi_decode(["string", "bool"], receipt.receipt.logs[0].data) == (OTHER, False)
    assert chain.view(chain.asset, is_counterpart, ["bool"], OTHER) is False


def test_service_owner_from_config() -> None:
    owner = "0x" + "ab" * 20
    chain = CoreChain(make_config(service_owner=owner))
    assert chain.view(chain.asset, "owner()", ["address"]) == owner
    ok, out = chain.call(chain.asset, calldata(SET_COUNTERPART, OTHER, True), chain.address(0))
    assert (ok, out) == (False, error_data("asset: only the owner"))
    with pytest.raises(ConfigError, match="service_owner"):
        make_config(accounts=0).check()
    with pytest.raises(ConfigError, match="service_owner"):
        make_config(service_owner="0x1234").check()
    make_config(accounts=0, service_owner=owner).check()


def test_mint_from_a_service_that_is_not_a_counterpart_fails(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    eoa_id = f"{HUB}:evmB:{chain.address(1)}"  # an account on chain B calling its broker
    before = supply(chain)
    for index, src in enumerate((HOSTILE, eoa_id, OTHER.upper()), start=1):
        receipt = chain.send(
            chain.broker, interchain_call(src, asset_id, 1, "mint", [mint_arg(amount=500_000)])
        )
        assert receipt.receipt.status == 1, index
        assert names(receipt) == ["ReceiptEvent"]  # no Minted
        values = abi_decode(
            ["string", "string", "uint64", "uint8", "bytes", "bytes32"],
            receipt.receipt.logs[0].data,
        )
        assert values[:5] == (src, asset_id, 1, 2, b"asset: source is not a counterpart")
        assert counters(chain, src, asset_id) == (0, 1, 0)  # the index is consumed
    assert supply(chain) == before and balance(chain, RECIPIENT) == 0
    # a counterpart still mints
    receipt = chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]))
    assert names(receipt) == ["Minted", "ReceiptEvent"]
    assert supply(chain) == before + 300


def test_transfer_only_to_a_counterpart(chain: CoreChain) -> None:
    for dst in (HOSTILE, OTHER.upper(), ""):
        expect_revert(
            chain,
            chain.asset,
            calldata(TRANSFER, dst, RECIPIENT, 5, 0),
            "asset: destination is not a counterpart",
        )
    assert chain.view(chain.asset, "totalLocked()", ["uint256"]) == 0


def test_removed_counterpart_cannot_mint_but_its_calls_settle(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    index = _transfer(chain, 70)  # sent while OTHER was a counterpart
    minted = chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]))
    assert names(minted) == ["Minted", "ReceiptEvent"]
    chain.send(chain.asset, calldata(SET_COUNTERPART, OTHER, False))
    before = supply(chain)
    refused = chain.send(chain.broker, interchain_call(OTHER, asset_id, 2, "mint", [mint_arg()]))
    assert names(refused) == ["ReceiptEvent"] and supply(chain) == before
    expect_revert(
        chain,
        chain.asset,
        calldata(TRANSFER, OTHER, RECIPIENT, 5, 0),
        "asset: destination is not a counterpart",
    )
    # the earlier outgoing call still settles; the earlier mint is never undone
    receipt = chain.send(chain.broker, receipt_call(asset_id, OTHER, index, 1, b"ok", 1))
    assert names(receipt) == ["Burned", "CallbackEvent"]
    receipt = chain.send(chain.broker, receipt_call(OTHER, asset_id, 1, 3, b"", 5))
    assert names(receipt) == []
    assert supply(chain) == before - 70


# ---------------------------------------------------------------------- receipts, source side
def _transfer(chain: CoreChain, amount: int = 500) -> int:
    receipt = chain.send(chain.asset, calldata(TRANSFER, OTHER, RECIPIENT, amount, 0))
    return int(abi_decode(["string", "string", "uint64"], receipt.receipt.logs[0].data)[2])


def test_receipt_success_burns_lock(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    index = _transfer(chain)
    before = supply(chain)
    receipt = chain.send(chain.broker, receipt_call(asset_id, OTHER, index, 1, b"ok", 1))
    assert names(receipt) == ["Burned", "CallbackEvent"]
    cb = abi_decode(["string", "string", "uint64", "uint8"], receipt.receipt.logs[1].data)
    assert cb == (asset_id, OTHER, index, 1)
    assert supply(chain) == before - 500
    assert chain.view(chain.asset, "totalLocked()", ["uint256"]) == 0
    assert counters(chain, asset_id, OTHER) == (1, 0, 1)
    expect_revert(
        chain,
        chain.broker,
        receipt_call(asset_id, OTHER, index, 1, b"ok", 1),
        "broker: receipt already processed",
    )
    expect_revert(
        chain,
        chain.broker,
        receipt_call(asset_id, OTHER, index, 3, b"", 5),
        "broker: receipt already processed",
    )


@pytest.mark.parametrize(("typ", "status"), [(2, 2), (3, 5), (3, 4)])
def test_receipt_failure_or_rollback_returns_lock(chain: CoreChain, typ: int, status: int) -> None:
    asset_id = chain.full_id(chain.asset)
    sender = chain.address()
    index = _transfer(chain)
    result = error_data("asset: amount above mint cap") if typ == 2 else b""
    receipt = chain.send(chain.broker, receipt_call(asset_id, OTHER, index, typ, result, status))
    assert names(receipt) == ["Unlocked", "CallbackEvent"]
    assert balance(chain, sender) == 10**9
    assert (
        chain.view(chain.asset, "lockOf(string,uint64)", ["address", "uint256"], OTHER, index)[1]
        == 0
    )
    cb = abi_decode(["string", "string", "uint64", "uint8"], receipt.receipt.logs[1].data)
    assert cb == (asset_id, OTHER, index, typ)


def test_receipt_refusals(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    index = _transfer(chain)
    cases = [
        (receipt_call(asset_id, OTHER, index, 1, b"", 2), "broker: status does not match type"),
        (receipt_call(asset_id, OTHER, index, 2, b"", 1), "broker: status does not match type"),
        (receipt_call(asset_id, OTHER, index, 3, b"", 0), "broker: status does not match type"),
        (receipt_call(asset_id, OTHER, index, 3, b"x", 5), "broker: rollback carries no result"),
        (receipt_call(asset_id, OTHER, 0, 1, b"", 1), "broker: unknown index"),
        (receipt_call(asset_id, OTHER, index + 1, 1, b"", 1), "broker: unknown index"),
        (
            receipt_call(OTHER, "hub1:evmC:0x" + "dd" * 20, 1, 3, b"", 5),
            "broker: neither side is local",
        ),
        (
            receipt_call(OTHER, asset_id, 1, 1, b"", 1),
            "broker: neither side is local",
        ),
        (
            receipt_call(asset_id, OTHER, index, 1, b"", 1, signers=[RELAY_KEYS[2]]),
            "broker: relay signatures below threshold",
        ),
    ]
    bad_type = calldata(
        "invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])",
        asset_id,
        OTHER,
        index,
        0,
        b"",
        0,
        [],
    )
    cases.append((bad_type, "broker: bad receipt type"))
    for data, message in cases:
        expect_revert(chain, chain.broker, data, message)
    assert counters(chain, asset_id, OTHER) == (1, 0, 0)


# ---------------------------------------------------------------------- rollbacks, destination side
@pytest.mark.parametrize("status", [4, 5])
def test_a_notice_after_execution_is_taken_and_changes_nothing(
    chain: CoreChain, status: int
) -> None:
    """A destination never undoes: a rollback notice for an index it executed (the
    timeout crossed the delivery) is taken, changes nothing and emits nothing; the
    call's receipt settles it at the relay. Taken again, still nothing."""
    asset_id = chain.full_id(chain.asset)
    chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]))
    minted = supply(chain)
    for _ in range(2):
        receipt = chain.send(chain.broker, receipt_call(OTHER, asset_id, 1, 3, b"", status))
        assert receipt.receipt.status == 1 and names(receipt) == []
        assert supply(chain) == minted and balance(chain, RECIPIENT) == 300
        assert counters(chain, OTHER, asset_id) == (0, 1, 0)
    # The receipt the broker recorded stands.
    assert chain.view(
        chain.broker, "receiptMessage(string,string,uint64)", ["uint8", "bytes"], OTHER, asset_id, 1
    ) == (1, mint_arg())


def test_a_spent_mint_is_never_undone(chain: CoreChain) -> None:
    """The race a timeout used to lose: the destination minted, the recipient spent the
    tokens, then the notice came. It is taken (no revert that would stall a gateway) and
    nothing is burned; the source burns its lock on the late receipt."""
    asset_id = chain.full_id(chain.asset)
    spender = chain.address(1)
    chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg(spender, 300)]))
    chain.send(
        chain.asset, calldata(TRANSFER, OTHER, RECIPIENT, balance(chain, spender), 0), sender=1
    )
    assert balance(chain, spender) == 0
    before = supply(chain)
    receipt = chain.send(chain.broker, receipt_call(OTHER, asset_id, 1, 3, b"", 5))
    assert receipt.receipt.status == 1 and names(receipt) == []
    assert supply(chain) == before


def test_destination_rollback_before_delivery_consumes_the_index(chain: CoreChain) -> None:
    """A rollback notice for the next inbound index (the relay timed the request out
    before it was delivered, or never routed it) consumes that index: the service is
    not called, the request itself is refused as out of order, and the pair goes on. The
    CallbackEvent is the destination's acknowledgement (from, to, index, 3)."""
    asset_id = chain.full_id(chain.asset)
    receipt = chain.send(chain.broker, receipt_call(OTHER, asset_id, 1, 3, b"", 5))
    assert names(receipt) == ["CallbackEvent"]
    assert abi_decode(["string", "string", "uint64", "uint8"], receipt.receipt.logs[0].data) == (
        OTHER,
        asset_id,
        1,
        3,
    )
    expect_revert(
        chain,
        chain.broker,
        receipt_call(OTHER, asset_id, 1, 3, b"", 4),
        "broker: receipt already processed",
    )
    assert counters(chain, OTHER, asset_id) == (0, 1, 0)
    late = interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()])
    expect_revert(chain, chain.broker, late, "broker: index out of order")
    assert balance(chain, RECIPIENT) == 0
    nxt = chain.send(chain.broker, interchain_call(OTHER, asset_id, 2, "mint", [mint_arg()]))
    assert names(nxt) == ["Minted", "ReceiptEvent"]
    assert counters(chain, OTHER, asset_id) == (0, 2, 0)


@pytest.mark.parametrize("status", [4, 5])
def test_notices_ahead_of_the_counter_are_skipped_in_order(chain: CoreChain, status: int) -> None:
    """Notices may arrive for indices past the next one (a request ahead of them was
    delivered late): each is marked, and when the counter reaches it, it moves past every
    marked index, so the pair never waits for a request that will not come."""
    asset_id = chain.full_id(chain.asset)
    for index in (3, 4):
        chain.send(chain.broker, receipt_call(OTHER, asset_id, index, 3, b"", status))
    assert counters(chain, OTHER, asset_id) == (0, 0, 0)  # 1 and 2 come first
    chain.send(chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()]))
    assert counters(chain, OTHER, asset_id) == (0, 1, 0)
    chain.send(chain.broker, interchain_call(OTHER, asset_id, 2, "mint", [mint_arg()]))
    assert counters(chain, OTHER, asset_id) == (0, 4, 0)  # past 3 and 4
    for index in (3, 4):
        late = interchain_call(OTHER, asset_id, index, "mint", [mint_arg()])
        expect_revert(chain, chain.broker, late, "broker: index out of order")
    five = chain.send(chain.broker, interchain_call(OTHER, asset_id, 5, "mint", [mint_arg()]))
    assert names(five) == ["Minted", "ReceiptEvent"]
    assert balance(chain, RECIPIENT) == 3 * 300  # indices 1, 2 and 5


def test_a_proof_addressed_to_another_chain_is_refused(chain: CoreChain) -> None:
    """The relay-proof digest names the chain it is for (docs/protocol.md §2.2): the
    rollback notice the relay routed to the source (OTHER's chain) does not verify here."""
    asset_id = chain.full_id(chain.asset)
    other_chain = OTHER.split(":")[1]
    for status in (4, 5):
        forged = receipt_call(OTHER, asset_id, 1, 3, b"", status, target=other_chain)
        expect_revert(chain, chain.broker, forged, "broker: unregistered relay signer")
    request = interchain_call(OTHER, asset_id, 1, "mint", [mint_arg()], target=other_chain)
    expect_revert(chain, chain.broker, request, "broker: unregistered relay signer")
    assert counters(chain, OTHER, asset_id) == (0, 0, 0)


def test_emit_to_a_service_on_this_chain_is_refused(chain: CoreChain) -> None:
    """A call to a local service needs no relay; a pair whose ends share a chain could
    never be delivered (the relay refuses it, 4009)."""
    local = chain.full_id(chain.dataswap)
    expect_revert(
        chain,
        chain.dataswap,
        calldata("get(string,string,uint64)", local, "k", 0),
        "broker: to is on this chain",
    )


EMIT = "emitInterchain(string,string,bytes[],uint64)"


@pytest.mark.parametrize(
    ("to", "func", "args", "reason"),
    [
        ("hub2:evmB:svc", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB:svc:x", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB:s v", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB:\u00e9", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:" + "c" * 65 + ":svc", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB:" + "s" * 129, "f", [], "broker: to is not a service ID of this hub"),
        ("hub1::svc", "f", [], "broker: to is not a service ID of this hub"),
        ("hub1:evmB:svc", "f" * 129, [], "broker: func is not 0-128 printable ASCII characters"),
        ("hub1:evmB:svc", "caf\u00e9", [], "broker: func is not 0-128 printable ASCII characters"),
        ("hub1:evmB:svc", "f", [b""] * 33, "broker: at most 32 args of at most 32768 bytes"),
        ("hub1:evmB:svc", "f", [b"x" * 32769], "broker: at most 32 args of at most 32768 bytes"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_emit_refuses_what_no_ibtp_can_carry(
    chain: CoreChain, to: str, func: str, args: list[bytes], reason: str
) -> None:
    """A request the relay could not decode would leave its index unconsumed and stall
    the pair for every caller; the broker refuses it before it takes an index."""
    expect_revert(chain, chain.broker, calldata(EMIT, to, func, args, 0), reason)
    ok = chain.send(
        chain.broker, calldata(EMIT, "hub1:evmB:" + "s" * 128, "f" * 128, [b"x"] * 32, 0)
    )
    assert ok.receipt.status == 1  # the limits themselves are allowed


def test_a_notice_for_no_possible_service_is_taken(chain: CoreChain) -> None:
    """A rollback notice whose `to` has this chain's prefix but names no possible service
    (not a lowercase address) is taken once, not refused: it never blocks a gateway."""
    junk = chain.full_id(chain.asset).rsplit(":", 1)[0] + ":0xABCDEF"
    receipt = chain.send(chain.broker, receipt_call(OTHER, junk, 1, 3, b"", 4))
    assert names(receipt) == ["CallbackEvent"]
    assert counters(chain, OTHER, junk) == (0, 1, 0)
    expect_revert(
        chain,
        chain.broker,
        receipt_call(OTHER, junk, 1, 3, b"", 4),
        "broker: receipt already processed",
    )


def test_destination_notice_of_failed_call_changes_nothing(chain: CoreChain) -> None:
    asset_id = chain.full_id(chain.asset)
    chain.send(
        chain.broker, interchain_call(OTHER, asset_id, 1, "mint", [mint_arg(amount=MINT_CAP + 1)])
    )
    receipt = chain.send(chain.broker, receipt_call(OTHER, asset_id, 1, 3, b"", 5))
    assert receipt.receipt.status == 1 and names(receipt) == []


# ---------------------------------------------------------------------- DataSwap
def test_dataswap_both_sides(chain: CoreChain) -> None:
    ds_id = chain.full_id(chain.dataswap)
    set_receipt = chain.send(chain.dataswap, calldata("set(string,bytes)", "color", b"blue"))
    assert names(set_receipt) == ["ValueSet"]
    assert chain.view(chain.dataswap, "valueOf(string)", ["bool", "bytes"], "color") == (
        True,
        b"blue",
    )
    assert chain.view(chain.dataswap, "valueOf(string)", ["bool", "bytes"], "size") == (False, b"")
    # destination side: a remote service asks for "color", then for an unknown key
    get_arg = abi_encode(["string"], ["color"])
    receipt = chain.send(chain.broker, interchain_call(OTHER, ds_id, 1, "get", [get_arg]))
    values = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], receipt.receipt.logs[0].data
    )
    assert values[3:5] == (1, b"blue")
    receipt = chain.send(
        chain.broker, interchain_call(OTHER, ds_id, 2, "get", [abi_encode(["string"], ["size"])])
    )
    values = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], receipt.receipt.logs[0].data
    )
    assert values[3:5] == (2, b"dataswap: unknown key")
    # source side: ask a remote DataSwap and receive the answer
    receipt = chain.send(chain.dataswap, calldata("get(string,string,uint64)", OTHER, "height", 9))
    event = abi_decode(
        ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"],
        receipt.receipt.logs[0].data,
    )
    assert event[:4] == (ds_id, OTHER, 1, "get") and event[4] == (
        abi_encode(["string"], ["height"]),
    )
    receipt = chain.send(chain.broker, receipt_call(ds_id, OTHER, 1, 1, b"42m", 1))
    assert names(receipt) == ["ValueFetched", "CallbackEvent"]
    assert (
        chain.view(chain.dataswap, "fetched(string,string)", ["bytes"], OTHER, "height") == b"42m"
    )


# ---------------------------------------------------------------------- calls that are not allowed
def test_only_broker_and_solidity_dispatch_rules(chain: CoreChain) -> None:
    expect_revert(
        chain,
        chain.asset,
        calldata("onRollback(string,uint64)", OTHER, 1),
        "asset: only the broker",
    )
    expect_revert(
        chain,
        chain.dataswap,
        calldata("onRollback(string,uint64)", OTHER, 1),
        "dataswap: only the broker",
    )
    expect_revert(chain, chain.broker, b"\x12\x34\x56\x78", None)  # unknown selector
    expect_revert(chain, chain.broker, b"\x12", None)  # short calldata
    expect_revert(
        chain, chain.broker, calldata("outCounter(string,string)", "a", "b")[:40], None
    )  # bad ABI
    receipt = chain.send(chain.broker, calldata("outCounter(string,string)", "a", "b"), value=1)
    assert receipt.receipt.status == 0  # non-payable


def test_relay_validators_view(chain: CoreChain) -> None:
    validators, threshold = chain.view(chain.broker, "relayValidators()", ["address[]", "uint64"])
    assert [v.lower() for v in validators] == [a.address for a in RELAY_KEYS]
    assert threshold == 2


# ---------------------------------------------------------------------- two chains: supply
def test_supply_conserved_across_two_chains() -> None:
    a = CoreChain(make_config(chain_name="evmA"))
    b = CoreChain(make_config(chain_name="evmB", chain_id=1338))
    a_asset, b_asset = a.full_id(a.asset), b.full_id(b.asset)
    add_counterparts(a, b_asset)
    add_counterparts(b, a_asset)
    total = supply(a) + supply(b)
    outcomes = ["success", "fail", "timeout-after-mint", "timeout-before-mint", "success"]
    for index, outcome in enumerate(outcomes, start=1):
        amount = MINT_CAP + 5 if outcome == "fail" else 100 * index
        a.send(a.asset, calldata(TRANSFER, b_asset, a.address(1), amount, 0))
        mint = interchain_call(
            a_asset, b_asset, index, "mint", [mint_arg(a.address(1), amount)], target="evmB"
        )
        if outcome == "timeout-before-mint":
            # the rollback notice reaches B first: it consumes the index, nothing is minted
            b.send(b.broker, receipt_call(a_asset, b_asset, index, 3, b"", 5, target="evmB"))
            a.send(a.broker, receipt_call(a_asset, b_asset, index, 3, b"", 5))
            expect_revert(b, b.broker, mint, "broker: index out of order")
            continue
        delivered = b.send(b.broker, mint)
        _s, _d, _i, typ, result, _h = abi_decode(
            ["string", "string", "uint64", "uint8", "bytes", "bytes32"],
            delivered.receipt.logs[-1].data,
        )
        if outcome == "timeout-after-mint":
            # the notice reaches B after the mint: taken, nothing undone, no acknowledgement;
            # the late receipt settles the transfer at A (the lock is burned)
            noted = b.send(
                b.broker, receipt_call(a_asset, b_asset, index, 3, b"", 5, target="evmB")
            )
            assert names(noted) == []
            assert typ == 1
            a.send(a.broker, receipt_call(a_asset, b_asset, index, typ, result, typ))
        else:
            assert typ == (1 if outcome == "success" else 2)
            a.send(a.broker, receipt_call(a_asset, b_asset, index, typ, result, typ))
    assert supply(a) + supply(b) == total
    assert a.view(a.asset, "totalLocked()", ["uint256"]) == 0
    assert counters(a, a_asset, b_asset) == (5, 0, 5)
    assert counters(b, a_asset, b_asset) == (0, 5, 0)


# ---------------------------------------------------------------------- agreement with the specs
@pytest.mark.parametrize(
    ("hub", "src", "dst", "index", "typ", "status"),
    [
        ("hub1", "hub1:a:0x" + "11" * 20, "hub1:b:svc", 1, 0, 0),
        ("h", "h:é:x", "h:c:ÿ", 2**64 - 1, 3, 5),
    ],
)
def test_broker_digest_matches_relay_signed_digest(
    hub: str, src: str, dst: str, index: int, typ: int, status: int
) -> None:
    payload = Payload("" if typ else "f", (b"\x00", b"x" * 70), False)
    ibtp = IBTP(src=src, dst=dst, index=index, type=IBTPType(typ), payload=payload)
    from appchains.evm.devchain.broker import compute_payload_hash as native_payload_hash

    target = dst.split(":")[1]
    ours = compute_relay_digest(
        hub.encode(),
        target.encode(),
        src.encode(),
        dst.encode(),
        index,
        typ,
        native_payload_hash(payload.func.encode(), payload.args),
        status,
    )
    assert ours == compute_signed_digest(hub, target, ibtp, status)


@pytest.mark.parametrize(
    ("artifact", "native"),
    [("Broker", Broker), ("AssetTransfer", AssetTransfer), ("DataSwap", DataSwap)],
)
def test_native_abi_matches_solidity_artifacts(artifact: str, native: type[Any]) -> None:
    path = ARTIFACTS / f"{artifact}.json"
    if not path.exists():
        pytest.skip(f"{path} not built")
    abi = json.loads(path.read_text())["abi"]
    functions = {f.signature: f for f in native.FUNCTIONS.values()}
    for entry in abi:
        if entry["type"] != "function":
            continue
        signature = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
        assert signature in functions, f"{artifact}.{signature} missing from the native contract"
        assert functions[signature].outputs == tuple(o["type"] for o in entry["outputs"]), signature
    solidity = {
        f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"
        for e in abi
        if e["type"] == "function"
    }
    assert set(functions) == solidity
    events = {
        keccak(f"{e['name']}({','.join(i['type'] for i in e['inputs'])})".encode())
        for e in abi
        if e["type"] == "event"
    }
    assert events <= set(SERVICE_TOPICS)
