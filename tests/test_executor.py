"""The state transition function, pure: ``Executor`` on ``StateView(MemoryReader(),
[Layer()])``, no trio, no I/O.

Every refusal goes through ``Harness.refuse``, which checks the error code and that
the state (committed data and every layer write, compared deeply) did not change.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from relayfix import HUB, SERVICES, Harness, World, account, replace_ibtp, sid

from relay.crypto import Address
from relay.errors import Code, RelayError
from relay.executor import decode_outbound
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_ibtp_hash,
    decode_ibtp,
    encode_ibtp,
)
from relay.ledger.types import Transaction, compute_tx_hash, sign_tx

PENDING, ACTIVE, REJECTED = "PENDING", "ACTIVE", "REJECTED"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def h(world: World) -> Harness:
    """A harness with chains A, B, C registered, approved and their services registered."""
    harness = Harness(world)
    harness.setup()
    return harness


@pytest.fixture
def bare(world: World) -> Harness:
    """A harness with nothing registered."""
    return Harness(world)


def record(h: Harness, ibtp: IBTP) -> list[Any]:
    rec = h.get(f"tx/{ibtp.id}")
    assert rec is not None, f"no record for {ibtp.id}"
    return list(rec)


def status(h: Harness, ibtp: IBTP) -> TxStatus:
    return TxStatus(record(h, ibtp)[0])


def pair(h: Harness, src: str, dst: str) -> tuple[int, int]:
    ic, rc = h.get(f"pair/{src}~{dst}", (0, 0))
    return ic, rc


def outbound(h: Harness, chain: str) -> list[tuple[int, IBTP, int]]:
    """The chain's outbound queue as (seq, IBTP, status), checking seqs are 1..n."""
    last = int(h.get(f"outseq/{chain}", 0))
    out = []
    for key, value in h.view.scan(f"out/{chain}/"):
        o = decode_outbound(chain, int(key.rsplit("/", 1)[1], 16), value)
        out.append((o.seq, decode_ibtp(o.ibtp), o.status))
    assert [s for s, _, _ in out] == list(range(1, last + 1))
    return out


def without_accounts(snap: tuple[dict[str, Any], dict[str, Any]]) -> Any:
    return tuple({k: v for k, v in part.items() if not k.startswith("acct/")} for part in snap)


# --- registration ----------------------------------------------------------------


def test_register_then_approve(bare: Harness, world: World) -> None:
    gw = world.gateway("A")
    assert bare.results(world.register_tx("A")) == ["A", PENDING]
    rec = bare.get("chain/A")
    assert rec["status"] == PENDING
    assert rec["family"] == "notary"
    assert rec["gateways"] == [gw.address]
    assert rec["registrar"] == gw.address
    assert rec["trust_roots"] == [[1, world.chains["A"].trust_root()]]
    assert rec["registered_at"] == 1
    bare.next_block()
    assert bare.results(world.approve_tx("A")) == ["A", ACTIVE]
    rec = bare.get("chain/A")
    assert rec["status"] == ACTIVE
    assert rec["history"] == [[PENDING, 1], [ACTIVE, 2]]


def test_register_then_reject(bare: Harness, world: World) -> None:
    bare.apply(world.register_tx("A"))
    assert bare.results(world.admin.tx("chain.reject", {"id": "A"})) == ["A", REJECTED]
    assert bare.get("chain/A")["status"] == REJECTED
    # Decided once: neither approve nor reject again.
    bare.refuse(world.admin.probe("chain.approve", {"id": "A"}), Code.NOT_PENDING)
    bare.refuse(world.admin.probe("chain.reject", {"id": "A"}), Code.NOT_PENDING)
    # A rejected chain is not usable.
    bare.refuse(
        world.gateway("A").probe("service.register", world.service_body("A", "svc")),
        Code.CHAIN_NOT_ACTIVE,
    )


def test_pending_chain_is_not_usable(bare: Harness, world: World) -> None:
    bare.apply(world.register_tx("A"))
    bare.refuse(
        world.gateway("A").probe("service.register", world.service_body("A", "svc")),
        Code.CHAIN_NOT_ACTIVE,
    )
    bare.apply(world.register_tx("B"))
    bare.apply(world.approve_tx("B"))
    # A request from a pending chain is refused, not routed.
    bare.refuse(world.ibtp_probe([world.interchain("A", "B", index=1)]), Code.CHAIN_NOT_ACTIVE)


def test_chain_exists(bare: Harness, world: World) -> None:
    bare.apply(world.register_tx("A"))
    bare.refuse(world.outsider.probe("chain.register", world.register_body("A")), Code.CHAIN_EXISTS)
    bare.refuse(
        world.gateway("A").probe("chain.register", world.register_body("A")), Code.CHAIN_EXISTS
    )


def test_unknown_family(bare: Harness, world: World) -> None:
    err = bare.refuse(
        world.gateway("A").probe("chain.register", world.register_body("A", family="fabric9")),
        Code.UNKNOWN_FAMILY,
    )
    assert "fabric9" in err.message


NOTARY_KEYS = [account(f"notary-A-{i}").address for i in range(3)]


@pytest.mark.parametrize(
    "root",
    [
        pytest.param({"keys": NOTARY_KEYS, "threshold": 0}, id="threshold-0"),
        pytest.param({"keys": NOTARY_KEYS, "threshold": 4}, id="threshold-above-keys"),
        pytest.param({"keys": [NOTARY_KEYS[0]] * 2, "threshold": 1}, id="duplicate-keys"),
        pytest.param({"keys": [], "threshold": 1}, id="no-keys"),
        pytest.param({"keys": ["0x1234"], "threshold": 1}, id="bad-address"),
        pytest.param({"keys": NOTARY_KEYS, "threshold": True}, id="bool-threshold"),
        pytest.param({"keys": NOTARY_KEYS}, id="missing-threshold"),
        pytest.param({"keys": NOTARY_KEYS, "threshold": 1, "x": 1}, id="extra-field"),
        pytest.param([NOTARY_KEYS, 1], id="not-a-map"),
        pytest.param({"keys": NOTARY_KEYS * 22, "threshold": 1}, id="too-many-keys"),
    ],
)
def test_bad_trust_root(bare: Harness, world: World, root: Any) -> None:
    bare.refuse(
        world.gateway("A").probe("chain.register", world.register_body("A", trust_root=root)),
        Code.BAD_TRUST_ROOT,
    )


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({"id": "bad id"}, id="chain-id"),
        pytest.param({"broker": ""}, id="empty-broker"),
        pytest.param({"gateways": [f"0x{i:040x}" for i in range(17)]}, id="17-gateways"),
        pytest.param({"gateways": ["nope"]}, id="bad-gateway"),
        pytest.param({"surprise": 1}, id="unexpected-field"),
    ],
)
def test_register_field_errors(bare: Harness, world: World, over: dict[str, Any]) -> None:
    body = world.register_body("A", **over)
    bare.refuse(world.gateway("A").probe("chain.register", body), Code.FIELD_TYPE)


