"""Hostile input at the registry's edges (issue 8): squatted and spammed chain IDs,
trust roots and brokers no proof could satisfy, access lists written in another
spelling than the broker emits, notary proofs padded with strangers' signatures, and
signature defects reported precisely.

Every refusal goes through ``Harness.refuse`` (the code, and a deep comparison of the
state before and after) and is followed by a transaction that applies, so the relay
keeps serving.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from relayfix import HUB, Harness, Signer, World, account, replace_ibtp, sid

from adapters.evm.verifier import EvmVerifier
from adapters.notary.verifier import NotaryVerifier, notarize
from relay.crypto import (
    SECP256K1_N,
    Account,
    normalize_address,
    recover_address,
    write_key_file,
)
from relay.errors import Code, RelayError
from relay.executor import MAX_PENDING_PER_KEY, Executor
from relay.genesis import Genesis
from relay.ibtp import TxStatus, compute_ibtp_hash, compute_notary_digest
from relay.ledger.types import decode_tx, encode_tx, sign_tx
from relay.validation.base import ChainContext, Registration
from relay.validation.registry import VerifierRegistry

ZERO = "0x" + "00" * 20


@pytest.fixture
def world() -> World:
    return World(chain_ids=("A", "B", "C", "E"))


@pytest.fixture
def bare(world: World) -> Harness:
    h = Harness(world)
    # Both families, so EVM registrations are checked by the real EVM verifier.
    h.executor = Executor(
        world.genesis, VerifierRegistry({"notary": NotaryVerifier(), "evm": EvmVerifier()})
    )
    return h


@pytest.fixture
def h(bare: Harness, world: World) -> Harness:
    """A, B, C registered, approved, with services; E left free."""
    for c in ("A", "B", "C"):
        bare.apply(world.register_tx(c))
        bare.apply(world.approve_tx(c))
    for c in ("A", "B", "C"):
        for s in ("svc", "free", "picky", "grumpy"):
            bare.apply(world.service_tx(c, s))
    return bare


def still_serving(h: Harness, world: World) -> None:
    """A transaction after a refusal applies: the relay keeps serving."""
    signer = Signer(account(f"probe-{h.height}-{h.tx_index}"), world.hub)
    assert h.results(signer.tx("chain.register", world.register_body("E", id=f"ok{h.tx_index}")))


def evm_root(*validators: str, threshold: int = 1) -> dict[str, Any]:
    return {"evm_chain_id": 1337, "mode": "seal", "validators": list(validators),
            "threshold": threshold}  # fmt: skip


# --- 1. registration cannot be squatted or spammed ------------------------------------


def test_a_rejected_squatter_frees_the_id_for_the_real_operator(
    bare: Harness, world: World
) -> None:
    squatter = world.outsider
    assert bare.results(squatter.tx("chain.register", world.register_body("E"))) == ["E", "PENDING"]
    assert bare.results(world.admin.tx("chain.reject", {"id": "E"})) == ["E", "REJECTED"]
    bare.next_block()
    # The real operator (E's gateway key) registers E: the ID is free again.
    assert bare.results(world.register_tx("E")) == ["E", "PENDING"]
    rec = bare.get("chain/E")
    assert rec["registrar"] == world.gateway("E").address
    assert rec["history"] == [["PENDING", 2]]
    assert rec["prior"] == 1
    # The squatter's record, with its history, is kept whole under chainprior/.
    old = bare.get("chainprior/E/00000000")
    assert old["registrar"] == squatter.address
    assert old["history"] == [["PENDING", 1], ["REJECTED", 1]]
    assert bare.results(world.approve_tx("E")) == ["E", "ACTIVE"]
    # An ACTIVE chain's ID is taken for good.
    err = bare.refuse(squatter.probe("chain.register", world.register_body("E")), Code.CHAIN_EXISTS)
    assert "ACTIVE" in err.message
    still_serving(bare, world)


def test_the_registrar_withdraws_its_pending_registration(bare: Harness, world: World) -> None:
    op = world.gateway("E")
    bare.apply(world.register_tx("E"))
    # Pending: taken, and the message says how it is freed.
    err = bare.refuse(world.outsider.probe("chain.register", world.register_body("E")),
                      Code.CHAIN_EXISTS)  # fmt: skip
    assert "chain.withdraw" in err.message
    # Only the registrar withdraws; admins reject instead.
    err = bare.refuse(world.outsider.probe("chain.withdraw", {"id": "E"}), Code.UNAUTHORIZED)
    assert op.address in err.message
    bare.refuse(world.admin.probe("chain.withdraw", {"id": "E"}), Code.UNAUTHORIZED)
    bare.refuse(op.probe("chain.withdraw", {"id": "nope"}), Code.UNKNOWN_CHAIN)
    bare.refuse(op.probe("chain.withdraw", {"id": 7}), Code.UNKNOWN_CHAIN)
    bare.refuse(op.probe("chain.withdraw", {"id": "E", "x": 1}), Code.FIELD_TYPE)
    assert bare.results(op.tx("chain.withdraw", {"id": "E"})) == ["E", "WITHDRAWN"]
    assert bare.get("chain/E")["history"] == [["PENDING", 1], ["WITHDRAWN", 1]]
    assert bare.get(f"pending/{op.address}") is None
    # Withdrawn: no longer pending, so neither withdrawn again nor decided.
    bare.refuse(op.probe("chain.withdraw", {"id": "E"}), Code.NOT_PENDING)
    bare.refuse(world.admin.probe("chain.approve", {"id": "E"}), Code.NOT_PENDING)
    # The ID is free: anyone may register it; the withdrawn record is archived.
    bare.apply(world.outsider.tx("chain.register", world.register_body("E")))
    assert bare.get("chain/E")["registrar"] == world.outsider.address
    assert bare.get("chainprior/E/00000000")["status"] == "WITHDRAWN"
    # A second release archives under the next number.
    bare.apply(world.outsider.tx("chain.withdraw", {"id": "E"}))
    bare.apply(world.register_tx("E"))
    assert bare.get("chain/E")["prior"] == 2
    assert bare.get("chainprior/E/00000001")["registrar"] == world.outsider.address


def test_withdraw_is_only_for_pending_chains(h: Harness, world: World) -> None:
    err = h.refuse(world.gateway("A").probe("chain.withdraw", {"id": "A"}), Code.NOT_PENDING)
    assert "ACTIVE" in err.message
    still_serving(h, world)


def test_a_key_holds_a_bounded_number_of_pending_registrations(bare: Harness, world: World) -> None:
    spammer = world.outsider
    for i in range(MAX_PENDING_PER_KEY):
        bare.apply(spammer.tx("chain.register", world.register_body("E", id=f"spam{i}")))
    assert bare.get(f"pending/{spammer.address}") == MAX_PENDING_PER_KEY
    err = bare.refuse(
        spammer.probe("chain.register", world.register_body("E", id="spam9")),
        Code.TOO_MANY_PENDING,
    )
    assert err.code == 3010 and err.http_status == 409
    assert f"({MAX_PENDING_PER_KEY})" in err.message and "withdraw" in err.message
    assert err.details == {"limit": MAX_PENDING_PER_KEY}
    # Other keys are not affected.
    assert bare.results(world.register_tx("E")) == ["E", "PENDING"]
    # Each decision or withdrawal frees a slot.
    bare.apply(spammer.tx("chain.withdraw", {"id": "spam0"}))
    bare.apply(spammer.tx("chain.register", world.register_body("E", id="spam4")))
    bare.refuse(spammer.probe("chain.register", world.register_body("E", id="spam5")),
                Code.TOO_MANY_PENDING)  # fmt: skip
    bare.apply(world.admin.tx("chain.approve", {"id": "spam1"}))
    bare.apply(world.admin.tx("chain.reject", {"id": "spam2"}))
    assert bare.get(f"pending/{spammer.address}") == MAX_PENDING_PER_KEY - 2
    bare.apply(spammer.tx("chain.register", world.register_body("E", id="spam5")))
    bare.apply(spammer.tx("chain.register", world.register_body("E", id="spam6")))
    bare.refuse(spammer.probe("chain.register", world.register_body("E", id="spam7")),
                Code.TOO_MANY_PENDING)  # fmt: skip


def test_registration_lifecycle_replays_to_the_same_state() -> None:
    """The same transactions on a fresh executor reach the same state (replay)."""

    def run() -> Any:
        world = World(chain_ids=("A", "E"))
        h = Harness(world)
        txs = [
            world.outsider.tx("chain.register", world.register_body("E")),
            world.admin.tx("chain.reject", {"id": "E"}),
            world.register_tx("E"),
            world.gateway("E").tx("chain.withdraw", {"id": "E"}),
            world.outsider.tx("chain.register", world.register_body("E")),
            world.register_tx("A"),
            world.approve_tx("A"),
        ]
        for tx in txs:
            h.apply(tx)
            h.next_block()
        return copy.deepcopy(h.reader.data)

    first = run()
    assert first == run()
    assert first["chain/E"]["prior"] == 2


# --- 2. trust roots and brokers checked by the family's verifier -------------------------

SPACED = "0x" + "ab" * 19 + "  "  # 38 hex digits and 2 spaces: bytes.fromhex skips them


@pytest.mark.parametrize(
    ("family", "root", "broker", "words"),
    [
        ("notary", {"keys": [ZERO], "threshold": 1}, None, ["zero address", "key 0"]),
        ("notary", {"keys": [account("n").address, SPACED], "threshold": 1}, None,
         ["' ' at position 40"]),
        ("notary", {"keys": [account("n").address], "threshold": 1}, SPACED, ["notary broker"]),
        ("evm", evm_root(account("v").address, ZERO), None, ["zero address", "validator 1"]),
        ("evm", evm_root(SPACED), None, ["' ' at position 40", "validators"]),
        ("evm", evm_root("0x" + "ab" * 20 + "0"), None, ["41 hex digits"]),
        ("evm", evm_root(account("v").address), "not-an-address", ["EVM broker", "0x"]),
        ("evm", evm_root(account("v").address), ZERO, ["EVM broker", "zero address"]),
        ("evm", evm_root(account("v").address), SPACED, ["EVM broker", "position 40"]),
        ("evm", evm_root(account("v").address), "0x" + "ab" * 19, ["38 hex digits"]),
    ],
)  # fmt: skip
def test_bad_trust_roots_and_brokers_are_refused_at_registration(
    bare: Harness, world: World, family: str, root: Any, broker: str | None, words: list[str]
) -> None:
    body = world.register_body("E", family=family, trust_root=root)
    if broker is not None:
        body["broker"] = broker
    err = bare.refuse(world.gateway("E").probe("chain.register", body), Code.BAD_TRUST_ROOT)
    for w in words:
        assert w in err.message, err.message
    assert bare.get("chain/E") is None
    still_serving(bare, world)


def test_an_evm_registration_stores_the_canonical_broker(bare: Harness, world: World) -> None:
    broker = "0x" + "aB" * 20
    body = world.register_body("E", family="evm", trust_root=evm_root(account("v").address),
                               broker=broker)  # fmt: skip
    bare.apply(world.gateway("E").tx("chain.register", body))
    assert bare.get("chain/E")["broker"] == broker.lower()


def test_a_verifier_bug_at_registration_is_a_refusal(world: World) -> None:
    class Broken(NotaryVerifier):
        def check_registration(self, trust_root: Any, broker: str) -> Registration:
            raise ZeroDivisionError("bug")

    h = Harness(world)
    h.executor = Executor(world.genesis, VerifierRegistry({"notary": Broken()}))
    err = h.refuse(world.register_tx("E"), Code.BAD_TRUST_ROOT)
    assert "ZeroDivisionError" in err.message


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (SPACED, "' ' at position 40"),
        (" 0x" + "ab" * 20, "does not start with 0x"),
        ("0x" + "ab" * 20 + "\n", "'\\n' at position 42"),
        ("0x+" + "ab" * 19 + "a", "'+' at position 2"),
        ("0x" + "٣" * 40, "position 2"),  # a non-ASCII digit
        ("0x" + "ab" * 21, "42 hex digits"),
        ("0x", "0 hex digits"),
        (None, "not NoneType"),
    ],
)
def test_normalize_address_is_strict(text: Any, why: str) -> None:
    with pytest.raises(RelayError) as exc:
        normalize_address(text)
    assert exc.value.code == Code.FIELD_TYPE and why in exc.value.message
    assert normalize_address("0X" + "AB" * 20) == "0x" + "ab" * 20


def test_other_address_callers_are_strict_too(bare: Harness, world: World) -> None:
    # gateways of chain.register
    bare.refuse(world.gateway("E").probe("chain.register",
                                         world.register_body("E", gateways=[SPACED])),
                Code.FIELD_TYPE)  # fmt: skip
    # a transaction's sender
    tx = sign_tx(account("x"), HUB, 1, "chain.approve", {"id": "E"})
    raw = msgpack.unpackb(encode_tx(tx), raw=False)
    raw[1] = raw[1][:-2] + "  "
    with pytest.raises(RelayError) as exc:
        decode_tx(msgpack.packb(raw, use_bin_type=True))
    assert exc.value.code == Code.FIELD_TYPE and "sender" in exc.value.message
    # genesis admins
    g = world.genesis.to_dict()
    g["admins"] = [SPACED]
    with pytest.raises(RelayError):
        Genesis.from_dict(g)


# --- 3. access lists compare canonical IDs ------------------------------------------------

CHECKSUMMED = "0x" + "aBcD" * 10
LOWER = CHECKSUMMED.lower()


def register_service(h: Harness, world: World, chain: str, service: str, **lists: Any) -> Any:
    body = {"service": sid(chain, service), **lists}
    return h.results(world.gateway(chain).tx("service.register", body))


def test_a_checksummed_deny_entry_denies_the_lowercase_caller(h: Harness, world: World) -> None:
    register_service(h, world, "B", "vault", deny=[sid("A", CHECKSUMMED)])
    assert h.get(f"svc/{sid('B', 'vault')}")["deny"] == [sid("A", LOWER)]
    out = h.results(world.ibtp_tx([world.interchain("A", "B", src_svc=LOWER, dst_svc="vault")]))
    assert out[0][1] == TxStatus.BEGIN_FAILURE
    assert "does not allow calls" in out[0][3]
    # A caller in another spelling is denied too (compared canonically).
    out = h.results(world.ibtp_tx([world.interchain("A", "B", src_svc=CHECKSUMMED,
                                                    dst_svc="vault")]))  # fmt: skip
    assert out[0][1] == TxStatus.BEGIN_FAILURE
    # Another caller passes.
    out = h.results(world.ibtp_tx([world.interchain("A", "B", dst_svc="vault")]))
    assert out[0][1] == TxStatus.BEGIN


def test_a_checksummed_allow_entry_allows_the_lowercase_caller(h: Harness, world: World) -> None:
    register_service(h, world, "B", "vault", allow=[sid("A", CHECKSUMMED)])
    assert h.get(f"svc/{sid('B', 'vault')}")["allow"] == [sid("A", LOWER)]
    out = h.results(world.ibtp_tx([world.interchain("A", "B", src_svc=LOWER, dst_svc="vault")]))
    assert out[0][1] == TxStatus.BEGIN
    out = h.results(world.ibtp_tx([world.interchain("A", "B", dst_svc="vault")]))
    assert out[0][1] == TxStatus.BEGIN_FAILURE


def test_entries_on_chains_not_yet_registered_are_spelled_hub_wide(
    h: Harness, world: World
) -> None:
    register_service(h, world, "B", "vault", allow=[sid("Z", CHECKSUMMED), sid("Z", "Name")])
    assert h.get(f"svc/{sid('B', 'vault')}")["allow"] == [sid("Z", LOWER), sid("Z", "Name")]


def test_list_entries_of_another_hub_are_refused(h: Harness, world: World) -> None:
    body = {"service": sid("B", "vault"), "deny": [sid("A", "svc", hub="otherhub")]}
    err = h.refuse(world.gateway("B").probe("service.register", body), Code.BAD_SERVICE_ID)
    assert "otherhub" in err.message


def evm_chain(h: Harness, world: World, chain: str = "E") -> None:
    body = world.register_body(chain, family="evm", trust_root=evm_root(account("v").address))
    h.apply(world.gateway(chain).tx("chain.register", body))
    h.apply(world.approve_tx(chain))


def test_evm_service_ids_are_canonical(h: Harness, world: World) -> None:
    evm_chain(h, world)
    assert register_service(h, world, "E", CHECKSUMMED) == [sid("E", LOWER), "ACTIVE"]
    assert h.get(f"svc/{sid('E', LOWER)}") is not None
    # The same service in another spelling is the same service.
    h.refuse(world.gateway("E").probe("service.register", {"service": sid("E", "0X" + LOWER[2:])}),
             Code.SERVICE_EXISTS)  # fmt: skip
    # An EVM service is an address; lists naming EVM services are checked the same way.
    err = h.refuse(world.gateway("E").probe("service.register", {"service": sid("E", "svc")}),
                   Code.BAD_SERVICE_ID)  # fmt: skip
    assert "EVM service" in err.message
    err = h.refuse(world.gateway("B").probe("service.register",
                                            {"service": sid("B", "x"), "deny": [sid("E", "svc")]}),
                   Code.BAD_SERVICE_ID)  # fmt: skip
    assert "0x address" in err.message
    register_service(h, world, "B", "x", deny=[sid("E", CHECKSUMMED)])
    assert h.get(f"svc/{sid('B', 'x')}")["deny"] == [sid("E", LOWER)]


# --- 4. notary proofs are strict ------------------------------------------------------------


def proven(world: World, signers: list[Account], extra: list[bytes] | None = None) -> Any:
    req = world.interchain("A", "B", prove=False)
    digest = compute_notary_digest(compute_ibtp_hash(req))
    sigs = [a.sign(digest) for a in signers] + list(extra or [])
    return replace_ibtp(req, proof=msgpack.packb(sigs, use_bin_type=True)), digest


def test_a_stranger_beside_a_full_threshold_is_refused(h: Harness, world: World) -> None:
    n = world.chains["A"].notaries
    stranger = account("stranger")
    ibtp, _ = proven(world, [n[0], n[1], stranger])
    err = h.refuse(world.ibtp_probe([ibtp]), Code.NOTARY_UNKNOWN_SIGNER)
    assert "signature 2" in err.message and stranger.address in err.message
    assert err.details["signature_index"] == 2 and err.details["signer"] == stranger.address
    world.issued.clear()
    h.apply(world.ibtp_tx([world.interchain("A", "B")]))  # still serving


def test_duplicate_signatures_count_once(h: Harness, world: World) -> None:
    n = world.chains["A"].notaries
    ibtp, _ = proven(world, [n[0], n[0]])
    err = h.refuse(world.ibtp_probe([ibtp]), Code.NOTARY_BELOW_THRESHOLD)
    assert "1 distinct" in err.message
    world.issued.clear()
    ibtp, _ = proven(world, [n[0], n[0], n[1]])
    assert h.results(world.ibtp_tx([ibtp]))[0][1] == TxStatus.BEGIN


def test_a_malformed_signature_past_the_threshold_is_refused(h: Harness, world: World) -> None:
    n = world.chains["A"].notaries
    ibtp, _ = proven(world, [n[0], n[1]], [bytes(65)])
    err = h.refuse(world.ibtp_probe([ibtp]), Code.NOTARY_BAD_SIGNATURE)
    assert err.details["signature_index"] == 2
    assert "notary signature 2 is malformed: r = 0; s = 0; v = 0" in err.message


# --- 5. signature defects are reported precisely ----------------------------------------------


def high_s(sig: bytes) -> bytes:
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])


def unrecoverable(sig: bytes) -> bytes:
    """``sig`` with an r that is no curve point's x-coordinate (searched deterministically)."""
    for r in range(1, 1000):
        cand = r.to_bytes(32, "big") + sig[32:]
        try:
            recover_address(b"\x01" * 32, cand)
        except RelayError:
            return cand
    raise AssertionError("no unrecoverable r below 1000")


