"""The shared verifier conformance runner (``check_verifier``) and its vector corpus.

Every chain family ships a corpus of proof vectors on disk, ``good/*.json`` (must
verify) and ``bad/*.json`` (must be refused with exactly the code they name), made
by a deterministic generator (``tests/vectors/<family>/generate.py``). One vector:

=================== ==========================================================
key                 meaning
=================== ==========================================================
``name``            the case (the file is ``<name>.json``)
``description``     what it is, in a sentence
``hub_id``          the hub the chain is registered on
``chain_id``        the chain's relay ID (the middle part of its service IDs)
``family``          the verifier family, e.g. ``"evm"``, ``"notary"``
``broker``          the broker as registered, in the family's canonical spelling
``trust_root``      the registration's trust root, as ``chain.register`` takes it
``ibtp``            hex of the canonical IBTP bytes, proof included
``ibtp_hash``       hex of the IBTP hash (docs/protocol.md §2.2)
``expected``        ``{"ok": true}`` or ``{"ok": false, "code": n, "name": "..."}``
=================== ==========================================================

:func:`check_verifier` runs a family's verifier against its corpus the way the relay
uses it: the registration hook (``check_registration``) must accept every trust
root and broker of the corpus and give the broker back as spelled there; the
context of each vector is built from what the hook returned; every good vector
verifies (twice: a memo must not change the outcome) and names, on its emitting
side, a service part ``canonical_service`` leaves as it is; every bad vector raises
:class:`~relay.errors.ProofError` with exactly its 5xxx code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from relay.errors import ProofError
from relay.ibtp import IBTP, IBTPType, compute_ibtp_hash, decode_ibtp
from relay.ibtp.ids import parse_service_id
from relay.validation.base import ChainContext, Verifier

#: Receipts are emitted by the destination chain; requests and rollbacks by the source.
_DESTINATION_EMITTED = frozenset({IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE})


@dataclass(frozen=True, slots=True)
class ProofVector:
    name: str
    description: str
    hub_id: str
    chain_id: str
    family: str
    broker: str
    trust_root: Any
    ibtp: IBTP
    ibtp_hash: bytes
    ok: bool
    code: int | None = None
    code_name: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProofVector:
        expected = d["expected"]
        ok = expected["ok"]
        assert ok is True or ok is False, f"{d['name']}: expected.ok is true or false"
        if ok:
            assert expected == {"ok": True}, f"{d['name']}: a good vector expects only ok"
        return cls(
            name=d["name"],
            description=d["description"],
            hub_id=d["hub_id"],
            chain_id=d["chain_id"],
            family=d["family"],
            broker=d["broker"],
            trust_root=d["trust_root"],
            ibtp=decode_ibtp(bytes.fromhex(d["ibtp"])),
            ibtp_hash=bytes.fromhex(d["ibtp_hash"]),
            ok=ok,
            code=None if ok else int(expected["code"]),
            code_name=None if ok else str(expected["name"]),
        )


@dataclass(frozen=True, slots=True)
class VectorCorpus:
    good: tuple[ProofVector, ...]
    bad: tuple[ProofVector, ...]

    @classmethod
    def load(cls, folder: Path) -> VectorCorpus:
        """``folder/good/*.json`` and ``folder/bad/*.json``, sorted by file name."""

        def read(kind: str) -> tuple[ProofVector, ...]:
            out = []
            for path in sorted((folder / kind).glob("*.json")):
                vec = ProofVector.from_json(json.loads(path.read_text()))
                assert vec.name == path.stem, f"{path}: name {vec.name!r} is not the file's"
                assert vec.ok == (kind == "good"), f"{path}: expected.ok does not fit {kind}/"
                out.append(vec)
            return tuple(out)

        return cls(read("good"), read("bad"))

    def only(self, name: str) -> VectorCorpus:
        """The corpus of the one vector called ``name``."""
        pick = VectorCorpus(
            tuple(v for v in self.good if v.name == name),
            tuple(v for v in self.bad if v.name == name),
        )
        assert len(pick.good) + len(pick.bad) == 1, f"no single vector named {name!r}"
        return pick

    @property
    def codes(self) -> set[int]:
        return {v.code for v in self.bad if v.code is not None}


def write_corpus_files(folder: Path, good: list[dict[str, Any]], bad: list[dict[str, Any]]) -> int:
    """Write vectors (their JSON form) as :meth:`VectorCorpus.load` reads them:
    ``folder/good/<name>.json`` and ``folder/bad/<name>.json``, sorted keys, replacing
    what those folders held. Returns how many were written. Deterministic: the same
    vectors give byte-identical files."""
    count = 0
    for kind, vectors in (("good", good), ("bad", bad)):
        out = folder / kind
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.json"):
            old.unlink()
        for vec in vectors:
            text = json.dumps(vec, indent=2, sort_keys=True) + "\n"
            (out / f"{vec['name']}.json").write_text(text)
            count += 1
    return count


def corpus_generator_main(
    description: str, default_out: Path, write: Callable[[Path], int], argv: list[str] | None
) -> None:
    """The command line of a family's corpus generator: ``[--out DIR]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out, help="folder for good/ and bad/")
    args = parser.parse_args(argv)
    print(f"wrote {write(args.out)} vectors to {args.out}")


@dataclass
class VerifierReport:
    verified: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    registrations: int = 0


def check_vector(
    verifier: Verifier,
    vector: ProofVector,
    ctx: ChainContext,
    codes: type[IntEnum] | None = None,
) -> None:
    """One vector against ``verifier`` in context ``ctx``; AssertionError if it does
    not behave as the vector says."""
    ibtp = vector.ibtp
    assert compute_ibtp_hash(ibtp) == vector.ibtp_hash, f"{vector.name}: ibtp_hash is stale"
    if vector.ok:
        for _ in range(2):  # the second time from whatever the verifier memoised
            verifier.verify(ctx, ibtp, vector.ibtp_hash)
        side = ibtp.dst if ibtp.type in _DESTINATION_EMITTED else ibtp.src
        if ibtp.type == IBTPType.RECEIPT_ROLLBACK and parse_service_id(side).chain != ctx.chain_id:
            side = ibtp.dst  # the destination's acknowledgement (docs/protocol.md §3)
        part = parse_service_id(side).service
        assert verifier.canonical_service(part) == part, (
            f"{vector.name}: {part!r}, as the chain emitted it, is not canonical"
        )
        return
    assert vector.code is not None and 5000 <= vector.code < 6000, (
        f"{vector.name}: a proof refusal has a 5xxx code, not {vector.code}"
    )
    if codes is not None:
        assert codes(vector.code).name == vector.code_name, (
            f"{vector.name}: code {vector.code} is {codes(vector.code).name}, "
            f"not {vector.code_name}"
        )
    try:
        verifier.verify(ctx, ibtp, vector.ibtp_hash)
    except ProofError as exc:
        assert exc.code == vector.code, (
            f"{vector.name}: refused with {exc.code} ({exc.message}), expected {vector.code}"
        )
        assert exc.http_status == 422
    else:
        raise AssertionError(f"{vector.name}: a bad vector verified")


def check_verifier(
    verifier: Verifier, corpus: VectorCorpus, *, codes: type[IntEnum] | None = None
) -> VerifierReport:
    """Run ``verifier`` against the whole ``corpus`` (see the module docstring).

    ``codes``: the family's code enum, to check each bad vector's ``name`` too.
    Raises AssertionError (or the verifier's unexpected error) on a failure."""
    assert isinstance(verifier, Verifier), f"{verifier!r} does not implement Verifier"
    vectors = (*corpus.good, *corpus.bad)
    assert vectors, "an empty corpus checks nothing"
    report = VerifierReport()
    contexts: dict[tuple[str, str], Any] = {}
    for vec in vectors:
        assert vec.family == verifier.family, (
            f"{vec.name}: a vector of family {vec.family!r}, not {verifier.family!r}"
        )
        key = (json.dumps(vec.trust_root, sort_keys=True), vec.broker)
        if key not in contexts:
            reg = verifier.check_registration(vec.trust_root, vec.broker)
            assert reg.broker == vec.broker, (
                f"{vec.name}: the registration hook spells the broker {reg.broker!r}, "
                f"the corpus {vec.broker!r} (store the canonical spelling)"
            )
            contexts[key] = reg.trust_root
            report.registrations += 1
        ctx = ChainContext(vec.hub_id, vec.chain_id, vec.family, vec.broker, contexts[key])
        check_vector(verifier, vec, ctx, codes)
        if vec.ok:
            report.verified.append(vec.name)
        else:
            assert vec.code is not None
            report.refused[vec.name] = vec.code
    return report


__all__ = ["ProofVector", "VectorCorpus", "VerifierReport", "check_vector", "check_verifier"]
