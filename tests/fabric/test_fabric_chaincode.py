"""The Fabric dev chain's chaincodes (broker, asset, dataswap) on the in-memory test Stub.

Every broker path the EVM broker's tests cover (tests/devchain/test_devchain_broker.py),
with relay signatures over relay.ibtp's own digest (the reference), events decoded with
adapters.fabric.proposal, and the EVM native broker as the reference for failure results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from chaincode_harness import Outcome, World
from cryptography.hazmat.primitives.serialization import Encoding
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from fabric_orgs import ORG1, ORG2, ORG3

from adapters.fabric.proposal import (
    CALLBACK_EVENT,
    INTERCHAIN_EVENT,
    RECEIPT_EVENT,
    CallbackEvent,
    InterchainEvent,
    ReceiptEvent,
    decode_event,
)
from appchains.evm.devchain.broker import compute_failure_result
from appchains.evm.devchain.native import ERROR_SELECTOR
from appchains.fabric.chaincode.asset import AssetChaincode, encode_mint
from appchains.fabric.chaincode.broker import BrokerChaincode
from appchains.fabric.chaincode.codec import (
    Refused,
    Request,
    ServiceAnswer,
    account_of,
    bytes_list_arg,
    uint_arg,
)
from appchains.fabric.chaincode.dataswap import DataSwapChaincode, encode_get
from appchains.fabric.chaincode.relayproof import compute_payload_hash, compute_relay_digest
from appchains.fabric.chaincode.stub import Response, Stub, error, success
from relay.crypto import Account as RelayAccount
from relay.ibtp import IBTP, IBTPType, Payload, compute_signed_digest
from relay.ibtp import compute_payload_hash as relay_payload_hash

HUB, CHAIN = "hub1", "fab1"
OTHER = "hub1:evmB:0x" + "bb" * 20  # a service on another chain
HOSTILE = "hub1:evmB:0x" + "66" * 20  # a service on another chain nobody registered
RELAY_KEYS = [RelayAccount.from_key(bytes([i + 1]) * 32) for i in range(3)]
OUTSIDER = RelayAccount.from_key(b"\x77" * 32)
ALICE, BOB, CAROL = ORG1.client.serialized, ORG2.client.serialized, ORG3.client.serialized
RECIPIENT = "0x" + "cc" * 20
MINT_CAP = 10**6
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def acct(creator: bytes) -> str:
    return "0x" + account_of(creator).hex()


def full(chaincode: str, chain: str = CHAIN) -> str:
    return f"{HUB}:{chain}:{chaincode}"


ASSET, DATASWAP = full("asset"), full("dataswap")


def hexlist(items: Sequence[bytes]) -> str:
    return json.dumps([i.hex() for i in items], separators=(",", ":"))


class Requester:
    """A test service that asks for whatever request its caller describes, and one that
    writes and then fails in every service function."""

    def __init__(self, name: str = "requester", fail: bool = False) -> None:
        self.name, self.fail = name, fail

    def invoke(self, stub: Stub) -> Response:
        func, *args = stub.get_args()
        stub.put_state("touched", func)
        if self.fail:
            return error(f"requester: {func.decode()} failed")
        if func == b"ask":
            to, fn, call_args, timeout, index = args
            request = Request(
                to.decode(),
                fn.decode(),
                tuple(bytes_list_arg(call_args, "args", "t")),
                int(timeout),
                int(index),
            )
            return success(ServiceAnswer(b"asked", request).encode())
        if func == b"raw":
            return success(args[0])
        if func == b"callBroker":
            return stub.invoke_chaincode("broker", list(args))
        return success(b"")


def make_world(chain: str = CHAIN, extra: Sequence[Any] = ()) -> World:
    holders = {account_of(ALICE): 10**9, account_of(BOB): 10**9}
    return World(
        [
            BrokerChaincode(HUB, chain, [bytes.fromhex(a.address[2:]) for a in RELAY_KEYS], 2),
            AssetChaincode(owner=account_of(ALICE), mint_cap=MINT_CAP, holders=holders),
            DataSwapChaincode(),
            *extra,
        ]
    )


def add_counterparts(world: World, *services: str) -> None:
    for service in services:
        out = world.invoke("asset", "setCounterpart", service, "true", creator=ALICE)
        assert out.ok and out.event is not None and out.event[0] == "CounterpartSet"


@pytest.fixture
def world() -> World:
    """A Fabric chain whose asset has the service OTHER as its counterpart."""
    world = make_world(extra=[Requester(), Requester("faulty", fail=True)])
    add_counterparts(world, OTHER)
    return world


# ---------------------------------------------------------------------- helpers
def relay_sign(
    src: str,
    dst: str,
    index: int,
    typ: int,
    payload: Payload,
    status: int,
    signers: Sequence[RelayAccount] | None = None,
    hub: str = HUB,
    target: str = CHAIN,
) -> list[bytes]:
    ibtp = IBTP(src=src, dst=dst, index=index, type=IBTPType(typ), payload=payload)
    digest = compute_signed_digest(hub, target, ibtp, status)
    return [s.sign(digest) for s in (signers if signers is not None else RELAY_KEYS[:2])]


def interchain(
    world: World,
    src: str,
    dst: str,
    index: int,
    func: str,
    args: Sequence[bytes],
    sigs: Sequence[bytes] | None = None,
    **kw: Any,
) -> Outcome:
    if sigs is None:
        sigs = relay_sign(src, dst, index, 0, Payload(func, tuple(args), False), 0, **kw)
    return world.invoke(
        "broker", "invokeInterchain", src, dst, index, func, hexlist(args), hexlist(sigs),
        creator=ALICE,
    )  # fmt: skip


def receipt(
    world: World, src: str, dst: str, index: int, typ: int, result: bytes, status: int, **kw: Any
) -> Outcome:
    payload = Payload("", () if typ == 3 else (result,), False)
    sigs = relay_sign(src, dst, index, typ, payload, status, **kw)
    return world.invoke(
        "broker", "invokeReceipt", src, dst, index, typ, result, status, hexlist(sigs),
        creator=ALICE,
    )  # fmt: skip


def service(world: World, chaincode: str, func: str, *args: Any, creator: bytes = ALICE) -> Outcome:
    return world.invoke("broker", "invokeService", chaincode, func, *args, creator=creator)


def transfer(world: World, amount: int = 500, to: str = OTHER, creator: bytes = ALICE) -> int:
    out = service(world, "asset", "transfer", to, RECIPIENT, amount, 0, creator=creator)
    assert out.ok, out.message
    return int(out.payload)


def event(out: Outcome) -> Any:
    assert out.ok, out.message
    assert out.event is not None
    return decode_event(*out.event)


def counters(world: World, src: str, dst: str) -> tuple[int, ...]:
    return tuple(
        int(world.query("broker", name, src, dst, creator=ALICE))
        for name in ("outCounter", "inCounter", "callbackCounter")
    )


def q(world: World, chaincode: str, func: str, *args: Any) -> bytes:
    return world.query(chaincode, func, *args, creator=ALICE)


def supply(world: World) -> int:
    return int(q(world, "asset", "totalSupply"))


def balance(world: World, account: str) -> int:
    return int(q(world, "asset", "balanceOf", account))


def expect_refused(world: World, do: Callable[[], Outcome], message: str) -> None:
    """An error response with the EVM broker's message; nothing written, no event."""
    before = world.snapshot()
    out = do()
    assert not out.ok and out.response.status == 500
    assert out.message == message
    assert out.event is None and world.snapshot() == before