GOOD = account("signer").sign(b"\x01" * 32)


@pytest.mark.parametrize(
    ("sig", "expected"),
    [
        (bytes(65), "r = 0; s = 0; v = 0, must be 27 or 28"),
        (GOOD[:64], "this one is 64 bytes"),
        (GOOD + b"\x00", "this one is 66 bytes"),
        (GOOD[:64] + b"\x1d", "v = 29, must be 27 or 28"),
        (bytes(32) + GOOD[32:], "r = 0"),
        (GOOD[:32] + bytes(32) + GOOD[64:], "s = 0"),
        (SECP256K1_N.to_bytes(32, "big") + GOOD[32:], "r >= n"),
        (GOOD[:32] + SECP256K1_N.to_bytes(32, "big") + GOOD[64:], "s >= n"),
        (high_s(GOOD), "high s"),
        (unrecoverable(GOOD), "not recoverable"),
    ],
    ids=["all-zero", "short", "long", "bad-v", "r-zero", "s-zero", "r-ge-n", "s-ge-n", "high-s",
         "unrecoverable"],
)  # fmt: skip
def test_signature_defects_are_named(h: Harness, world: World, sig: bytes, expected: str) -> None:
    with pytest.raises(RelayError) as exc:
        recover_address(b"\x01" * 32, sig)
    assert exc.value.code == Code.BAD_SIGNATURE and expected in exc.value.message
    assert "s must be low" not in exc.value.message or expected == "high s"
    # ... and the notary verifier says which signature and why.
    n = world.chains["A"].notaries
    ibtp, _ = proven(world, [n[0]], [sig, n[1].sign(b"\x02" * 32)])
    err = h.refuse(world.ibtp_probe([ibtp]), Code.NOTARY_BAD_SIGNATURE)
    assert err.message.startswith("notary signature 1 is malformed: ") and expected in err.message