def test_approve_needs_admin(bare: Harness, world: World) -> None:
    bare.apply(world.register_tx("A"))
    for signer in (world.outsider, world.gateway("A")):
        bare.refuse(signer.probe("chain.approve", {"id": "A"}), Code.UNAUTHORIZED)
        bare.refuse(signer.probe("chain.reject", {"id": "A"}), Code.UNAUTHORIZED)
    assert bare.get("chain/A")["status"] == PENDING


def test_approve_unknown_and_twice(bare: Harness, world: World) -> None:
    bare.refuse(world.admin.probe("chain.approve", {"id": "Z"}), Code.UNKNOWN_CHAIN)
    bare.apply(world.register_tx("A"))
    bare.apply(world.approve_tx("A"))
    bare.refuse(world.admin.probe("chain.approve", {"id": "A"}), Code.NOT_PENDING)
    bare.refuse(world.admin.probe("chain.reject", {"id": "A"}), Code.NOT_PENDING)


def test_service_register_permissions(bare: Harness, world: World) -> None:
    # Chain A registered by an outsider (the registrar) naming A's gateway key.
    body = world.register_body("A", gateways=[world.gateway("A").address])
    bare.apply(world.outsider.tx("chain.register", body))
    bare.apply(world.approve_tx("A"))
    stranger = account("stranger")
    bare.refuse(
        sign_tx(stranger, HUB, 1, "service.register", world.service_body("A", "svc")),
        Code.UNAUTHORIZED,
    )
    # Another chain's gateway may not either.
    bare.apply(world.register_tx("B"))
    bare.apply(world.approve_tx("B"))
    bare.refuse(
        world.gateway("B").probe("service.register", world.service_body("A", "svc")),
        Code.UNAUTHORIZED,
    )
    # The gateway and the registrar may.
    assert bare.results(world.service_tx("A", "svc")) == [sid("A"), ACTIVE]
    assert bare.results(world.outsider.tx("service.register", world.service_body("A", "free")))
    svc = bare.get(f"svc/{sid('A', 'free')}")
    assert svc["chain"] == "A"


def test_service_exists_and_field_errors(h: Harness, world: World) -> None:
    gw = world.gateway("A")
    h.refuse(gw.probe("service.register", world.service_body("A", "svc")), Code.SERVICE_EXISTS)
    h.refuse(
        gw.probe("service.register", {"service": sid("A", "x", hub="other")}),
        Code.BAD_SERVICE_ID,
    )
    h.refuse(gw.probe("service.register", {"service": "A:x"}), Code.BAD_SERVICE_ID)
    h.refuse(gw.probe("service.register", {"service": sid("Z", "x")}), Code.UNKNOWN_CHAIN)
    h.refuse(
        gw.probe("service.register", {"service": sid("A", "x"), "ordered": 1}), Code.FIELD_TYPE
    )
    h.refuse(
        gw.probe("service.register", {"service": sid("A", "x"), "allow": ["nope"]}),
        Code.BAD_SERVICE_ID,
    )
    h.refuse(gw.probe("service.register", {"service": sid("A", "x"), "deny": "x"}), Code.FIELD_TYPE)
    h.refuse(gw.probe("service.register", ["not", "a", "map"]), Code.FIELD_TYPE)


def test_service_register_body_as_documented(bare: Harness, world: World) -> None:
    """protocol.md §4: {service, allow, deny, name}; `chain` is not a field (the chain is
    the middle part of the full service ID), nor is `ordered` (every service is ordered)."""
    bare.apply(world.register_tx("A"))
    bare.apply(world.approve_tx("A"))
    body = {"service": sid("A"), "allow": [], "deny": [], "name": "svc"}
    bare.apply(world.gateway("A").tx("service.register", body))
    bare.refuse(
        world.gateway("A").probe("service.register", {**body, "chain": "A"}), Code.FIELD_TYPE
    )
    for ordered in (True, False):
        err = bare.refuse(
            world.gateway("A").probe(
                "service.register", {**body, "service": sid("A", "x"), "ordered": ordered}
            ),
            Code.FIELD_TYPE,
        )
        assert "every service takes its calls in index order" in err.message


def test_setup_registers_everything(h: Harness, world: World) -> None:
    for c in world.chain_ids:
        assert h.get(f"chain/{c}")["status"] == ACTIVE
        for s in SERVICES:
            assert h.get(f"svc/{sid(c, s)}")["status"] == ACTIVE


# --- transactions: nonces, signatures, hub ------------------------------------------


def test_nonces(h: Harness, world: World) -> None:
    gw = world.gateway("A")
    used = gw.nonce
    assert h.get(f"acct/{gw.address}") == used
    replay = sign_tx(gw.account, HUB, used, "service.register", {"service": sid("A", "n1")})
    err = h.refuse(replay, Code.NONCE_USED)
    assert err.details["expected"] == used + 1
    err = h.refuse(gw.probe("chain.approve", {"id": "A"}, nonce=used + 2), Code.NONCE_GAP)
    assert err.details["expected"] == used + 1
    # A refused transaction does not use its nonce: the next one takes it.
    h.refuse(gw.probe("chain.approve", {"id": "A"}), Code.UNAUTHORIZED)
    h.apply(gw.tx("service.register", {"service": sid("A", "n1")}))
    assert h.get(f"acct/{gw.address}") == used + 1
    # Nonces are per sender: a fresh account starts at 1.
    fresh = account("fresh")
    h.refuse(sign_tx(fresh, HUB, 2, "chain.register", {}), Code.NONCE_GAP)