def mint_arg(recipient: str = RECIPIENT, amount: int = 300) -> bytes:
    return abi_encode(["address", "uint256"], [recipient, amount])


# ---------------------------------------------------------------------- digest
@pytest.mark.parametrize(
    ("hub", "src", "dst", "index", "typ", "status"),
    [
        ("hub1", "hub1:a:0x" + "11" * 20, "hub1:b:svc", 1, 0, 0),
        ("h", "h:é:x", "h:c:ÿ", 2**64 - 1, 3, 5),
        ("hub1", "hub1:fab1:asset", "hub1:evmB:0x" + "bb" * 20, 7, 1, 1),
    ],
)
def test_digest_matches_relay_signed_digest(
    hub: str, src: str, dst: str, index: int, typ: int, status: int
) -> None:
    payload = Payload("" if typ else "fünc", (b"\x00", b"x" * 70), False)
    ibtp = IBTP(src=src, dst=dst, index=index, type=IBTPType(typ), payload=payload)
    target = dst.split(":")[1]
    ours_hash = compute_payload_hash(payload.func, payload.args)
    assert ours_hash == relay_payload_hash(payload)
    ours = compute_relay_digest(hub, target, src, dst, index, typ, ours_hash, status)
    assert ours == compute_signed_digest(hub, target, ibtp, status)


# ---------------------------------------------------------------------- sending
def test_transfer_emits_interchain_event(world: World) -> None:
    out = service(world, "asset", "transfer", OTHER, RECIPIENT, 500, 77)
    assert out.payload == b"1"  # transfer answers the index
    ev = event(out)
    assert out.event is not None and out.event[0] == INTERCHAIN_EVENT
    assert ev == InterchainEvent(
        from_=ASSET,
        to=OTHER,
        index=1,
        func="mint",
        args=(mint_arg(RECIPIENT, 500),),
        encrypted=False,
        timeout=77,
        payload_hash=relay_payload_hash(Payload("mint", (mint_arg(RECIPIENT, 500),), False)),
    )
    assert encode_mint(bytes.fromhex("cc" * 20), 500) == mint_arg(RECIPIENT, 500)
    assert counters(world, ASSET, OTHER) == (1, 0, 0)
    stored = json.loads(q(world, "broker", "outMessage", ASSET, OTHER, 1))
    assert stored == {"args": [mint_arg(RECIPIENT, 500).hex()], "func": "mint", "timeout": 77}
    assert json.loads(q(world, "broker", "outMessage", ASSET, OTHER, 2)) == {
        "args": [],
        "func": "",
        "timeout": 0,
    }
    assert balance(world, acct(ALICE)) == 10**9 - 500
    assert q(world, "asset", "totalLocked") == b"500"
    assert json.loads(q(world, "asset", "lockOf", OTHER, 1)) == {
        "account": acct(ALICE),
        "amount": 500,
    }
    assert [c[1:3] for c in out.calls] == [("asset", "transfer"), ("broker", "invokeService")]
    second = service(world, "asset", "transfer", OTHER, RECIPIENT, 1, 0)
    assert event(second).index == 2 and second.payload == b"2"
    assert counters(world, ASSET, OTHER)[0] == 2


def test_transfer_refusals(world: World) -> None:
    def send(*args: Any, creator: bytes = ALICE) -> Callable[[], Outcome]:
        return lambda: service(world, "asset", "transfer", *args, creator=creator)

    expect_refused(world, send(OTHER, RECIPIENT, 0, 0), "asset: zero amount")
    expect_refused(world, send(OTHER, RECIPIENT, 10**9 + 1, 0), "asset: insufficient balance")
    expect_refused(
        world, send(OTHER, RECIPIENT, 5, 0, creator=CAROL), "asset: insufficient balance"
    )
    for dst in (HOSTILE, OTHER.upper(), ""):
        expect_refused(world, send(dst, RECIPIENT, 5, 0), "asset: destination is not a counterpart")
    expect_refused(world, send(OTHER, "0x1234", 5, 0), "asset: recipient is not a 0x account")
    expect_refused(
        world, send(OTHER, RECIPIENT, "05", 0), "asset: amount is not a decimal integer in range"
    )
    # a transfer invoked directly (not through the broker) would lock without emitting
    expect_refused(
        world,
        lambda: world.invoke("asset", "transfer", OTHER, RECIPIENT, 5, 0, creator=ALICE),
        "asset: transfer goes through broker.invokeService",
    )
    assert q(world, "asset", "totalLocked") == b"0"


