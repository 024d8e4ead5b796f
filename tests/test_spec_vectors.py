"""The protocol vectors beyond the IBTP codec (docs/protocol.md §2.2, §3, §4, §5):

* ``ledger/*.json``: transaction sequences replayed through the reference executor,
  which must reproduce every result, refusal, outbound entry and the final state;
* ``notary/verification.json``: notary trust roots and proofs against the notary verifier;
* ``relay_proof/thresholds.json``: relay proofs counted by the documented broker rule
  and by the EVM dev chain's broker.

The generator (tests/vectors/generate.py) states each expected outcome from the doc and
refuses to write a vector the executor disagrees with; these tests replay the files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.notary.verifier import NotaryVerifier
from appchains.evm.devchain.broker import Broker
from appchains.evm.devchain.native import GasMeter, Revert, decode_revert_reason
from relay.crypto import Account, recover_address
from relay.errors import Code, RelayError
from relay.executor import Executor, decode_outbound
from relay.genesis import Genesis
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash
from relay.ledger.state import Layer, MemoryReader, StateView
from relay.ledger.types import decode_tx
from relay.validation.base import ChainContext
from relay.validation.registry import VerifierRegistry

VECTORS = Path(__file__).parent / "vectors"
LEDGER_FILES = sorted((VECTORS / "ledger").glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def unhex(text: str) -> bytes:
    assert text.startswith("0x"), text
    return bytes.fromhex(text[2:])


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------
# ledger/: the executor reproduces every step


class Replay:
    def __init__(self, vector: dict[str, Any]) -> None:
        assert vector["families"] == ["notary"]
        self.genesis = Genesis.from_dict(vector["genesis"])
        self.executor = Executor(self.genesis, VerifierRegistry({"notary": NotaryVerifier()}))
        self.reader = MemoryReader()
        self.layer = Layer()
        self.view = StateView(self.reader, [self.layer])
        self.height = 1
        self.tx_index = 0
        assert self.executor.begin_block(self.view, 1) == 0

    def advance(self, height: int) -> int:
        total = 0
        while self.height < height:
            self.reader.apply(self.layer.writes)
            self.layer = Layer()
            self.view = StateView(self.reader, [self.layer])
            self.height += 1
            self.tx_index = 0
            total += self.executor.begin_block(self.view, self.height)
        return total

    def outseqs(self) -> dict[str, int]:
        return {k[len("outseq/") :]: int(v) for k, v in self.view.scan("outseq/")}

    def step(self, step: dict[str, Any]) -> None:
        assert step["height"] == self.height
        raw = unhex(step["tx"])
        before = self.outseqs()
        try:
            tx = decode_tx(raw)
            assert "0x" + tx.hash.hex() == step["tx_hash"]
            child, layer = self.view.child()
            receipt = self.executor.apply_tx(child, tx, self.height, self.tx_index)
        except RelayError as exc:
            assert "error" in step, f"{step['note']}: refused {exc.code}: {exc.message}"
            assert exc.code == step["error"]["code"], (step["note"], exc.message)
            assert Code(exc.code).name == step["error"]["name"]
            assert jsonable(exc.details) == step["error"]["details"], step["note"]
            return
        assert "error" not in step, f"{step['note']}: applied, expected {step['error']}"
        self.view.merge(layer)
        self.tx_index += 1
        assert jsonable(list(receipt.results)) == step["results"], step["note"]
        added = []
        for chain, last in sorted(self.outseqs().items()):
            for seq in range(before.get(chain, 0) + 1, last + 1):
                entry = decode_outbound(chain, seq, self.view.get(f"out/{chain}/{seq:016x}"))
                added.append(
                    {
                        "chain": chain,
                        "seq": seq,
                        "ibtp": "0x" + entry.ibtp.hex(),
                        "status": entry.status,
                    }
                )
        key = lambda e: (e["chain"], e["seq"])  # noqa: E731
        assert sorted(added, key=key) == sorted(step["outbound"], key=key), step["note"]

    def final(self) -> dict[str, Any]:
        view = self.view
        return {
            "transactions": {
                k[len("tx/") :]: {
                    "status": v[0],
                    "ibtp_hash": "0x" + v[1].hex(),
                    "timeout": str(v[2]),
                    "history": v[3],
                    "receipt_hash": "0x" + v[4].hex(),
                    "result": "0x" + v[5].hex(),
                }
                for k, v in view.scan("tx/")
            },
            "pairs": {k[len("pair/") :]: list(v) for k, v in view.scan("pair/")},
            "outbound_last_seq": {k[len("outseq/") :]: v for k, v in view.scan("outseq/")},
            "nonces": {k[len("acct/") :]: v for k, v in view.scan("acct/")},
            "chains": {
                k[len("chain/") :]: {"status": v["status"], "prior": v.get("prior", 0)}
                for k, v in view.scan("chain/")
            },
            "services": sorted(k[len("svc/") :] for k, _ in view.scan("svc/")),
        }


def test_ledger_vectors_exist() -> None:
    assert [p.name for p in LEDGER_FILES] == ["01-transactions.json", "02-interchain.json"]


@pytest.mark.parametrize("path", LEDGER_FILES, ids=lambda p: p.stem)
def test_ledger_vector_replays(path: Path) -> None:
    v = load(path)
    for key in v["keys"].values():
        assert Account.from_key(key["private_key"]).address == key["address"]
    replay = Replay(v)
    for step in v["steps"]:
        if "advance_to" in step:
            assert replay.advance(step["advance_to"]) == step["timed_out"]
        else:
            replay.step(step)
    assert replay.final() == v["final"]


def test_ledger_vectors_cover_the_documented_codes() -> None:
    codes = {s["error"]["code"] for p in LEDGER_FILES for s in load(p)["steps"] if "error" in s}
    assert codes >= {
        1001, 1002, 1003, 1005,
        2001, 2002, 2003, 2004, 2005, 2006, 2007,
        3001, 3002, 3005, 3006, 3007, 3008, 3009, 3010,
        4001, 4002, 4004, 4005, 4006, 4007, 4009,
        5002, 5101, 5102,
    }  # fmt: skip
    assert not codes & {4003, 4008}, "4003 and 4008 are never sent (docs/protocol.md §6)"


def test_ledger_vectors_cover_every_transition() -> None:
    v = load(VECTORS / "ledger" / "02-interchain.json")
    paths = {tuple(s for s, _ in t["history"]) for t in v["final"]["transactions"].values()}
    # BEGIN->SUCCESS, BEGIN->FAILURE, BEGIN->BEGIN_ROLLBACK->SUCCESS (a late receipt),
    # BEGIN->BEGIN_ROLLBACK->SOURCE_ROLLBACK(->ROLLBACK), expired at admission
    # SOURCE_ROLLBACK->ROLLBACK, BEGIN_FAILURE(->ROLLBACK)
    assert paths >= {
        (0, 1),
        (0, 2),
        (0, 5, 1),
        (0, 5, 6),
        (0, 5, 6, 3),
        (6, 3),
        (4,),
        (4, 3),
        (0,),
    }


# ---------------------------------------------------------------------------
# notary/


NOTARY = load(VECTORS / "notary" / "verification.json")


def test_notary_vector_names_its_ibtp() -> None:
    ibtp = load(VECTORS / NOTARY["ibtp"])
    assert NOTARY["ibtp_hash"] == ibtp["ibtp_hash"]
    assert NOTARY["notary_digest"] == ibtp["notary_digest"]


@pytest.mark.parametrize("case", NOTARY["trust_roots"], ids=lambda c: c["name"])
def test_notary_trust_root(case: dict[str, Any]) -> None:
    verifier = NotaryVerifier()
    if case["error"] is None:
        verifier.check_registration(case["trust_root"], case["broker"])
        return
    with pytest.raises(RelayError) as exc:
        verifier.check_registration(case["trust_root"], case["broker"])
    assert exc.value.code == case["error"]["code"]


@pytest.mark.parametrize("case", NOTARY["proofs"], ids=lambda c: c["name"])
def test_notary_proof(case: dict[str, Any]) -> None:
    verifier = NotaryVerifier()
    ctx = ChainContext(
        hub_id="hub0",
        chain_id="appchain1",
        family="notary",
        broker="broker_1",
        trust_root=verifier.parse_trust_root(NOTARY["trust_root"]),
        trust_root_height=1,
    )
    # The proof does not enter the IBTP hash: any IBTP with that hash will do.
    ibtp = IBTP("h:a:s", "h:b:t", 1, IBTPType.INTERCHAIN, 0, Payload(), unhex(case["proof"]))
    ibtp_hash = unhex(NOTARY["ibtp_hash"])
    if case["error"] is None:
        verifier.verify(ctx, ibtp, ibtp_hash)
        return
    with pytest.raises(RelayError) as exc:
        verifier.verify(ctx, ibtp, ibtp_hash)
    assert exc.value.code == case["error"]["code"], exc.value.message
    assert exc.value.details.get("signature_index") == case["error"].get("signature_index")


def test_notary_ibtp_hash_is_the_vectors() -> None:
    d = load(VECTORS / NOTARY["ibtp"])["decoded"]
    ibtp = IBTP(
        d["from"],
        d["to"],
        int(d["index"]),
        IBTPType(d["type"]),
        int(d["timeout"]),
        Payload(d["payload"]["func"], tuple(unhex(a) for a in d["payload"]["args"])),
    )
    assert (
        "0x" + compute_ibtp_hash(dataclasses.replace(ibtp, proof=b"")).hex() == NOTARY["ibtp_hash"]
    )


# ---------------------------------------------------------------------------
# relay_proof/thresholds.json


THRESHOLDS = load(VECTORS / "relay_proof" / "thresholds.json")


def doc_rule(
    digest: bytes, validators: set[str], threshold: int, sigs: list[bytes]
) -> tuple[str, int | None]:
    """docs/protocol.md §2.2, as written: every signature in order well-formed and a
    validator's, then at least ``threshold`` distinct validators."""
    seen = set()
    for i, sig in enumerate(sigs):
        try:
            who = recover_address(digest, sig)
        except RelayError:
            return "malformed", i
        if who not in validators:
            return "unregistered_signer", i
        seen.add(who)
    return ("accept", None) if len(seen) >= threshold else ("below_threshold", None)


