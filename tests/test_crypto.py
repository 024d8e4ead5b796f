"""secp256k1 signing/recovery, addresses and key files (relay.crypto).

Signatures are checked against eth-keys' pure-Python backend and eth-account, which
share no code with coincurve/libsecp256k1, and against relay_proof vectors on disk.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account as EthAccount
from eth_keys import KeyAPI
from eth_keys.backends import NativeECCBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.crypto import (
    SECP256K1_N,
    Account,
    keccak,
    normalize_address,
    read_key_file,
    recover_address,
    sign_digest,
    write_key_file,
)
from relay.errors import Code, RelayError

HALF_N = SECP256K1_N // 2
VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "relay_proof" / "signatures.json").read_text()
)
NATIVE = KeyAPI(NativeECCBackend)

private_keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def assert_bad_signature(digest: Any, signature: Any) -> None:
    with pytest.raises(RelayError) as exc:
        recover_address(digest, signature)
    assert exc.value.code == Code.BAD_SIGNATURE


# ---------------------------------------------------------------------------
# Sign / recover


@fuzz(100)
@given(private_keys, digests)
def test_sign_recover_round_trip(secret: bytes, digest: bytes) -> None:
    account = Account.from_key(secret)
    sig = account.sign(digest)
    assert len(sig) == 65
    assert sig[64] in (27, 28)
    s = int.from_bytes(sig[32:64], "big")
    assert 0 < s <= HALF_N  # low-s (EIP-2)
    assert recover_address(digest, sig) == account.address
    assert sign_digest(account.key, digest) == sig  # deterministic (RFC 6979)


@fuzz(40)
@given(private_keys, digests)
def test_signature_matches_an_independent_implementation(secret: bytes, digest: bytes) -> None:
    ours = Account.from_key(secret).sign(digest)
    theirs = NATIVE.PrivateKey(secret).sign_msg_hash(digest)  # pure Python, RFC 6979 too
    assert ours == theirs.to_bytes()[:64] + bytes([theirs.v + 27])
    recovered = theirs.recover_public_key_from_msg_hash(digest).to_canonical_address()
    assert recover_address(digest, ours) == "0x" + recovered.hex()


def test_both_v_values_occur() -> None:
    account = Account.from_key(keccak(b"v values"))
    seen = {account.sign(keccak(i.to_bytes(2, "big")))[64] for i in range(64)}
    assert seen == {27, 28}


@fuzz(50)
@given(private_keys, digests)
def test_high_s_twin_is_refused(secret: bytes, digest: bytes) -> None:
    sig = Account.from_key(secret).sign(digest)
    s = int.from_bytes(sig[32:64], "big")
    # (r, n - s) with the other v is the same ECDSA signature in its high-s form.
    twin = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    assert int.from_bytes(twin[32:64], "big") > HALF_N
    # libsecp256k1 / eth-keys would recover the same key from it: only our check refuses it.
    assert_bad_signature(digest, twin)


def test_s_boundary() -> None:
    account = Account.from_key(keccak(b"s boundary"))
    digest = keccak(b"d")
    sig = account.sign(digest)
    for s in (HALF_N + 1, SECP256K1_N - 1, SECP256K1_N, 2**256 - 1):
        assert_bad_signature(digest, sig[:32] + s.to_bytes(32, "big") + sig[64:])
    for r in (0, SECP256K1_N, 2**256 - 1):
        assert_bad_signature(digest, r.to_bytes(32, "big") + sig[32:])
    assert_bad_signature(digest, sig[:32] + b"\x00" * 32 + sig[64:])


@pytest.mark.parametrize("length", [0, 1, 32, 64, 66, 130])
def test_wrong_length_is_refused(length: int) -> None:
    assert_bad_signature(keccak(b"d"), b"\x01" * length)


@pytest.mark.parametrize("v", [0, 1, 26, 29, 35, 36, 255])
def test_wrong_v_is_refused(v: int) -> None:
    account = Account.from_key(keccak(b"wrong v"))
    digest = keccak(b"d")
    sig = account.sign(digest)
    assert_bad_signature(digest, sig[:64] + bytes([v]))


@pytest.mark.parametrize("value", [None, "0x" + "11" * 65, bytearray(65), 12, [0] * 65])
def test_non_bytes_signature_is_refused(value: object) -> None:
    assert_bad_signature(keccak(b"d"), value)


@fuzz(300)
@given(st.binary(max_size=40), st.binary(max_size=80))
def test_recover_garbage_raises_only_bad_signature(digest: bytes, signature: bytes) -> None:
    try:
        address = recover_address(digest, signature)
    except RelayError as exc:
        assert exc.code == Code.BAD_SIGNATURE
    else:
        assert isinstance(address, str) and len(address) == 42


@fuzz(300)
@given(
    digests,
    st.integers(0, 2**256 - 1),
    st.integers(0, 2**256 - 1) | st.integers(1, HALF_N),
    st.sampled_from([27, 28]),
)
def test_recover_structured_garbage(digest: bytes, r: int, s: int, v: int) -> None:
    # Well-formed length and v, arbitrary r/s: reaches the curve arithmetic.
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    try:
        address = recover_address(digest, sig)
    except RelayError as exc:
        assert exc.code == Code.BAD_SIGNATURE
    else:
        assert 0 < r < SECP256K1_N and 0 < s <= HALF_N
        assert address.startswith("0x") and len(address) == 42


def test_r_not_on_curve_is_refused() -> None:
    # x = 5 is not the x-coordinate of any secp256k1 point (5^3 + 7 = 132 is a non-residue).
    x = 5
    p = 2**256 - 2**32 - 977
    assert pow(x**3 + 7, (p - 1) // 2, p) == p - 1
    assert_bad_signature(keccak(b"d"), x.to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x1b")


def test_sign_refuses_a_digest_that_is_not_32_bytes() -> None:
    account = Account.from_key(keccak(b"k"))
    for bad in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(ValueError):
            account.sign(bad)


# ---------------------------------------------------------------------------
# Addresses


@fuzz(50)
@given(private_keys)
def test_address_matches_eth_account(secret: bytes) -> None:
    account = Account.from_key(secret)
    assert account.address == EthAccount.from_key(secret).address.lower()
    assert account.address == account.address.lower()
    assert account.address.startswith("0x") and len(account.address) == 42


def test_from_key_accepts_hex_with_and_without_prefix() -> None:
    secret = keccak(b"hex key")
    a = Account.from_key(secret)
    assert Account.from_key("0x" + secret.hex()).address == a.address
    assert Account.from_key(secret.hex()).address == a.address
    assert a.secret_hex == "0x" + secret.hex()


def test_created_accounts_are_distinct_and_valid() -> None:
    a, b = Account.create(), Account.create()
    assert a.address != b.address
    digest = keccak(b"created")
    assert recover_address(digest, a.sign(digest)) == a.address


def test_normalize_address() -> None:
    addr = "0x" + "Ab" * 20
    assert normalize_address(addr) == "0x" + "ab" * 20
    assert normalize_address("0X" + "ab" * 20) == "0x" + "ab" * 20
    assert normalize_address(bytes(range(20))) == "0x" + bytes(range(20)).hex()
    for bad in ("0x" + "ab" * 19, "ab" * 21, "0x" + "zz" * 20, None, 5, b"\x00" * 19):
        with pytest.raises(RelayError) as exc:
            normalize_address(bad)
        assert exc.value.code == Code.FIELD_TYPE


# ---------------------------------------------------------------------------
# relay_proof vectors


def test_vector_keys_derive_their_addresses() -> None:
    for key in VECTORS["keys"]:
        secret = unhex(key["private_key"])
        assert secret == keccak(f"relayhub.test-vector.key.{key['index']}".encode())
        assert Account.from_key(secret).address == key["address"]
        assert EthAccount.from_key(secret).address.lower() == key["address"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{c['source']}-key{c['key']}")
def test_relay_proof_signature_vector(case: dict[str, Any]) -> None:
    secret = unhex(VECTORS["keys"][case["key"]]["private_key"])
    digest = unhex(case["digest"])
    sig = unhex(case["signature"])
    assert sig == unhex(case["r"]) + unhex(case["s"]) + bytes([case["v"]])
    assert Account.from_key(secret).sign(digest) == sig
    assert recover_address(digest, sig) == case["address"]
    native = NATIVE.Signature(vrs=(case["v"] - 27, int(case["r"], 16), int(case["s"], 16)))
    assert (
        native.recover_public_key_from_msg_hash(digest).to_canonical_address().hex()
        == (case["address"][2:])
    )


def test_relay_proof_vector() -> None:
    proof = VECTORS["relay_proof"]
    digest = unhex(proof["digest"])
    recovered = [recover_address(digest, unhex(s)) for s in proof["signatures"]]
    assert recovered == proof["validators"]
    assert len(set(recovered)) == len(recovered)


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_relay_proof_invalid_signature_vector(case: dict[str, Any]) -> None:
    assert case["error"]["code"] == Code.BAD_SIGNATURE
    assert_bad_signature(unhex(case["digest"]), unhex(case["signature"]))


# ---------------------------------------------------------------------------
# Key files


def test_key_file_is_written_0600_and_reads_back(tmp_path: Path) -> None:
    account = Account.from_key(keccak(b"key file"))
    path = tmp_path / "keys" / "node.key"
    write_key_file(path, account)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == account.secret_hex
    assert read_key_file(path).address == account.address


def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "node.key"
        write_key_file(path, Account.from_key(keccak(b"umask")))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_overwriting_a_wide_key_file_narrows_it(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_text("old")
    path.chmod(0o644)
    account = Account.from_key(keccak(b"overwrite"))
    write_key_file(path, account)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).address == account.address


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666, 0o601])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    account = Account.from_key(keccak(b"wide key file"))
    path = tmp_path / "node.key"
    write_key_file(path, account)
    path.chmod(mode)
    with pytest.raises(RelayError) as exc:
        read_key_file(path)
    assert exc.value.code == Code.CONFIG
    assert "chmod 600" in exc.value.message


def test_key_file_0400_is_accepted(tmp_path: Path) -> None:
    account = Account.from_key(keccak(b"read-only key file"))
    path = tmp_path / "node.key"
    write_key_file(path, account)
    path.chmod(0o400)
    assert read_key_file(path).address == account.address


@pytest.mark.parametrize(
    "data", [b"", b"a", b"x" * 135, b"x" * 136, b"x" * 137, bytes(range(256)) * 9]
)
def test_keccak_is_eth_hashs(data: bytes) -> None:
    """relay.crypto.keccak (safe-pysha3's C keccak) against eth-hash, the reference, at
    the sponge's rate boundaries (136 bytes) and beyond; and the known empty digest."""
    from eth_hash.auto import keccak as reference

    assert keccak(data) == reference(data)
    if not data:
        assert keccak(b"").hex() == (
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        )