def test_invoke_service_refusals(world: World) -> None:
    expect_refused(
        world, lambda: service(world, "broker", "outCounter"), "broker: the broker is not a service"
    )
    for func in ("onInterchain", "onCallback", "onRollback"):
        expect_refused(
            world,
            lambda func=func: service(
                world, "asset", func, OTHER, 1, "mint", hexlist([mint_arg()])
            ),
            f"broker: only the broker calls {func}",
        )
    expect_refused(
        world, lambda: service(world, "a b", "f"), "broker: service is not a chaincode name"
    )
    expect_refused(
        world,
        lambda: world.invoke("broker", "invokeService", "asset", creator=ALICE),
        "broker: invokeService takes a service, a function and its args",
    )
    # the service's own refusal is the transaction's
    expect_refused(world, lambda: service(world, "asset", "nope"), "asset: unknown function")
    # an answer that is not the protocol's
    for raw in (b"", b"1", b'{"request":null,"result":"AA"}', b'{"request": null,"result":""}'):
        expect_refused(
            world,
            lambda raw=raw: service(world, "requester", "raw", raw),
            "broker: the service did not answer a service protocol answer",
        )
    assert service(world, "requester", "raw", b'{"request":null,"result":"0a"}').payload == b"\n"
    # a service that expects another index than the broker's counter
    expect_refused(
        world,
        lambda: service(world, "requester", "ask", OTHER, "f", "[]", 0, 2),
        "broker: the service expects index 2",
    )
    # a chaincode may not invoke the broker: its event would be dropped
    for function in ("invokeService", "invokeInterchain", "invokeReceipt"):
        expect_refused(
            world,
            lambda function=function: world.invoke(
                "requester", "callBroker", function, "asset", "balanceOf", RECIPIENT, creator=ALICE
            ),
            "broker: only a client may invoke the broker",
        )
    # ...but may read its views
    assert (
        world.invoke("requester", "callBroker", "outCounter", "a", "b", creator=ALICE).payload
        == b"0"
    )


def test_emit_to_a_service_on_this_chain_is_refused(world: World) -> None:
    expect_refused(
        world,
        lambda: service(world, "dataswap", "get", DATASWAP, "k", 0),
        "broker: to is on this chain",
    )
    add_counterparts(world, DATASWAP)
    expect_refused(
        world,
        lambda: service(world, "asset", "transfer", DATASWAP, RECIPIENT, 5, 0),
        "broker: to is on this chain",
    )


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
        ("hub1:evmB:svc", "f\n", [], "broker: func is not 0-128 printable ASCII characters"),
        ("hub1:evmB:svc", "f", [b""] * 33, "broker: at most 32 args of at most 32768 bytes"),
        ("hub1:evmB:svc", "f", [b"x" * 32769], "broker: at most 32 args of at most 32768 bytes"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_emit_refuses_what_no_ibtp_can_carry(
    world: World, to: str, func: str, args: list[bytes], reason: str
) -> None:
    expect_refused(
        world, lambda: service(world, "requester", "ask", to, func, hexlist(args), 0, 1), reason
    )
    ok = service(
        world,
        "requester",
        "ask",
        "hub1:evmB:" + "s" * 128,
        "f" * 128,
        hexlist([b"x" * 32768] * 32),
        0,
        1,
    )
    assert ok.ok and ok.payload == b"asked"  # the limits themselves are allowed
    ev = event(ok)
    assert ev.from_ == full("requester") and ev.index == 1 and len(ev.args) == 32


# ---------------------------------------------------------------------- receiving
def test_invoke_interchain_mints_and_emits_receipt(world: World) -> None:
    before = supply(world)
    out = interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])
    assert out.event is not None and out.event[0] == RECEIPT_EVENT
    assert event(out) == ReceiptEvent(
        from_=OTHER,
        to=ASSET,
        index=1,
        typ=1,
        result=mint_arg(),  # onInterchain returns abi.encode(recipient, amount)
        payload_hash=relay_payload_hash(Payload("", (mint_arg(),), False)),
    )
    assert balance(world, RECIPIENT) == 300 and supply(world) == before + 300
    assert counters(world, OTHER, ASSET) == (0, 1, 0)
    stored = json.loads(q(world, "broker", "receiptMessage", OTHER, ASSET, 1))
    assert stored == {"result": mint_arg().hex(), "typ": 1}
    assert json.loads(q(world, "broker", "receiptMessage", OTHER, ASSET, 2)) == {
        "result": "",
        "typ": 0,
    }
    assert [c for c in out.calls] == [
        ("broker", "asset", "onInterchain", True),
        (None, "broker", "invokeInterchain", True),
    ]


@pytest.mark.parametrize(
    ("signers", "message"),
    [
        ([OUTSIDER, RELAY_KEYS[0]], "broker: unregistered relay signer"),
        ([RELAY_KEYS[0], OUTSIDER, RELAY_KEYS[1]], "broker: unregistered relay signer"),
        ([RELAY_KEYS[0]], "broker: relay signatures below threshold"),
        ([RELAY_KEYS[0], RELAY_KEYS[0]], "broker: relay signatures below threshold"),
        ([], "broker: relay signatures below threshold"),
    ],
)
def test_invoke_interchain_refuses_bad_relay_proofs(
    world: World, signers: list[RelayAccount], message: str
) -> None:
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()], signers=signers),
        message,
    )
    assert counters(world, OTHER, ASSET) == (0, 0, 0)
    assert balance(world, RECIPIENT) == 0


def test_invoke_interchain_refuses_signatures_over_other_fields(world: World) -> None:
    good = Payload("mint", (mint_arg(),), False)
    cases = {
        "other hub": relay_sign(OTHER, ASSET, 1, 0, good, 0, hub="hub2"),
        "other amount": relay_sign(
            OTHER, ASSET, 1, 0, Payload("mint", (mint_arg(amount=301),), False), 0
        ),
        "other status": relay_sign(OTHER, ASSET, 1, 0, good, 1),
        "other index": relay_sign(OTHER, ASSET, 2, 0, good, 0),
        "other chain": relay_sign(OTHER, ASSET, 1, 0, good, 0, target="evmB"),
        "other type": relay_sign(OTHER, ASSET, 1, 1, good, 0),
    }
    for sigs in cases.values():
        expect_refused(
            world,
            lambda sigs=sigs: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()], sigs),
            "broker: unregistered relay signer",
        )
    sigs = relay_sign(OTHER, ASSET, 1, 0, good, 0)
    s = int.from_bytes(sigs[0][32:64], "big")
    high_s = sigs[0][:32] + (N - s).to_bytes(32, "big") + bytes([55 - sigs[0][64]])
    zero_r = b"\x00" * 32 + sigs[0][32:]
    for bad in (
        sigs[0][:64],
        sigs[0] + b"\x00",
        sigs[0][:64] + b"\x01",
        high_s,
        zero_r,
        b"\x00" * 65,
    ):
        expect_refused(
            world,
            lambda bad=bad: interchain(
                world, OTHER, ASSET, 1, "mint", [mint_arg()], [bad, sigs[1]]
            ),
            "broker: malformed relay signature",
        )
    # a malformed signature refuses the proof even when a quorum is also present
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()], [*sigs, high_s]),
        "broker: malformed relay signature",
    )
    # the good proof still works afterwards, and extra valid signatures are fine
    all_sigs = relay_sign(OTHER, ASSET, 1, 0, good, 0, signers=RELAY_KEYS)
    assert interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()], all_sigs).ok