def test_threshold_digest_is_vector_01s() -> None:
    entries = load(VECTORS / "ibtp" / "01-interchain-minimal.json")["signed_digest"]
    (entry,) = [
        e for e in entries if e["target_chain"] == THRESHOLDS["target_chain"] and e["status"] == 0
    ]
    assert entry["digest"] == THRESHOLDS["digest"]


@pytest.mark.parametrize("case", THRESHOLDS["cases"], ids=lambda c: c["name"])
def test_relay_proof_threshold(case: dict[str, Any]) -> None:
    digest = unhex(THRESHOLDS["digest"])
    sigs = [unhex(s) for s in case["signatures"]]
    got = doc_rule(digest, set(THRESHOLDS["validators"]), THRESHOLDS["threshold"], sigs)
    assert got == (case["expect"], case.get("signature_index"))

    # The EVM dev chain's broker (the Solidity broker's twin) agrees.
    broker = Broker(
        b"\x11" * 20,
        THRESHOLDS["hub_id"],
        THRESHOLDS["target_chain"],
        [unhex(a) for a in THRESHOLDS["validators"]],
        THRESHOLDS["threshold"],
    )
    env = SimpleNamespace(gas=GasMeter(10**9))
    reasons = {
        "malformed": "broker: malformed relay signature",
        "unregistered_signer": "broker: unregistered relay signer",
        "below_threshold": "broker: relay signatures below threshold",
    }
    if case["expect"] == "accept":
        broker._check_relay_proof(env, digest, sigs)  # type: ignore[arg-type]
        return
    with pytest.raises(Revert) as exc:
        broker._check_relay_proof(env, digest, sigs)  # type: ignore[arg-type]
    assert decode_revert_reason(exc.value.data) == reasons[case["expect"]]


# ---------------------------------------------------------------------------
# docs/protocol.md §6 lists every code, with its name and HTTP status


def test_protocol_doc_lists_every_code_with_its_http_status() -> None:
    import re

    from relay.errors import http_status

    text = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    rows = {
        int(m[1]): (m[2], m[3])
        for m in re.finditer(r"^\| (\d{4}) \| ([A-Z_0-9]+) \| (\d{3}|—) \|", text, re.M)
    }
    for code in Code:
        assert code in rows, f"{code.name} is missing from docs/protocol.md §6"
        name, status = rows[code]
        assert name == code.name
        assert status == str(http_status(code)), code.name