def test_wrong_hub(h: Harness, world: World) -> None:
    err = h.refuse(world.admin.probe("chain.approve", {"id": "A"}, hub="otherhub"), Code.WRONG_HUB)
    assert "otherhub" in err.message


def test_signer_mismatch(h: Harness, world: World) -> None:
    real = world.gateway("A")
    claimed = Address(world.gateway("B").address)
    body = {"service": sid("B", "evil")}
    nonce = world.gateway("B").nonce + 1
    digest = compute_tx_hash(HUB, claimed, nonce, "service.register", body)
    forged = Transaction(
        HUB, claimed, nonce, "service.register", body, real.account.sign(digest), digest
    )
    h.refuse(forged, Code.SIGNER_MISMATCH)


@pytest.mark.parametrize("damage", ["short", "v29", "high-s", "zero-r"])
def test_bad_signature(h: Harness, world: World, damage: str) -> None:
    tx = world.admin.probe("chain.approve", {"id": "A"})
    sig = bytearray(tx.sig)
    if damage == "short":
        sig = sig[:64]
    elif damage == "v29":
        sig[64] = 29
    elif damage == "high-s":
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        s = int.from_bytes(sig[32:64], "big")
        sig[32:64] = (n - s).to_bytes(32, "big")
        sig[64] = 55 - sig[64]  # 27 <-> 28
    else:
        sig[:32] = bytes(32)
    bad = Transaction(tx.hub_id, tx.sender, tx.nonce, tx.kind, tx.body, bytes(sig), tx.hash)
    h.refuse(bad, Code.BAD_SIGNATURE)


def test_unknown_kind(h: Harness, world: World) -> None:
    h.refuse(world.admin.probe("chain.freeze", {"id": "A"}), Code.UNKNOWN_TX_KIND)


# --- IBTPs: ordering, duplicates ------------------------------------------------


def test_ordered_index(h: Harness, world: World) -> None:
    src, dst = sid("A"), sid("B")
    first = world.interchain("A", "B")
    assert h.results(world.ibtp_tx([first])) == [[first.id, TxStatus.BEGIN, False]]
    assert pair(h, src, dst) == (1, 0)
    skip = world.interchain("A", "B", index=3)
    err = h.refuse(world.ibtp_probe([skip]), Code.INDEX_GAP)
    assert err.details == {"expected": 2, "item": 0}
    again = world.interchain("A", "B", index=1, args=(b"other",))
    h.refuse(world.ibtp_probe([again]), Code.CONFLICTING_DUPLICATE)
    second = world.interchain("A", "B")
    assert second.index == 2
    h.apply(world.ibtp_tx([second]))
    assert pair(h, src, dst) == (2, 0)
    # Pairs are independent.
    other = world.interchain("A", "C")
    assert other.index == 1
    h.apply(world.ibtp_tx([other]))
    assert pair(h, src, sid("C")) == (1, 0)


def test_consecutive_items_in_one_tx(h: Harness, world: World) -> None:
    items = [world.interchain("A", "B") for _ in range(5)]
    res = h.results(world.ibtp_tx(items))
    assert res == [[i.id, TxStatus.BEGIN, False] for i in items]
    assert pair(h, sid("A"), sid("B")) == (5, 0)


def test_duplicate_is_a_noop(h: Harness, world: World) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    h.next_block()
    before = without_accounts(h.snapshot())
    assert h.results(world.ibtp_tx([req])) == [[req.id, TxStatus.BEGIN, True]]
    # The same message with another valid proof (other notaries) is the same message.
    c = world.chains["A"]
    reproven = world.prove(req, "A", c.notaries[1:])
    assert reproven.proof != req.proof
    assert h.results(world.ibtp_tx([reproven])) == [[req.id, TxStatus.BEGIN, True]]
    assert without_accounts(h.snapshot()) == before
    assert record(h, req)[3] == [[TxStatus.BEGIN, 1]]


def test_duplicate_answers_begin_failure(h: Harness, world: World) -> None:
    req = world.interchain("A", "Z")
    res = h.results(world.ibtp_tx([req]))
    assert res[0][:3] == [req.id, TxStatus.BEGIN_FAILURE, False]
    before = without_accounts(h.snapshot())
    assert h.results(world.ibtp_tx([req]))[0][:3] == [req.id, TxStatus.BEGIN_FAILURE, True]
    assert without_accounts(h.snapshot()) == before


def test_duplicate_after_receipt_answers_current_status(h: Harness, world: World) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    h.apply(world.ibtp_tx([world.receipt(req)]))
    assert h.results(world.ibtp_tx([req])) == [[req.id, TxStatus.SUCCESS, True]]


def test_conflicting_duplicate(h: Harness, world: World) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    for change in ({"extra": b"x"}, {"timeout": 999}, {"payload": Payload("other")}):
        forged = world.prove(replace_ibtp(req, **change), "A")
        err = h.refuse(world.ibtp_probe([forged]), Code.CONFLICTING_DUPLICATE)
        assert err.details["ibtp_id"] == req.id


def test_every_service_is_ordered(h: Harness, world: World) -> None:
    """Unordered services do not exist (docs/protocol.md §3): a request for any service
    must carry exactly the pair's counter + 1; arrival order never reorders a pair."""
    for dst_svc in SERVICES:
        if dst_svc == "picky":
            continue  # A:svc is the one caller it takes; tested with svc below
        ahead = world.interchain("A", "B", dst_svc=dst_svc, index=2)
        err = h.refuse(world.ibtp_probe([ahead]), Code.INDEX_GAP)
        assert err.details["expected"] == 1
        first = world.interchain("A", "B", dst_svc=dst_svc, index=1)
        h.apply(world.ibtp_tx([first, ahead]))
        assert pair(h, first.src, first.dst) == (2, 0)