def test_invoke_interchain_index_and_destination_checks(world: World) -> None:
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 2, "mint", [mint_arg()]),
        "broker: index out of order",
    )
    assert interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()]).ok
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()]),
        "broker: index out of order",
    )
    for not_local in (
        f"{HUB}:evmB:asset",
        f"hub2:{CHAIN}:asset",
        f"{HUB}:{CHAIN}:as set",
        f"{HUB}:{CHAIN}:asset:x",
        f"{HUB}:{CHAIN}:",
        f"{HUB}:{CHAIN}:" + "a" * 129,
    ):
        expect_refused(
            world,
            lambda dst=not_local: interchain(world, OTHER, dst, 1, "mint", [mint_arg()]),
            "broker: to is not a local service",
        )


def test_argument_encodings_are_strict(world: World) -> None:
    sigs = relay_sign(OTHER, ASSET, 1, 0, Payload("mint", (mint_arg(),), False), 0)

    def call(index: Any = 1, args: Any = None, signatures: Any = None) -> Callable[[], Outcome]:
        return lambda: world.invoke(
            "broker", "invokeInterchain", OTHER, ASSET, index, "mint",
            hexlist([mint_arg()]) if args is None else args,
            hexlist(sigs) if signatures is None else signatures,
            creator=ALICE,
        )  # fmt: skip

    for index in ("01", "-1", "+1", " 1", "1 ", "", "0x1", str(2**64), "1.0", "\u0661"):
        expect_refused(world, call(index=index), "broker: index is not a decimal integer in range")
    bad_lists = [
        "[ ]",
        '["AA"]',
        '["0x00"]',
        '["0"]',
        "[1]",
        '"00"',
        "{}",
        '["00" ]',
        '["00",]',
        "\xff",
    ]
    for bad in bad_lists:
        expect_refused(
            world, call(args=bad), "broker: args is not a JSON array of lowercase hex strings"
        )
        expect_refused(
            world,
            call(signatures=bad),
            "broker: signatures is not a JSON array of lowercase hex strings",
        )
    expect_refused(
        world,
        lambda: world.invoke("broker", "invokeInterchain", OTHER, ASSET, 1, creator=ALICE),
        "broker: expected 6 arguments, got 3",
    )
    expect_refused(
        world,
        lambda: world.invoke(
            "broker", "invokeInterchain", b"\xff", ASSET, 1, "f", "[]", "[]", creator=ALICE
        ),
        "broker: from is not UTF-8 text",
    )
    expect_refused(
        world, lambda: world.invoke("broker", "nope", creator=ALICE), "broker: unknown function"
    )
    assert call()().ok
    assert (
        uint_arg(b"0", "x", "t") == 0 and uint_arg(str(2**64 - 1).encode(), "x", "t") == 2**64 - 1
    )
    with pytest.raises(Refused):
        uint_arg(b"1" * 5000, "x", "t")


@pytest.mark.parametrize(
    ("func", "args", "result"),
    [
        ("mint", [mint_arg(amount=MINT_CAP + 1)], "asset: amount above mint cap"),
        ("mint", [mint_arg(recipient="0x" + "00" * 20)], "asset: mint to the zero address"),
        ("burn", [mint_arg()], "asset: unknown function"),
        ("mint", [mint_arg(), mint_arg()], "asset: mint takes one argument"),
        ("mint", [b"\x01\x02"], ""),  # abi.decode failure: empty revert data
    ],
)
def test_failing_service_gives_receipt_typ_2(
    world: World, func: str, args: list[bytes], result: str
) -> None:
    before = supply(world)
    out = interchain(world, OTHER, ASSET, 1, func, args)
    ev = event(out)
    assert (ev.from_, ev.to, ev.index, ev.typ) == (OTHER, ASSET, 1, 2)
    assert ev.result == result.encode()
    # the EVM broker records the same bytes for the same revert
    revert = ERROR_SELECTOR + abi_encode(["string"], [result]) if result else b""
    assert compute_failure_result(revert) == ev.result
    assert ev.payload_hash == relay_payload_hash(Payload("", (ev.result,), False))
    assert supply(world) == before and balance(world, RECIPIENT) == 0
    assert counters(world, OTHER, ASSET) == (0, 1, 0)
    assert json.loads(q(world, "broker", "receiptMessage", OTHER, ASSET, 1))["typ"] == 2


def test_a_failing_service_leaves_no_writes(world: World) -> None:
    faulty = full("faulty")
    out = interchain(world, OTHER, faulty, 1, "f", [])
    assert event(out).typ == 2 and event(out).result == b"requester: onInterchain failed"
    assert "touched" not in world.state["faulty"]  # its write was discarded
    assert counters(world, OTHER, faulty) == (0, 1, 0)  # the broker's own writes stay
    ok = interchain(world, OTHER, full("requester"), 1, "f", [])
    assert event(ok).typ == 1 and world.state["requester"]["touched"] == b"onInterchain"


def test_service_without_code(world: World) -> None:
    for name in ("nochaincode", "broker"):
        out = interchain(world, OTHER, full(name), 1, "mint", [mint_arg()])
        assert (event(out).typ, event(out).result) == (2, b"no service code")
        assert counters(world, OTHER, full(name)) == (0, 1, 0)


