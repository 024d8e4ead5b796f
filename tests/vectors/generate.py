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

from adapters.notary.verifier import NotaryVerifier
from relay.crypto import SECP256K1_N, Account, keccak
from relay.errors import Code, RelayError
from relay.executor import Executor, decode_outbound
from relay.genesis import Genesis
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_ibtp_hash,
    compute_notary_digest,
    compute_payload_hash,
    compute_signed_digest,
    decode_ibtp,
    encode_ibtp,
)
from relay.ledger.state import Layer, MemoryReader, StateView
from relay.ledger.types import (
    Transaction,
    decode_tx,
    encode_tx,
    sign_tx,
)
from relay.validation.registry import VerifierRegistry

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
        (
            "15-header-boundaries-low",
            "the largest value of each short msgpack form: from and to of 31 bytes (fixstr), func "
            "of 31 bytes (fixstr), 15 args (fixarray), index 127 (positive fixint), timeout "
            "255 (uint8), extra of 255 bytes (bin8)",
            IBTP(
                src=f"{HUB_ID}:appchain1:" + "a" * 16,
                dst=f"{HUB_ID}:appchain2:" + "b" * 16,
                index=127,
                timeout=255,
                payload=Payload(
                    func="f" * 31, args=tuple(filler(f"arg-15-{i}", i) for i in range(15))
                ),
                extra=filler("extra-15", 255),
            ),
        ),
        (
            "16-header-boundaries-high",
            "the first value of each longer form, and the last of uint16 / uint32 / bin16: "
            "to of 32 bytes (str8), func of 32 bytes (str8), 16 args (array16), index "
            "65535 (uint16), timeout 2**32-1 (uint32), extra of 256 bytes (bin16), a proof "
            "of 65535 bytes (the largest bin16)",
            IBTP(
                src=SRC,
                dst=f"{HUB_ID}:appchain2:" + "b" * 17,
                index=65535,
                timeout=2**32 - 1,
                payload=Payload(
                    func="g" * 32, args=tuple(filler(f"arg-16-{i}", 2) for i in range(16))
                ),
                proof=pattern(65535),
                extra=filler("extra-16", 256),
            ),
        ),
        (
            "17-func-4-byte-chars",
            "func of 128 four-byte characters (512 UTF-8 bytes, str16): the limit counts "
            "characters; from of 255 bytes (the largest str8) and to of 256 (the first "
            "str16)",
            IBTP(
                src=f"{'h' * 64}:{'c' * 64}:{'s' * 125}",
                dst=f"{'h' * 64}:{'c' * 63}d:{'t' * 126}",
                index=2,
                payload=Payload(func="😀" * 128),
            ),
        ),
        (
            "18-size-limits",
            "a proof of exactly 131072 bytes (128 KiB, the proof limit) and args that make "
            "the encoded IBTP exactly 262144 bytes (256 KiB, the total limit)",
            _limit_sized_ibtp(),
        ),
    ]


def _limit_sized_ibtp() -> IBTP:
    """An IBTP whose proof is exactly MAX_PROOF and whose encoding is exactly MAX_IBTP."""

    def sized(k: int) -> IBTP:
        args = (pattern(32 * 1024),) * 3 + (pattern(k),)
        return IBTP(
            src=SRC,
            dst=DST,
            index=12,
            payload=Payload(func="store", args=args),
            proof=pattern(128 * 1024),
        )

    k = 256 + 256 * 1024 - len(encode_ibtp(sized(256)))
    assert 256 <= k <= 32 * 1024, k
    ibtp = sized(k)
    assert len(encode_ibtp(ibtp)) == 256 * 1024
    return ibtp


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
            # SOURCE_ROLLBACK's notices announce BEGIN_ROLLBACK: no proof carries 6.
            for status in TxStatus
            if status is not TxStatus.SOURCE_ROLLBACK
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


def str16(text: str) -> bytes:
    data = text.encode()
    return bytes([0xDA]) + len(data).to_bytes(2, "big") + data


def str32(text: str) -> bytes:
    data = text.encode()
    return bytes([0xDB]) + len(data).to_bytes(4, "big") + data


def bin8(data: bytes) -> bytes:
    return bytes([0xC4, len(data)]) + data


def bin32(data: bytes) -> bytes:
    return bytes([0xC6]) + len(data).to_bytes(4, "big") + data


def array16(*items: bytes) -> bytes:
    return bytes([0xDC]) + len(items).to_bytes(2, "big") + b"".join(items)


def array32(*items: bytes) -> bytes:
    return bytes([0xDD]) + len(items).to_bytes(4, "big") + b"".join(items)