def test_same_chain(h: Harness, world: World) -> None:
    req = world.interchain("A", "A", dst_svc="free", index=1)
    h.refuse(world.ibtp_probe([req]), Code.SAME_CHAIN)


@pytest.mark.parametrize("end", ["from", "to"])
def test_other_hub_ids(h: Harness, world: World, end: str) -> None:
    req = world.interchain("A", "B", index=1, prove=False)
    other = sid("A" if end == "from" else "B", hub="otherhub")
    req = replace_ibtp(req, **{"src" if end == "from" else "dst": other})
    err = h.refuse(world.ibtp_probe([world.prove(req, "A")], "A"), Code.WRONG_HUB)
    assert "otherhub" in err.message


def test_unknown_source_chain(h: Harness, world: World) -> None:
    req = world.interchain("A", "B", index=1, prove=False)
    req = world.prove(replace_ibtp(req, src=sid("Z")), "A")
    h.refuse(world.ibtp_probe([req], "A"), Code.UNKNOWN_CHAIN)


# --- IBTPs: who may submit ------------------------------------------------------


def test_interchain_from_source_gateway_only(h: Harness, world: World) -> None:
    req = world.interchain("A", "B", index=1)
    # The other end's gateway: WRONG_SUBMITTER; anyone else: UNAUTHORIZED (both 403).
    h.refuse(world.ibtp_probe([req], "B"), Code.WRONG_SUBMITTER)
    h.refuse(world.ibtp_probe([req], "C"), Code.UNAUTHORIZED)
    h.refuse(world.outsider.probe("ibtp", world.ibtp_probe([req]).body), Code.UNAUTHORIZED)
    h.apply(world.ibtp_tx([req], "A"))


@pytest.mark.parametrize("typ", [IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE])
def test_receipt_from_destination_gateway_only(h: Harness, world: World, typ: IBTPType) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    rcpt = world.receipt(req, typ)
    for chain, code in (("A", Code.WRONG_SUBMITTER), ("C", Code.UNAUTHORIZED)):
        err = h.refuse(world.ibtp_probe([rcpt], chain), code)
        assert "chain B" in err.message or "B's gateway" in err.message, err.message
    h.apply(world.ibtp_tx([rcpt], "B"))


def test_rollback_acks_by_chain(h: Harness, world: World) -> None:
    """A RECEIPT_ROLLBACK is the source's acknowledgement from a gateway of ``from``'s
    chain, the destination's from one of ``to``'s chain, each verified with its chain's
    context; a gateway of neither chain is UNAUTHORIZED."""
    req = world.interchain("A", "B", timeout=2)
    h.apply(world.ibtp_tx([req]))
    h.next_block()  # BEGIN_ROLLBACK: the destination must give the request up first
    ack, dst_ack = world.rollback_ack(req), world.dst_ack(req)
    h.refuse(world.ibtp_probe([dst_ack], "C"), Code.UNAUTHORIZED)
    # The source was told nothing yet: its acknowledgement is not allowed.
    err = h.refuse(world.ibtp_probe([ack], "A"), Code.INVALID_TRANSITION)
    assert err.details["status"] == TxStatus.BEGIN_ROLLBACK
    # Sent by B's gateway, it is B's acknowledgement: A's notaries cannot vouch for it.
    h.refuse(world.ibtp_probe([ack], "B"), Code.NOTARY_UNKNOWN_SIGNER)
    assert h.results(world.ibtp_tx([dst_ack], "B")) == [[req.id, TxStatus.SOURCE_ROLLBACK, False]]
    # Sent by A's gateway, B's notaries cannot vouch for the source's acknowledgement.
    h.refuse(world.ibtp_probe([dst_ack], "A"), Code.NOTARY_UNKNOWN_SIGNER)
    assert h.results(world.ibtp_tx([ack], "A")) == [[req.id, TxStatus.ROLLBACK, False]]
    assert status(h, req) == TxStatus.ROLLBACK


