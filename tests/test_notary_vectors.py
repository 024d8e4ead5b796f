"""The notary family through the shared verifier runner, and the runner itself.

``adapters.testing.check_verifier`` is the relay side's conformance suite: every
family's corpus runs through it (the EVM one in tests/test_evm_verifier.py). The
last tests here show the runner fails on each way a verifier or a corpus can be
wrong, so a family passing it means something.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.evm.verifier import EvmVerifier
from adapters.notary.verifier import NotaryVerifier
from adapters.testing import VectorCorpus, check_verifier
from relay.errors import Code, RelayError
from relay.ibtp import compute_ibtp_hash

VECTORS = Path(__file__).parent / "vectors" / "notary"
CORPUS = VectorCorpus.load(VECTORS)


def _load_generator() -> Any:
    path = VECTORS / "generate.py"
    spec = importlib.util.spec_from_file_location("notary_vector_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_notary_corpus_passes_the_shared_runner() -> None:
    report = check_verifier(NotaryVerifier(), CORPUS, codes=Code)
    assert len(report.verified) == len(CORPUS.good) >= 5
    assert len(report.refused) == len(CORPUS.bad) >= 10
    assert report.registrations == 1


def test_notary_corpus_covers_every_notary_refusal() -> None:
    assert CORPUS.codes == {
        Code.PROOF_MALFORMED,
        Code.NOTARY_BELOW_THRESHOLD,
        Code.NOTARY_UNKNOWN_SIGNER,
        Code.NOTARY_BAD_SIGNATURE,
    }
    names = {v.name for v in CORPUS.bad}
    assert {"below_threshold", "stranger", "duplicate_signer", "proof_not_msgpack"} <= names
    types = {v.ibtp.type for v in CORPUS.good}
    assert len(types) == 4  # a request, both receipts and a rollback acknowledgement


def test_notary_corpus_regenerates_identically(tmp_path: Path) -> None:
    _load_generator().write_corpus(tmp_path)
    for kind in ("good", "bad"):
        fresh = {p.name: p.read_bytes() for p in (tmp_path / kind).glob("*.json")}
        stored = {p.name: p.read_bytes() for p in (VECTORS / kind).glob("*.json")}
        assert fresh == stored, f"tests/vectors/notary/{kind} is stale: run generate.py"


# --------------------------------------------------------------------------- the runner


def _fails(corpus: VectorCorpus, match: str, verifier: Any = None) -> None:
    with pytest.raises(AssertionError, match=match):
        check_verifier(verifier or NotaryVerifier(), corpus, codes=Code)


def test_runner_fails_on_a_wrong_code() -> None:
    vec = CORPUS.only("stranger").bad[0]
    wrong = replace(vec, code=int(Code.NOTARY_BAD_SIGNATURE), code_name="NOTARY_BAD_SIGNATURE")
    _fails(VectorCorpus((), (wrong,)), "refused with 5102")
    misnamed = replace(vec, code_name="NOTARY_BELOW_THRESHOLD")
    _fails(VectorCorpus((), (misnamed,)), "is NOTARY_UNKNOWN_SIGNER")


def test_runner_fails_on_a_bad_vector_that_verifies() -> None:
    good = CORPUS.good[0]
    as_bad = replace(
        good, ok=False, code=int(Code.NOTARY_BELOW_THRESHOLD), code_name="NOTARY_BELOW_THRESHOLD"
    )
    _fails(VectorCorpus((), (as_bad,)), "verified", verifier=NotaryVerifier())


def test_runner_fails_on_a_good_vector_that_does_not_verify() -> None:
    good = CORPUS.only("request_two_of_three").good[0]
    weak = CORPUS.only("below_threshold").bad[0]
    forged = replace(good, ibtp=weak.ibtp)
    with pytest.raises(RelayError) as info:
        check_verifier(NotaryVerifier(), VectorCorpus((forged,), ()))
    assert info.value.code == Code.NOTARY_BELOW_THRESHOLD


def test_runner_fails_on_a_stale_hash_and_a_non_5xxx_code() -> None:
    good = CORPUS.good[0]
    other = replace(good.ibtp, index=good.ibtp.index + 1)
    assert compute_ibtp_hash(other) != good.ibtp_hash
    _fails(VectorCorpus((replace(good, ibtp=other),), ()), "ibtp_hash is stale")
    bad = replace(CORPUS.bad[0], code=int(Code.BAD_REQUEST), code_name="BAD_REQUEST")
    _fails(VectorCorpus((), (bad,)), "5xxx")


def test_runner_checks_the_registration_hook() -> None:
    good = CORPUS.good[0]
    # The hook spells an address broker lowercase; a corpus must store that spelling.
    upper = replace(good, broker="0x" + "AB" * 20)
    _fails(VectorCorpus((upper,), ()), "spells the broker")
    # A trust root the hook refuses never reaches verify.
    broken = replace(good, trust_root={**good.trust_root, "threshold": 9})
    with pytest.raises(RelayError) as info:
        check_verifier(NotaryVerifier(), VectorCorpus((broken,), ()))
    assert info.value.code == Code.BAD_TRUST_ROOT


def test_runner_fails_on_another_family_and_an_empty_corpus() -> None:
    _fails(CORPUS, "family 'notary', not 'evm'", verifier=EvmVerifier())
    _fails(VectorCorpus((), ()), "empty corpus")


def test_runner_fails_on_a_non_canonical_emitting_service() -> None:
    good = CORPUS.only("request_two_of_three").good[0]
    src = good.ibtp.src.rsplit(":", 1)[0] + ":0x" + "CD" * 20
    ibtp = replace(good.ibtp, src=src)
    # Re-notarise so that only the spelling is wrong.
    gen = _load_generator()
    ibtp = replace(ibtp, proof=gen.pack(gen.sign(ibtp, gen.NOTARIES[:2])))
    vec = replace(good, ibtp=ibtp, ibtp_hash=compute_ibtp_hash(ibtp))
    _fails(VectorCorpus((vec,), ()), "is not canonical")
