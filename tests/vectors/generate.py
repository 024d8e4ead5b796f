"""Write the relayhub test vectors (IBTP codec, digests, relay-proof signatures).

Run from the repository root::

    .venv/bin/python tests/vectors/generate.py

The output is deterministic: running it twice gives byte-identical files. It
rewrites ``tests/vectors/ibtp/*.json``, ``tests/vectors/ibtp/invalid/*.json`` and
``tests/vectors/relay_proof/*.json`` (and nothing else; ``evm/`` belongs to another
generator). The formats are described in ``tests/vectors/README.md``.

Valid vectors are computed with the reference implementation (``relay.ibtp``,
``relay.crypto``); ``tests/test_ibtp.py`` and ``tests/test_crypto.py`` check them
against independent computations as well. Invalid vectors are hand-built byte
strings whose expected error code comes from ``docs/protocol.md``, not from
running the decoder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: find `relay`

from relay.crypto import SECP256K1_N, Account, keccak
from relay.errors import Code
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_ibtp_hash,
    compute_notary_digest,
    compute_payload_hash,
    compute_signed_digest,
    encode_ibtp,
)

VECTORS_DIR = Path(__file__).resolve().parent

HUB_ID = "hub0"

# Service IDs used throughout. The EVM-style one is derived, so it is no real address.
EVM_SERVICE = "0x" + keccak(b"relayhub.vectors.evm-service")[-20:].hex()
SRC = f"{HUB_ID}:appchain1:{EVM_SERVICE}"
DST = f"{HUB_ID}:appchain2:transfer_cc.v1"


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


def pattern(size: int) -> bytes:
    """``size`` bytes cycling 00 01 .. ff (for the big fields: compresses well in git)."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def filler(label: str, size: int) -> bytes:
    """``size`` deterministic pseudo-random bytes (keccak in counter mode)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += keccak(f"relayhub.vectors:{label}:{counter}".encode())
        counter += 1
    return bytes(out[:size])


def abi_word(n: int) -> bytes:
    return n.to_bytes(32, "big")


# ---------------------------------------------------------------------------
# Valid IBTPs


def valid_ibtps() -> list[tuple[str, str, IBTP]]:
    """(file name, description, message) for every valid vector."""
    transfer_args = (
        abi_word(int.from_bytes(bytes.fromhex(EVM_SERVICE[2:]), "big")),
        abi_word(1_000_000),
    )
    return [
        (
            "01-interchain-minimal",
            "INTERCHAIN, index 1, no args, default timeout 0, no proof, no extra",
            IBTP(src=SRC, dst=DST, index=1, payload=Payload(func="ping")),
        ),
        (
            "02-interchain-transfer",
            "INTERCHAIN with two ABI-encoded 32-byte args, a timeout and a proof",
            IBTP(
                src=SRC,
                dst=DST,
                index=7,
                timeout=1000,
                payload=Payload(func="transfer", args=transfer_args),
                proof=filler("proof-02", 130),
            ),
        ),
        (
            "03-interchain-arg-sizes",
            "args across the msgpack bin header boundaries: 0, 1, 31, 32, 255 (bin8) "
            "and 256 (bin16) bytes; index 128 (first uint8), timeout 65536 (first uint32)",
            IBTP(
                src=SRC,
                dst=DST,
                index=128,
                timeout=65536,
                payload=Payload(
                    func="setData",
                    args=tuple(filler(f"arg-03-{n}", n) for n in (0, 1, 31, 32, 255, 256)),
                ),
            ),
        ),
        (
            "04-interchain-max-args",
            "32 args (the maximum) of 32 bytes each; index 256 (first uint16)",
            IBTP(
                src=SRC,
                dst=DST,
                index=256,
                payload=Payload(
                    func="batch", args=tuple(filler(f"arg-04-{i}", 32) for i in range(32))
                ),
            ),
        ),
        (
            "05-interchain-large-arg",
            "one arg of 32 KiB (the per-arg maximum, bin16); index 2**32 (first uint64)",
            IBTP(
                src=SRC,
                dst=DST,
                index=2**32,
                payload=Payload(func="store", args=(pattern(32 * 1024),)),
            ),
        ),
        (
            "06-interchain-encrypted",
            "encrypted payload: args carry ciphertext the relay does not read",
            IBTP(
                src=SRC,
                dst=DST,
                index=3,
                timeout=120,
                payload=Payload(
                    func="transferPrivate", args=(filler("cipher-06", 80),), encrypted=True
                ),
            ),
        ),
        (
            "07-interchain-max-index",
            "index and timeout 2**64-1 (the uint64 maximum)",
            IBTP(
                src=SRC,
                dst=DST,
                index=2**64 - 1,
                timeout=2**64 - 1,
                payload=Payload(func="ping"),
            ),
        ),
        (
            "08-interchain-unicode-func",
            "func of 128 characters (the maximum) in 263 UTF-8 bytes (str16), mixing 1-, "
            "2-, 3- and 4-byte code points: the limit counts characters, not bytes",
            IBTP(
                src=SRC,
                dst=DST,
                index=9,
                payload=Payload(func="überweisen_转账_" + "😀" * 8 + "é" * 106),
            ),
        ),
        (
            "09-interchain-proof-extra",
            "a 4096-byte extra (the maximum) and a 1024-byte proof",
            IBTP(
                src=SRC,
                dst=DST,
                index=42,
                timeout=5000,
                payload=Payload(func="transfer", args=transfer_args),
                proof=filler("proof-09", 1024),
                extra=filler("extra-09", 4096),
            ),
        ),
        (
            "10-receipt-success",
            "RECEIPT_SUCCESS for vector 02: payload ['', [result], false], its own proof",
            IBTP(
                src=SRC,
                dst=DST,
                index=7,
                type=IBTPType.RECEIPT_SUCCESS,
                payload=Payload(func="", args=(abi_word(1),)),
                proof=filler("proof-10", 97),
            ),
        ),
        (
            "11-receipt-failure",
            "RECEIPT_FAILURE: payload ['', [reason], false]",
            IBTP(
                src=SRC,
                dst=DST,
                index=7,
                type=IBTPType.RECEIPT_FAILURE,
                payload=Payload(func="", args=(b"transfer: insufficient balance",)),
                proof=filler("proof-11", 97),
            ),
        ),
        (
            "12-receipt-rollback",
            "RECEIPT_ROLLBACK: payload ['', [], false]",
            IBTP(
                src=SRC,
                dst=DST,
                index=7,
                type=IBTPType.RECEIPT_ROLLBACK,
                payload=Payload(func=""),
                proof=filler("proof-12", 33),
            ),
        ),
        (
            "13-long-ids",
            "hub and chain IDs of 64 characters and a service ID of 128 (the maxima), "
            "using every character class A-Z a-z 0-9 _ . -",
            IBTP(
                src=f"{'H' * 62}_0:{'c' * 62}.1:{'S-v' * 42}z.",
                dst=f"{'h' * 64}:{'C-' * 32}:{'0123456789' * 12}abcdefgh",
                index=5,
                payload=Payload(func="x"),
            ),
        ),
        (
            "14-proof-bin32",
            "a proof of 65536 bytes, the first size msgpack writes as bin32",
            IBTP(
                src=SRC,
                dst=DST,
                index=11,
                payload=Payload(func="ping"),
                proof=pattern(65536),
            ),
        ),
    ]


def ibtp_to_json(ibtp: IBTP) -> dict[str, Any]:
    """JSON form of every IBTP field; uint64 fields as decimal strings, bytes as 0x-hex."""
    return {
        "version": ibtp.version,
        "from": ibtp.src,
        "to": ibtp.dst,
        "index": str(ibtp.index),
        "type": int(ibtp.type),
        "timeout": str(ibtp.timeout),
        "payload": {
            "func": ibtp.payload.func,
            "args": [hex0x(a) for a in ibtp.payload.args],
            "encrypted": ibtp.payload.encrypted,
        },
        "proof": hex0x(ibtp.proof),
        "extra": hex0x(ibtp.extra),
    }


def chain_of(service_id: str) -> str:
    """The chain part of a full service ID ``hub:chain:service``."""
    return service_id.split(":")[1]


def valid_vector(name: str, description: str, ibtp: IBTP) -> dict[str, Any]:
    ibtp_hash = compute_ibtp_hash(ibtp)
    return {
        "name": name,
        "description": description,
        "decoded": ibtp_to_json(ibtp),
        "encoded": hex0x(encode_ibtp(ibtp)),
        "ibtp_id": ibtp.id,
        "ibtp_hash": hex0x(ibtp_hash),
        "payload_hash": hex0x(compute_payload_hash(ibtp.payload)),
        "notary_digest": hex0x(compute_notary_digest(ibtp_hash)),
        "signed_digest": [
            {
                "hub_id": HUB_ID,
                "target_chain": target,
                "status": int(status),
                "status_name": status.name,
                "digest": hex0x(compute_signed_digest(HUB_ID, target, ibtp, status)),
            }
            for target in (chain_of(ibtp.dst), chain_of(ibtp.src))
            for status in TxStatus
        ],
    }


# ---------------------------------------------------------------------------
# Invalid encodings, built by hand so that non-canonical forms can be written.


def mp(obj: Any) -> bytes:
    """Canonical msgpack of one value."""
    return msgpack.packb(obj, use_bin_type=True)


def arr(*items: bytes) -> bytes:
    """A fixarray (< 16 items) of already-encoded items."""
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


BASE_ARGS = (b"\x01\x02",)


def fields(**override: bytes) -> list[bytes]:
    """The 9 encoded fields of a valid base IBTP, with some replaced by raw bytes."""
    payload = arr(mp("transfer"), arr(*(mp(a) for a in BASE_ARGS)), mp(False))
    out = {
        "version": mp(1),
        "from": mp(SRC),
        "to": mp(DST),
        "index": mp(1),
        "type": mp(0),
        "timeout": mp(0),
        "payload": payload,
        "proof": mp(b""),
        "extra": mp(b""),
    }
    unknown = set(override) - set(out)
    assert not unknown, unknown
    out.update(override)
    return list(out.values())


def ibtp_bytes(**override: bytes) -> bytes:
    return arr(*fields(**override))


def payload_bytes(
    func: bytes | None = None, args: bytes | None = None, enc: bytes | None = None
) -> bytes:
    return arr(
        mp("transfer") if func is None else func,
        arr(*(mp(a) for a in BASE_ARGS)) if args is None else args,
        mp(False) if enc is None else enc,
    )


#: The payload of a valid receipt: ["", [result], false].
RECEIPT_PAYLOAD = payload_bytes(func=mp(""), args=arr(mp(b"ok")))


def with_service_ids(src: str = SRC, dst: str = DST) -> bytes:
    return ibtp_bytes(**{"from": mp(src), "to": mp(dst)})


def str8(text: str) -> bytes:
    data = text.encode()
    return bytes([0xD9, len(data)]) + data


def bin16(data: bytes) -> bytes:
    return bytes([0xC5]) + len(data).to_bytes(2, "big") + data


def invalid_cases() -> list[tuple[str, str, bytes, Code]]:
    base = ibtp_bytes()
    f64_zero = bytes([0xCB]) + b"\x00" * 8
    f32_one = bytes([0xCA, 0x3F, 0x80, 0x00, 0x00])
    big_arg = b"\xaa" * (32 * 1024)
    return [
        # --- 1002 NON_CANONICAL: a valid value written in a longer form ---
        (
            "noncanonical-index-uint8",
            "index 1 written as uint8 (cc 01) instead of positive fixint 01",
            ibtp_bytes(index=b"\xcc\x01"),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-version-int8",
            "version 1 written as int8 (d0 01)",
            ibtp_bytes(version=b"\xd0\x01"),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-timeout-uint64",
            "timeout 1000 written as uint64 (cf ...) instead of uint16",
            ibtp_bytes(timeout=b"\xcf" + (1000).to_bytes(8, "big")),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-type-uint16",
            "type 0 written as uint16 (cd 00 00)",
            ibtp_bytes(type=b"\xcd\x00\x00"),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-array16-header",
            "the outer 9-element array written with an array16 header (dc 00 09)",
            b"\xdc\x00\x09" + b"".join(fields()),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-func-str8",
            "func 'transfer' (8 bytes) written as str8 instead of fixstr",
            ibtp_bytes(payload=payload_bytes(func=str8("transfer"))),
            Code.NON_CANONICAL,
        ),
        (
            "noncanonical-proof-bin16",
            "a 3-byte proof written as bin16 instead of bin8",
            ibtp_bytes(proof=bin16(b"\x01\x02\x03")),
            Code.NON_CANONICAL,
        ),
        (
            "trailing-bytes",
            "a valid IBTP followed by one more byte (00): nothing may follow the array",
            base + b"\x00",
            Code.NON_CANONICAL,
        ),
        (
            "trailing-ibtp",
            "two valid IBTPs back to back",
            base + base,
            Code.NON_CANONICAL,
        ),
        # --- 1001 MALFORMED_ENCODING: not msgpack at all ---
        ("malformed-empty", "no bytes at all", b"", Code.MALFORMED_ENCODING),
        (
            "malformed-truncated",
            "a valid IBTP without its last byte",
            base[:-1],
            Code.MALFORMED_ENCODING,
        ),
        (
            "malformed-reserved-byte",
            "the byte c1, which msgpack never uses",
            b"\xc1",
            Code.MALFORMED_ENCODING,
        ),
        (
            "malformed-invalid-utf8",
            "a str whose bytes are not UTF-8 (func = a3 ff fe fd)",
            ibtp_bytes(payload=payload_bytes(func=b"\xa3\xff\xfe\xfd")),
            Code.MALFORMED_ENCODING,
        ),
        # --- 1003 FIELD_TYPE: wrong type, shape or range ---
        (
            "proof-as-str",
            "proof written as a str instead of bin",
            ibtp_bytes(proof=mp("proof")),
            Code.FIELD_TYPE,
        ),
        (
            "extra-as-str",
            "extra written as a str instead of bin",
            ibtp_bytes(extra=mp("")),
            Code.FIELD_TYPE,
        ),
        (
            "arg-as-str",
            "a payload arg written as a str instead of bin",
            ibtp_bytes(payload=payload_bytes(args=arr(mp("\x01\x02")))),
            Code.FIELD_TYPE,
        ),
        (
            "func-as-bin",
            "func written as bin instead of str",
            ibtp_bytes(payload=payload_bytes(func=mp(b"transfer"))),
            Code.FIELD_TYPE,
        ),
        (
            "timeout-float64",
            "timeout written as float64 0.0",
            ibtp_bytes(timeout=f64_zero),
            Code.FIELD_TYPE,
        ),
        (
            "index-float32",
            "index written as float32 1.0",
            ibtp_bytes(index=f32_one),
            Code.FIELD_TYPE,
        ),
        (
            "index-bool",
            "index written as true instead of the integer 1",
            ibtp_bytes(index=mp(True)),
            Code.FIELD_TYPE,
        ),
        (
            "version-bool",
            "version written as true instead of the integer 1",
            ibtp_bytes(version=mp(True)),
            Code.FIELD_TYPE,
        ),
        (
            "encrypted-int",
            "payload encrypted flag written as the integer 0 instead of false",
            ibtp_bytes(payload=payload_bytes(enc=mp(0))),
            Code.FIELD_TYPE,
        ),
        (
            "ibtp-as-map",
            "the IBTP written as a map of its fields instead of an array",
            mp({"version": 1, "from": SRC, "to": DST, "index": 1, "type": 0}),
            Code.FIELD_TYPE,
        ),
        (
            "payload-as-map",
            "the payload written as a map instead of [func, args, encrypted]",
            ibtp_bytes(payload=mp({"func": "transfer", "args": [], "encrypted": False})),
            Code.FIELD_TYPE,
        ),
        (
            "arity-8",
            "an array of 8 fields (extra dropped)",
            arr(*fields()[:8]),
            Code.FIELD_TYPE,
        ),
        (
            "arity-10",
            "an array of 10 fields (one more bin after extra)",
            arr(*fields(), mp(b"")),
            Code.FIELD_TYPE,
        ),
        (
            "payload-arity-2",
            "a payload of 2 elements [func, args]",
            ibtp_bytes(payload=arr(mp("transfer"), arr())),
            Code.FIELD_TYPE,
        ),
        ("not-an-array", "a bare integer", mp(1), Code.FIELD_TYPE),
        ("index-zero", "index 0 (indices start at 1)", ibtp_bytes(index=mp(0)), Code.FIELD_TYPE),
        (
            "index-negative",
            "index -1 (int8)",
            ibtp_bytes(index=mp(-1)),
            Code.FIELD_TYPE,
        ),
        ("type-unknown", "type 4 (only 0-3 exist)", ibtp_bytes(type=mp(4)), Code.FIELD_TYPE),
        # A receipt (types 1-3) fixes everything but its result: timeout 0, empty extra,
        # payload ["", [result], false] (["", [], false] for a rollback). §2.
        (
            "receipt-timeout",
            "RECEIPT_SUCCESS with timeout 5 (a receipt carries timeout 0)",
            ibtp_bytes(type=mp(1), timeout=mp(5), payload=RECEIPT_PAYLOAD),
            Code.FIELD_TYPE,
        ),
        (
            "receipt-extra",
            "RECEIPT_SUCCESS with a 1-byte extra (a receipt carries none)",
            ibtp_bytes(type=mp(1), extra=mp(b"x"), payload=RECEIPT_PAYLOAD),
            Code.FIELD_TYPE,
        ),
        (
            "receipt-func",
            "RECEIPT_FAILURE whose payload func is 'x' instead of ''",
            ibtp_bytes(type=mp(2), payload=payload_bytes(func=mp("x"), args=arr(mp(b"no")))),
            Code.FIELD_TYPE,
        ),
        (
            "receipt-two-results",
            "RECEIPT_SUCCESS with two payload args (a receipt carries exactly its result)",
            ibtp_bytes(
                type=mp(1), payload=payload_bytes(func=mp(""), args=arr(mp(b"a"), mp(b"b")))
            ),
            Code.FIELD_TYPE,
        ),
        (
            "receipt-no-result",
            "RECEIPT_FAILURE with no payload args",
            ibtp_bytes(type=mp(2), payload=payload_bytes(func=mp(""), args=arr())),
            Code.FIELD_TYPE,
        ),
        (
            "receipt-encrypted",
            "RECEIPT_SUCCESS whose payload is flagged encrypted",
            ibtp_bytes(
                type=mp(1), payload=payload_bytes(func=mp(""), args=arr(mp(b"a")), enc=mp(True))
            ),
            Code.FIELD_TYPE,
        ),
        (
            "rollback-with-result",
            "RECEIPT_ROLLBACK carrying one payload arg (a rollback carries none)",
            ibtp_bytes(type=mp(3), payload=payload_bytes(func=mp(""), args=arr(mp(b"")))),
            Code.FIELD_TYPE,
        ),
        # --- 1005 BAD_SERVICE_ID ---
        (
            "service-id-two-parts",
            "from = 'hub0:appchain1' (no service part)",
            with_service_ids(src="hub0:appchain1"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-four-parts",
            "to has an extra ':' part",
            with_service_ids(dst=DST + ":x"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-empty-chain",
            "from = 'hub0::svc' (empty chain ID)",
            with_service_ids(src="hub0::svc"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-space",
            "a space inside the service part",
            with_service_ids(dst="hub0:appchain2:transfer cc"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-tilde",
            "'~' (the IBTP ID separator) inside the service part",
            with_service_ids(dst="hub0:appchain2:a~b"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-non-ascii",
            "a non-ASCII letter in the chain ID",
            with_service_ids(src="hub0:appchaïn1:svc"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-chain-65",
            "a chain ID of 65 characters (limit 64)",
            with_service_ids(src="hub0:" + "c" * 65 + ":svc"),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-service-129",
            "a service ID part of 129 characters (limit 128)",
            with_service_ids(dst="hub0:appchain2:" + "s" * 129),
            Code.BAD_SERVICE_ID,
        ),
        (
            "service-id-as-bin",
            "from written as bin instead of str",
            ibtp_bytes(**{"from": mp(SRC.encode())}),
            Code.BAD_SERVICE_ID,
        ),
        # --- 1006 UNSUPPORTED_VERSION ---
        ("version-2", "version 2", ibtp_bytes(version=mp(2)), Code.UNSUPPORTED_VERSION),
        ("version-0", "version 0", ibtp_bytes(version=mp(0)), Code.UNSUPPORTED_VERSION),
        # --- 1004 FIELD_TOO_LARGE ---
        (
            "oversize-func",
            "func of 129 characters (limit 128)",
            ibtp_bytes(payload=payload_bytes(func=mp("f" * 129))),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "oversize-arg-count",
            "33 args (limit 32)",
            ibtp_bytes(payload=payload_bytes(args=b"\xdc\x00\x21" + mp(b"") * 33)),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "oversize-arg",
            "one arg of 32 KiB + 1 bytes (limit 32 KiB)",
            ibtp_bytes(payload=payload_bytes(args=arr(mp(big_arg + b"\xaa")))),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "oversize-extra",
            "extra of 4097 bytes (limit 4096)",
            ibtp_bytes(extra=mp(b"\x00" * 4097)),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "oversize-proof",
            "proof of 128 KiB + 1 bytes (limit 128 KiB)",
            ibtp_bytes(proof=mp(b"\x00" * (128 * 1024 + 1))),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "oversize-ibtp",
            "8 args of 32 KiB each: every field is within its limit but the encoded IBTP "
            "is over 256 KiB",
            ibtp_bytes(payload=payload_bytes(args=arr(*[mp(big_arg)] * 8))),
            Code.FIELD_TOO_LARGE,
        ),
    ]


def invalid_vector(name: str, description: str, encoded: bytes, code: Code) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "encoded": hex0x(encoded),
        "error": {"code": int(code), "name": code.name},
    }


# ---------------------------------------------------------------------------
# Relay-proof signatures


def vector_account(i: int) -> Account:
    """Test key ``i``: keccak256("relayhub.test-vector.key.<i>"). Public; never use it for value."""
    return Account.from_key(keccak(f"relayhub.test-vector.key.{i}".encode()))


def split_sig(sig: bytes) -> dict[str, Any]:
    return {
        "signature": hex0x(sig),
        "r": hex0x(sig[:32]),
        "s": hex0x(sig[32:64]),
        "v": sig[64],
    }


def relay_proof_vectors() -> dict[str, Any]:
    accounts = [vector_account(i) for i in range(3)]
    ibtps = {name: ibtp for name, _, ibtp in valid_ibtps()}
    digests: list[tuple[str, bytes]] = []
    for name, status in (
        ("01-interchain-minimal", TxStatus.BEGIN),
        ("10-receipt-success", TxStatus.SUCCESS),
        ("12-receipt-rollback", TxStatus.BEGIN_ROLLBACK),
    ):
        ibtp = ibtps[name]
        target = chain_of(ibtp.dst if status == TxStatus.BEGIN else ibtp.src)
        digest = compute_signed_digest(HUB_ID, target, ibtp, status)
        digests.append(
            (f"ibtp/{name}.json signed_digest hub0 target {target} status {int(status)}", digest)
        )
    digests += [
        ("all-zero digest", b"\x00" * 32),
        ("all-ones digest", b"\xff" * 32),
        ("keccak256 of the empty string", keccak(b"")),
    ]
    cases = []
    for source, digest in digests:
        for key_index, account in enumerate(accounts):
            cases.append(
                {
                    "source": source,
                    "digest": hex0x(digest),
                    "key": key_index,
                    "address": account.address,
                    **split_sig(account.sign(digest)),
                }
            )

    # One relay proof: every validator signs the signed digest of vector 01, status BEGIN.
    proof_ibtp = ibtps["01-interchain-minimal"]
    proof_digest = compute_signed_digest(
        HUB_ID, chain_of(proof_ibtp.dst), proof_ibtp, TxStatus.BEGIN
    )
    relay_proof = {
        "source": "ibtp/01-interchain-minimal.json, hub0, target appchain2, status 0 (BEGIN)",
        "digest": hex0x(proof_digest),
        "validators": [a.address for a in accounts],
        "signatures": [hex0x(a.sign(proof_digest)) for a in accounts],
    }

    # Signatures a verifier must refuse (BAD_SIGNATURE), all derived from case 0.
    good = accounts[0].sign(digests[0][1])
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    invalid = [
        ("high-s", "the same signature with s' = n - s and v flipped (EIP-2 forbids)", high_s),
        ("v-0", "v as the raw recovery id 0/1 instead of 27/28", good[:64] + bytes([v - 27])),
        ("v-29", "v = 29", good[:64] + bytes([29])),
        ("short", "64 bytes (v missing)", good[:64]),
        ("long", "66 bytes (one byte appended)", good + b"\x00"),
        ("r-zero", "r = 0", b"\x00" * 32 + good[32:]),
        ("s-zero", "s = 0", r + b"\x00" * 32 + good[64:]),
        ("r-n", "r = n (the curve order)", SECP256K1_N.to_bytes(32, "big") + good[32:]),
    ]
    return {
        "description": (
            "secp256k1 signatures over 32-byte digests, no message prefix, 65 bytes r||s||v "
            "with v in {27, 28} and low s (RFC 6979 deterministic nonces). The keys are "
            "PUBLIC TEST KEYS: key i = keccak256('relayhub.test-vector.key.<i>'). "
            "Never use them for anything of value."
        ),
        "keys": [
            {"index": i, "private_key": a.secret_hex, "address": a.address}
            for i, a in enumerate(accounts)
        ],
        "cases": cases,
        "relay_proof": relay_proof,
        "invalid": [
            {
                "name": name,
                "description": description,
                "digest": hex0x(digests[0][1]),
                "signature": hex0x(sig),
                "error": {"code": int(Code.BAD_SIGNATURE), "name": Code.BAD_SIGNATURE.name},
            }
            for name, description, sig in invalid
        ],
    }


# ---------------------------------------------------------------------------


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """Every generated file: path relative to tests/vectors -> its text."""
    files: dict[str, str] = {}
    for name, description, ibtp in valid_ibtps():
        files[f"ibtp/{name}.json"] = dump(valid_vector(name, description, ibtp))
    for name, description, encoded, code in invalid_cases():
        files[f"ibtp/invalid/{name}.json"] = dump(invalid_vector(name, description, encoded, code))
    files["relay_proof/signatures.json"] = dump(relay_proof_vectors())
    return files


#: Directories this script owns; stale *.json files in them are removed.
MANAGED_DIRS = ("ibtp", "ibtp/invalid", "relay_proof")


def main() -> None:
    files = build_all()
    for d in MANAGED_DIRS:
        (VECTORS_DIR / d).mkdir(parents=True, exist_ok=True)
        for old in (VECTORS_DIR / d).glob("*.json"):
            if f"{d}/{old.name}" not in files:
                old.unlink()
    for rel, text in sorted(files.items()):
        path = VECTORS_DIR / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} vector files under {VECTORS_DIR}")


if __name__ == "__main__":
    main()
