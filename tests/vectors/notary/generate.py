"""Generate the notary proof corpus: ``good/*.json`` must verify, ``bad/*.json`` must not.

Run from the repository root::

    .venv/bin/python tests/vectors/notary/generate.py            # rewrites tests/vectors/notary/
    .venv/bin/python tests/vectors/notary/generate.py --out DIR  # writes DIR/good, DIR/bad

Output is deterministic (fixed keys; RFC 6979 signatures), so a regenerated corpus
is byte-identical and ``tests/test_notary_vectors.py`` checks that it is. The vector
format is the shared one of ``adapters/testing/vectors.py`` (docs/families.md); the
notary proof is specified in docs/protocol.md §5.

TEST KEYS ONLY: every private key below is derived from a public string
(``keccak256("relayhub test key: <name>")``). They are known to everyone; never
use them for anything that holds value.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack

from adapters.testing.vectors import corpus_generator_main, write_corpus_files
from relay.crypto import SECP256K1_N, Account, keccak
from relay.errors import Code
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    compute_ibtp_hash,
    compute_notary_digest,
    encode_ibtp,
)

HERE = Path(__file__).resolve().parent

HUB = "hub1"
CHAIN = "notary1"  # the notarised chain's relay chain ID
OTHER = "ethdev"  # the chain on the other side of the calls
BROKER = "notary-broker"


def test_account(name: str) -> Account:
    """A TEST key: keccak256("relayhub test key: " + name). Public; never hold value with it."""
    return Account.from_key(keccak(b"relayhub test key: " + name.encode()))


NOTARIES = [test_account(f"notary-{i}") for i in range(1, 4)]
STRANGER = test_account("notary-stranger")
TRUST_ROOT = {"keys": [n.address for n in NOTARIES], "threshold": 2}

LOCAL_SVC = f"{HUB}:{CHAIN}:asset"
REMOTE_SVC = f"{HUB}:{OTHER}:0x{'ab' * 20}"

REQUEST = IBTP(
    LOCAL_SVC,
    REMOTE_SVC,
    7,
    IBTPType.INTERCHAIN,
    0,
    Payload("mint", (b"\x00" * 12 + bytes.fromhex("cd" * 20), (25).to_bytes(32, "big"))),
)
RECEIPT = IBTP(REMOTE_SVC, LOCAL_SVC, 3, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"minted",)))
FAILURE = IBTP(REMOTE_SVC, LOCAL_SVC, 4, IBTPType.RECEIPT_FAILURE, 0, Payload("", (b"cap",)))
ROLLBACK = IBTP(LOCAL_SVC, REMOTE_SVC, 5, IBTPType.RECEIPT_ROLLBACK, 0, Payload())


def sign(ibtp: IBTP, signers: list[Account]) -> list[bytes]:
    digest = compute_notary_digest(compute_ibtp_hash(ibtp))
    return [s.sign(digest) for s in signers]


def pack(sigs: Any) -> bytes:
    return msgpack.packb(sigs, use_bin_type=True)


def high_s(sig: bytes) -> bytes:
    """The same signature with s replaced by n - s (a malleated, high-s form)."""
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])


def vector(
    name: str, description: str, ibtp: IBTP, proof: bytes, expected: Code | None
) -> dict[str, Any]:
    full = replace(ibtp, proof=proof)
    return {
        "name": name,
        "description": description,
        "hub_id": HUB,
        "chain_id": CHAIN,
        "family": "notary",
        "broker": BROKER,
        "trust_root": TRUST_ROOT,
        "ibtp": encode_ibtp(full).hex(),
        "ibtp_hash": compute_ibtp_hash(full).hex(),
        "expected": {"ok": True}
        if expected is None
        else {"ok": False, "code": int(expected), "name": expected.name},
    }


def build_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n1, n2, n3 = NOTARIES
    good = [
        vector(
            "request_two_of_three",
            "a request signed by notaries 1 and 2 (threshold 2)",
            REQUEST,
            pack(sign(REQUEST, [n1, n2])),
            None,
        ),
        vector(
            "request_all_three_reordered",
            "a request signed by all three notaries, in the order 3, 1, 2",
            REQUEST,
            pack(sign(REQUEST, [n3, n1, n2])),
            None,
        ),
        vector(
            "receipt_success",
            "a RECEIPT_SUCCESS signed by notaries 2 and 3",
            RECEIPT,
            pack(sign(RECEIPT, [n2, n3])),
            None,
        ),
        vector(
            "receipt_failure",
            "a RECEIPT_FAILURE signed by notaries 1 and 3",
            FAILURE,
            pack(sign(FAILURE, [n1, n3])),
            None,
        ),
        vector(
            "rollback_ack",
            "a rollback acknowledgement signed by notaries 1 and 2",
            ROLLBACK,
            pack(sign(ROLLBACK, [n1, n2])),
            None,
        ),
        vector(
            "duplicate_past_threshold",
            "notaries 1, 2 and 1 again: two distinct signers reach the threshold",
            REQUEST,
            pack(sign(REQUEST, [n1, n2, n1])),
            None,
        ),
    ]
    (s1,) = sign(REQUEST, [n1])
    other = replace(REQUEST, index=REQUEST.index + 1)
    bad = [
        vector(
            "below_threshold",
            "one notary signature where the threshold is 2",
            REQUEST,
            pack([s1]),
            Code.NOTARY_BELOW_THRESHOLD,
        ),
        vector(
            "no_signatures",
            "an empty signature list",
            REQUEST,
            pack([]),
            Code.NOTARY_BELOW_THRESHOLD,
        ),
        vector(
            "duplicate_signer",
            "notary 1 twice: one distinct signer, below the threshold",
            REQUEST,
            pack([s1, s1]),
            Code.NOTARY_BELOW_THRESHOLD,
        ),
        vector(
            "stranger",
            "notary 1 and a key that is not in the trust root",
            REQUEST,
            pack(sign(REQUEST, [n1, STRANGER])),
            Code.NOTARY_UNKNOWN_SIGNER,
        ),
        vector(
            "stranger_past_threshold",
            "notaries 1 and 2, then a stranger: every signature must be registered",
            REQUEST,
            pack(sign(REQUEST, [n1, n2, STRANGER])),
            Code.NOTARY_UNKNOWN_SIGNER,
        ),
        vector(
            "signed_another_ibtp",
            "notaries 1 and 2 signed the next index: the signatures recover to strangers",
            REQUEST,
            pack(sign(other, [n1, n2])),
            Code.NOTARY_UNKNOWN_SIGNER,
        ),
        vector(
            "signature_short",
            "notary 2's signature cut to 64 bytes",
            REQUEST,
            pack([s1, sign(REQUEST, [n2])[0][:64]]),
            Code.NOTARY_BAD_SIGNATURE,
        ),
        vector(
            "signature_high_s",
            "notary 2's signature in its malleated high-s form",
            REQUEST,
            pack([s1, high_s(sign(REQUEST, [n2])[0])]),
            Code.NOTARY_BAD_SIGNATURE,
        ),
        vector(
            "signature_bad_v",
            "notary 2's signature with v = 29",
            REQUEST,
            pack([s1, sign(REQUEST, [n2])[0][:64] + b"\x1d"]),
            Code.NOTARY_BAD_SIGNATURE,
        ),
        vector(
            "proof_not_msgpack",
            "proof bytes that are not msgpack (0xc1 is never used)",
            REQUEST,
            b"\xc1",
            Code.PROOF_MALFORMED,
        ),
        vector(
            "proof_not_an_array",
            "a msgpack map instead of the signature array",
            REQUEST,
            pack({"sigs": sign(REQUEST, [n1, n2])}),
            Code.PROOF_MALFORMED,
        ),
        vector(
            "proof_signature_as_string",
            "an array whose second item is a string, not bytes",
            REQUEST,
            pack([s1, "0x" + sign(REQUEST, [n2])[0].hex()]),
            Code.PROOF_MALFORMED,
        ),
        vector(
            "proof_too_many_signatures",
            "65 signatures (at most 64)",
            REQUEST,
            pack(sign(REQUEST, [n1, n2, n3]) * 21 + [s1, s1]),
            Code.PROOF_MALFORMED,
        ),
        vector(
            "proof_empty",
            "no proof bytes at all",
            REQUEST,
            b"",
            Code.PROOF_MALFORMED,
        ),
    ]
    return good, bad


def write_corpus(out: Path) -> int:
    good, bad = build_vectors()
    return write_corpus_files(out, good, bad)


def main(argv: list[str] | None = None) -> None:
    corpus_generator_main(__doc__.split("\n\n")[0], HERE, write_corpus, argv)


if __name__ == "__main__":
    main()