def test_copies_of_a_no_op_destination_ack_are_verified_once(
    h: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A destination's acknowledgement that changes nothing (the request was never
    routed: both chains were told) is taken, verified — once per transaction: copies of
    it in one transaction are answered without a proof check each, as every other
    repeated IBTP is (a gateway must not make the relay verify one proof thousands of
    times in one transaction). A copy with another proof is verified again."""
    req = world.interchain("A", "B", timeout=h.height)  # expired at admission
    h.apply(world.ibtp_tx([req]))
    assert status(h, req) == TxStatus.SOURCE_ROLLBACK
    calls: list[str] = []
    verify = h.executor._verify
    monkeypatch.setattr(
        h.executor, "_verify", lambda ctx, i, ih: (calls.append(ctx.chain_id), verify(ctx, i, ih))
    )
    dst_ack = world.dst_ack(req)
    results = h.results(world.ibtp_tx([dst_ack] * 50, "B"))
    assert results == [[req.id, TxStatus.SOURCE_ROLLBACK, True]] * 50
    assert calls == ["B"]
    # Another transaction verifies it again (the memo lives one transaction).
    h.results(world.ibtp_tx([dst_ack], "B"))
    assert calls == ["B", "B"]
    # A forged copy (proof of the wrong notaries) is still refused, memo or not.
    forged = replace_ibtp(dst_ack, proof=world.prove(dst_ack, "A").proof)
    h.refuse(world.ibtp_probe([dst_ack, forged], "B"), Code.NOTARY_UNKNOWN_SIGNER)


def test_a_gateway_of_both_chains_acknowledges_for_either(world: World) -> None:
    """One key registered as a gateway of both chains: its RECEIPT_ROLLBACK is read as
    the source's acknowledgement first, and as the destination's if the source's
    reading refuses it (a transition the status does not allow, a proof that fails)."""
    h = Harness(world)
    shared = world.gateway("A")
    for c in world.chain_ids:
        gateways = [shared.account.address] if c == "B" else None
        h.apply(world.register_tx(c, **({"gateways": gateways} if gateways else {})))
    for c in world.chain_ids:
        h.apply(world.approve_tx(c))
    for c in world.chain_ids:
        for svc in ("svc",):
            signer = shared if c == "B" else world.gateway(c)
            h.apply(signer.tx("service.register", world.service_body(c, svc)))
    req = world.interchain("A", "B", timeout=h.height + 1)
    h.apply(world.ibtp_tx([req], "A"))
    h.next_block()
    assert status(h, req) == TxStatus.BEGIN_ROLLBACK
    assert h.results(world.ibtp_tx([world.dst_ack(req)], "A"))[0][1] == TxStatus.SOURCE_ROLLBACK
    assert h.results(world.ibtp_tx([world.dst_ack(req)], "A")) == [
        [req.id, TxStatus.SOURCE_ROLLBACK, True]
    ]
    assert h.results(world.ibtp_tx([world.rollback_ack(req)], "A"))[0][1] == TxStatus.ROLLBACK


# --- IBTPs: notary proofs -------------------------------------------------------


def _proof_cases(world: World) -> dict[str, tuple[bytes, int]]:
    req = world.interchain("A", "B", index=1, prove=False)
    digest_of = world.prove(req, "A").proof
    sigs = msgpack.unpackb(digest_of)
    a, b = world.chains["A"].notaries, world.chains["B"].notaries
    other = world.prove(replace_ibtp(req, extra=b"other"), "A").proof
    return {
        "below-threshold": (msgpack.packb(sigs[:1]), Code.NOTARY_BELOW_THRESHOLD),
        "same-notary-twice": (msgpack.packb([sigs[0], sigs[0]]), Code.NOTARY_BELOW_THRESHOLD),
        "empty-list": (msgpack.packb([]), Code.NOTARY_BELOW_THRESHOLD),
        "other-chain-notaries": (world.prove(req, "A", b[:2]).proof, Code.NOTARY_UNKNOWN_SIGNER),
        "one-unknown-signer": (
            world.prove(req, "A", [a[0], account("intruder")]).proof,
            Code.NOTARY_UNKNOWN_SIGNER,
        ),
        "signed-other-message": (other, Code.NOTARY_UNKNOWN_SIGNER),
        "short-signature": (msgpack.packb([sigs[0][:64], sigs[1]]), Code.NOTARY_BAD_SIGNATURE),
        "bad-v": (msgpack.packb([sigs[0][:64] + b"\x05", sigs[1]]), Code.NOTARY_BAD_SIGNATURE),
        "not-msgpack": (b"\xc1", Code.PROOF_MALFORMED),
        "empty-proof": (b"", Code.PROOF_MALFORMED),
        "not-a-list": (msgpack.packb({"a": 1}), Code.PROOF_MALFORMED),
        "ints": (msgpack.packb([1, 2]), Code.PROOF_MALFORMED),
        "too-many": (msgpack.packb([sigs[0]] * 65), Code.PROOF_MALFORMED),
    }


CASES = list(_proof_cases(World()))


@pytest.mark.parametrize("case", CASES)
def test_notary_proof_refusals(h: Harness, world: World, case: str) -> None:
    proof, code = _proof_cases(world)[case]
    req = replace_ibtp(world.interchain("A", "B", index=1, prove=False), proof=proof)
    err = h.refuse(world.ibtp_probe([req]), code)
    assert err.details.get("item") == 0
    assert pair(h, sid("A"), sid("B")) == (0, 0)


def test_receipt_proof_is_checked_against_destination(h: Harness, world: World) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    rcpt = world.receipt(req)
    by_source = world.prove(rcpt, "A")  # A's notaries cannot vouch for B's receipt
    h.refuse(world.ibtp_probe([by_source], "B"), Code.NOTARY_UNKNOWN_SIGNER)
    weak = world.prove(rcpt, "B", world.chains["B"].notaries[:1])
    h.refuse(world.ibtp_probe([weak], "B"), Code.NOTARY_BELOW_THRESHOLD)
    assert status(h, req) == TxStatus.BEGIN


# --- receipts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "final"),
    [(IBTPType.RECEIPT_SUCCESS, TxStatus.SUCCESS), (IBTPType.RECEIPT_FAILURE, TxStatus.FAILURE)],
)
def test_receipt_transitions(h: Harness, world: World, typ: IBTPType, final: TxStatus) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    timeout = record(h, req)[2]
    assert h.get(f"timeout/{timeout:016x}/{req.id}") == 1
    assert h.get("meta/open_timeouts") == 1
    h.next_block()
    rcpt = world.receipt(req, typ, b"result")
    assert h.results(world.ibtp_tx([rcpt])) == [[req.id, final, False]]
    rec = record(h, req)
    assert rec[0] == final
    assert rec[3] == [[TxStatus.BEGIN, 1], [final, 2]]
    assert rec[4] == compute_ibtp_hash(rcpt)
    assert h.get(f"timeout/{timeout:016x}/{req.id}") is None
    assert h.get("meta/open_timeouts") == 0
    assert pair(h, sid("A"), sid("B")) == (1, 1)
    # The receipt is routed to the source chain with the final status.
    (seq, routed, st), *_ = outbound(h, "A")
    assert (seq, st) == (1, final)
    assert routed == replace_ibtp(rcpt, proof=b"")
    # Duplicate receipt: a no-op answering the status.
    before = without_accounts(h.snapshot())
    assert h.results(world.ibtp_tx([rcpt])) == [[req.id, final, True]]
    assert without_accounts(h.snapshot()) == before
    # Any other receipt now is late.
    other = IBTPType.RECEIPT_FAILURE if typ == IBTPType.RECEIPT_SUCCESS else typ
    late = world.receipt(req, other, b"again")
    h.refuse(world.ibtp_probe([late]), Code.LATE_RECEIPT)
    # No rollback acknowledgement, the source's or the destination's, follows a receipt.
    h.refuse(world.ibtp_probe([world.rollback_ack(req)]), Code.INVALID_TRANSITION)
    h.refuse(world.ibtp_probe([world.dst_ack(req)], "B"), Code.INVALID_TRANSITION)


def test_receipt_for_unknown_request(h: Harness, world: World) -> None:
    req = world.interchain("A", "B", index=7)
    h.refuse(world.ibtp_probe([world.receipt(req)]), Code.UNKNOWN_IBTP)
    h.refuse(world.ibtp_probe([world.rollback_ack(req)]), Code.UNKNOWN_IBTP)


def test_rollback_ack_while_begin(h: Harness, world: World) -> None:
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    h.refuse(world.ibtp_probe([world.rollback_ack(req)]), Code.INVALID_TRANSITION)
    # The destination cannot give up a request the relay has not timed out.
    h.refuse(world.ibtp_probe([world.dst_ack(req)], "B"), Code.INVALID_TRANSITION)


# --- timeouts ------------------------------------------------------------------------


def test_timeout_fires_at_exactly_its_height(h: Harness, world: World) -> None:
    req = world.interchain("A", "B", timeout=4)
    h.apply(world.ibtp_tx([req]))
    assert record(h, req)[2] == 4
    assert h.executor.has_open_timeouts(h.view)
    assert h.next_block() == 0  # height 2
    assert h.next_block() == 0  # height 3
    assert status(h, req) == TxStatus.BEGIN
    assert h.next_block() == 1  # height 4: the timeout height
    assert h.height == 4
    rec = record(h, req)
    assert rec[0] == TxStatus.BEGIN_ROLLBACK
    assert rec[3] == [[TxStatus.BEGIN, 1], [TxStatus.BEGIN_ROLLBACK, 4]]
    assert h.get(f"timeout/{4:016x}/{req.id}") is None
    assert not h.executor.has_open_timeouts(h.view)
    note = IBTP(req.src, req.dst, req.index, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
    # Only the destination is told, after the request itself: a destination never
    # undoes, so the source waits until B says the request will never run there.
    assert outbound(h, "A") == []
    b = outbound(h, "B")
    assert [(s, st) for s, _, st in b] == [(1, TxStatus.BEGIN), (2, TxStatus.BEGIN_ROLLBACK)]
    assert b[1][1] == note
    h.refuse(world.ibtp_probe([world.rollback_ack(req)]), Code.INVALID_TRANSITION)
    # B's broker consumed the index unexecuted: its acknowledgement -> SOURCE_ROLLBACK,
    # and the notice goes to A (its relay proof announces BEGIN_ROLLBACK).
    dst_ack = world.dst_ack(req)
    assert h.results(world.ibtp_tx([dst_ack], "B")) == [[req.id, TxStatus.SOURCE_ROLLBACK, False]]
    rec = record(h, req)
    assert rec[3] == [[0, 1], [TxStatus.BEGIN_ROLLBACK, 4], [TxStatus.SOURCE_ROLLBACK, 4]]
    assert rec[4] == b""  # the source's acknowledgement has the same IBTP hash
    assert outbound(h, "A") == [(1, note, TxStatus.BEGIN_ROLLBACK)]
    assert len(outbound(h, "B")) == 2
    assert pair(h, req.src, req.dst) == (1, 1)
    # Now a receipt is late; B's acknowledgement again changes nothing.
    h.refuse(world.ibtp_probe([world.receipt(req)]), Code.LATE_RECEIPT)
    before = without_accounts(h.snapshot())
    assert h.results(world.ibtp_tx([dst_ack], "B")) == [[req.id, TxStatus.SOURCE_ROLLBACK, True]]
    assert without_accounts(h.snapshot()) == before
    seqs = (h.get("outseq/A"), h.get("outseq/B"))
    ack = world.rollback_ack(req)
    assert h.results(world.ibtp_tx([ack])) == [[req.id, TxStatus.ROLLBACK, False]]
    assert status(h, req) == TxStatus.ROLLBACK
    assert (h.get("outseq/A"), h.get("outseq/B")) == seqs  # the ack routes nothing
    assert h.results(world.ibtp_tx([ack])) == [[req.id, TxStatus.ROLLBACK, True]]
    assert h.results(world.ibtp_tx([dst_ack], "B")) == [[req.id, TxStatus.ROLLBACK, True]]
    # Nothing fires again later.
    assert h.next_block() == 0


@pytest.mark.parametrize(
    ("typ", "final"),
    [(IBTPType.RECEIPT_SUCCESS, TxStatus.SUCCESS), (IBTPType.RECEIPT_FAILURE, TxStatus.FAILURE)],
)
def test_a_late_receipt_stands(h: Harness, world: World, typ: IBTPType, final: TxStatus) -> None:
    """The destination executed the request but its receipt reached the relay after the
    timeout: BEGIN_ROLLBACK told only the destination, whose broker keeps its outcome;
    the receipt still settles the transaction and goes to the source as usual."""
    req = world.interchain("A", "B", timeout=3)
    h.apply(world.ibtp_tx([req]))
    h.advance_to(3)
    assert status(h, req) == TxStatus.BEGIN_ROLLBACK
    assert h.get("meta/open_timeouts") == 0
    rcpt = world.receipt(req, typ, b"minted")
    assert h.results(world.ibtp_tx([rcpt])) == [[req.id, final, False]]
    rec = record(h, req)
    assert rec[3] == [[0, 1], [TxStatus.BEGIN_ROLLBACK, 3], [final, 3]]
    assert (rec[4], rec[5]) == (compute_ibtp_hash(rcpt), b"minted")
    assert h.get("meta/open_timeouts") == 0  # counted down once, by the timeout
    assert pair(h, req.src, req.dst) == (1, 1)
    assert outbound(h, "A") == [(1, replace_ibtp(rcpt, proof=b""), final)]
    assert h.results(world.ibtp_tx([rcpt])) == [[req.id, final, True]]
    # The destination cannot also have given it up; the source was never told to.
    h.refuse(world.ibtp_probe([world.dst_ack(req)], "B"), Code.INVALID_TRANSITION)
    h.refuse(world.ibtp_probe([world.rollback_ack(req)]), Code.INVALID_TRANSITION)


def test_default_timeout(h: Harness, world: World) -> None:
    h.advance_to(3)
    req = world.interchain("A", "B")
    h.apply(world.ibtp_tx([req]))
    assert record(h, req)[2] == 3 + world.default_timeout_blocks


def test_timeouts_in_one_block_fire_in_id_order(h: Harness, world: World) -> None:
    reqs = [world.interchain("A", "B", timeout=2), world.interchain("C", "B", timeout=2)]
    reqs.append(world.interchain("A", "C", timeout=3))
    for r in reqs:
        h.apply(world.ibtp_tx([r]))
    assert h.get("meta/open_timeouts") == 3
    assert h.next_block() == 2
    assert [status(h, r) for r in reqs] == [TxStatus.BEGIN_ROLLBACK] * 2 + [TxStatus.BEGIN]
    ids = [note.id for _, note, st in outbound(h, "B") if st == TxStatus.BEGIN_ROLLBACK]
    assert ids == sorted(r.id for r in reqs[:2])
    assert h.next_block() == 1
    assert h.get("meta/open_timeouts") == 0


def test_receipt_cancels_the_timeout(h: Harness, world: World) -> None:
    req = world.interchain("A", "B", timeout=3)
    h.apply(world.ibtp_tx([req]))
    h.apply(world.ibtp_tx([world.receipt(req)]))
    h.advance_to(3)
    assert status(h, req) == TxStatus.SUCCESS
    assert not h.executor.has_open_timeouts(h.view)


@pytest.mark.parametrize("timeout", [1, 2])
def test_expired_timeout_consumes_the_index_and_rolls_back(
    h: Harness, world: World, timeout: int
) -> None:
    """A proven request is never refused for its timeout (docs/protocol.md §3): one whose
    timeout height has passed at admission is recorded as BEGIN_ROLLBACK, consumes its
    index, and both chains get the rollback notice; the pair's next index goes through."""
    h.advance_to(2)
    req = world.interchain("A", "B", index=1, timeout=timeout)
    (res,) = h.results(world.ibtp_tx([req]))
    assert res[:3] == [req.id, TxStatus.SOURCE_ROLLBACK, False]
    assert "had passed" in res[3]
    rec = record(h, req)
    assert rec[0] == TxStatus.SOURCE_ROLLBACK and rec[2] == timeout
    assert rec[3] == [[TxStatus.SOURCE_ROLLBACK, 2]]
    assert pair(h, req.src, req.dst) == (1, 0)
    assert not h.executor.has_open_timeouts(h.view)
    # Never routed, so both chains are told at once; the proofs announce BEGIN_ROLLBACK.
    note = IBTP(req.src, req.dst, 1, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
    assert outbound(h, "A") == [(1, note, TxStatus.BEGIN_ROLLBACK)]
    assert outbound(h, "B") == [(1, note, TxStatus.BEGIN_ROLLBACK)]  # never the request
    # The same request again is a duplicate; a receipt for it is late.
    assert h.results(world.ibtp_tx([req]))[0][:3] == [req.id, TxStatus.SOURCE_ROLLBACK, True]
    h.refuse(world.ibtp_probe([world.receipt(req)]), Code.LATE_RECEIPT)
    # B's broker consumed the index: its acknowledgement is taken and changes nothing.
    before = without_accounts(h.snapshot())
    assert h.results(world.ibtp_tx([world.dst_ack(req)], "B")) == [
        [req.id, TxStatus.SOURCE_ROLLBACK, True]
    ]
    assert without_accounts(h.snapshot()) == before
    # The next index of the pair is routed; the source's acknowledgement ends the first.
    nxt = world.interchain("A", "B", index=2)
    assert h.results(world.ibtp_tx([nxt]))[0][:3] == [nxt.id, TxStatus.BEGIN, False]
    assert h.results(world.ibtp_tx([world.rollback_ack(req)]))[0][:2] == [
        req.id,
        TxStatus.ROLLBACK,
    ]
    assert record(h, req)[5] == res[3].encode()  # the reason stays on the record
    assert h.results(world.ibtp_tx([world.dst_ack(req)], "B"))[0][:3] == [
        req.id,
        TxStatus.ROLLBACK,
        True,
    ]


# --- BEGIN_FAILURE ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src_svc", "dst_chain", "dst_svc"),
    [
        pytest.param("svc", "Z", "svc", id="unknown-chain"),
        pytest.param("svc", "B", "nosuch", id="unknown-service"),
        pytest.param("free", "C", "picky", id="not-in-allow-list"),
        pytest.param("svc", "C", "grumpy", id="denied"),
    ],
)
def test_begin_failure(
    h: Harness, world: World, src_svc: str, dst_chain: str, dst_svc: str
) -> None:
    req = world.interchain("A", dst_chain, src_svc=src_svc, dst_svc=dst_svc)
    (res,) = h.results(world.ibtp_tx([req]))
    assert res[:3] == [req.id, TxStatus.BEGIN_FAILURE, False]
    assert isinstance(res[3], str) and res[3]
    rec = record(h, req)
    assert rec[0] == TxStatus.BEGIN_FAILURE
    assert pair(h, req.src, req.dst) == (1, 0)
    assert not h.executor.has_open_timeouts(h.view)
    assert rec[5] == res[3].encode()
    # Both chains are told: a RECEIPT_ROLLBACK announcing BEGIN_FAILURE. The destination's
    # notice is queued even when that chain is unknown (Z): registered later, it reads
    # its queue from the start and its broker moves past the index.
    note = IBTP(req.src, req.dst, 1, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
    assert outbound(h, "A") == [(1, note, TxStatus.BEGIN_FAILURE)]
    assert outbound(h, dst_chain) == [(1, note, TxStatus.BEGIN_FAILURE)]
    if dst_chain in world.chains:
        # The destination's broker consumed the index: taken, changes nothing.
        before = without_accounts(h.snapshot())
        assert h.results(world.ibtp_tx([world.dst_ack(req)], dst_chain)) == [
            [req.id, TxStatus.BEGIN_FAILURE, True]
        ]
        assert without_accounts(h.snapshot()) == before
    h.apply(world.ibtp_tx([world.rollback_ack(req)]))
    assert status(h, req) == TxStatus.ROLLBACK
    assert record(h, req)[5] == res[3].encode()


def test_pending_destination_is_begin_failure(bare: Harness, world: World) -> None:
    for c in ("A", "B"):
        bare.apply(world.register_tx(c))
    bare.apply(world.approve_tx("A"))
    req = world.interchain("A", "B")
    assert bare.results(world.ibtp_tx([req]))[0][1] == TxStatus.BEGIN_FAILURE


def test_allowed_callers_are_routed(h: Harness, world: World) -> None:
    ok = [
        world.interchain("A", "C", dst_svc="picky"),
        world.interchain("A", "C", src_svc="free", dst_svc="grumpy"),
    ]
    assert [r[1] for r in h.results(world.ibtp_tx(ok))] == [TxStatus.BEGIN] * 2


# --- atomicity and outbound queues -----------------------------------------------


def _bad_item(world: World, kind: str) -> Any:
    """The encoded form of a bad third-position item for the pair A -> B."""
    if kind == "gap":
        return encode_ibtp(world.interchain("A", "B", index=9))
    if kind == "proof":
        req = world.interchain("A", "B", index=3, prove=False)
        return encode_ibtp(world.prove(req, "A", world.chains["A"].notaries[:1]))
    if kind == "noncanonical":
        raw = encode_ibtp(world.interchain("A", "B", index=3))
        assert raw[2] == 0xA0 + len(sid("A"))  # `from` as a fixstr ...
        return raw[:2] + bytes([0xD9, len(sid("A"))]) + raw[3:]  # ... re-encoded as str8
    if kind == "garbage":
        return b"\xc1\xc1"
    return "not bytes"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("gap", Code.INDEX_GAP),
        ("proof", Code.NOTARY_BELOW_THRESHOLD),
        ("garbage", Code.MALFORMED_ENCODING),
        ("noncanonical", Code.NON_CANONICAL),
        ("str", Code.FIELD_TYPE),
    ],
)
def test_ibtp_tx_is_atomic(h: Harness, world: World, kind: str, code: int) -> None:
    h.apply(world.ibtp_tx([world.interchain("C", "B")]))
    good = [world.interchain("A", "B"), world.interchain("A", "C"), world.interchain("A", "B")]
    body = [*world.ibtp_probe(good).body, _bad_item(world, kind)]
    err = h.refuse(world.gateway("A").probe("ibtp", body), code)
    assert err.details["item"] == 3
    assert pair(h, sid("A"), sid("B")) == (0, 0)
    assert h.get("outseq/B") == 1
    # Without the bad item the same IBTPs apply.
    h.apply(world.gateway("A").tx("ibtp", body[:3]))
    assert pair(h, sid("A"), sid("B")) == (2, 0)
    assert h.get("outseq/B") == 3