def more_invalid_cases() -> list[tuple[str, str, bytes, Code]]:
    """Header widths, parse-level refusals, service-ID character classes, limits one
    over, and inputs with several defects whose code the order of docs/protocol.md
    §2.3 decides (``precedence-*``)."""
    base = ibtp_bytes()
    ascii_arg = arr(mp(b"\x01\x02"))
    big_arg = b"\xbb" * (32 * 1024)
    nc = Code.NON_CANONICAL
    mal = Code.MALFORMED_ENCODING
    ft = Code.FIELD_TYPE
    big = Code.FIELD_TOO_LARGE
    sid = Code.BAD_SERVICE_ID
    cases: list[tuple[str, str, bytes, Code]] = [
        # --- 1002: every longer header form ---
        (
            "noncanonical-from-str16",
            "from (57 bytes) written as str16 instead of str8",
            ibtp_bytes(**{"from": str16(SRC)}),
            nc,
        ),
        (
            "noncanonical-to-str32",
            "to written as str32",
            ibtp_bytes(to=str32(DST)),
            nc,
        ),
        (
            "noncanonical-func-str8-31",
            "a func of 31 bytes written as str8: fixstr holds up to 31",
            ibtp_bytes(payload=payload_bytes(func=str8("f" * 31))),
            nc,
        ),
        (
            "noncanonical-func-str16",
            "func 'transfer' written as str16",
            ibtp_bytes(payload=payload_bytes(func=str16("transfer"))),
            nc,
        ),
        (
            "noncanonical-arg-bin32",
            "a 2-byte arg written as bin32",
            ibtp_bytes(payload=payload_bytes(args=arr(bin32(b"\x01\x02")))),
            nc,
        ),
        (
            "noncanonical-arg-bin16-255",
            "a 255-byte arg written as bin16: bin8 holds up to 255",
            ibtp_bytes(payload=payload_bytes(args=arr(bin16(b"\x07" * 255)))),
            nc,
        ),
        (
            "noncanonical-extra-bin32",
            "the empty extra written as bin32 (c6 00000000) instead of bin8 (c4 00)",
            ibtp_bytes(extra=bin32(b"")),
            nc,
        ),
        (
            "noncanonical-args-array16",
            "the 1-element args array written as array16",
            ibtp_bytes(payload=payload_bytes(args=array16(mp(b"\x01\x02")))),
            nc,
        ),
        (
            "noncanonical-args-array32",
            "the 1-element args array written as array32",
            ibtp_bytes(payload=payload_bytes(args=array32(mp(b"\x01\x02")))),
            nc,
        ),
        (
            "noncanonical-payload-array16",
            "the payload array written as array16",
            ibtp_bytes(payload=array16(mp("transfer"), ascii_arg, mp(False))),
            nc,
        ),
        (
            "noncanonical-outer-array32",
            "the outer array written as array32",
            array32(*fields()),
            nc,
        ),
        (
            "noncanonical-index-uint16-255",
            "index 255 written as uint16 (cd 00ff): uint8 holds up to 255",
            ibtp_bytes(index=b"\xcd\x00\xff"),
            nc,
        ),
        (
            "noncanonical-index-uint32",
            "index 65535 written as uint32: uint16 holds up to 65535",
            ibtp_bytes(index=b"\xce" + (65535).to_bytes(4, "big")),
            nc,
        ),
        (
            "noncanonical-timeout-uint64-max32",
            "timeout 2**32-1 written as uint64: uint32 holds it",
            ibtp_bytes(timeout=b"\xcf" + (2**32 - 1).to_bytes(8, "big")),
            nc,
        ),
        (
            "noncanonical-index-int64",
            "index 1 written as int64 (d3 ...): a non-negative value never takes a signed form",
            ibtp_bytes(index=b"\xd3" + (1).to_bytes(8, "big")),
            nc,
        ),
        (
            "noncanonical-index-int8-127",
            "index 127 written as int8 (d0 7f)",
            ibtp_bytes(index=b"\xd0\x7f"),
            nc,
        ),
        (
            "trailing-garbage-byte",
            "a valid IBTP followed by c1: what follows the value is not parsed",
            base + b"\xc1",
            nc,
        ),
        # --- 1001: parse-level ---
        (
            "malformed-ext-fixext1",
            "the extra field is an ext value (d4 05 00)",
            ibtp_bytes(extra=b"\xd4\x05\x00"),
            mal,
        ),
        (
            "malformed-ext-empty",
            "the extra field is a zero-length ext8 (c7 00 05): any ext is refused",
            ibtp_bytes(extra=b"\xc7\x00\x05"),
            mal,
        ),
        (
            "malformed-map-int-key",
            "the payload is a map with an integer key ({1: 1}): a map key must be str or bin",
            ibtp_bytes(payload=b"\x81\x01\x01"),
            mal,
        ),
        (
            "malformed-utf8-surrogate",
            "func is the UTF-8-style encoding of the surrogate U+D800 (ed a0 80)",
            ibtp_bytes(payload=payload_bytes(func=b"\xa3\xed\xa0\x80")),
            mal,
        ),
        (
            "malformed-utf8-overlong",
            "func is an overlong encoding of '/' (c0 af)",
            ibtp_bytes(payload=payload_bytes(func=b"\xa2\xc0\xaf")),
            mal,
        ),
        (
            "malformed-str-length-past-end",
            "the last field is a str8 header declaring 200 bytes with 2 following",
            arr(*fields()[:8], b"\xd9\xc8ab"),
            mal,
        ),
        (
            "malformed-depth-1025",
            "the extra field is 1024 nested one-element arrays around nil: the structure "
            "scan refuses the array opened at level 4 (1003), long before msgpack's limit",
            ibtp_bytes(extra=b"\x91" * 1024 + b"\xc0"),
            ft,
        ),
        (
            "malformed-array-header-100001",
            "an array header declaring 100001 elements: more than an IBTP's 45 values (1004)",
            b"\xdd" + (100001).to_bytes(4, "big") + b"\xc0" * 16,
            Code.FIELD_TOO_LARGE,
        ),
        # --- 1003 ---
        (
            "field-depth-1024",
            "the extra field is 1023 nested arrays: with the outer array 1024 levels, within "
            "the parse limit, so a wrong type",
            ibtp_bytes(extra=b"\x91" * 1023 + b"\xc0"),
            ft,
        ),
        (
            "array-of-100000",
            "an array of 100000 nils: the structure scan refuses its header (1004: an IBTP "
            "holds at most 45 values) before anything is parsed",
            b"\xdd" + (100000).to_bytes(4, "big") + b"\xc0" * 100000,
            Code.FIELD_TOO_LARGE,
        ),
        ("extra-nil", "extra written as nil", ibtp_bytes(extra=b"\xc0"), ft),
        ("type-256", "type 256 (uint16)", ibtp_bytes(type=mp(256)), ft),
        ("timeout-negative", "timeout -1", ibtp_bytes(timeout=mp(-1)), ft),
        (
            "version-float",
            "version written as float64 1.0",
            ibtp_bytes(version=b"\xcb\x3f\xf0" + b"\x00" * 6),
            ft,
        ),
        ("empty-array", "an empty array", b"\x90", ft),
        ("nil", "a bare nil", b"\xc0", ft),
        (
            "rollback-func",
            "RECEIPT_ROLLBACK whose payload func is 'x'",
            ibtp_bytes(type=mp(3), payload=payload_bytes(func=mp("x"), args=arr())),
            ft,
        ),
        # --- 1006 ---
        ("version-255", "version 255", ibtp_bytes(version=mp(255)), Code.UNSUPPORTED_VERSION),
        ("version-negative", "version -1", ibtp_bytes(version=mp(-1)), Code.UNSUPPORTED_VERSION),
        # --- 1004: one over each limit ---
        (
            "oversize-func-4-byte-chars",
            "func of 129 four-byte characters (516 bytes; the limit is 128 characters)",
            ibtp_bytes(payload=payload_bytes(func=mp("😀" * 129))),
            big,
        ),
        (
            "oversize-ibtp-by-one",
            "an encoded IBTP of exactly 262145 bytes (256 KiB + 1), every field within its "
            "own limit",
            _ibtp_of_size(256 * 1024 + 1),
            big,
        ),
        (
            "oversize-not-msgpack",
            "262145 bytes of c1: the size is checked before anything is parsed",
            b"\xc1" * (256 * 1024 + 1),
            big,
        ),
        # --- precedence: several defects, the first check in §2.3 decides ---
        (
            "precedence-parse-before-trailing",
            "invalid UTF-8 in func and a trailing byte: the parse fails first (1001)",
            ibtp_bytes(payload=payload_bytes(func=b"\xa3\xff\xfe\xfd")) + b"\x00",
            mal,
        ),
        (
            "precedence-trailing-before-fields",
            "an array of 8 fields followed by a byte: trailing bytes (1002) come before the "
            "field checks (1003)",
            arr(*fields()[:8]) + b"\x00",
            nc,
        ),
        (
            "precedence-arity-before-version",
            "an array of 8 fields whose version is 2: the arity (1003) is checked first",
            arr(*fields(version=mp(2))[:8]),
            ft,
        ),
        (
            "precedence-version-before-service-id",
            "version 2 and an invalid from: the version (1006) is checked first",
            ibtp_bytes(version=mp(2), **{"from": mp("bad id")}),
            Code.UNSUPPORTED_VERSION,
        ),
        (
            "precedence-version-type-before-service-id",
            "version true and an invalid to: the version's type (1003) is checked first",
            ibtp_bytes(version=mp(True), to=mp("bad id")),
            ft,
        ),
        (
            "precedence-service-id-before-index",
            "an invalid to and index 0: the service IDs (1005) are checked first",
            ibtp_bytes(to=mp("hub0:appchain2"), index=mp(0)),
            sid,
        ),
        (
            "precedence-index-before-func-size",
            "index as float and a func of 129 characters: index (1003) is checked first",
            ibtp_bytes(index=b"\xca\x3f\x80\x00\x00", payload=payload_bytes(func=mp("f" * 129))),
            ft,
        ),
        (
            "precedence-func-size-before-args-type",
            "a func of 129 characters and an arg written as str: func (1004) is checked first",
            ibtp_bytes(payload=payload_bytes(func=mp("f" * 129), args=arr(mp("x")))),
            big,
        ),
        (
            "precedence-args-type-before-count",
            "33 args of which the last is a str: the structure scan counts a 46th value "
            "(1004) before any field is typed (an arg's type would be 1003)",
            ibtp_bytes(payload=payload_bytes(args=array16(*([mp(b"")] * 32 + [mp("x")])))),
            Code.FIELD_TOO_LARGE,
        ),
        (
            "precedence-args-size-before-encrypted",
            "an arg of 32 KiB + 1 and the encrypted flag as 0: the args (1004) are checked first",
            ibtp_bytes(payload=payload_bytes(args=arr(mp(big_arg + b"\xbb")), enc=mp(0))),
            big,
        ),
        (
            "precedence-encrypted-before-proof",
            "the encrypted flag as 0 and the proof as str: encrypted (1003) first",
            ibtp_bytes(payload=payload_bytes(enc=mp(0)), proof=mp("p")),
            ft,
        ),
        (
            "precedence-proof-type-before-extra-size",
            "the proof as str and an extra of 4097 bytes: the proof (1003) is checked first",
            ibtp_bytes(proof=mp("p"), extra=mp(b"\x00" * 4097)),
            ft,
        ),
        (
            "precedence-extra-size-before-receipt-shape",
            "RECEIPT_SUCCESS with timeout 5 and an extra of 4097 bytes: the extra's size "
            "(1004) comes before the receipt shape (1003)",
            ibtp_bytes(type=mp(1), timeout=mp(5), payload=RECEIPT_PAYLOAD, extra=mp(b"e" * 4097)),
            big,
        ),
        (
            "precedence-index-zero-before-canonical",
            "index 0 written as uint8 (cc 00): index 0 (1003) is checked before the "
            "canonical form (1002)",
            ibtp_bytes(index=b"\xcc\x00"),
            ft,
        ),
        (
            "precedence-version-before-canonical",
            "version 2 written as int8 (d0 02): the version (1006) before the canonical form",
            ibtp_bytes(version=b"\xd0\x02"),
            Code.UNSUPPORTED_VERSION,
        ),
        (
            "precedence-service-id-before-canonical",
            "an invalid from written as str16: the service ID (1005) before the canonical form",
            ibtp_bytes(**{"from": str16("hub0:appchain1:a b")}),
            sid,
        ),
        (
            "precedence-func-size-before-canonical",
            "a func of 129 characters written as str16: its size (1004) before the canonical form",
            ibtp_bytes(payload=payload_bytes(func=str16("f" * 129))),
            big,
        ),
        (
            "precedence-receipt-shape-before-canonical",
            "RECEIPT_SUCCESS with timeout 5 written as uint8: the shape (1003) first",
            ibtp_bytes(type=mp(1), timeout=b"\xcc\x05", payload=RECEIPT_PAYLOAD),
            ft,
        ),
    ]
    # --- 1005: every part, each character class, the length limits ---
    for name, description, src, dst in [
        ("service-id-hub-65", "a hub ID of 65 characters (limit 64)", "h" * 65 + ":c:s", DST),
        ("service-id-empty-hub", "from = ':appchain1:svc'", ":appchain1:svc", DST),
        ("service-id-empty-service", "to = 'hub0:appchain2:'", SRC, "hub0:appchain2:"),
        ("service-id-slash", "'/' in the service part", SRC, "hub0:appchain2:a/b"),
        ("service-id-at", "'@' in the chain ID", "hub0:app@chain1:svc", DST),
        ("service-id-plus", "'+' in the hub ID", "hub+0:appchain1:svc", DST),
        ("service-id-control", "a tab in the service part", SRC, "hub0:appchain2:a\tb"),
        ("service-id-nul", "a NUL byte at the end", SRC, "hub0:appchain2:svc\x00"),
        (
            "service-id-fullwidth",
            "a full-width small letter a (U+FF41)",
            SRC,
            "hub0:appchain2:\uff41",
        ),
        ("service-id-arabic-digit", "an Arabic-Indic digit (U+0663)", "hub0:\u0663:svc", DST),
        ("service-id-kelvin", "KELVIN SIGN (U+212A)", SRC, "hub0:appchain2:\u212a"),
        ("service-id-leading-space", "from starts with a space", " " + SRC, DST),
    ]:
        cases.append((name, description, with_service_ids(src=src, dst=dst), sid))
    cases += [
        ("service-id-nil", "from written as nil", ibtp_bytes(**{"from": b"\xc0"}), sid),
        ("service-id-int", "to written as the integer 7", ibtp_bytes(to=mp(7)), sid),
        (
            "service-id-to-as-bin",
            "to written as bin instead of str",
            ibtp_bytes(to=mp(DST.encode())),
            sid,
        ),
    ]
    return cases