# ---------------------------------------------------------------------- counterparts
def test_owner_manages_counterparts() -> None:
    world = make_world()
    assert q(world, "asset", "owner").decode() == acct(ALICE)
    assert q(world, "asset", "isCounterpart", OTHER) == b"false"  # genesis: none
    expect_refused(
        world,
        lambda: world.invoke("asset", "setCounterpart", OTHER, "true", creator=BOB),
        "asset: only the owner",
    )
    out = world.invoke("asset", "setCounterpart", OTHER, "true", creator=ALICE)
    assert out.event == ("CounterpartSet", b'{"allowed":true,"service":"%s"}' % OTHER.encode())
    assert q(world, "asset", "isCounterpart", OTHER) == b"true"
    for other in (OTHER.upper(), OTHER.replace("evmB", "evmC"), HOSTILE):
        assert q(world, "asset", "isCounterpart", other) == b"false"
    # through the broker it works too, but the service's event is dropped: the broker's only
    out = service(world, "asset", "setCounterpart", OTHER, "false")
    assert out.ok and out.event is None and out.payload == b""
    assert q(world, "asset", "isCounterpart", OTHER) == b"false"
    expect_refused(
        world,
        lambda: world.invoke("asset", "setCounterpart", OTHER, "yes", creator=ALICE),
        "asset: allowed is not true or false",
    )


def test_mint_from_a_service_that_is_not_a_counterpart_fails(world: World) -> None:
    before = supply(world)
    for src in (HOSTILE, "hub1:evmB:0x" + "11" * 20, OTHER.upper()):
        out = interchain(world, src, ASSET, 1, "mint", [mint_arg(amount=500_000)])
        ev = event(out)
        assert (ev.from_, ev.to, ev.index, ev.typ, ev.result) == (
            src,
            ASSET,
            1,
            2,
            b"asset: source is not a counterpart",
        )
        assert counters(world, src, ASSET) == (0, 1, 0)  # the index is consumed
    assert supply(world) == before and balance(world, RECIPIENT) == 0
    assert event(interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])).typ == 1
    assert supply(world) == before + 300


def test_removed_counterpart_cannot_mint_but_its_calls_settle(world: World) -> None:
    index = transfer(world, 70)  # sent while OTHER was a counterpart
    assert event(interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])).typ == 1
    world.invoke("asset", "setCounterpart", OTHER, "false", creator=ALICE)
    before = supply(world)
    assert event(interchain(world, OTHER, ASSET, 2, "mint", [mint_arg()])).typ == 2
    assert supply(world) == before
    expect_refused(
        world,
        lambda: service(world, "asset", "transfer", OTHER, RECIPIENT, 5, 0),
        "asset: destination is not a counterpart",
    )
    assert receipt(world, ASSET, OTHER, index, 1, b"ok", 1).ok
    assert receipt(world, OTHER, ASSET, 1, 3, b"", 5).ok  # executed: changes nothing
    assert supply(world) == before - 70


# ---------------------------------------------------------------------- receipts, source side
def test_receipt_success_burns_lock(world: World) -> None:
    index = transfer(world)
    before = supply(world)
    out = receipt(world, ASSET, OTHER, index, 1, b"ok", 1)
    assert out.event is not None and out.event[0] == CALLBACK_EVENT
    assert event(out) == CallbackEvent(ASSET, OTHER, index, 1)
    assert [c[1:] for c in out.calls] == [
        ("asset", "onCallback", True),
        ("broker", "invokeReceipt", True),
    ]
    assert supply(world) == before - 500
    assert q(world, "asset", "totalLocked") == b"0"
    assert counters(world, ASSET, OTHER) == (1, 0, 1)
    for typ, status in ((1, 1), (3, 5)):
        expect_refused(
            world,
            lambda typ=typ, status=status: receipt(
                world, ASSET, OTHER, index, typ, b"ok" if typ == 1 else b"", status
            ),
            "broker: receipt already processed",
        )


@pytest.mark.parametrize(("typ", "status"), [(2, 2), (3, 5), (3, 4)])
def test_receipt_failure_or_rollback_returns_lock(world: World, typ: int, status: int) -> None:
    index = transfer(world)
    result = b"asset: amount above mint cap" if typ == 2 else b""
    out = receipt(world, ASSET, OTHER, index, typ, result, status)
    assert event(out) == CallbackEvent(ASSET, OTHER, index, typ)
    expected = [("asset", "onCallback", True)] if typ == 2 else []
    assert [c[1:] for c in out.calls] == [
        *expected,
        ("asset", "onRollback", True),
        ("broker", "invokeReceipt", True),
    ]
    assert balance(world, acct(ALICE)) == 10**9
    assert json.loads(q(world, "asset", "lockOf", OTHER, index))["amount"] == 0
    assert counters(world, ASSET, OTHER) == (1, 0, 1)


def test_receipt_refusals(world: World) -> None:
    index = transfer(world)
    cases: list[tuple[Callable[[], Outcome], str]] = [
        (
            lambda: receipt(world, ASSET, OTHER, index, 1, b"", 2),
            "broker: status does not match type",
        ),
        (
            lambda: receipt(world, ASSET, OTHER, index, 2, b"", 1),
            "broker: status does not match type",
        ),
        (
            lambda: receipt(world, ASSET, OTHER, index, 3, b"", 0),
            "broker: status does not match type",
        ),
        (
            lambda: receipt(world, ASSET, OTHER, index, 3, b"x", 5),
            "broker: rollback carries no result",
        ),
        (lambda: receipt(world, ASSET, OTHER, 0, 1, b"", 1), "broker: unknown index"),
        (lambda: receipt(world, ASSET, OTHER, index + 1, 1, b"", 1), "broker: unknown index"),
        (
            lambda: receipt(world, OTHER, "hub1:evmC:0x" + "dd" * 20, 1, 3, b"", 5),
            "broker: neither side is local",
        ),
        (lambda: receipt(world, OTHER, ASSET, 1, 1, b"", 1), "broker: neither side is local"),
        (
            lambda: receipt(world, ASSET, OTHER, index, 1, b"", 1, signers=[RELAY_KEYS[2]]),
            "broker: relay signatures below threshold",
        ),
        (
            lambda: world.invoke(
                "broker", "invokeReceipt", ASSET, OTHER, index, 0, b"", 0, "[]", creator=ALICE
            ),
            "broker: bad receipt type",
        ),
        (
            lambda: world.invoke(
                "broker", "invokeReceipt", ASSET, OTHER, index, 256, b"", 0, "[]", creator=ALICE
            ),
            "broker: typ is not a decimal integer in range",
        ),
    ]
    for do, message in cases:
        expect_refused(world, do, message)
    assert counters(world, ASSET, OTHER) == (1, 0, 0)


