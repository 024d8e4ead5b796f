"""EVM family: proof codec, raw-node MPT walk, receipts-trie builder, verifier, corpus.

The corpus in ``tests/vectors/evm/`` is the contract: every good vector verifies,
every bad one is refused with exactly its code. Property tests then check that
no byte mutation of a good proof verifies or escapes as anything but ProofError,
and that the header memo never changes an outcome.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import rlp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from adapters.evm.errors import EvmCode, MptProofError
from adapters.evm.proof import (
    CALLBACK_EVENT_TOPIC,
    CALLBACK_EVENT_TYPES,
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
    RECEIPT_EVENT_TOPIC,
    RECEIPT_EVENT_TYPES,
    EvmProof,
    RLPError,
    build_receipt_proof,
    build_receipt_proofs,
    compute_receipts_root,
    compute_seal_digest,
    decode_evm_proof,
    decode_header_receipts_root,
    decode_receipt,
    decode_rlp,
    encode_evm_proof,
    receipt_log,
    walk_mpt_proof,
)
from adapters.evm.verifier import (
    EvmTrustRoot,
    EvmVerifier,
    check_log_fields,
    decode_event_data,
)
from adapters.testing import VectorCorpus, check_verifier
from relay.crypto import keccak, recover_address
from relay.errors import Code, ProofError, RelayError
from relay.ibtp import IBTP, decode_ibtp
from relay.validation.base import ChainContext, Verifier

VECTORS = Path(__file__).parent / "vectors" / "evm"
GOOD = sorted((VECTORS / "good").glob("*.json"))
BAD = sorted((VECTORS / "bad").glob("*.json"))
CORPUS = VectorCorpus.load(VECTORS)


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("evm_vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _load(path: Path) -> tuple[dict[str, Any], ChainContext, IBTP]:
    vec = json.loads(path.read_text())
    ctx = ChainContext(
        hub_id=vec["hub_id"],
        chain_id=vec["chain_id"],
        family=vec["family"],
        broker=vec["broker"],
        trust_root=EvmVerifier().parse_trust_root(vec["trust_root"]),
    )
    return vec, ctx, decode_ibtp(bytes.fromhex(vec["ibtp"]))


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_enough() -> None:
    assert len(GOOD) >= 8
    assert len(BAD) >= 15
    codes = {json.loads(p.read_text())["expected"]["code"] for p in BAD}
    # Every failure class the verifier can report from a proof appears in the corpus.
    assert codes == {int(c) for c in EvmCode} - {EvmCode.BAD_REGISTRATION}


def test_corpus_passes_the_shared_runner() -> None:
    """adapters.testing.check_verifier: registration hook, good vectors, bad codes."""
    for verifier in (EvmVerifier(), EvmVerifier(header_memo_size=0)):
        report = check_verifier(verifier, CORPUS, codes=EvmCode)
        assert sorted(report.verified) == sorted(p.stem for p in GOOD)
        assert sorted(report.refused) == sorted(p.stem for p in BAD)
        assert report.registrations >= 2  # the seal-mode and the notary-mode roots


@pytest.mark.parametrize("path", GOOD + BAD, ids=[f"{p.parent.name}/{p.stem}" for p in GOOD + BAD])
def test_vector(path: Path) -> None:
    """Each vector alone through the shared runner, with and without the header memo."""
    one = CORPUS.only(path.stem)
    assert [v.name for v in (*one.good, *one.bad)] == [path.stem]
    for verifier in (EvmVerifier(), EvmVerifier(header_memo_size=0)):
        check_verifier(verifier, one, codes=EvmCode)


def test_corpus_regenerates_identically(tmp_path: Path) -> None:
    generator = _load_generator()
    generator.write_corpus(tmp_path)
    for kind in ("good", "bad"):
        fresh = {p.name: p.read_bytes() for p in (tmp_path / kind).glob("*.json")}
        stored = {p.name: p.read_bytes() for p in (VECTORS / kind).glob("*.json")}
        assert fresh == stored, f"tests/vectors/evm/{kind} is stale: run generate.py"


def test_good_proofs_agree_with_py_trie() -> None:
    """The raw-node walk and py-trie's get_from_proof read the same value."""
    for path in GOOD:
        _, _, ibtp = _load(path)
        proof = decode_evm_proof(ibtp.proof)
        root = decode_header_receipts_root(proof.header_rlp)
        key = rlp.encode(proof.tx_index)
        decoded_nodes = [rlp.decode(n) for n in proof.nodes]
        assert HexaryTrie.get_from_proof(root, key, decoded_nodes) == proof.receipt
        assert walk_mpt_proof(root, key, proof.nodes) == proof.receipt