def _ibtp_of_size(size: int, version: int = 1) -> bytes:
    """The canonical bytes of a request exactly ``size`` bytes long (args of 32 KiB and
    one filler arg; every field within its own limit)."""

    def build(k: int) -> bytes:
        args = [mp(b"\xcc" * (32 * 1024))] * 7 + [mp(b"\xdd" * k)]
        return ibtp_bytes(version=mp(version), payload=payload_bytes(args=arr(*args)))

    k = 256 + size - len(build(256))
    assert 256 <= k <= 32 * 1024, k
    out = build(k)
    assert len(out) == size
    return out


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


def _high_s(sig: bytes) -> bytes:
    """The same signature with s' = n - s and v flipped: valid ECDSA, refused by EIP-2."""
    s_value = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s_value).to_bytes(32, "big") + bytes([55 - sig[64]])


SECP256K1_P = 2**256 - 2**32 - 977


def _unrecoverable_r() -> int:
    """The smallest r >= 1 with r^3 + 7 not a square mod p: no point has x = r."""
    r = 1
    while pow(r**3 + 7, (SECP256K1_P - 1) // 2, SECP256K1_P) == 1:
        r += 1
    return r


def relay_proof_threshold_vectors() -> dict[str, Any]:
    """Relay proofs as a destination broker counts them (docs/protocol.md §2.2)."""
    validators = [vector_account(i) for i in range(4)]
    stranger = vector_account(9)
    ibtp = {name: i for name, _, i in valid_ibtps()}["01-interchain-minimal"]
    digest = compute_signed_digest(HUB_ID, chain_of(ibtp.dst), ibtp, TxStatus.BEGIN)
    other_target = compute_signed_digest(HUB_ID, chain_of(ibtp.src), ibtp, TxStatus.BEGIN)
    sig = {i: a.sign(digest) for i, a in enumerate(validators)}
    s9 = stranger.sign(digest)
    accept, below, unreg, bad = "accept", "below_threshold", "unregistered_signer", "malformed"
    cases: list[tuple[str, str, list[bytes], str, int | None]] = [
        (
            "at-threshold",
            "validators 0, 1, 2: three distinct, the threshold",
            [sig[0], sig[1], sig[2]],
            accept,
            None,
        ),
        ("all-validators", "all four validators", [sig[3], sig[2], sig[1], sig[0]], accept, None),
        ("below-threshold", "validators 0 and 1 only", [sig[0], sig[1]], below, None),
        ("empty", "no signatures", [], below, None),
        (
            "duplicate-below",
            "validators 0, 1 and 1 again: two distinct, a duplicate counts once",
            [sig[0], sig[1], sig[1]],
            below,
            None,
        ),
        (
            "duplicate-at-threshold",
            "validators 0, 0, 1, 2: three distinct plus a duplicate",
            [sig[0], sig[0], sig[1], sig[2]],
            accept,
            None,
        ),
        (
            "stranger-past-threshold",
            "validators 0, 1, 2 and then a key that is no validator: every signature must be "
            "a validator's, also past the threshold",
            [sig[0], sig[1], sig[2], s9],
            unreg,
            3,
        ),
        (
            "stranger-first",
            "a stranger's signature, then validators 0, 1, 2",
            [s9, sig[0], sig[1], sig[2]],
            unreg,
            0,
        ),
        (
            "other-target-chain",
            "validators 0, 1, 2 signed the digest for the source chain (appchain1): over "
            "this digest they recover to other addresses",
            [a.sign(other_target) for a in validators[:3]],
            unreg,
            0,
        ),
        (
            "high-s-past-threshold",
            "validators 0, 1, 2 and validator 3's signature in its high-s form",
            [sig[0], sig[1], sig[2], _high_s(sig[3])],
            bad,
            3,
        ),
        (
            "short-signature",
            "validators 0, 1 and a 64-byte signature of validator 2",
            [sig[0], sig[1], sig[2][:64]],
            bad,
            2,
        ),
        (
            "v-zero",
            "validator 0's signature with v = 0 (raw recovery id), then 1 and 2",
            [sig[0][:64] + bytes([sig[0][64] - 27]), sig[1], sig[2]],
            bad,
            0,
        ),
    ]
    return {
        "description": (
            "relay proofs for one signed digest as a destination broker counts them "
            "(docs/protocol.md §2.2): every signature well-formed (else malformed) and by a "
            "registered validator (else unregistered_signer), checked in order also past "
            "the threshold; at least `threshold` distinct validators (else below_threshold). "
            "Keys are the public test keys of signatures.json (key 9 is the stranger)."
        ),
        "hub_id": HUB_ID,
        "target_chain": chain_of(ibtp.dst),
        "source": "ibtp/01-interchain-minimal.json, hub0, target appchain2, status 0 (BEGIN)",
        "digest": hex0x(digest),
        "validators": [a.address for a in validators],
        "threshold": 3,
        "stranger": stranger.address,
        "cases": [
            {
                "name": name,
                "description": description,
                "signatures": [hex0x(x) for x in sigs],
                "expect": expect,
                **({} if index is None else {"signature_index": index}),
            }
            for name, description, sigs, expect, index in cases
        ],
    }


def notary_vectors() -> dict[str, Any]:
    """Notary trust roots and proofs with the outcome docs/protocol.md §5 gives."""
    keys = [vector_account(i) for i in range(3)]
    stranger = vector_account(9)
    ibtp = {name: i for name, _, i in valid_ibtps()}["02-interchain-transfer"]
    ibtp_hash = compute_ibtp_hash(ibtp)
    digest = compute_notary_digest(ibtp_hash)
    sig = {i: a.sign(digest) for i, a in enumerate(keys)}
    s9 = stranger.sign(digest)
    zero = "0x" + "00" * 20
    root = {"keys": [a.address for a in keys], "threshold": 2}

    def pack(sigs: list[bytes]) -> bytes:
        return msgpack.packb(sigs, use_bin_type=True)

    ok = None
    proofs: list[tuple[str, str, bytes, Code | None, int | None]] = [
        (
            "threshold",
            "keys 0 and 1: two distinct, the threshold",
            pack([sig[0], sig[1]]),
            ok,
            None,
        ),
        ("all-keys", "keys 2, 1, 0", pack([sig[2], sig[1], sig[0]]), ok, None),
        (
            "duplicate-plus-threshold",
            "key 0 twice and key 1: duplicates count once",
            pack([sig[0], sig[0], sig[1]]),
            ok,
            None,
        ),
        (
            "noncanonical-msgpack",
            "keys 0 and 1 in an array16 of bin16 items: the proof's msgpack need not be canonical",
            array16(bin16(sig[0]), bin16(sig[1])),
            ok,
            None,
        ),
        ("below", "key 0 only", pack([sig[0]]), Code.NOTARY_BELOW_THRESHOLD, None),
        (
            "duplicate-below",
            "key 0 twice",
            pack([sig[0], sig[0]]),
            Code.NOTARY_BELOW_THRESHOLD,
            None,
        ),
        ("empty-array", "an empty array", pack([]), Code.NOTARY_BELOW_THRESHOLD, None),
        (
            "stranger-past-threshold",
            "keys 0, 1 and then a stranger's signature: refused also past the threshold",
            pack([sig[0], sig[1], s9]),
            Code.NOTARY_UNKNOWN_SIGNER,
            2,
        ),
        (
            "hash-without-domain",
            "key 0 signed the IBTP hash itself (no 'relayhub.notary.v1' prefix), then key 1",
            pack([keys[0].sign(ibtp_hash), sig[1]]),
            Code.NOTARY_UNKNOWN_SIGNER,
            0,
        ),
        (
            "hex-hash",
            "key 0 signed keccak256(domain ‖ the hash's 0x-hex text) instead of the raw 32 bytes",
            pack([keys[0].sign(keccak(b"relayhub.notary.v1" + hex0x(ibtp_hash).encode())), sig[1]]),
            Code.NOTARY_UNKNOWN_SIGNER,
            0,
        ),
        (
            "high-s",
            "key 0, then key 1's signature in its high-s form",
            pack([sig[0], _high_s(sig[1])]),
            Code.NOTARY_BAD_SIGNATURE,
            1,
        ),
        (
            "bad-before-stranger",
            "a 64-byte signature, then a stranger's: the first bad one decides",
            pack([sig[0][:64], s9, sig[1]]),
            Code.NOTARY_BAD_SIGNATURE,
            0,
        ),
        (
            "stranger-before-bad",
            "a stranger's signature, then a 64-byte one: the first bad one decides",
            pack([s9, sig[0][:64], sig[1]]),
            Code.NOTARY_UNKNOWN_SIGNER,
            0,
        ),
        (
            "v-29",
            "keys 0 and 1, v of the second 29",
            pack([sig[0], sig[1][:64] + b"\x1d"]),
            Code.NOTARY_BAD_SIGNATURE,
            1,
        ),
        (
            "r-zero",
            "r = 0",
            pack([b"\x00" * 32 + sig[0][32:], sig[1]]),
            Code.NOTARY_BAD_SIGNATURE,
            0,
        ),
        (
            "not-recoverable",
            f"r = {_unrecoverable_r()}, the smallest r that is no curve point's x-coordinate; "
            "otherwise well-formed",
            pack([_unrecoverable_r().to_bytes(32, "big") + sig[0][32:], sig[1]]),
            Code.NOTARY_BAD_SIGNATURE,
            0,
        ),
        ("not-msgpack", "the byte c1", b"\xc1", Code.PROOF_MALFORMED, None),
        ("empty-proof", "no bytes", b"", Code.PROOF_MALFORMED, None),
        (
            "trailing-byte",
            "keys 0 and 1 followed by one byte",
            pack([sig[0], sig[1]]) + b"\x00",
            Code.PROOF_MALFORMED,
            None,
        ),
        (
            "str-element",
            "a signature written as str",
            b"\x92" + mp("x" * 65) + mp(sig[1]),
            Code.PROOF_MALFORMED,
            None,
        ),
        ("not-an-array", "a single bin", mp(sig[0]), Code.PROOF_MALFORMED, None),
        ("too-many", "65 signatures (at most 64)", pack([sig[0]] * 65), Code.PROOF_MALFORMED, None),
    ]
    roots: list[tuple[str, Any, str, Code | None]] = [
        ("ok", root, "broker_1", ok),
        ("threshold-equals-keys", {"keys": root["keys"], "threshold": 3}, "broker_1", ok),
        (
            "uppercase-address",
            {"keys": [keys[0].address.upper().replace("0X", "0x")], "threshold": 1},
            "broker_1",
            ok,
        ),
        ("threshold-zero", {"keys": root["keys"], "threshold": 0}, "broker_1", Code.BAD_TRUST_ROOT),
        ("threshold-over", {"keys": root["keys"], "threshold": 4}, "broker_1", Code.BAD_TRUST_ROOT),
        (
            "threshold-bool",
            {"keys": root["keys"], "threshold": True},
            "broker_1",
            Code.BAD_TRUST_ROOT,
        ),
        (
            "duplicate-key",
            {
                "keys": [keys[0].address, keys[0].address.upper().replace("0X", "0x")],
                "threshold": 1,
            },
            "broker_1",
            Code.BAD_TRUST_ROOT,
        ),
        (
            "zero-address",
            {"keys": [keys[0].address, zero], "threshold": 1},
            "broker_1",
            Code.BAD_TRUST_ROOT,
        ),
        (
            "short-address",
            {"keys": [keys[0].address[:-1]], "threshold": 1},
            "broker_1",
            Code.BAD_TRUST_ROOT,
        ),
        ("no-keys", {"keys": [], "threshold": 1}, "broker_1", Code.BAD_TRUST_ROOT),
        (
            "65-keys",
            {"keys": [vector_account(100 + i).address for i in range(65)], "threshold": 1},
            "broker_1",
            Code.BAD_TRUST_ROOT,
        ),
        ("extra-field", {**root, "mode": "any"}, "broker_1", Code.BAD_TRUST_ROOT),
        ("not-a-map", [root["keys"], 2], "broker_1", Code.BAD_TRUST_ROOT),
        ("broker-space", root, "broker 1", Code.BAD_TRUST_ROOT),
        ("broker-129", root, "b" * 129, Code.BAD_TRUST_ROOT),
    ]
    return {
        "description": (
            "notary trust roots (accepted or 3007 at registration) and notary proofs for one "
            "IBTP (accepted, or refused with a code and the index of the signature that "
            "decides it), docs/protocol.md §5. Keys are the public test keys of "
            "relay_proof/signatures.json (key 9 is the stranger)."
        ),
        "ibtp": "ibtp/02-interchain-transfer.json",
        "ibtp_hash": hex0x(ibtp_hash),
        "notary_digest": hex0x(digest),
        "trust_root": root,
        "stranger": stranger.address,
        "trust_roots": [
            {
                "name": name,
                "trust_root": tr,
                "broker": broker,
                "error": None if code is None else {"code": int(code), "name": code.name},
            }
            for name, tr, broker, code in roots
        ],
        "proofs": [
            {
                "name": name,
                "description": description,
                "proof": hex0x(proof),
                "error": None
                if code is None
                else {
                    "code": int(code),
                    "name": code.name,
                    **({} if index is None else {"signature_index": index}),
                },
            }
            for name, description, proof, code, index in proofs
        ],
    }


# ---------------------------------------------------------------------------
# Ledger scenarios: the reference executor driven through signed transactions.

NOTARY_THRESHOLD = 2
LEDGER_CHAINS = ("A", "B", "C")
ALL_CHAINS = (*LEDGER_CHAINS, "D")


def ledger_key(label: str) -> Account:
    """Scenario key ``label``: keccak256("relayhub.test-vector.key.<label>"). Public."""
    return Account.from_key(keccak(f"relayhub.test-vector.key.{label}".encode()))


def jsonable(value: Any) -> Any:
    """Results, details and state values as JSON: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes):
        return hex0x(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


class Scenario:
    """Steps applied to the executor the way a node applies them: each transaction in a
    child layer (merged when applied, dropped when refused), blocks committed in order
    with ``begin_block`` (timeouts) first. Every step states the outcome docs/protocol.md
    gives for it; the generator refuses to write a vector the executor disagrees with."""

    def __init__(self, name: str, description: str, default_timeout_blocks: int = 10) -> None:
        self.name = name
        self.description = description
        self.labels: dict[str, Account] = {}
        for label in ("admin", "validator", "outsider"):
            self.key(label)
        for c in ALL_CHAINS:
            self.key(f"gateway-{c}")
            for i in range(3):
                self.key(f"notary-{c}-{i}")
        self.genesis = Genesis(
            hub_id=HUB_ID,
            admins=(self.key("admin").address,),
            validators=(self.key("validator").address,),
            validator_threshold=1,
            default_timeout_blocks=default_timeout_blocks,
        )
        self.executor = Executor(self.genesis, VerifierRegistry({"notary": NotaryVerifier()}))
        self.reader = MemoryReader()
        self.layer = Layer()
        self.view = StateView(self.reader, [self.layer])
        self.height = 1
        self.tx_index = 0
        self.steps: list[dict[str, Any]] = []
        timed_out = self.executor.begin_block(self.view, 1)
        assert timed_out == 0

    def key(self, label: str) -> Account:
        if label not in self.labels:
            self.labels[label] = ledger_key(label)
        return self.labels[label]

    def nonce(self, label: str) -> int:
        return int(self.view.get(f"acct/{self.key(label).address}", 0)) + 1

    def tx(
        self, label: str, kind: str, body: Any, *, nonce: int | None = None, hub: str = HUB_ID
    ) -> Transaction:
        n = self.nonce(label) if nonce is None else nonce
        return sign_tx(self.key(label), hub, n, kind, body)

    # --- chains and IBTPs --------------------------------------------------------

    def trust_root(self, chain: str) -> dict[str, Any]:
        return {
            "keys": [self.key(f"notary-{chain}-{i}").address for i in range(3)],
            "threshold": NOTARY_THRESHOLD,
        }

    def register_body(self, chain: str, **over: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": chain,
            "family": "notary",
            "trust_root": self.trust_root(chain),
            "broker": f"broker_{chain}",
            "gateways": [self.key(f"gateway-{chain}").address],
        }
        body.update(over)
        return body

    def prove(self, ibtp: IBTP, chain: str, signers: list[Account] | None = None) -> IBTP:
        from adapters.notary.verifier import notarize

        who = (
            signers if signers is not None else [self.key(f"notary-{chain}-{i}") for i in range(2)]
        )
        return IBTP(**{**_fields_of(ibtp), "proof": notarize(compute_ibtp_hash(ibtp), who)})

    def request(
        self,
        src: str,
        dst: str,
        index: int,
        *,
        timeout: int = 0,
        func: str = "transfer",
        args: tuple[bytes, ...] = (b"alice", b"bob", b"\x01"),
        signers: list[Account] | None = None,
    ) -> IBTP:
        ibtp = IBTP(src=src, dst=dst, index=index, timeout=timeout, payload=Payload(func, args))
        return self.prove(ibtp, src.split(":")[1], signers)

    def receipt(self, request: IBTP, typ: IBTPType, result: bytes = b"ok") -> IBTP:
        payload = Payload("", () if typ == IBTPType.RECEIPT_ROLLBACK else (result,))
        ibtp = IBTP(
            src=request.src, dst=request.dst, index=request.index, type=typ, payload=payload
        )
        chain = request.src if typ == IBTPType.RECEIPT_ROLLBACK else request.dst
        return self.prove(ibtp, chain.split(":")[1])

    def dst_ack(self, request: IBTP) -> IBTP:
        """The destination's RECEIPT_ROLLBACK: its broker consumed the index unexecuted."""
        ibtp = IBTP(
            src=request.src, dst=request.dst, index=request.index, type=IBTPType.RECEIPT_ROLLBACK
        )
        return self.prove(ibtp, request.dst.split(":")[1])

    def ibtps(self, label: str, items: list[IBTP]) -> Transaction:
        return self.tx(label, "ibtp", [encode_ibtp(i) for i in items])

    # --- steps -------------------------------------------------------------------

    def apply(
        self,
        note: str,
        tx: Transaction | bytes,
        *,
        error: Code | None = None,
        details: dict[str, Any] | None = None,
        results: list[Any] | None = None,
        statuses: list[int] | None = None,
        routes: list[tuple[str, int, int]] | None = None,
    ) -> None:
        """Apply one transaction. ``error`` (and ``details``) is the refusal the doc gives;
        else ``results`` (whole) or ``statuses`` (per IBTP) and ``routes``, the outbound
        entries it adds as (chain, IBTP type, status), are what the doc gives."""
        raw = tx if isinstance(tx, bytes) else encode_tx(tx)
        step: dict[str, Any] = {"note": note, "height": self.height, "tx": hex0x(raw)}
        before = {c: int(self.view.get(f"outseq/{c}", 0)) for c in ALL_CHAINS}
        try:
            decoded = decode_tx(raw)
            step["tx_hash"] = hex0x(decoded.hash)
            child, layer = self.view.child()
            receipt = self.executor.apply_tx(child, decoded, self.height, self.tx_index)
        except RelayError as exc:
            assert error is not None, f"{self.name}: {note}: refused {exc.code} {exc.message}"
            assert exc.code == error, (
                f"{self.name}: {note}: got {exc.code}, want {int(error)}: {exc.message}"
            )
            for k, v in (details or {}).items():
                assert exc.details.get(k) == v, (note, exc.details)
            step["error"] = {
                "code": exc.code,
                "name": Code(exc.code).name,
                "details": jsonable(exc.details),
            }
            self.steps.append(step)
            return
        assert error is None, f"{self.name}: {note}: applied, want {int(error)}"
        self.view.merge(layer)
        self.tx_index += 1
        got = jsonable(list(receipt.results))
        if results is not None:
            assert got == results, (note, got, results)
        if statuses is not None:
            assert [r[1] for r in got] == statuses, (note, got, statuses)
        step["results"] = got
        added = []
        for c in ALL_CHAINS:
            for seq in range(before[c] + 1, int(self.view.get(f"outseq/{c}", 0)) + 1):
                entry = decode_outbound(c, seq, self.view.get(f"out/{c}/{seq:016x}"))
                added.append((c, seq, entry))
        if routes is not None:
            shape = sorted((c, decode_ibtp(e.ibtp).type.value, e.status) for c, _, e in added)
            assert shape == sorted(routes), (note, shape, routes)
        step["outbound"] = [
            {"chain": c, "seq": seq, "ibtp": hex0x(e.ibtp), "status": e.status}
            for c, seq, e in added
        ]
        self.steps.append(step)

    def advance(self, height: int, timed_out: int) -> None:
        """Commit blocks up to ``height``; ``timed_out`` is how many BEGIN transactions
        the doc says time out on the way."""
        total = 0
        while self.height < height:
            self.reader.apply(self.layer.writes)
            self.layer = Layer()
            self.view = StateView(self.reader, [self.layer])
            self.height += 1
            self.tx_index = 0
            total += self.executor.begin_block(self.view, self.height)
        assert total == timed_out, (self.name, height, total, timed_out)
        self.steps.append({"advance_to": height, "timed_out": total})

    def final(self, statuses: dict[str, int]) -> dict[str, Any]:
        txs = {k[len("tx/") :]: v for k, v in self.view.scan("tx/")}
        got = {k: v[0] for k, v in txs.items()}
        assert got == statuses, (self.name, got, statuses)
        return {
            "transactions": {
                k: {
                    "status": v[0],
                    "ibtp_hash": hex0x(v[1]),
                    "timeout": str(v[2]),
                    "history": v[3],
                    "receipt_hash": hex0x(v[4]),
                    "result": hex0x(v[5]),
                }
                for k, v in txs.items()
            },
            "pairs": {k[len("pair/") :]: list(v) for k, v in self.view.scan("pair/")},
            "outbound_last_seq": {k[len("outseq/") :]: v for k, v in self.view.scan("outseq/")},
            "nonces": {k[len("acct/") :]: v for k, v in self.view.scan("acct/")},
            "chains": {
                k[len("chain/") :]: {"status": v["status"], "prior": v.get("prior", 0)}
                for k, v in self.view.scan("chain/")
            },
            "services": sorted(k[len("svc/") :] for k, _ in self.view.scan("svc/")),
        }

    def vector(self, statuses: dict[str, int]) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "genesis": self.genesis.to_dict(),
            "families": ["notary"],
            "keys": {
                label: {"private_key": a.secret_hex, "address": a.address}
                for label, a in sorted(self.labels.items())
            },
            "steps": self.steps,
            "final": self.final(statuses),
        }