def test_the_high_s_twin_of_a_good_signature_names_its_fix() -> None:
    with pytest.raises(RelayError) as exc:
        recover_address(b"\x01" * 32, high_s(GOOD))
    assert "use n - s and flip v" in exc.value.message
    assert recover_address(b"\x01" * 32, GOOD) == account("signer").address


def test_the_notary_verifier_alone_checks_every_signature() -> None:
    """The verifier's contract, without the executor: all signatures, in order."""
    keys = [account(f"k{i}") for i in range(3)]
    v = NotaryVerifier()
    root = v.parse_trust_root({"keys": [k.address for k in keys], "threshold": 2})
    ctx = ChainContext(HUB, "A", "notary", "broker", root)
    world = World(chain_ids=("A", "B"))
    req = world.interchain("A", "B", prove=False)
    h = compute_ibtp_hash(req)
    v.verify(ctx, replace_ibtp(req, proof=notarize(h, keys)), h)
    with pytest.raises(RelayError) as exc:
        v.verify(ctx, replace_ibtp(req, proof=notarize(h, [*keys, account("x")])), h)
    assert exc.value.code == Code.NOTARY_UNKNOWN_SIGNER


# --- the SDK and the CLI, against a live relay ------------------------------------------------


def test_withdraw_through_the_cli_and_the_sdk(tmp_path: Path, capsys: Any) -> None:
    from relayfix import node_config, notary_registry, serve_in_thread

    from relay.cli import main
    from relay.sdk import RelayClient

    world = World(chain_ids=("A", "E"))
    squatter, operator = world.outsider.account, world.gateway("E").account
    key = tmp_path / "squatter.key"
    write_key_file(key, squatter)
    with serve_in_thread(node_config(tmp_path / "data", world), notary_registry()) as srv:
        body = world.register_body("E")
        with RelayClient(srv.url, squatter) as c:
            r = c.register_chain("E", "notary", body["trust_root"], body["broker"])
            assert r.results == ["E", "PENDING"]
        with RelayClient(srv.url, operator) as c:
            with pytest.raises(RelayError) as exc:
                c.register_chain("E", "notary", body["trust_root"], body["broker"])
            assert exc.value.code == Code.CHAIN_EXISTS and "chain.withdraw" in exc.value.message
            with pytest.raises(RelayError) as exc:
                c.withdraw_chain("E")
            assert exc.value.code == Code.UNAUTHORIZED
        assert main(["appchain", "withdraw", "--relay", srv.url, "--key", str(key),
                     "--id", "E", "--json"]) == 0  # fmt: skip
        assert json.loads(capsys.readouterr().out)["results"] == ["E", "WITHDRAWN"]
        assert main(["appchain", "withdraw", "--relay", srv.url, "--key", str(key),
                     "--id", "E"]) == 2  # fmt: skip
        assert capsys.readouterr().err.startswith("error [3009]: ")
        with RelayClient(srv.url, operator) as c:
            r = c.register_chain("E", "notary", body["trust_root"], body["broker"])
            assert r.results == ["E", "PENDING"]
            shown = c.chain("E")
        assert shown["registrar"] == operator.address and shown["prior"] == 1