# ------------------------------------------------------------------- registry and trust root


def test_entry_point_registered() -> None:
    (ep,) = [ep for ep in entry_points(group="relayhub.verifiers") if ep.name == "evm"]
    cls = ep.load()
    assert cls is EvmVerifier
    assert cls.family == "evm"
    assert isinstance(cls(), Verifier)


def test_verifier_modules_are_pure() -> None:
    """Importing the proof format and the verifier loads no I/O library."""
    probe = (
        "import sys, adapters.evm.errors, adapters.evm.proof, adapters.evm.verifier\n"
        "print(sorted(m for m in ('trio', 'httpx', 'httpcore', 'sqlite3', 'asyncio') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _root(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "evm_chain_id": 1337,
        "mode": "seal",
        "validators": ["0x" + f"{i:040x}" for i in range(1, 5)],
        "threshold": 3,
    }
    raw.update(over)
    return raw


def test_parse_trust_root_normalises() -> None:
    raw = _root(validators=["0x" + "AB" * 20, "0x" + "cd" * 20], threshold=2, mode="notary")
    tr = EvmVerifier().parse_trust_root(raw)
    assert isinstance(tr, EvmTrustRoot)
    assert tr.validators == ("0x" + "ab" * 20, "0x" + "cd" * 20)
    assert tr.mode == "notary"
    assert tr.to_dict()["validators"] == list(tr.validators)
    assert EvmVerifier().parse_trust_root(tr.to_dict()) == tr
    other = EvmVerifier().parse_trust_root(_root())
    assert other.identity != tr.identity


@pytest.mark.parametrize(
    "raw",
    [
        [],
        _root(threshold=0),
        _root(threshold=5),
        _root(threshold=True),
        _root(evm_chain_id=0),
        _root(evm_chain_id=True),
        _root(evm_chain_id="1337"),
        _root(mode="accept-all"),
        _root(validators=[]),
        _root(validators=["0x" + "ab" * 20, "0x" + "AB" * 20], threshold=1),
        _root(validators=["0x1234"], threshold=1),
        _root(validators=["0x" + f"{i:040x}" for i in range(65)], threshold=1),
        {k: v for k, v in _root().items() if k != "mode"},
        {**_root(), "accept_all": True},
    ],
)
def test_parse_trust_root_refuses(raw: Any) -> None:
    with pytest.raises(RelayError) as info:
        EvmVerifier().parse_trust_root(raw)
    assert info.value.code == Code.BAD_TRUST_ROOT


def test_bad_registration() -> None:
    _, ctx, ibtp = _load(GOOD[0])
    for bad_ctx in (
        replace(ctx, trust_root=ctx.trust_root.to_dict()),
        replace(ctx, broker="broker-chaincode"),
        replace(ctx, broker="0x" + "zz" * 20),
    ):
        with pytest.raises(ProofError) as info:
            EvmVerifier().verify(bad_ctx, ibtp, b"")
        assert info.value.code == EvmCode.BAD_REGISTRATION


def test_broker_address_case_does_not_matter() -> None:
    _, ctx, ibtp = _load(GOOD[0])
    EvmVerifier().verify(replace(ctx, broker="0x" + ctx.broker[2:].upper()), ibtp, b"")


# --------------------------------------------------------------------------- codec and seals