# ---------------------------------------------------------------------- rollbacks, destination side
def test_a_notice_after_the_mint_changes_nothing(world: World) -> None:
    """A destination never undoes (docs/protocol.md §3): a timeout notice for an index it
    executed is taken with no undo, no refusal and no event — its receipt stands — and
    again when it is delivered twice."""
    before = supply(world)
    interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])
    snapshot = world.snapshot()
    for status in (5, 5):
        out = receipt(world, OTHER, ASSET, 1, 3, b"", status)
        assert out.ok and out.event is None
        assert [c[1:] for c in out.calls] == [("broker", "invokeReceipt", True)]
        assert world.snapshot() == snapshot
    assert supply(world) == before + 300 and balance(world, RECIPIENT) == 300
    assert counters(world, OTHER, ASSET) == (0, 1, 0)
    assert q(world, "broker", "messageTx", "rollback", OTHER, ASSET, 1) == b""


def test_destination_rollback_before_delivery_consumes_the_index(world: World) -> None:
    out = receipt(world, OTHER, ASSET, 1, 3, b"", 5)
    assert event(out) == CallbackEvent(OTHER, ASSET, 1, 3)
    assert [c[1:] for c in out.calls] == [("broker", "invokeReceipt", True)]  # no service call
    assert counters(world, OTHER, ASSET) == (0, 1, 0)
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()]),
        "broker: index out of order",
    )
    assert balance(world, RECIPIENT) == 0
    assert event(interchain(world, OTHER, ASSET, 2, "mint", [mint_arg()])).typ == 1
    assert counters(world, OTHER, ASSET) == (0, 2, 0)


@pytest.mark.parametrize("status", [4, 5])
def test_notices_ahead_of_the_counter_are_skipped_in_order(world: World, status: int) -> None:
    for index in (3, 4):
        assert receipt(world, OTHER, ASSET, index, 3, b"", status).ok
    assert counters(world, OTHER, ASSET) == (0, 0, 0)  # 1 and 2 come first
    interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])
    assert counters(world, OTHER, ASSET) == (0, 1, 0)
    interchain(world, OTHER, ASSET, 2, "mint", [mint_arg()])
    assert counters(world, OTHER, ASSET) == (0, 4, 0)  # past 3 and 4
    for index in (3, 4):
        expect_refused(
            world,
            lambda index=index: interchain(world, OTHER, ASSET, index, "mint", [mint_arg()]),
            "broker: index out of order",
        )
    assert event(interchain(world, OTHER, ASSET, 5, "mint", [mint_arg()])).typ == 1
    assert balance(world, RECIPIENT) == 3 * 300  # indices 1, 2 and 5


def test_a_proof_addressed_to_another_chain_is_refused(world: World) -> None:
    for status in (4, 5):
        expect_refused(
            world,
            lambda status=status: receipt(world, OTHER, ASSET, 1, 3, b"", status, target="evmB"),
            "broker: unregistered relay signer",
        )
    expect_refused(
        world,
        lambda: interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()], target="evmB"),
        "broker: unregistered relay signer",
    )
    assert counters(world, OTHER, ASSET) == (0, 0, 0)


def test_a_notice_for_no_possible_service_is_taken(world: World) -> None:
    junk = f"{HUB}:{CHAIN}:no service!"
    out = receipt(world, OTHER, junk, 1, 3, b"", 4)
    assert event(out) == CallbackEvent(OTHER, junk, 1, 3)
    assert counters(world, OTHER, junk) == (0, 1, 0)
    expect_refused(
        world,
        lambda: receipt(world, OTHER, junk, 1, 3, b"", 4),
        "broker: receipt already processed",
    )


def test_a_notice_after_a_failed_call_changes_nothing(world: World) -> None:
    interchain(world, OTHER, ASSET, 1, "mint", [mint_arg(amount=MINT_CAP + 1)])
    snapshot = world.snapshot()
    out = receipt(world, OTHER, ASSET, 1, 3, b"", 5)
    assert out.ok and out.event is None and [c[1] for c in out.calls] == ["broker"]
    assert world.snapshot() == snapshot


def test_a_spent_mint_is_never_taken_back(world: World) -> None:
    """The timeout race: the recipient spends what was minted before the notice comes;
    the notice changes nothing (the EVM broker's onInterchainRollback would have failed
    here for good, and the source's refund would have created the value twice)."""
    spender = acct(BOB)
    interchain(world, OTHER, ASSET, 1, "mint", [mint_arg(spender, 300)])
    assert transfer(world, 10**9 + 300, creator=BOB) == 1  # all of it, the mint included
    out = receipt(world, OTHER, ASSET, 1, 3, b"", 5)
    assert out.ok and out.event is None
    assert balance(world, spender) == 0


def test_failing_callback_fails_the_whole_receipt(world: World) -> None:
    assert service(world, "requester", "ask", OTHER, "f", "[]", 0, 1).ok
    # swap the requester for one that fails: its callback refuses, so does the receipt
    world.chaincodes["requester"] = Requester(fail=True)
    expect_refused(
        world,
        lambda: receipt(world, full("requester"), OTHER, 1, 1, b"r", 1),
        "requester: onCallback failed",
    )
    world.chaincodes["requester"] = Requester()
    assert event(receipt(world, full("requester"), OTHER, 1, 1, b"r", 1)).typ == 1