@pytest.mark.parametrize("body", [[], "x", [b"x"] * 4097], ids=["empty", "not-a-list", "4097"])
def test_ibtp_body_shape(h: Harness, world: World, body: Any) -> None:
    h.refuse(world.gateway("A").probe("ibtp", body), Code.FIELD_TYPE)


def test_outbound_queues_have_consecutive_seqs(h: Harness, world: World) -> None:
    reqs = [world.interchain("A", "B") for _ in range(3)]
    reqs += [world.interchain("C", "B") for _ in range(2)]
    reqs.append(world.interchain("A", "C"))
    for r in reqs[:3]:
        h.apply(world.ibtp_tx([r]))
    h.next_block()
    h.apply(world.ibtp_tx(reqs[3:5]))
    h.apply(world.ibtp_tx(reqs[5:]))
    b = outbound(h, "B")
    assert [s for s, _, _ in b] == [1, 2, 3, 4, 5]
    assert [i for _, i, _ in b] == [replace_ibtp(r, proof=b"") for r in reqs[:5]]
    assert all(st == TxStatus.BEGIN for _, _, st in b)
    assert [s for s, _, _ in outbound(h, "C")] == [1]
    h.apply(world.ibtp_tx([world.receipt(reqs[0])]))
    h.apply(world.ibtp_tx([world.receipt(reqs[3], IBTPType.RECEIPT_FAILURE)]))
    h.apply(world.ibtp_tx([world.receipt(reqs[1])]))
    a = outbound(h, "A")
    assert [(s, i.index, st) for s, i, st in a] == [
        (1, 1, TxStatus.SUCCESS),
        (2, 2, TxStatus.SUCCESS),
    ]
    assert [(s, st) for s, _, st in outbound(h, "C")] == [(1, TxStatus.BEGIN), (2, 2)]