def _fields_of(ibtp: IBTP) -> dict[str, Any]:
    return {
        "src": ibtp.src,
        "dst": ibtp.dst,
        "index": ibtp.index,
        "type": ibtp.type,
        "timeout": ibtp.timeout,
        "payload": ibtp.payload,
        "proof": ibtp.proof,
        "extra": ibtp.extra,
        "version": ibtp.version,
    }


def _with_sig(tx: Transaction, sig: bytes) -> bytes:
    return encode_tx(Transaction(tx.hub_id, tx.sender, tx.nonce, tx.kind, tx.body, sig, tx.hash))


def _raw_tx(hub: Any, sender: Any, nonce: Any, kind: Any, body: Any, sig: Any) -> bytes:
    """A transaction's bytes written as given (msgpack, no canonicalisation)."""
    return msgpack.packb([hub, sender, nonce, kind, body, sig], use_bin_type=True)


def ledger_transactions() -> dict[str, Any]:
    """§4 and §4.1: decoding, hub, signature, nonces, kinds and each body's checks."""
    sc = Scenario(
        "01-transactions",
        "relay transactions (docs/protocol.md §4, §4.1): canonical bytes, hub, signature, "
        "nonces, kinds, and the checks of chain.register / approve / reject / withdraw and "
        "service.register, each with the code the doc gives",
    )
    A = "gateway-A"
    reg_a = sc.tx(A, "chain.register", sc.register_body("A", name="chain A", desc="notary A"))
    sc.apply("register chain A", reg_a, results=["A", "PENDING"])
    sc.apply(
        "the same bytes again: nonce 1 is used",
        reg_a,
        error=Code.NONCE_USED,
        details={"expected": 2},
    )
    sc.apply(
        "nonce 3 when 2 is next",
        sc.tx(A, "chain.register", sc.register_body("X0"), nonce=3),
        error=Code.NONCE_GAP,
        details={"expected": 2},
    )
    sc.apply(
        "a transaction for hub1",
        sc.tx(A, "chain.register", sc.register_body("X0"), hub="hub1"),
        error=Code.WRONG_HUB,
    )
    sc.apply("unknown kind", sc.tx(A, "chain.delete", {"id": "A"}), error=Code.UNKNOWN_TX_KIND)
    probe = sc.tx(A, "chain.register", sc.register_body("X0"))
    sc.apply(
        "signature in its high-s form",
        _with_sig(probe, _high_s(probe.sig)),
        error=Code.BAD_SIGNATURE,
    )
    sc.apply("signature of 64 bytes", _with_sig(probe, probe.sig[:64]), error=Code.BAD_SIGNATURE)
    sc.apply(
        "signed by another key than the sender",
        _with_sig(probe, sc.key("outsider").sign(probe.hash)),
        error=Code.SIGNER_MISMATCH,
    )
    # decoding (§4): canonical bytes
    addr = sc.key(A).address
    sig = probe.sig
    n = probe.nonce
    body = probe.body
    sc.apply(
        "sender in upper case: not canonical",
        _raw_tx(HUB_ID, "0x" + addr[2:].upper(), n, "chain.register", body, sig),
        error=Code.NON_CANONICAL,
    )
    sc.apply(
        "sender as 20 bytes of bin: not canonical",
        _raw_tx(HUB_ID, bytes.fromhex(addr[2:]), n, "chain.register", body, sig),
        error=Code.NON_CANONICAL,
    )
    unsorted = msgpack.packb(
        [HUB_ID, addr, n, "chain.register", dict(reversed(list(canonical_map(body).items()))), sig],
        use_bin_type=True,
    )
    sc.apply("body map keys not sorted", unsorted, error=Code.NON_CANONICAL)
    sc.apply("a byte after the transaction", encode_tx(probe) + b"\x00", error=Code.NON_CANONICAL)
    sc.apply("truncated", encode_tx(probe)[:-1], error=Code.MALFORMED_ENCODING)
    sc.apply(
        "5 elements",
        msgpack.packb([HUB_ID, addr, n, "chain.register", body], use_bin_type=True),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "nonce 0", _raw_tx(HUB_ID, addr, 0, "chain.register", body, sig), error=Code.FIELD_TYPE
    )
    sc.apply(
        "nonce 2**63",
        _raw_tx(HUB_ID, addr, 2**63, "chain.register", body, sig),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "sig as str",
        _raw_tx(HUB_ID, addr, n, "chain.register", body, "x" * 65),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "sender not an address",
        _raw_tx(HUB_ID, addr[:-1], n, "chain.register", body, sig),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "a float in the body",
        _raw_tx(HUB_ID, addr, n, "chain.register", {"id": 1.5}, sig),
        error=Code.FIELD_TYPE,
    )
    head = b"\x96" + mp(HUB_ID) + mp(addr) + mp(n) + mp("chain.withdraw")
    sc.apply(
        "a body map with a duplicate key: re-encoded with the last value only",
        head + b"\x82" + mp("id") + mp("X0") + mp("id") + mp("X9") + mp(sig),
        error=Code.NON_CANONICAL,
    )
    sc.apply(
        "a body map mixing str and bin keys",
        head + b"\x82" + mp("id") + mp("X0") + mp(b"id") + mp("X9") + mp(sig),
        error=Code.FIELD_TYPE,
    )
    # chain.register checks, in the doc's order
    OUT = "outsider"
    sc.apply(
        "chain A again by another key: PENDING is taken",
        sc.tx(OUT, "chain.register", sc.register_body("A")),
        error=Code.CHAIN_EXISTS,
    )
    body_no_broker = {k: v for k, v in sc.register_body("X0").items() if k != "broker"}
    sc.apply("no broker field", sc.tx(OUT, "chain.register", body_no_broker), error=Code.FIELD_TYPE)
    sc.apply(
        "an unknown field",
        sc.tx(OUT, "chain.register", sc.register_body("X0", owner="me")),
        error=Code.FIELD_TYPE,
    )
    sc.apply("a body that is no map", sc.tx(OUT, "chain.register", ["X0"]), error=Code.FIELD_TYPE)
    sc.apply(
        "chain ID with a space",
        sc.tx(OUT, "chain.register", sc.register_body("X 0")),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "chain ID of 65 characters",
        sc.tx(OUT, "chain.register", sc.register_body("x" * 65)),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "family not a string",
        sc.tx(OUT, "chain.register", sc.register_body("X0", family=1)),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "broker of 129 characters",
        sc.tx(OUT, "chain.register", sc.register_body("X0", broker="b" * 129)),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "unknown family",
        sc.tx(OUT, "chain.register", sc.register_body("X0", family="fabric-x")),
        error=Code.UNKNOWN_FAMILY,
    )
    sc.apply(
        "threshold above the number of keys",
        sc.tx(
            OUT,
            "chain.register",
            sc.register_body("X0", trust_root={**sc.trust_root("X0"), "threshold": 4}),
        ),
        error=Code.BAD_TRUST_ROOT,
    )
    sc.apply(
        "zero address as a notary key",
        sc.tx(
            OUT,
            "chain.register",
            sc.register_body("X0", trust_root={"keys": ["0x" + "00" * 20], "threshold": 1}),
        ),
        error=Code.BAD_TRUST_ROOT,
    )
    sc.apply(
        "broker with a space",
        sc.tx(OUT, "chain.register", sc.register_body("X0", broker="my broker")),
        error=Code.BAD_TRUST_ROOT,
    )
    sc.apply(
        "17 gateways",
        sc.tx(
            OUT,
            "chain.register",
            sc.register_body("X0", gateways=[ledger_key(f"g{i}").address for i in range(17)]),
        ),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "gateways nil",
        sc.tx(OUT, "chain.register", sc.register_body("X0", gateways=None)),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "a gateway that is no address",
        sc.tx(OUT, "chain.register", sc.register_body("X0", gateways=["0x1234"])),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "name not a string",
        sc.tx(OUT, "chain.register", sc.register_body("X0", name=5)),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "desc not a string",
        sc.tx(OUT, "chain.register", sc.register_body("X0", desc=b"x")),
        error=Code.FIELD_TYPE,
    )
    for i in range(1, 5):
        sc.apply(
            f"outsider registers X{i} (gateways empty: the sender)",
            sc.tx(OUT, "chain.register", sc.register_body(f"X{i}", gateways=[], name="n" * 130)),
            results=[f"X{i}", "PENDING"],
        )
    sc.apply(
        "a fifth PENDING registration",
        sc.tx(OUT, "chain.register", sc.register_body("X5")),
        error=Code.TOO_MANY_PENDING,
        details={"limit": 4},
    )
    sc.apply(
        "gateway A withdraws X1: not its registrar",
        sc.tx(A, "chain.withdraw", {"id": "X1"}),
        error=Code.UNAUTHORIZED,
    )
    sc.apply(
        "withdraw an unknown chain",
        sc.tx(OUT, "chain.withdraw", {"id": "nochain"}),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply(
        "withdraw with an integer id",
        sc.tx(OUT, "chain.withdraw", {"id": 1}),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply(
        "outsider withdraws X1",
        sc.tx(OUT, "chain.withdraw", {"id": "X1"}),
        results=["X1", "WITHDRAWN"],
    )
    sc.apply(
        "X1 again: withdrawn", sc.tx(OUT, "chain.withdraw", {"id": "X1"}), error=Code.NOT_PENDING
    )
    sc.apply(
        "now X5 fits",
        sc.tx(OUT, "chain.register", sc.register_body("X5")),
        results=["X5", "PENDING"],
    )
    ADM = "admin"
    sc.apply(
        "outsider approves A: no admin",
        sc.tx(OUT, "chain.approve", {"id": "A"}),
        error=Code.UNAUTHORIZED,
    )
    sc.apply(
        "admin approves with an extra field",
        sc.tx(ADM, "chain.approve", {"id": "A", "why": "ok"}),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "admin approves an unknown chain",
        sc.tx(ADM, "chain.approve", {"id": "nochain"}),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply(
        "admin approves with a bin id",
        sc.tx(ADM, "chain.approve", {"id": b"A"}),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply("admin approves A", sc.tx(ADM, "chain.approve", {"id": "A"}), results=["A", "ACTIVE"])
    sc.apply("approve A again", sc.tx(ADM, "chain.approve", {"id": "A"}), error=Code.NOT_PENDING)
    sc.apply(
        "reject the WITHDRAWN X1", sc.tx(ADM, "chain.reject", {"id": "X1"}), error=Code.NOT_PENDING
    )
    sc.apply(
        "admin rejects X2", sc.tx(ADM, "chain.reject", {"id": "X2"}), results=["X2", "REJECTED"]
    )
    sc.apply(
        "withdraw the ACTIVE A", sc.tx(A, "chain.withdraw", {"id": "A"}), error=Code.NOT_PENDING
    )
    sc.apply(
        "register ACTIVE A again",
        sc.tx(A, "chain.register", sc.register_body("A")),
        error=Code.CHAIN_EXISTS,
    )
    sc.apply(
        "gateway A registers the withdrawn X1: it replaces the record",
        sc.tx(A, "chain.register", sc.register_body("X1")),
        results=["X1", "PENDING"],
    )
    sc.apply(
        "gateway A registers the rejected X2",
        sc.tx(A, "chain.register", sc.register_body("X2")),
        results=["X2", "PENDING"],
    )
    sc.apply(
        "gateway A withdraws X2",
        sc.tx(A, "chain.withdraw", {"id": "X2"}),
        results=["X2", "WITHDRAWN"],
    )
    sc.apply(
        "outsider registers X2 a third time (prior = 2)",
        sc.tx(OUT, "chain.register", sc.register_body("X2")),
        results=["X2", "PENDING"],
    )
    # service.register
    S = "service.register"
    svc = f"{HUB_ID}:A:svc"
    sc.apply(
        "a service with the retired 'ordered' field",
        sc.tx(A, S, {"service": svc, "ordered": True}),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "ordered: false is refused too",
        sc.tx(A, S, {"service": svc, "ordered": False}),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "an unknown field", sc.tx(A, S, {"service": svc, "owner": "me"}), error=Code.FIELD_TYPE
    )
    sc.apply(
        "an invalid service ID",
        sc.tx(A, S, {"service": f"{HUB_ID}:A:my svc"}),
        error=Code.BAD_SERVICE_ID,
    )
    sc.apply("a service on hub1", sc.tx(A, S, {"service": "hub1:A:svc"}), error=Code.BAD_SERVICE_ID)
    sc.apply(
        "a service on an unknown chain",
        sc.tx(A, S, {"service": f"{HUB_ID}:Q:svc"}),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply(
        "a service on the PENDING X1",
        sc.tx(A, S, {"service": f"{HUB_ID}:X1:svc"}),
        error=Code.CHAIN_NOT_ACTIVE,
    )
    sc.apply(
        "the outsider registers a service on A",
        sc.tx(OUT, S, {"service": svc}),
        error=Code.UNAUTHORIZED,
    )
    sc.apply(
        "name not a string", sc.tx(A, S, {"service": svc, "name": ["x"]}), error=Code.FIELD_TYPE
    )
    sc.apply(
        "allow not a list",
        sc.tx(A, S, {"service": svc, "allow": f"{HUB_ID}:B:svc"}),
        error=Code.FIELD_TYPE,
    )
    sc.apply(
        "an allow entry on hub1",
        sc.tx(A, S, {"service": svc, "allow": ["hub1:B:svc"]}),
        error=Code.BAD_SERVICE_ID,
    )
    sc.apply(
        "a deny entry that is no full ID",
        sc.tx(A, S, {"service": svc, "deny": ["B:svc"]}),
        error=Code.BAD_SERVICE_ID,
    )
    sc.apply(
        "register A:svc; allow entries spelled canonically (an address lowercased), sorted, "
        "deduplicated",
        sc.tx(
            A,
            S,
            {
                "service": svc,
                "allow": [
                    f"{HUB_ID}:B:0xABCDEFabcdef0123456789abcdef0123456789AB",
                    f"{HUB_ID}:B:svc",
                    f"{HUB_ID}:B:svc",
                ],
                "name": "svc",
            },
        ),
        results=[svc, "ACTIVE"],
    )
    sc.apply("A:svc again", sc.tx(A, S, {"service": svc}), error=Code.SERVICE_EXISTS)
    sc.apply(
        "an address service on a notary chain is stored lowercase",
        sc.tx(A, S, {"service": f"{HUB_ID}:A:0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        results=[f"{HUB_ID}:A:0x" + "a" * 40, "ACTIVE"],
    )
    sc.apply(
        "the same address in another case: the canonical ID exists",
        sc.tx(A, S, {"service": f"{HUB_ID}:A:0xaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        error=Code.SERVICE_EXISTS,
    )
    return sc.vector(statuses={})


def canonical_map(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in sorted(body)}


def ledger_interchain() -> dict[str, Any]:
    """§3: every transition of the table, duplicates, gaps, late receipts, invalid
    transitions, notices to both chains, and the submitter and proof checks."""
    sc = Scenario(
        "02-interchain",
        "the interchain state machine (docs/protocol.md §3) on chains A and B (notary, 2 "
        "of 3), C (registered, PENDING) and D (never registered); default timeout 10 "
        "blocks. Each step states the status, the outbound entries (chain, type, status) "
        "and the codes the doc gives",
    )
    for c in LEDGER_CHAINS:
        sc.apply(
            f"register {c}",
            sc.tx(f"gateway-{c}", "chain.register", sc.register_body(c)),
            results=[c, "PENDING"],
        )
    for c in ("A", "B"):
        sc.apply(f"approve {c}", sc.tx("admin", "chain.approve", {"id": c}), results=[c, "ACTIVE"])
    h = HUB_ID
    for c, svc, extra in [
        ("A", "svc", {}),
        ("A", "free", {}),
        ("B", "svc", {}),
        ("B", "picky", {"allow": [f"{h}:A:free"]}),
        ("B", "grumpy", {"deny": [f"{h}:A:svc"]}),
    ]:
        sc.apply(
            f"service {c}:{svc}",
            sc.tx(f"gateway-{c}", "service.register", {"service": f"{h}:{c}:{svc}", **extra}),
            results=[f"{h}:{c}:{svc}", "ACTIVE"],
        )
    sc.advance(2, 0)
    a, b = f"{h}:A:svc", f"{h}:B:svc"
    GA, GB = "gateway-A", "gateway-B"
    REQ, RS, RF, RR = 0, 1, 2, 3
    BEGIN, SUCCESS, FAILURE, ROLLBACK, BFAIL, BROLL, SROLL = 0, 1, 2, 3, 4, 5, 6

    def iid(src: str, dst: str, index: int) -> str:
        return f"{src}~{dst}~{index}"

    # --- index 1: BEGIN -> SUCCESS, duplicates and late events
    r1 = sc.request(a, b, 1)
    sc.apply(
        "request 1: routable -> BEGIN, routed to B",
        sc.ibtps(GA, [r1]),
        results=[[iid(a, b, 1), BEGIN, False]],
        routes=[("B", REQ, BEGIN)],
    )
    sc.apply(
        "request 1 again: duplicate, a no-op",
        sc.ibtps(GA, [r1]),
        results=[[iid(a, b, 1), BEGIN, True]],
        routes=[],
    )
    sc.apply(
        "request 1 with another proof (one notary only): same IBTP hash, a no-op; the proof "
        "is not checked",
        sc.ibtps(GA, [sc.request(a, b, 1, signers=[sc.key("notary-A-0")])]),
        results=[[iid(a, b, 1), BEGIN, True]],
    )
    sc.apply(
        "index 1 with other content",
        sc.ibtps(GA, [sc.request(a, b, 1, func="steal")]),
        error=Code.CONFLICTING_DUPLICATE,
        details={"ibtp_id": iid(a, b, 1), "item": 0},
    )
    sc.apply(
        "index 3 when 2 is next",
        sc.ibtps(GA, [sc.request(a, b, 3)]),
        error=Code.INDEX_GAP,
        details={"expected": 2},
    )
    sc.apply(
        "the ack for a BEGIN request: invalid transition",
        sc.ibtps(GA, [sc.receipt(r1, IBTPType.RECEIPT_ROLLBACK)]),
        error=Code.INVALID_TRANSITION,
        details={"status": BEGIN},
    )
    ok1 = sc.receipt(r1, IBTPType.RECEIPT_SUCCESS, b"done")
    sc.apply(
        "RECEIPT_SUCCESS submitted by A's gateway", sc.ibtps(GA, [ok1]), error=Code.WRONG_SUBMITTER
    )
    sc.apply(
        "RECEIPT_SUCCESS by the outsider", sc.ibtps("outsider", [ok1]), error=Code.UNAUTHORIZED
    )
    sc.apply(
        "RECEIPT_SUCCESS from B -> SUCCESS, routed to A",
        sc.ibtps(GB, [ok1]),
        results=[[iid(a, b, 1), SUCCESS, False]],
        routes=[("A", RS, SUCCESS)],
    )
    sc.apply(
        "the same receipt again: a no-op",
        sc.ibtps(GB, [ok1]),
        results=[[iid(a, b, 1), SUCCESS, True]],
        routes=[],
    )
    sc.apply(
        "another RECEIPT_SUCCESS (other result): late",
        sc.ibtps(GB, [sc.receipt(r1, IBTPType.RECEIPT_SUCCESS, b"again")]),
        error=Code.LATE_RECEIPT,
        details={"status": SUCCESS},
    )
    sc.apply(
        "RECEIPT_FAILURE after SUCCESS: late",
        sc.ibtps(GB, [sc.receipt(r1, IBTPType.RECEIPT_FAILURE)]),
        error=Code.LATE_RECEIPT,
        details={"status": SUCCESS},
    )
    sc.apply(
        "an ack after SUCCESS: invalid transition",
        sc.ibtps(GA, [sc.receipt(r1, IBTPType.RECEIPT_ROLLBACK)]),
        error=Code.INVALID_TRANSITION,
        details={"status": SUCCESS},
    )
    # --- index 2: BEGIN -> FAILURE
    r2 = sc.request(a, b, 2, timeout=50)
    sc.apply(
        "request 2 (timeout 50)", sc.ibtps(GA, [r2]), statuses=[BEGIN], routes=[("B", REQ, BEGIN)]
    )
    sc.apply(
        "RECEIPT_FAILURE -> FAILURE, routed to A",
        sc.ibtps(GB, [sc.receipt(r2, IBTPType.RECEIPT_FAILURE, b"insufficient balance")]),
        statuses=[FAILURE],
        routes=[("A", RF, FAILURE)],
    )
    # --- index 3: expired at admission -> SOURCE_ROLLBACK, notices to both chains
    r3 = sc.request(a, b, 3, timeout=sc.height)
    sc.apply(
        "request 3 whose timeout is the admission height: SOURCE_ROLLBACK (never routed), "
        "index consumed, notices to A and B (relay proofs announce BEGIN_ROLLBACK)",
        sc.ibtps(GA, [r3]),
        results=[
            [
                iid(a, b, 3),
                SROLL,
                False,
                "timeout height 2 had passed when the relay admitted it at height 2",
            ]
        ],
        routes=[("A", RR, BROLL), ("B", RR, BROLL)],
    )
    sc.apply(
        "a receipt for the expired request: late",
        sc.ibtps(GB, [sc.receipt(r3, IBTPType.RECEIPT_SUCCESS)]),
        error=Code.LATE_RECEIPT,
        details={"status": SROLL},
    )
    sc.apply(
        "B's acknowledgement of its notice for request 3 (it consumed the index): taken, "
        "changes nothing",
        sc.ibtps(GB, [sc.dst_ack(r3)]),
        results=[[iid(a, b, 3), SROLL, True]],
        routes=[],
    )
    sc.apply(
        "the ack for request 3 -> ROLLBACK, nothing routed",
        sc.ibtps(GA, [sc.receipt(r3, IBTPType.RECEIPT_ROLLBACK)]),
        statuses=[ROLLBACK],
        routes=[],
    )
    sc.apply(
        "the ack again: a no-op",
        sc.ibtps(GA, [sc.receipt(r3, IBTPType.RECEIPT_ROLLBACK)]),
        results=[[iid(a, b, 3), ROLLBACK, True]],
    )
    sc.apply(
        "B's acknowledgement after ROLLBACK: taken, changes nothing",
        sc.ibtps(GB, [sc.dst_ack(r3)]),
        results=[[iid(a, b, 3), ROLLBACK, True]],
        routes=[],
    )
    # --- index 4: BEGIN -> BEGIN_ROLLBACK by timeout, the destination gives it up first
    r4 = sc.request(a, b, 4, timeout=sc.height + 2)
    sc.apply(
        "request 4, timeout admission height + 2 = 4",
        sc.ibtps(GA, [r4]),
        statuses=[BEGIN],
        routes=[("B", REQ, BEGIN)],
    )
    sc.advance(3, 0)
    sc.advance(4, 1)  # BEGIN_ROLLBACK: a notice to B only
    sc.apply(
        "the source's ack for request 4 in BEGIN_ROLLBACK: invalid transition (the source "
        "has not been told)",
        sc.ibtps(GA, [sc.receipt(r4, IBTPType.RECEIPT_ROLLBACK)]),
        error=Code.INVALID_TRANSITION,
        details={"status": BROLL},
    )
    sc.apply(
        "B's acknowledgement submitted by C's gateway: unauthorized",
        sc.ibtps("gateway-C", [sc.dst_ack(r4)]),
        error=Code.UNAUTHORIZED,
    )
    sc.apply(
        "B's acknowledgement (it consumed index 4 unexecuted) -> SOURCE_ROLLBACK, the notice "
        "routed to A",
        sc.ibtps(GB, [sc.dst_ack(r4)]),
        results=[[iid(a, b, 4), SROLL, False]],
        routes=[("A", RR, BROLL)],
    )
    sc.apply(
        "RECEIPT_SUCCESS after B gave the request up: late",
        sc.ibtps(GB, [sc.receipt(r4, IBTPType.RECEIPT_SUCCESS)]),
        error=Code.LATE_RECEIPT,
        details={"status": SROLL},
    )
    sc.apply(
        "the ack for request 4 -> ROLLBACK",
        sc.ibtps(GA, [sc.receipt(r4, IBTPType.RECEIPT_ROLLBACK)]),
        statuses=[ROLLBACK],
        routes=[],
    )
    # --- default timeout: a receipt one block before it still counts
    r5 = sc.request(a, b, 5)
    sc.apply(
        "request 5, timeout 0: the timeout height is 4 + 10 = 14",
        sc.ibtps(GA, [r5]),
        statuses=[BEGIN],
        routes=[("B", REQ, BEGIN)],
    )
    sc.advance(13, 0)
    sc.apply(
        "RECEIPT_SUCCESS at height 13 -> SUCCESS",
        sc.ibtps(GB, [sc.receipt(r5, IBTPType.RECEIPT_SUCCESS)]),
        statuses=[SUCCESS],
        routes=[("A", RS, SUCCESS)],
    )
    sc.advance(14, 0)
    # --- BEGIN_FAILURE: each reason the relay cannot route
    nosvc, grumpy, picky, free = f"{h}:B:nosvc", f"{h}:B:grumpy", f"{h}:B:picky", f"{h}:A:free"
    sc.apply(
        "to an unregistered service -> BEGIN_FAILURE, notices to A and B",
        sc.ibtps(GA, [sc.request(a, nosvc, 1)]),
        results=[
            [iid(a, nosvc, 1), BFAIL, False, f"destination service {nosvc} is not registered"]
        ],
        routes=[("A", RR, BFAIL), ("B", RR, BFAIL)],
    )
    sc.apply(
        "to a service whose deny list names the caller -> BEGIN_FAILURE",
        sc.ibtps(GA, [sc.request(a, grumpy, 1)]),
        statuses=[BFAIL],
        routes=[("A", RR, BFAIL), ("B", RR, BFAIL)],
    )
    sc.apply(
        "to a service whose allow list lacks the caller -> BEGIN_FAILURE",
        sc.ibtps(GA, [sc.request(a, picky, 1)]),
        statuses=[BFAIL],
        routes=[("A", RR, BFAIL), ("B", RR, BFAIL)],
    )
    sc.apply(
        "the allowed caller -> BEGIN",
        sc.ibtps(GA, [sc.request(free, picky, 1)]),
        statuses=[BEGIN],
        routes=[("B", REQ, BEGIN)],
    )
    sc.apply(
        "to the PENDING chain C -> BEGIN_FAILURE; C's queue gets its notice",
        sc.ibtps(GA, [sc.request(a, f"{h}:C:svc", 1)]),
        statuses=[BFAIL],
        routes=[("A", RR, BFAIL), ("C", RR, BFAIL)],
    )
    sc.apply(
        "to the never registered chain D, with an expired timeout: unroutable comes first "
        "-> BEGIN_FAILURE; D's queue gets its notice",
        sc.ibtps(GA, [sc.request(a, f"{h}:D:svc", 1, timeout=1)]),
        results=[
            [
                iid(a, f"{h}:D:svc", 1),
                BFAIL,
                False,
                "destination chain D is not an active chain of this hub",
            ]
        ],
        routes=[("A", RR, BFAIL), ("D", RR, BFAIL)],
    )
    sc.apply(
        "B's acknowledgement of a BEGIN_FAILURE notice: taken, changes nothing",
        sc.ibtps(GB, [sc.dst_ack(sc.request(a, nosvc, 1))]),
        results=[[iid(a, nosvc, 1), BFAIL, True]],
        routes=[],
    )
    ack = sc.receipt(sc.request(a, nosvc, 1), IBTPType.RECEIPT_ROLLBACK)
    sc.apply(
        "the ack for a BEGIN_FAILURE -> ROLLBACK",
        sc.ibtps(GA, [ack]),
        statuses=[ROLLBACK],
        routes=[],
    )
    # --- refusals before the state machine (§4 ibtp checks, in order)
    sc.apply(
        "a receipt for an IBTP the relay has not seen",
        sc.ibtps(GB, [sc.receipt(sc.request(a, b, 99), IBTPType.RECEIPT_SUCCESS)]),
        error=Code.UNKNOWN_IBTP,
    )
    sc.apply(
        "from on hub1: wrong hub",
        sc.ibtps(GA, [sc.request("hub1:A:svc", b, 1)]),
        error=Code.WRONG_HUB,
    )
    sc.apply(
        "to on hub1: wrong hub",
        sc.ibtps(GA, [sc.request(a, "hub1:B:svc", 1)]),
        error=Code.WRONG_HUB,
    )
    sc.apply(
        "from and to on chain A", sc.ibtps(GA, [sc.request(a, free, 1)]), error=Code.SAME_CHAIN
    )
    sc.apply(
        "a request from the PENDING chain C",
        sc.ibtps("gateway-C", [sc.request(f"{h}:C:svc", b, 1)]),
        error=Code.CHAIN_NOT_ACTIVE,
    )
    sc.apply(
        "a request from the unknown chain D",
        sc.ibtps("gateway-D", [sc.request(f"{h}:D:svc", b, 1)]),
        error=Code.UNKNOWN_CHAIN,
    )
    sc.apply(
        "request 6 submitted by B's gateway",
        sc.ibtps(GB, [sc.request(a, b, 6)]),
        error=Code.WRONG_SUBMITTER,
    )
    sc.apply(
        "request 6 by the outsider",
        sc.ibtps("outsider", [sc.request(a, b, 6)]),
        error=Code.UNAUTHORIZED,
    )
    sc.apply(
        "request 6 with one notary signature",
        sc.ibtps(GA, [sc.request(a, b, 6, signers=[sc.key("notary-A-0")])]),
        error=Code.NOTARY_BELOW_THRESHOLD,
    )
    sc.apply(
        "request 6 signed by A's notaries and B's: a stranger's signature",
        sc.ibtps(
            GA,
            [
                sc.request(
                    a,
                    b,
                    6,
                    signers=[sc.key("notary-A-0"), sc.key("notary-A-1"), sc.key("notary-B-0")],
                )
            ],
        ),
        error=Code.NOTARY_UNKNOWN_SIGNER,
        details={"signature_index": 2},
    )
    bad_proof = IBTP(**{**_fields_of(sc.request(a, b, 6)), "proof": b"\xc1"})
    sc.apply(
        "request 6 with a proof that is not msgpack",
        sc.ibtps(GA, [bad_proof]),
        error=Code.PROOF_MALFORMED,
    )
    sc.apply(
        "a non-canonical IBTP in the batch",
        sc.tx(GA, "ibtp", [encode_ibtp(sc.request(a, b, 6)) + b"\x00"]),
        error=Code.NON_CANONICAL,
        details={"item": 0},
    )
    sc.apply(
        "an item that is no bin",
        sc.tx(GA, "ibtp", ["not bytes"]),
        error=Code.FIELD_TYPE,
        details={"item": 0},
    )
    sc.apply("an empty batch", sc.tx(GA, "ibtp", []), error=Code.FIELD_TYPE)
    # --- atomic batches; later items see earlier ones
    r6, r7 = sc.request(a, b, 6), sc.request(a, b, 7)
    sc.apply(
        "a batch of request 6 and request 8: the gap refuses the whole transaction (item 1)",
        sc.ibtps(GA, [r6, sc.request(a, b, 8)]),
        error=Code.INDEX_GAP,
        details={"expected": 7, "item": 1},
    )
    sc.apply(
        "a batch of requests 6 and 7",
        sc.ibtps(GA, [r6, r7]),
        statuses=[BEGIN, BEGIN],
        routes=[("B", REQ, BEGIN), ("B", REQ, BEGIN)],
    )
    sc.apply(
        "receipts for 6 and 7 in one batch",
        sc.ibtps(
            GB, [sc.receipt(r6, IBTPType.RECEIPT_SUCCESS), sc.receipt(r7, IBTPType.RECEIPT_FAILURE)]
        ),
        statuses=[SUCCESS, FAILURE],
        routes=[("A", RS, SUCCESS), ("A", RF, FAILURE)],
    )
    # --- timeouts at one height are processed in (from, to, index) order
    r8, r9 = sc.request(a, b, 8, timeout=16), sc.request(free, picky, 2, timeout=16)
    sc.apply(
        "two requests timing out at 16",
        sc.ibtps(GA, [r8, r9]),
        statuses=[BEGIN, BEGIN],
        routes=[("B", REQ, BEGIN), ("B", REQ, BEGIN)],
    )
    sc.advance(16, 2)  # both BEGIN_ROLLBACK, notices to B only
    sc.apply(
        "RECEIPT_SUCCESS for request 8 after its timeout: B had executed it, the outcome "
        "stands -> SUCCESS, routed to A",
        sc.ibtps(GB, [sc.receipt(r8, IBTPType.RECEIPT_SUCCESS)]),
        results=[[iid(a, b, 8), SUCCESS, False]],
        routes=[("A", RS, SUCCESS)],
    )
    sc.apply(
        "B's acknowledgement for (free -> picky) 2 -> SOURCE_ROLLBACK, the notice routed to A",
        sc.ibtps(GB, [sc.dst_ack(r9)]),
        statuses=[SROLL],
        routes=[("A", RR, BROLL)],
    )
    return sc.vector(
        statuses={
            iid(a, b, 1): SUCCESS,
            iid(a, b, 2): FAILURE,
            iid(a, b, 3): ROLLBACK,
            iid(a, b, 4): ROLLBACK,
            iid(a, b, 5): SUCCESS,
            iid(a, b, 6): SUCCESS,
            iid(a, b, 7): FAILURE,
            iid(a, b, 8): SUCCESS,
            iid(a, nosvc, 1): ROLLBACK,
            iid(a, grumpy, 1): BFAIL,
            iid(a, picky, 1): BFAIL,
            iid(free, picky, 1): BEGIN,
            iid(free, picky, 2): SROLL,
            iid(a, f"{h}:C:svc", 1): BFAIL,
            iid(a, f"{h}:D:svc", 1): BFAIL,
        }
    )


def ledger_vectors() -> dict[str, dict[str, Any]]:
    return {
        "ledger/01-transactions.json": ledger_transactions(),
        "ledger/02-interchain.json": ledger_interchain(),
    }


# ---------------------------------------------------------------------------


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """Every generated file: path relative to tests/vectors -> its text."""
    files: dict[str, str] = {}
    for name, description, ibtp in valid_ibtps():
        files[f"ibtp/{name}.json"] = dump(valid_vector(name, description, ibtp))
    for name, description, encoded, code in invalid_cases() + more_invalid_cases():
        files[f"ibtp/invalid/{name}.json"] = dump(invalid_vector(name, description, encoded, code))
    files["relay_proof/signatures.json"] = dump(relay_proof_vectors())
    files["relay_proof/thresholds.json"] = dump(relay_proof_threshold_vectors())
    files["notary/verification.json"] = dump(notary_vectors())
    for rel, vector in ledger_vectors().items():
        files[rel] = dump(vector)
    return files


#: Directories this script owns; stale *.json files in them are removed.
MANAGED_DIRS = ("ibtp", "ibtp/invalid", "relay_proof", "notary", "ledger")


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