# ---------------------------------------------------------------------- DataSwap
def test_dataswap_both_sides(world: World) -> None:
    out = world.invoke("dataswap", "set", "color", b"blue", creator=BOB)
    assert out.event == (
        "ValueSet",
        b'{"key":"%s","value":"%s"}' % (b"color".hex().encode(), b"blue".hex().encode()),
    )
    assert json.loads(q(world, "dataswap", "valueOf", "color")) == {
        "known": True,
        "value": b"blue".hex(),
    }
    assert json.loads(q(world, "dataswap", "valueOf", "size")) == {"known": False, "value": ""}
    # destination side: a remote service asks for "color", then for an unknown key
    get_arg = abi_encode(["string"], ["color"])
    assert get_arg == encode_get(b"color")
    ev = event(interchain(world, OTHER, DATASWAP, 1, "get", [get_arg]))
    assert (ev.typ, ev.result) == (1, b"blue")
    ev = event(interchain(world, OTHER, DATASWAP, 2, "get", [abi_encode(["string"], ["size"])]))
    assert (ev.typ, ev.result) == (2, b"dataswap: unknown key")
    ev = event(interchain(world, OTHER, DATASWAP, 3, "put", [get_arg]))
    assert (ev.typ, ev.result) == (2, b"dataswap: unknown function")
    ev = event(interchain(world, OTHER, DATASWAP, 4, "get", [b"\x00"]))
    assert (ev.typ, ev.result) == (2, b"")
    # source side: ask a remote DataSwap and receive the answer
    out = service(world, "dataswap", "get", OTHER, "height", 9)
    assert out.payload == b"1"
    ev = event(out)
    assert (ev.from_, ev.to, ev.index, ev.func, ev.args, ev.timeout) == (
        DATASWAP,
        OTHER,
        1,
        "get",
        (abi_encode(["string"], ["height"]),),
        9,
    )
    expect_refused(
        world,
        lambda: world.invoke("dataswap", "get", OTHER, "height", 9, creator=ALICE),
        "dataswap: get goes through broker.invokeService",
    )
    out = receipt(world, DATASWAP, OTHER, 1, 1, b"42m", 1)
    assert event(out) == CallbackEvent(DATASWAP, OTHER, 1, 1)
    assert q(world, "dataswap", "fetched", OTHER, "height") == b"42m"
    # a failed get stores nothing and clears the pending request
    assert service(world, "dataswap", "get", OTHER, "depth", 0).payload == b"2"
    assert receipt(world, DATASWAP, OTHER, 2, 2, b"dataswap: unknown key", 2).ok
    assert q(world, "dataswap", "fetched", OTHER, "depth") == b""
    assert not any("pending" in k for k in world.state["dataswap"])


# ---------------------------------------------------------------------- calls that are not allowed
def test_only_the_broker_calls_the_service_interface(world: World) -> None:
    for chaincode in ("asset", "dataswap"):
        for func, args in (
            ("onRollback", (OTHER, 1)),
            ("onCallback", (OTHER, 1, "true", b"")),
            ("onInterchain", (OTHER, 1, "mint", hexlist([mint_arg()]))),
        ):
            expect_refused(
                world,
                lambda c=chaincode, f=func, a=args: world.invoke(c, f, *a, creator=ALICE),
                f"{chaincode}: only the broker",
            )
    # nor may another chaincode (its caller is not the broker)
    world.chaincodes["relay"] = Proxy()
    expect_refused(
        world,
        lambda: world.invoke("relay", "forward", "asset", "onRollback", OTHER, 1, creator=ALICE),
        "asset: only the broker",
    )
    expect_refused(
        world, lambda: world.invoke("asset", "burn", creator=ALICE), "asset: unknown function"
    )
    expect_refused(
        world, lambda: world.invoke("asset", "", creator=ALICE), "asset: unknown function"
    )


class Proxy:
    name = "relay"

    def invoke(self, stub: Stub) -> Response:
        _f, target, *args = stub.get_args()
        return stub.invoke_chaincode(target.decode(), args)


def test_relay_validators_view(world: World) -> None:
    view = json.loads(q(world, "broker", "relayValidators"))
    assert view == {"threshold": 2, "validators": [a.address for a in RELAY_KEYS]}


