"""FISCO family, relay side: proof codec, trust root, verifier, seal memo, corpus.

The corpus in ``tests/vectors/fisco/{good,bad}`` (both crypto modes) is the contract:
every good vector verifies, every bad one is refused with exactly its code. It is
built without ``adapters.fisco`` (``tests/vectors/fisco/proof_corpus.py``), so it
cross-checks the verifier.
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters.fisco.verifier as verifier_module
from adapters.evm.proof import CALLBACK_EVENT_TOPIC, INTERCHAIN_EVENT_TOPIC, RECEIPT_EVENT_TOPIC
from adapters.fisco.errors import FiscoCode
from adapters.fisco.events import (
    CALLBACK_SIGNATURE,
    INTERCHAIN_SIGNATURE,
    INTERCHAIN_TYPES,
    RECEIPT_SIGNATURE,
    compute_payload_hash,
    encode_event_data,
    encode_payload,
    event_topic,
)
from adapters.fisco.hashing import keccak256, sm3
from adapters.fisco.proof import (
    FiscoProof,
    build_fisco_proof,
    decode_fisco_proof,
    encode_fisco_proof,
)
from adapters.fisco.trust_root import FiscoTrustRoot, parse_trust_root
from adapters.fisco.verifier import FiscoVerifier
from adapters.testing import VectorCorpus, check_verifier
from relay.errors import Code, ProofError, RelayError
from relay.ibtp import IBTP, IBTPType, Payload
from relay.ibtp import compute_payload_hash as relay_payload_hash
from relay.validation.base import ChainContext, Verifier

VECTORS = Path(__file__).parent / "vectors" / "fisco"
GOOD = sorted((VECTORS / "good").glob("*.json"))
BAD = sorted((VECTORS / "bad").glob("*.json"))
CORPUS = VectorCorpus.load(VECTORS)


def _corpus_module() -> Any:
    name = "fisco_proof_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, VECTORS / "proof_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _vector(name: str) -> tuple[ChainContext, IBTP]:
    vec = next(v for v in (*CORPUS.good, *CORPUS.bad) if v.name == name)
    reg = FiscoVerifier().check_registration(vec.trust_root, vec.broker)
    return ChainContext(vec.hub_id, vec.chain_id, "fisco", reg.broker, reg.trust_root), vec.ibtp


def _with_proof(ibtp: IBTP, proof: FiscoProof) -> IBTP:
    return replace(ibtp, proof=encode_fisco_proof(proof))


def _code(verifier: FiscoVerifier, ctx: ChainContext, ibtp: IBTP) -> int:
    with pytest.raises(ProofError) as info:
        verifier.verify(ctx, ibtp, b"")
    return info.value.code


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_enough_and_covers_every_code() -> None:
    assert len(GOOD) >= 10
    assert len(BAD) >= 20
    assert CORPUS.codes == {int(c) for c in FiscoCode} - {FiscoCode.BAD_REGISTRATION}
    modes = {v.trust_root["mode"] for v in (*CORPUS.good, *CORPUS.bad)}
    assert modes == {"secp256k1", "sm"}
    assert {v.trust_root["mode"] for v in CORPUS.bad} == {"secp256k1", "sm"}


def test_corpus_passes_the_shared_runner() -> None:
    for verifier in (FiscoVerifier(), FiscoVerifier(header_memo_size=0)):
        report = check_verifier(verifier, CORPUS, codes=FiscoCode)
        assert sorted(report.verified) == sorted(p.stem for p in GOOD)
        assert sorted(report.refused) == sorted(p.stem for p in BAD)
        assert report.registrations == 2  # the secp256k1 and the 国密 chain


@pytest.mark.parametrize("path", GOOD + BAD, ids=[f"{p.parent.name}/{p.stem}" for p in GOOD + BAD])
def test_vector(path: Path) -> None:
    """Each vector alone, with and without the seal memo, and after a warm memo."""
    one = CORPUS.only(path.stem)
    for verifier in (FiscoVerifier(), FiscoVerifier(header_memo_size=0)):
        check_verifier(verifier, one, codes=FiscoCode)
    warm = FiscoVerifier()
    check_verifier(warm, CORPUS.only("interchain_second_log"), codes=FiscoCode)
    check_verifier(warm, CORPUS.only("gm_interchain"), codes=FiscoCode)
    check_verifier(warm, one, codes=FiscoCode)


def test_corpus_regenerates_identically(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    for kind in ("good", "bad"):
        fresh = {p.name: p.read_bytes() for p in (tmp_path / kind).glob("*.json")}
        stored = {p.name: p.read_bytes() for p in (VECTORS / kind).glob("*.json")}
        assert fresh == stored, f"tests/vectors/fisco/{kind} is stale: run generate.py"


# --------------------------------------------------------------------------- registry, purity


def test_entry_point_registered() -> None:
    (ep,) = [ep for ep in entry_points(group="relayhub.verifiers") if ep.name == "fisco"]
    cls = ep.load()
    assert cls is FiscoVerifier and cls.family == "fisco"
    assert isinstance(cls(), Verifier)


def test_verifier_modules_are_pure() -> None:
    probe = (
        "import sys, adapters.fisco.proof, adapters.fisco.trust_root, adapters.fisco.events, "
        "adapters.fisco.verifier\n"
        "print(sorted(m for m in ('trio', 'httpx', 'httpcore', 'sqlite3', 'asyncio', "
        "'appchains') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- trust root

SECP_NODES = sorted(_corpus_module().make_sealer(f"tr-{i}", "secp256k1").node_id for i in range(4))
SM_NODES = sorted(_corpus_module().make_sealer(f"tr-{i}", "sm").node_id for i in range(4))


def _root(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mode": "secp256k1",
        "group_id": 1,
        "chain_id": 1,
        "sealers": [
            {"from_height": 0, "nodes": [n.hex() for n in SECP_NODES]},
            {"from_height": 1200, "nodes": [n.hex() for n in SECP_NODES[1:]]},
        ],
    }
    raw.update(over)
    return raw


def _list(height: int, nodes: list[Any]) -> dict[str, Any]:
    return {"from_height": height, "nodes": nodes}


def test_trust_root_parses_and_normalises() -> None:
    spelled = [("0x" + n.hex().upper()) for n in SECP_NODES]
    tr = parse_trust_root(_root(sealers=[_list(0, spelled), _list(1200, spelled[1:])]))
    assert isinstance(tr, FiscoTrustRoot)
    assert tr.to_dict() == _root()
    assert parse_trust_root(tr.to_dict()) == tr
    assert tr.sealers_at(0) == tr.sealers_at(1199) == tr.sealer_lists[0]
    assert tr.sealers_at(1200) == tr.sealers_at(10**9) == tr.sealer_lists[1]
    assert [s.quorum for s in tr.sealer_lists] == [3, 3]
    late = parse_trust_root(_root(sealers=[_list(500, [n.hex() for n in SECP_NODES])]))
    assert late.sealers_at(499) is None and late.sealers_at(500) is not None
    assert late.identity != tr.identity
    gm = parse_trust_root(_root(mode="sm", sealers=[_list(0, [n.hex() for n in SM_NODES])]))
    assert gm.hash_fn is sm3 and tr.hash_fn is keccak256


_SM_HEX = [n.hex() for n in SM_NODES]
_SECP_HEX = [n.hex() for n in SECP_NODES]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "must be a map"),
        ({k: v for k, v in _root().items() if k != "chain_id"}, "missing ['chain_id']"),
        ({**_root(), "accept_all": True}, "extra ['accept_all']"),
        (_root(mode="ecdsa"), "mode must be"),
        (_root(group_id=0), "group_id"),
        (_root(group_id=32768), "group_id"),
        (_root(group_id=True), "group_id"),
        (_root(chain_id=-1), "chain_id"),
        (_root(chain_id="1"), "chain_id"),
        (_root(sealers=[]), "sealers must be a list"),
        (_root(sealers=[_list(0, [])]), "nodes must be a list of 1"),
        (_root(sealers=[_list(-1, _SECP_HEX)]), "from_height"),
        (_root(sealers=[_list(0, _SECP_HEX), _list(0, _SECP_HEX[1:])]), "strictly increase"),
        (_root(sealers=[_list(5, _SECP_HEX), _list(3, _SECP_HEX[1:])]), "strictly increase"),
        (_root(sealers=[{"from_height": 0}]), "exactly"),
        (_root(sealers=[_list(0, [_SECP_HEX[0], _SECP_HEX[0]])]), "repeats"),
        (_root(sealers=[_list(0, list(reversed(_SECP_HEX)))]), "ascending order"),
        (_root(sealers=[_list(0, [_SECP_HEX[0][:-2]])]), "128 hex digits"),
        (_root(sealers=[_list(0, ["zz" * 64])]), "128 hex digits"),
        (_root(sealers=[_list(0, [b"\x01" * 64])]), "hex string"),
        (_root(sealers=[_list(0, ["00" * 63 + "07"])]), "not a point of secp256k1"),
        (_root(sealers=[_list(0, _SM_HEX[:1])]), "not a point of secp256k1"),
        (_root(mode="sm", sealers=[_list(0, _SECP_HEX[:1])]), "not a point of the SM2 curve"),
        (_root(sealers=[_list(0, ["0" * 128])]), "not a point"),
    ],
)
def test_trust_root_refusals(raw: Any, says: str) -> None:
    with pytest.raises(RelayError) as info:
        FiscoVerifier().parse_trust_root(raw)
    assert info.value.code == Code.BAD_TRUST_ROOT
    assert says in info.value.message, info.value.message


def test_registration_hook_checks_the_broker() -> None:
    verifier = FiscoVerifier()
    reg = verifier.check_registration(_root(), "0x" + "AB" * 20)
    assert reg.broker == "0x" + "ab" * 20
    assert isinstance(reg.trust_root, FiscoTrustRoot)
    for broker in ("0x" + "ab" * 19, "ab" * 20, "0x" + "zz" * 20, "0x" + "00" * 20, "broker"):
        with pytest.raises(RelayError) as info:
            verifier.check_registration(_root(), broker)
        assert info.value.code == Code.BAD_TRUST_ROOT
    with pytest.raises(RelayError) as info:
        verifier.check_registration(_root(sealers=[]), "0x" + "ab" * 20)
    assert info.value.code == Code.BAD_TRUST_ROOT


def test_canonical_service() -> None:
    verifier = FiscoVerifier()
    assert verifier.canonical_service("0x" + "Ab" * 20) == "0x" + "ab" * 20
    for bad in ("asset", "0x1234"):
        with pytest.raises(RelayError) as info:
            verifier.canonical_service(bad)
        assert info.value.code == Code.BAD_SERVICE_ID


def test_bad_registration() -> None:
    ctx, ibtp = _vector("interchain_tx0")
    for bad_ctx in (
        replace(ctx, trust_root=ctx.trust_root.to_dict()),
        replace(ctx, broker="broker-chaincode"),
        replace(ctx, broker="0x" + "zz" * 20),
    ):
        assert _code(FiscoVerifier(), bad_ctx, ibtp) == FiscoCode.BAD_REGISTRATION


# --------------------------------------------------------------------------- proof codec


def test_proof_round_trip_and_builder() -> None:
    for vec in CORPUS.good:
        proof = decode_fisco_proof(vec.ibtp.proof)
        assert encode_fisco_proof(proof) == vec.ibtp.proof
    gen = _corpus_module()
    blocks = gen.build_blocks()
    for name, block_name, index, log_index in (
        ("interchain_second_log", "A", 2, 1),
        ("big_block_three_levels", "big", 290, 0),
        ("gm_interchain", "gm", 0, 0),
    ):
        block = blocks[block_name]
        built = build_fisco_proof(
            group_id=1,
            header=block.header,
            sig_list=[tuple(s) for s in block.seals()],
            receipts=block.receipts,
            receipt_index=index,
            log_index=log_index,
            hash_fn=sm3 if block.mode == "sm" else keccak256,
        )
        assert (
            encode_fisco_proof(built) == next(v for v in CORPUS.good if v.name == name).ibtp.proof
        )
    with pytest.raises(ValueError):
        build_fisco_proof(
            group_id=1,
            header=b"\xc0",
            sig_list=[],
            receipts=[],
            receipt_index=0,
            log_index=0,
            hash_fn=keccak256,
        )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_only_raises_proof_error(data: bytes) -> None:
    with contextlib.suppress(ProofError):
        decode_fisco_proof(data)


def test_every_single_byte_change_is_refused() -> None:
    """Exhaustive over one proof: each byte changed two ways never verifies."""
    ctx, ibtp = _vector("interchain_second_log")
    verifier = FiscoVerifier()
    verifier.verify(ctx, ibtp, b"")
    proof = ibtp.proof
    for at in range(len(proof)):
        for mask in (0x01, 0x80):
            mutated = proof[:at] + bytes([proof[at] ^ mask]) + proof[at + 1 :]
            with pytest.raises(ProofError):
                verifier.verify(ctx, replace(ibtp, proof=mutated), b"")
    verifier.verify(ctx, ibtp, b"")


# --------------------------------------------------------------------------- events


def test_event_topics_and_payload_hash_by_mode() -> None:
    assert event_topic(INTERCHAIN_SIGNATURE, keccak256) == INTERCHAIN_EVENT_TOPIC
    assert event_topic(RECEIPT_SIGNATURE, keccak256) == RECEIPT_EVENT_TOPIC
    assert event_topic(CALLBACK_SIGNATURE, keccak256) == CALLBACK_EVENT_TOPIC
    assert event_topic(INTERCHAIN_SIGNATURE, sm3) == sm3(INTERCHAIN_SIGNATURE)
    payload = Payload("mint", (b"\x01" * 33, b""), True)
    assert compute_payload_hash(payload, keccak256) == relay_payload_hash(payload)
    assert compute_payload_hash(payload, sm3) == sm3(
        abi_encode(["string", "bytes[]", "bool"], ["mint", [b"\x01" * 33, b""], True])
    )


_texts = st.text(max_size=70)
_blobs = st.binary(max_size=100)


@settings(max_examples=200, deadline=None)
@given(
    _texts,
    _texts,
    st.integers(0, 2**64 - 1),
    _texts,
    st.lists(_blobs, max_size=5),
    st.booleans(),
    st.integers(0, 2**64 - 1),
)
def test_fast_event_encoder_is_eth_abi(
    src: str, dst: str, index: int, func: str, args: list[bytes], encrypted: bool, timeout: int
) -> None:
    payload = Payload(func, tuple(args), encrypted)
    assert encode_payload(payload) == abi_encode(
        ["string", "bytes[]", "bool"], [func, args, encrypted]
    )
    ibtp = IBTP(src, dst, index, IBTPType.INTERCHAIN, timeout, payload)
    expected = abi_encode(
        list(INTERCHAIN_TYPES),
        [src, dst, index, func, args, encrypted, timeout, compute_payload_hash(payload, sm3)],
    )
    assert encode_event_data(ibtp, sm3) == expected
    receipt = IBTP(src, dst, index, IBTPType.RECEIPT_FAILURE, 0, Payload("", (func.encode(),)))
    assert encode_event_data(receipt, keccak256) == abi_encode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"],
        [src, dst, index, 2, func.encode(), relay_payload_hash(receipt.payload)],
    )
    rollback = IBTP(src, dst, index, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
    assert encode_event_data(rollback, keccak256) == abi_encode(
        ["string", "string", "uint64", "uint8"], [src, dst, index, 3]
    )


# --------------------------------------------------------------------------- the seal memo


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = verifier_module.verify_sealed_header

    def counting(header_hash: bytes, *args: Any) -> int:
        calls.append(header_hash)
        return real(header_hash, *args)

    monkeypatch.setattr(verifier_module, "verify_sealed_header", counting)
    return calls


@pytest.mark.parametrize(
    "names", [("interchain_tx0", "receipt_success"), ("gm_interchain", "gm_receipt_rollback")]
)
def test_seals_are_verified_once_per_header(
    monkeypatch: pytest.MonkeyPatch, names: tuple[str, str]
) -> None:
    calls = _counting(monkeypatch)
    verifier = FiscoVerifier()
    first, second = (_vector(n) for n in names)
    verifier.verify(*first, b"")
    assert len(calls) == 1
    verifier.verify(*second, b"")  # another IBTP of the same block: only its Merkle path
    for _ in range(5):
        verifier.verify(*first, b"")
    assert len(calls) == 1
    assert (
        decode_fisco_proof(first[1].proof).block_hash
        == decode_fisco_proof(second[1].proof).block_hash
    )


def test_a_failed_header_is_not_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    verifier = FiscoVerifier()
    ctx, short = _vector("one_short_of_quorum")
    for _ in range(2):
        assert _code(verifier, ctx, short) == FiscoCode.SEAL_BELOW_QUORUM
    assert len(calls) == 2  # checked again: the failure was not kept
    assert not verifier._memo
    good_ctx, good = _vector("interchain_second_log")
    verifier.verify(good_ctx, good, b"")
    assert len(calls) == 3 and len(verifier._memo) == 1
    # the same block hash with a short sig list after the good one: not excused
    assert _code(verifier, ctx, short) == FiscoCode.SEAL_BELOW_QUORUM
    assert len(calls) == 4
    verifier.verify(good_ctx, good, b"")
    assert len(calls) == 4


def test_memo_does_not_let_other_bytes_through() -> None:
    """A memoised header does not excuse other header bytes or other seals."""
    ctx, ibtp = _vector("all_four_seals_any_order")
    verifier = FiscoVerifier()
    verifier.verify(ctx, ibtp, b"")
    proof = decode_fisco_proof(ibtp.proof)
    other_header = replace(proof, header=proof.header[:-1] + bytes([proof.header[-1] ^ 1]))
    assert _code(verifier, ctx, _with_proof(ibtp, other_header)) == FiscoCode.HEADER_HASH_MISMATCH
    gen = _corpus_module()
    outsider = (3, gen.OUTSIDER.sign(proof.block_hash))
    for sig_list, code in (
        (proof.sig_list[:2], FiscoCode.SEAL_BELOW_QUORUM),
        ((*proof.sig_list[:3], outsider), FiscoCode.SEAL_UNREGISTERED_SIGNER),
        ((*proof.sig_list[:3], (0, b"\x00" * 65)), FiscoCode.SEAL_MALFORMED),
    ):
        bad = _with_proof(ibtp, replace(proof, sig_list=sig_list))
        assert _code(verifier, ctx, bad) == code
    verifier.verify(ctx, ibtp, b"")


def test_memo_is_per_trust_root() -> None:
    ctx, ibtp = _vector("interchain_tx0")
    verifier = FiscoVerifier()
    verifier.verify(ctx, ibtp, b"")
    raw = ctx.trust_root.to_dict()
    moved = {**raw, "sealers": [raw["sealers"][1] | {"from_height": 0}]}
    other = replace(ctx, trust_root=verifier.parse_trust_root(moved))
    assert _code(verifier, other, ibtp) == FiscoCode.SEALER_LIST_MISMATCH


def test_memo_is_bounded() -> None:
    verifier = FiscoVerifier(header_memo_size=2)
    for vec in CORPUS.good:
        reg = verifier.check_registration(vec.trust_root, vec.broker)
        verifier.verify(
            ChainContext(vec.hub_id, vec.chain_id, "fisco", reg.broker, reg.trust_root),
            vec.ibtp,
            b"",
        )
    assert len(verifier._memo) == 2
    verifier.clear_memo()
    assert not verifier._memo


def test_benchmark_runs_and_reports_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import verify_fisco

    result = verify_fisco.main(["--blocks", "1", "--receipts", "20", "--reps", "1"])
    for mode in ("secp256k1", "sm"):
        assert result[mode]["proofs"] == 20 and result[mode]["floor_ratio"] > 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"secp_floor_ratio"' in last and '"sm_proofs_per_s"' in last