def test_proof_round_trip() -> None:
    for path in GOOD:
        _, _, ibtp = _load(path)
        proof = decode_evm_proof(ibtp.proof)
        assert encode_evm_proof(proof) == ibtp.proof


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoders_only_raise_proof_error(data: bytes) -> None:
    for decode in (decode_evm_proof, decode_header_receipts_root, decode_receipt):
        with contextlib.suppress(ProofError):
            decode(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_event_decoder_only_raises_proof_error(data: st.DataObject) -> None:
    _, _, ibtp = _load(VECTORS / "good" / "interchain_encrypted.json")
    proof = decode_evm_proof(ibtp.proof)
    good = receipt_log(decode_receipt(proof.receipt), proof.log_index).data
    raw = bytearray(data.draw(st.sampled_from([good, b""])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        raw[at : at + 1] = data.draw(st.binary(min_size=0, max_size=33))
    for topic, types in (
        (INTERCHAIN_EVENT_TOPIC, INTERCHAIN_EVENT_TYPES),
        (RECEIPT_EVENT_TOPIC, RECEIPT_EVENT_TYPES),
        (CALLBACK_EVENT_TOPIC, CALLBACK_EVENT_TYPES),
    ):
        with contextlib.suppress(ProofError):
            fields = decode_event_data(topic, types, bytes(raw))
            with contextlib.suppress(ProofError):
                check_log_fields(ibtp, fields)


def test_seal_digest() -> None:
    block_hash = bytes(range(32))
    expected = keccak(b"relayhub.evm-seal.v1" + (1337).to_bytes(32, "big") + block_hash)
    assert compute_seal_digest(1337, block_hash) == expected
    gen = _load_generator()
    seal = gen.sign_seal(gen.VALIDATORS[0], 1337, block_hash)
    assert recover_address(expected, seal) == gen.VALIDATORS[0].address


# --------------------------------------------------------------------------- RLP decoder

_rlp_items = st.recursive(
    st.binary(max_size=70),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=20,
)


def _pyrlp(data: bytes) -> Any:
    try:
        return rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError:
        return RLPError


def _ours(data: bytes) -> Any:
    try:
        return decode_rlp(data)
    except RLPError:
        return RLPError


@settings(max_examples=300, deadline=None)
@given(_rlp_items, st.data())
def test_rlp_decoder_matches_pyrlp(item: Any, data: st.DataObject) -> None:
    encoded = rlp.encode(item)
    assert decode_rlp(encoded) == item
    # and on a mutation of it: same value, or both refuse
    buf = bytearray(encoded)
    at = data.draw(st.integers(0, len(buf)))
    if at < len(buf) and data.draw(st.booleans()):
        buf[at] = data.draw(st.integers(0, 255))
    else:
        buf[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    assert _ours(bytes(buf)) == _pyrlp(bytes(buf))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_rlp_decoder_matches_pyrlp_on_noise(data: bytes) -> None:
    assert _ours(data) == _pyrlp(data)


def test_rlp_decoder_refuses_non_canonical_forms() -> None:
    for bad in (
        b"",
        b"\x81\x05",  # single byte below 0x80 with a prefix
        b"\xb8\x05hello",  # long form for a short string
        b"\xb9\x00\x38" + b"x" * 56,  # zero-padded length
        b"\xf8\x02\x01\x02",  # long form for a short list
        b"\x83ab",  # truncated
        b"\x01\x02",  # two items
        b"\xc0" * 2,
    ):
        with pytest.raises(RLPError):
            decode_rlp(bad)
    deep = b"\x80"
    for _ in range(3000):
        deep = rlp.encode([rlp.decode(deep)]) if len(deep) < 50 else _wrap(deep)
    with pytest.raises(RLPError):
        decode_rlp(deep)


def _wrap(payload: bytes) -> bytes:
    size = len(payload).to_bytes(4, "big").lstrip(b"\x00")
    return bytes([0xF7 + len(size)]) + size + payload


# --------------------------------------------------------------------------- MPT walk and builder


def _hashed_nodes(t: HexaryTrie, key: bytes) -> list[bytes]:
    """py-trie's proof as the raw nodes our format carries: embedded (< 32 B) ones dropped."""
    encoded = [rlp.encode(n) for n in t.get_proof(key)]
    return [n for i, n in enumerate(encoded) if i == 0 or len(n) >= 32]


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.binary(min_size=1, max_size=4), st.binary(min_size=1, max_size=40), min_size=1
    ),
    st.binary(min_size=1, max_size=4),
)
def test_walk_agrees_with_hexary_trie(items: dict[bytes, bytes], probe: bytes) -> None:
    """Random tries (small values, so many nodes are embedded in their parents)."""
    t = HexaryTrie({})
    for k, v in items.items():
        t[k] = v
    for k, v in items.items():
        assert walk_mpt_proof(t.root_hash, k, _hashed_nodes(t, k)) == v
    if probe not in items:
        with pytest.raises(MptProofError) as info:
            walk_mpt_proof(t.root_hash, probe, _hashed_nodes(t, probe))
        assert info.value.code == EvmCode.MPT_KEY_ABSENT


def test_walk_error_carries_root_key_and_hash() -> None:
    receipts = [b"\x02" + rlp.encode([b"\x01", i, b"\x00" * 256, []]) for i in range(20)]
    root, nodes = build_receipt_proof(receipts, 5)
    key = rlp.encode(5)
    bad = [*nodes[:-1], nodes[-1][:-1] + b"\x00"]
    with pytest.raises(MptProofError) as info:
        walk_mpt_proof(root, key, bad)
    err = info.value
    assert err.code == EvmCode.MPT_NODE_MISMATCH
    assert (err.root, err.key, err.node_index) == (root, key, len(nodes) - 1)
    assert err.node_hash == keccak(nodes[-1])
    assert err.details["node_hash"] == "0x" + keccak(nodes[-1]).hex()
    with pytest.raises(MptProofError) as info:
        walk_mpt_proof(root, key, nodes[:-1])
    assert info.value.node_hash == keccak(nodes[-1])


@pytest.mark.parametrize(
    "node",
    [
        rlp.encode([b"\x40", b"value"]),  # hex-prefix flag 4
        rlp.encode([b"\x05", keccak(b"x")]),  # even path with a non-zero pad nibble
        rlp.encode([b"\x00", keccak(b"x")]),  # extension with an empty path
        rlp.encode([b"", b"value"]),  # no path at all
        rlp.encode([b"a", b"b", b"c"]),  # neither 2 nor 17 items
        rlp.encode([b"\x20\x01", [b"x"]]),  # leaf (for the key) whose value is a list
        rlp.encode([b"\x20\x01", b""]),  # leaf (for the key) with an empty value
        rlp.encode([*[b""] * 16, [b"x"]]),  # branch value that is a list (key ends here)
        rlp.encode([b"\x00\x01", b"\x01" * 5]),  # extension child neither hash nor node
        rlp.encode(b"not a list"),
    ],
)
def test_walk_refuses_malformed_nodes(node: bytes) -> None:
    key = b"" if len(rlp.decode(node)) == 17 else b"\x01"
    with pytest.raises(MptProofError) as info:
        walk_mpt_proof(keccak(node), key, [node])
    assert info.value.code == EvmCode.MPT_NODE_MALFORMED


def test_walk_of_empty_trie_is_absent() -> None:
    empty = rlp.encode(b"")
    assert keccak(empty) == HexaryTrie({}).root_hash
    with pytest.raises(MptProofError) as info:
        walk_mpt_proof(keccak(empty), b"\x80", [empty])
    assert info.value.code == EvmCode.MPT_KEY_ABSENT


def test_builder_takes_receipts_as_the_chain_encoded_them() -> None:
    def receipt(status: bytes) -> bytes:
        return b"\x02" + rlp.encode([status, 21_000, b"\x00" * 256, []])

    ok = receipt(b"\x01")
    geth = [ok, receipt(b"")]
    ganache = [ok, receipt(b"\x00")]
    assert compute_receipts_root(geth) != compute_receipts_root(ganache)
    t = HexaryTrie({})
    for i, r in enumerate(ganache):
        t[rlp.encode(i)] = r
    assert compute_receipts_root(ganache) == t.root_hash
    root, all_nodes = build_receipt_proofs(ganache)
    assert root == t.root_hash
    for i, r in enumerate(ganache):
        assert build_receipt_proof(ganache, i) == (root, all_nodes[i])
        assert walk_mpt_proof(root, rlp.encode(i), all_nodes[i]) == r
    assert decode_receipt(ganache[1]).status == b"\x00"
    with pytest.raises(ValueError):
        build_receipt_proof(ganache, 2)


# --------------------------------------------------------------------------- memo


def _good(name: str) -> tuple[ChainContext, IBTP, EvmProof]:
    _, ctx, ibtp = _load(VECTORS / "good" / f"{name}.json")
    return ctx, ibtp, decode_evm_proof(ibtp.proof)


def _with_proof(ibtp: IBTP, proof: EvmProof) -> IBTP:
    return replace(ibtp, proof=encode_evm_proof(proof))


def test_memo_does_not_let_another_header_through() -> None:
    """Same block hash, different header bytes: refused although the hash was verified."""
    ctx, ibtp, proof = _good("interchain_legacy")
    verifier = EvmVerifier()
    verifier.verify(ctx, ibtp, b"")
    items = rlp.decode(proof.header_rlp)
    items[12] = b"another extraData"
    forged = replace(proof, header_rlp=rlp.encode(items))
    with pytest.raises(ProofError) as info:
        verifier.verify(ctx, _with_proof(ibtp, forged), b"")
    assert info.value.code == EvmCode.HEADER_HASH_MISMATCH
    verifier.verify(ctx, ibtp, b"")  # the genuine one still passes


def test_memo_does_not_excuse_bad_seals() -> None:
    """A verified header does not make a proof with too few or foreign seals pass."""
    ctx, ibtp, proof = _good("all_four_seals")
    verifier = EvmVerifier()
    verifier.verify(ctx, ibtp, b"")
    gen = _load_generator()
    cases = {
        EvmCode.SEALS_BELOW_THRESHOLD: proof.seals[:2],
        EvmCode.SEAL_UNKNOWN_SIGNER: (
            *proof.seals[:3],
            gen.sign_seal(gen.OUTSIDER, 1337, proof.block_hash),
        ),
        EvmCode.SEAL_MALFORMED: (*proof.seals[:3], b"\x00" * 65),
    }
    for code, seals in cases.items():
        with pytest.raises(ProofError) as info:
            verifier.verify(ctx, _with_proof(ibtp, replace(proof, seals=seals)), b"")
        assert info.value.code == code


def test_memo_is_per_trust_root() -> None:
    """A header verified under one trust root is re-checked under another."""
    ctx, ibtp, _ = _good("interchain_legacy")
    verifier = EvmVerifier()
    verifier.verify(ctx, ibtp, b"")
    stricter = verifier.parse_trust_root({**ctx.trust_root.to_dict(), "threshold": 4})
    with pytest.raises(ProofError) as info:
        verifier.verify(replace(ctx, trust_root=stricter), ibtp, b"")
    assert info.value.code == EvmCode.SEALS_BELOW_THRESHOLD


def test_memo_is_bounded_and_pays_seals_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.evm.verifier as mod

    calls = []
    real = mod.recover_address

    def counting(digest: bytes, sig: bytes) -> Any:
        calls.append(digest)
        return real(digest, sig)

    monkeypatch.setattr(mod, "recover_address", counting)
    verifier = EvmVerifier(header_memo_size=2)
    loaded = [_load(p) for p in GOOD]
    for _, ctx, ibtp in loaded:
        verifier.verify(ctx, ibtp, b"")
    assert len(verifier._memo) == 2
    ctx, ibtp, _ = _good("interchain_typed_tx0")
    verifier.verify(ctx, ibtp, b"")
    first = len(calls)
    for _ in range(10):
        verifier.verify(ctx, ibtp, b"")
    assert len(calls) == first  # seals of a memoised header are not recovered again
    ctx, ibtp, _ = _good("receipt_success")  # same block, same seals: a memo hit
    verifier.verify(ctx, ibtp, b"")
    assert len(calls) == first


# --------------------------------------------------------------------------- mutations


_MUTATION_BASES = ["interchain_legacy", "interchain_second_log", "seals_reordered_with_duplicate"]


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(_MUTATION_BASES))
    _, _, ibtp = _load(VECTORS / "good" / f"{name}.json")
    data = bytearray(ibtp.proof)
    kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        data[at] ^= 1 << draw(st.integers(0, 7))
    elif kind == "set":
        data[at] = draw(st.integers(0, 255))
    elif kind == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=4))
    elif kind == "delete":
        del data[at : at + draw(st.integers(1, 4))]
    else:
        del data[at:]
    return name, bytes(data)


def test_every_single_byte_change_is_refused() -> None:
    """Exhaustive: each byte of a good proof, changed two ways, never verifies."""
    _, ctx, ibtp = _load(VECTORS / "good" / "interchain_second_log.json")
    verifier = EvmVerifier()
    verifier.verify(ctx, ibtp, b"")
    proof = ibtp.proof
    for at in range(len(proof)):
        for mask in (0x01, 0x80):
            mutated = proof[:at] + bytes([proof[at] ^ mask]) + proof[at + 1 :]
            with pytest.raises(ProofError):
                verifier.verify(ctx, replace(ibtp, proof=mutated), b"")


_WARM = EvmVerifier()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_proofs_never_verify(case: tuple[str, bytes]) -> None:
    name, mutated = case
    _, ctx, ibtp = _load(VECTORS / "good" / f"{name}.json")
    assume(mutated != ibtp.proof)
    _WARM.verify(ctx, ibtp, b"")  # the memo holds the genuine header
    for verifier in (_WARM, EvmVerifier()):
        with pytest.raises(ProofError):
            verifier.verify(ctx, replace(ibtp, proof=mutated), b"")
