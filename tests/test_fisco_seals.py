"""PBFT seals over a FISCO block hash (``adapters.fisco.seals``), with real keys.

secp256k1 seals are signed with coincurve (libsecp256k1, as the node's ``ecdsaSign``);
SM2 seals with GmSSL through ``adapters.fisco.smcrypto``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coincurve import PrivateKey

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import keccak256, sm3
from adapters.fisco.seals import SECP256K1_N, verify_sealed_header
from adapters.fisco.smcrypto import fisco_sm2_sign, sm2_keypair
from relay.errors import ProofError

HASH = keccak256(b"fisco block header")
OTHER_HASH = keccak256(b"another block header")

Signer = Callable[[bytes], bytes]


def secp_sealer() -> tuple[bytes, Signer]:
    key = PrivateKey()
    node_id = key.public_key.format(compressed=False)[1:]
    return node_id, lambda h: key.sign_recoverable(h, hasher=None)


def sm2_sealer() -> tuple[bytes, Signer]:
    private_key, pub = sm2_keypair()
    return pub, lambda h: fisco_sm2_sign(private_key, pub, h)


MAKERS = {"secp256k1": secp_sealer, "sm": sm2_sealer}
BOTH = pytest.mark.parametrize("mode", ["secp256k1", "sm"])


def group(mode: str, n: int) -> tuple[list[bytes], list[Signer]]:
    pairs = [MAKERS[mode]() for _ in range(n)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def refused(code: FiscoCode, *args: object) -> ProofError:
    with pytest.raises(ProofError) as info:
        verify_sealed_header(*args)  # type: ignore[arg-type]
    assert info.value.code == code, info.value
    return info.value


def test_secp_seal_is_r_s_v_with_v_0_or_1() -> None:
    node_id, sign = secp_sealer()
    sig = sign(HASH)
    assert len(sig) == 65 and sig[64] in (0, 1) and len(node_id) == 64


@BOTH
@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (4, 3), (7, 5)])
def test_quorum_of_distinct_sealers(mode: str, n: int, quorum: int) -> None:
    sealers, signers = group(mode, n)
    h = HASH if mode == "secp256k1" else sm3(b"header")
    seals = [(k, signers[k](h)) for k in range(quorum)]
    assert verify_sealed_header(h, seals, sealers, mode) == quorum  # type: ignore[arg-type]
    everyone = [(k, signers[k](h)) for k in reversed(range(n))]
    assert verify_sealed_header(h, everyone, sealers, mode) == n  # type: ignore[arg-type]
    err = refused(FiscoCode.SEAL_BELOW_QUORUM, h, seals[: quorum - 1], sealers, mode)
    assert err.details["quorum"] == quorum


@BOTH
def test_duplicates_count_once(mode: str) -> None:
    sealers, signers = group(mode, 4)
    seals = [(0, signers[0](HASH)), (1, signers[1](HASH)), (2, signers[2](HASH))]
    assert verify_sealed_header(HASH, [*seals, seals[0]], sealers, mode) == 3  # type: ignore[arg-type]
    # three seals, as many as the quorum, but two sealers: the node's size check would pass
    err = refused(
        FiscoCode.SEAL_DUPLICATE_SEALER, HASH, [seals[0], seals[1], seals[0]], sealers, mode
    )
    assert err.details["signed"] == 2 and err.details["seals"] == 3
    # a second, fresh signature by the same sealer counts once too
    again = (0, signers[0](HASH))
    refused(FiscoCode.SEAL_DUPLICATE_SEALER, HASH, [seals[0], seals[1], again], sealers, mode)


@BOTH
def test_seal_over_another_hash(mode: str) -> None:
    sealers, signers = group(mode, 4)
    seals = [(k, signers[k](HASH)) for k in range(2)] + [(2, signers[2](OTHER_HASH))]
    # secp256k1: the signature recovers to some unrelated key; SM2: it does not verify
    code = (
        FiscoCode.SEAL_UNREGISTERED_SIGNER
        if mode == "secp256k1"
        else FiscoCode.SEAL_SIGNATURE_INVALID
    )
    err = refused(code, HASH, seals, sealers, mode)
    assert err.details["seal_index"] == 2


@BOTH
def test_index_out_of_range_and_wrong_index(mode: str) -> None:
    sealers, signers = group(mode, 4)
    good = [(k, signers[k](HASH)) for k in range(3)]
    refused(FiscoCode.SEAL_INDEX_OUT_OF_RANGE, HASH, [*good, (4, signers[3](HASH))], sealers, mode)
    err = refused(FiscoCode.SEAL_SIGNER_MISMATCH, HASH, [*good[:2], (3, good[2][1])], sealers, mode)
    assert err.details["sealer_index"] == 3 and err.details["signer_index"] == 2
    refused(FiscoCode.SEAL_MALFORMED, HASH, [(-1, good[0][1])], sealers, mode)
    refused(FiscoCode.SEAL_MALFORMED, HASH, [(True, good[0][1])], sealers, mode)


@BOTH
def test_unregistered_sealer_even_if_the_header_lists_it(mode: str) -> None:
    # the trust root's list counts: an outsider's valid seal is refused
    sealers, signers = group(mode, 4)
    outsider_id, outsider = MAKERS[mode]()
    seals = [(k, signers[k](HASH)) for k in range(3)] + [(3, outsider(HASH))]
    err = refused(FiscoCode.SEAL_UNREGISTERED_SIGNER, HASH, seals, sealers, mode)
    assert err.details["signer"] == "0x" + outsider_id.hex()


@BOTH
def test_wrong_mode(mode: str) -> None:
    sealers, _ = group(mode, 1)
    other = "sm" if mode == "secp256k1" else "secp256k1"
    _, foreign = MAKERS[other]()
    refused(FiscoCode.SEAL_WRONG_MODE, HASH, [(0, foreign(HASH))], sealers, mode)


def test_malformed_secp_seals() -> None:
    sealers, signers = group("secp256k1", 1)
    sig = signers[0](HASH)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
    bad = {
        "short": sig[:64],
        "v27": sig[:64] + bytes([v + 27]),
        "v2": sig[:64] + b"\x02",
        "high_s": high_s,
        "r0": bytes(32) + sig[32:],
        "r_n": SECP256K1_N.to_bytes(32, "big") + sig[32:],
        "s0": r + bytes(32) + bytes([v]),
    }
    for name, b in bad.items():
        err = refused(FiscoCode.SEAL_MALFORMED, HASH, [(0, b)], sealers, "secp256k1")
        assert err.details["seal_index"] == 0, name
    # the same key, the same (low-s) form: accepted
    assert verify_sealed_header(HASH, [(0, sig)], sealers, "secp256k1") == 1


def test_secp_seal_that_recovers_to_no_key() -> None:
    sealers, _ = group("secp256k1", 1)
    # x = 5 is not the x-coordinate of any secp256k1 point (5**3 + 7 = 132 is a non-residue)
    sig = (5).to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x00"
    refused(FiscoCode.SEAL_SIGNATURE_INVALID, HASH, [(0, sig)], sealers, "secp256k1")


def test_malformed_and_tampered_sm2_seals() -> None:
    sealers, signers = group("sm", 4)
    sig = signers[0](HASH)
    for b in (sig[:127], bytes(32) + sig[32:], sig[:32] + bytes(32) + sig[64:]):
        refused(FiscoCode.SEAL_MALFORMED, HASH, [(0, b)], sealers, "sm")
    flipped = sig[:31] + bytes([sig[31] ^ 1]) + sig[32:]
    refused(FiscoCode.SEAL_SIGNATURE_INVALID, HASH, [(0, flipped)], sealers, "sm")
    # another sealer's key pasted over the carried key: refused as that sealer's, unverified
    relabelled = sig[:64] + sealers[1]
    refused(FiscoCode.SEAL_SIGNATURE_INVALID, HASH, [(1, relabelled)], sealers, "sm")


def test_caller_errors_are_value_errors() -> None:
    sealers, signers = group("secp256k1", 1)
    seal = [(0, signers[0](HASH))]
    with pytest.raises(ValueError):
        verify_sealed_header(HASH[:31], seal, sealers, "secp256k1")
    with pytest.raises(ValueError):
        verify_sealed_header(HASH, seal, [], "secp256k1")
    with pytest.raises(ValueError):
        verify_sealed_header(HASH, seal, [sealers[0], sealers[0]], "secp256k1")
    with pytest.raises(ValueError):
        verify_sealed_header(HASH, seal, sealers, "ed25519")  # type: ignore[arg-type]