def test_replay_is_deterministic(world: World) -> None:
    """Two executors fed the same blocks reach the same state."""
    txs_by_block: list[list[Transaction]] = [world.setup_txs()]
    reqs = [world.interchain("A", "B", timeout=4), world.interchain("B", "C")]
    txs_by_block.append([world.ibtp_tx([r]) for r in reqs])
    txs_by_block.append([world.ibtp_tx([world.receipt(reqs[1])])])
    txs_by_block += [[], []]
    states = []
    for _ in range(2):
        h = Harness(world)
        for block in txs_by_block:
            for tx in block:
                h.apply(tx)
            h.next_block()
        states.append(h.reader.data)
    assert states[0] == states[1]
    assert states[0][f"tx/{reqs[0].id}"][0] == TxStatus.BEGIN_ROLLBACK


def test_refusals_leave_no_write_in_a_fresh_layer(h: Harness, world: World) -> None:
    """Refusals before any handler write (hub, signature, nonce, kind) leave even the
    transaction's own layer empty."""
    gw = world.gateway("A")
    cases: list[Transaction] = [
        gw.probe("ibtp", [], hub="x"),
        gw.probe("ibtp", [], nonce=gw.nonce),
        gw.probe("ibtp", [], nonce=gw.nonce + 5),
        gw.probe("nope", []),
    ]
    for tx in cases:
        child, layer = h.view.child()
        with pytest.raises(RelayError):
            h.executor.apply_tx(child, tx, h.height, 0)
        assert layer.writes == {}