def test_broker_parameters_are_checked() -> None:
    v = [bytes([i]) * 20 for i in range(1, 4)]
    for args, message in (
        (("h b", "c", v, 1), "bad hub id"),
        (("h", "", v, 1), "bad chain id"),
        (("h", "c", [], 1), "1 to 256 relay validators"),
        (("h", "c", v, 4), "threshold out of range"),
        (("h", "c", [*v, v[0]], 1), "duplicate relay validator"),
        (("h", "c", [b"\x00" * 20], 1), "zero relay validator"),
        (("h", "c", [b"\x01" * 19], 1), "20-byte address"),
    ):
        with pytest.raises(ValueError, match=message):
            BrokerChaincode(*args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- identities
def test_account_is_sha256_of_msp_id_and_certificate() -> None:
    for member in (ORG1.client, ORG2.client, ORG1.admin):
        der = member.certificate.public_bytes(Encoding.DER)
        expected = hashlib.sha256(member.msp_id.encode() + b"\x00" + der).digest()[12:]
        assert account_of(member.serialized) == expected
    assert len({account_of(c) for c in (ALICE, BOB, CAROL)}) == 3
    world = make_world()
    assert q(world, "asset", "accountOf").decode() == acct(ALICE)
    for bad in (b"\xff\xff", b"\x0a\x03Org\x12\x03abc"):
        with pytest.raises(Refused):
            account_of(bad)


def test_service_answer_is_canonical() -> None:
    answer = ServiceAnswer(b"\x01", Request("hub1:b:s", "f", (b"", b"\xff"), 3, 9))
    data = answer.encode()
    assert data == (
        b'{"request":{"args":["","ff"],"func":"f","index":9,"timeout":3,"to":"hub1:b:s"},"result":"01"}'
    )
    assert ServiceAnswer.decode(data) == answer
    assert ServiceAnswer.decode(ServiceAnswer().encode()) == ServiceAnswer()
    for bad in (
        data.replace(b'"index":9', b'"index":9.0'),
        data.replace(b'"index":9', b'"index":-9'),
        data.replace(b'"index":9', b'"index":true'),
        data.replace(b'"ff"', b'"FF"'),
        data.replace(b"{", b"{ ", 1),
        data.replace(b'"result":"01"', b'"result":"01","x":1'),
        b'{"request":[],"result":""}',
        b"null",
    ):
        with pytest.raises(Refused):
            ServiceAnswer.decode(bad)


def test_views_through_the_broker_answer_the_service_result() -> None:
    world = make_world()
    assert q(world, "asset", "totalSupply") == b"2000000000"
    out = service(world, "asset", "totalSupply")
    assert out.ok and out.payload == b"2000000000" and out.event is None
    assert service(world, "asset", "mintCap").payload == str(MINT_CAP).encode()
    assert service(world, "dataswap", "broker").payload == b"broker"


# ---------------------------------------------------------------------- two chains: supply
def test_supply_conserved_across_two_chains() -> None:
    a, b = make_world("fabA"), make_world("fabB")
    a_asset, b_asset = full("asset", "fabA"), full("asset", "fabB")
    add_counterparts(a, b_asset)
    add_counterparts(b, a_asset)
    total = supply(a) + supply(b)
    bob = acct(BOB)
    outcomes = ["success", "fail", "timeout-after-mint", "timeout-before-mint", "success"]
    for index, outcome in enumerate(outcomes, start=1):
        amount = MINT_CAP + 5 if outcome == "fail" else 100 * index
        sent = service(a, "asset", "transfer", b_asset, bob, amount, 0)
        assert sent.payload == str(index).encode()
        request = event(sent)

        def deliver(index: int = index, args: Sequence[bytes] = request.args) -> Outcome:
            return interchain(b, a_asset, b_asset, index, "mint", list(args), target="fabB")

        if outcome == "timeout-before-mint":
            # the rollback notice reaches B first: it consumes the index, nothing is minted
            assert receipt(b, a_asset, b_asset, index, 3, b"", 5, target="fabB").ok
            assert receipt(a, a_asset, b_asset, index, 3, b"", 5, target="fabA").ok
            expect_refused(b, deliver, "broker: index out of order")
            continue
        delivered = event(deliver())
        if outcome == "timeout-after-mint":
            # B executed it: the notice changes nothing there, and its receipt (late)
            # settles the transfer as a success on A — A is never told to roll back.
            assert receipt(b, a_asset, b_asset, index, 3, b"", 5, target="fabB").event is None
            typ = delivered.typ
            assert receipt(a, a_asset, b_asset, index, typ, delivered.result, typ, target="fabA").ok
        else:
            assert delivered.typ == (1 if outcome == "success" else 2)
            typ = delivered.typ
            assert receipt(a, a_asset, b_asset, index, typ, delivered.result, typ, target="fabA").ok
    assert supply(a) + supply(b) == total
    assert q(a, "asset", "totalLocked") == b"0"
    assert counters(a, a_asset, b_asset) == (5, 0, 5)
    assert counters(b, a_asset, b_asset) == (0, 5, 0)
    # B's Bob received the two successful transfers and the late one: 100 + 300 + 500
    assert balance(b, bob) == 10**9 + 900 and balance(a, bob) == 10**9
    assert abi_decode(["address", "uint256"], delivered.result)[1] == 500


# ---------------------------------------------------------------------- a client's own calls
def last_tx(world: World) -> str:
    """The ID the harness gave the last transaction (``tx`` + its height)."""
    return f"tx{world.height:08d}"


def test_a_client_emits_in_its_own_name(world: World) -> None:
    """emitInterchain: from = hub:chain:<the creator's account>, as an EVM account's
    emitInterchain; the index comes back in decimal."""
    sender = full(acct(BOB))
    out = world.invoke(
        "broker", "emitInterchain", OTHER, "ping", hexlist([b"a", b""]), 9, creator=BOB
    )
    assert out.ok and out.payload == b"1"
    assert event(out) == InterchainEvent(
        from_=sender,
        to=OTHER,
        index=1,
        func="ping",
        args=(b"a", b""),
        encrypted=False,
        timeout=9,
        payload_hash=compute_payload_hash("ping", [b"a", b""]),
    )
    again = world.invoke("broker", "emitInterchain", OTHER, "ping", "[]", 0, creator=BOB)
    assert again.payload == b"2" and counters(world, sender, OTHER) == (2, 0, 0)
    expect_refused(
        world,
        lambda: world.invoke("broker", "emitInterchain", ASSET, "f", "[]", 0, creator=BOB),
        "broker: to is on this chain",
    )


def test_a_clients_receipts_and_rollbacks_call_no_service(world: World) -> None:
    """The source of a client's call is an account: its receipt, failure and rollback
    are recorded (counter, CallbackEvent) with no service to call back."""
    sender = full(acct(BOB))
    for _ in range(3):
        world.invoke("broker", "emitInterchain", OTHER, "ping", "[]", 0, creator=BOB)
    for index, typ, result, status in ((1, 1, b"pong", 1), (2, 2, b"no", 2), (3, 3, b"", 5)):
        out = receipt(world, sender, OTHER, index, typ, result, status)
        assert event(out) == CallbackEvent(sender, OTHER, index, typ)
    assert counters(world, sender, OTHER) == (3, 0, 3)


def test_message_tx_finds_each_message(world: World) -> None:
    """messageTx(slot, from, to, index): the transaction of the request, the receipt and
    a source rollback; empty for what the broker did not emit."""
    index = transfer(world)
    sent_tx = last_tx(world)
    got = interchain(world, OTHER, ASSET, 1, "mint", [mint_arg()])
    receipt_tx = last_tx(world)
    assert got.ok
    receipt(world, ASSET, OTHER, index, 3, b"", 5)
    rollback_tx = last_tx(world)
    assert q(world, "broker", "messageTx", "request", ASSET, OTHER, index).decode() == sent_tx
    assert q(world, "broker", "messageTx", "receipt", OTHER, ASSET, 1).decode() == receipt_tx
    assert q(world, "broker", "messageTx", "rollback", ASSET, OTHER, index).decode() == rollback_tx
    assert q(world, "broker", "messageTx", "receipt", ASSET, OTHER, index) == b""
    assert len({sent_tx, receipt_tx, rollback_tx}) == 3
    out = world.invoke("broker", "messageTx", "other", ASSET, OTHER, 1, creator=ALICE)
    assert not out.ok and out.message == "broker: slot is request, receipt or rollback"
