"""Generate the national-crypto vectors: ``sm3.json``, ``sm2_good.json``, ``sm2_bad.json``.

Run from the repository root::

    .venv/bin/python tests/vectors/sm/generate.py            # rewrites tests/vectors/sm/
    .venv/bin/python tests/vectors/sm/generate.py --out DIR  # writes DIR/*.json

Everything is computed with the pure-Python reference ``gmssl`` (duanhongyi/gmssl,
a dev dependency) and the standard library — never with the library the relay uses
(``gmssl-pyx``) — so the tests that check these files against both are a real
cross-check. Output is deterministic (fixed keys, nonces derived from the case
name), so a regenerated set is byte-identical and ``tests/test_smcrypto.py`` checks
that it is. The format is in ``tests/vectors/sm/README.md``.

TEST KEYS ONLY: every private key is ``SM3("relayhub test key: <name>") mod (n-1) + 1``
and every nonce ``SM3("relayhub test nonce: <case>") mod (n-1) + 1``. They are public;
never use them for anything that holds value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gmssl import func
from gmssl import sm2 as ref_sm2
from gmssl import sm3 as ref_sm3

HERE = Path(__file__).resolve().parent

P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
G = bytes.fromhex(ref_sm2.default_ecc_table["g"])
DEFAULT_ID = b"1234567812345678"
ALICE_ID = b"ALICE123@YAHOO.COM"

# GM/T 0003.5-2012 (= GB/T 32918.5-2017) Annex A: signature example on the
# recommended curve, user ID 1234567812345678, message "message digest".
GMT_0003_5 = {
    "d": 0x3945208F_7B2144B1_3F36E38A_C6D39F95_88939369_2860B51A_42FB81EF_4DF7C5B8,
    "pub": "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
    "k": 0x59276E27_D506861A_16680F3A_D9C02DCC_EF3CC1FA_3CDBE4CE_6D54B80D_EAC1BC21,
    "e": "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640",
    "r": "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3",
    "s": "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA",
}


def ref_sm3_hash(data: bytes) -> bytes:
    return bytes.fromhex(ref_sm3.sm3_hash(func.bytes_to_list(data)))


def scalar(label: str) -> int:
    return int.from_bytes(ref_sm3_hash(label.encode()), "big") % (N - 1) + 1


def public_key(d: int) -> bytes:
    point = ref_sm2.CryptSM2(private_key=f"{d:064x}", public_key="")._kg(d, G.hex())
    return bytes.fromhex(point)


def z_value(pub: bytes, user_id: bytes) -> bytes:
    """GB/T 32918.2 §5.5, with the reference SM3."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    curve = b"".join(v.to_bytes(32, "big") for v in (A, B)) + G
    return ref_sm3_hash(entl + user_id + curve + pub)


def ref_sign(d: int, pub: bytes, message: bytes, user_id: bytes, k: int) -> bytes:
    e = ref_sm3_hash(z_value(pub, user_id) + message)
    signer = ref_sm2.CryptSM2(private_key=f"{d:064x}", public_key=pub.hex())
    out = signer.sign(e, f"{k:064x}")
    if out is None:  # r = 0 or r + k = n: never for these fixed nonces
        raise RuntimeError("nonce rejected; pick another case name")
    return bytes.fromhex(out)


def ref_verify(pub: bytes, message: bytes, signature: bytes, user_id: bytes) -> bool:
    e = ref_sm3_hash(z_value(pub, user_id) + message)
    return bool(ref_sm2.CryptSM2(private_key="", public_key=pub.hex()).verify(signature.hex(), e))


def key(name: str) -> tuple[int, bytes]:
    d = scalar(f"relayhub test key: {name}")
    return d, public_key(d)


def good_case(
    name: str, description: str, key_name: str, message: bytes, user_id: bytes = DEFAULT_ID
) -> dict[str, Any]:
    d, pub = key(key_name)
    sig = ref_sign(d, pub, message, user_id, scalar(f"relayhub test nonce: {name}"))
    assert ref_verify(pub, message, sig, user_id)
    return {
        "name": name,
        "description": description,
        "source": "generated (reference gmssl), test key " + key_name,
        "pub": pub.hex(),
        "user_id": user_id.hex(),
        "message": message.hex(),
        "signature": sig.hex(),
        "fisco_signature": (sig + pub).hex(),
        "e": ref_sm3_hash(z_value(pub, user_id) + message).hex(),
    }


def published_case() -> dict[str, Any]:
    v = GMT_0003_5
    pub = bytes.fromhex(str(v["pub"]))
    assert public_key(int(v["d"])) == pub
    sig = ref_sign(int(v["d"]), pub, b"message digest", DEFAULT_ID, int(v["k"]))
    assert sig.hex().upper() == str(v["r"]) + str(v["s"]), "reference disagrees with GM/T 0003.5"
    return {
        "name": "gmt0003_5_annex_a",
        "description": "the standard's signature example on the recommended curve",
        "source": "GM/T 0003.5-2012 (GB/T 32918.5-2017) Annex A: d, P, ID, M, e, r, s as published",
        "pub": pub.hex(),
        "user_id": DEFAULT_ID.hex(),
        "message": b"message digest".hex(),
        "signature": sig.hex(),
        "fisco_signature": (sig + pub).hex(),
        "e": str(v["e"]).lower(),
    }


def good_cases() -> list[dict[str, Any]]:
    header = b"relayhub test FISCO header rlp: block 100"
    return [
        published_case(),
        good_case(
            "fisco_seal_1",
            "a FISCO seal: SM3 header hash signed as the message, default ID",
            "fisco-sealer-1",
            ref_sm3_hash(header),
        ),
        good_case(
            "fisco_seal_2",
            "the same header hash sealed by another sealer",
            "fisco-sealer-2",
            ref_sm3_hash(header),
        ),
        good_case(
            "fisco_seal_3",
            "another header hash",
            "fisco-sealer-3",
            ref_sm3_hash(b"relayhub test FISCO header rlp: block 101"),
        ),
        good_case("alice_id", "non-default user ID", "sm2-alice", b"message digest", ALICE_ID),
        good_case("empty_message", "zero-byte message", "sm2-user-1", b""),
        good_case(
            "long_message",
            "1000-byte message (many SM3 blocks)",
            "sm2-user-1",
            bytes(range(250)) * 4,
        ),
        good_case("long_id", "a 100-byte user ID", "sm2-user-2", b"relayhub", bytes(range(100))),
    ]


def _int32(value: int) -> str:
    return value.to_bytes(32, "big").hex()


def bad_cases(good: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = good[1]  # fisco_seal_1
    pub = bytes.fromhex(base["pub"])
    sig = bytes.fromhex(base["signature"])
    msg = bytes.fromhex(base["message"])
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    other_pub = bytes.fromhex(good[2]["pub"])
    y = int.from_bytes(pub[32:], "big")
    out: list[dict[str, Any]] = []

    def bad(name: str, kind: str, description: str, **changes: str) -> None:
        case = {
            "name": name,
            "kind": kind,
            "description": description,
            "derived_from": base["name"],
            "pub": base["pub"],
            "user_id": base["user_id"],
            "message": base["message"],
            "signature": base["signature"],
        }
        case.update(changes)
        assert (
            case["signature"] != base["signature"]
            or case["pub"] != base["pub"]
            or (case["message"] != base["message"] or case["user_id"] != base["user_id"])
        )
        out.append(case)

    flipped = bytes([msg[0] ^ 1]) + msg[1:]
    bad("wrong_message", "forgery", "one bit of the message flipped", message=flipped.hex())
    bad("wrong_id", "forgery", "verified with ID ALICE123@YAHOO.COM", user_id=ALICE_ID.hex())
    bad("other_key", "forgery", "verified against another sealer's key", pub=other_pub.hex())
    bad("s_negated", "forgery", "s replaced by n - s", signature=_int32(r) + _int32(N - s))
    bad("r_s_swapped", "forgery", "r and s swapped", signature=sig[32:].hex() + sig[:32].hex())
    bad("r_plus_one", "forgery", "r + 1", signature=_int32(r + 1) + _int32(s))
    bad("r_zero", "malformed", "r = 0", signature=_int32(0) + _int32(s))
    bad("s_zero", "malformed", "s = 0", signature=_int32(r) + _int32(0))
    bad("r_eq_n", "malformed", "r = n", signature=_int32(N) + _int32(s))
    bad("s_eq_n", "malformed", "s = n", signature=_int32(r) + _int32(N))
    bad("r_max", "malformed", "r = 2^256 - 1", signature="ff" * 32 + _int32(s))
    t_zero = _int32(r) + _int32(N - r)
    bad("t_zero", "malformed", "s = n - r, so t = r + s = 0 mod n", signature=t_zero)
    bad("sig_short", "malformed", "63-byte signature", signature=sig[:63].hex())
    bad("sig_long", "malformed", "65-byte signature", signature=(sig + b"\x00").hex())
    bad(
        "sig_der",
        "malformed",
        "a DER signature where raw r‖s is expected",
        signature=("3044" + "0220" + sig[:32].hex() + "0220" + sig[32:].hex()),
    )
    bad(
        "pub_off_curve",
        "malformed",
        "y + 1: not on the curve",
        pub=pub[:32].hex() + ((y + 1) % P).to_bytes(32, "big").hex(),
    )
    bad("pub_zero", "malformed", "the all-zero point", pub="00" * 64)
    bad(
        "pub_x_eq_p",
        "malformed",
        "x = p (not a field element)",
        pub=P.to_bytes(32, "big").hex() + pub[32:].hex(),
    )
    bad("pub_prefixed", "malformed", "65-byte 04‖x‖y key", pub="04" + pub.hex())
    bad("pub_short", "malformed", "63-byte key", pub=pub[:63].hex())
    return out


def sm3_cases() -> list[dict[str, Any]]:
    published = [
        (
            "gbt32905_example_1",
            b"abc",
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
        ),
        (
            "gbt32905_example_2",
            b"abcd" * 16,
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
        ),
    ]
    out = []
    for name, message, digest in published:
        assert ref_sm3_hash(message).hex() == digest, "reference disagrees with GB/T 32905"
        out.append(
            {
                "name": name,
                "source": f"GB/T 32905-2016 Annex A ({name[-9:]})",
                "message": message.hex(),
                "digest": digest,
            }
        )
    for length in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000):
        message = bytes((7 * i + length) % 256 for i in range(length))
        out.append(
            {
                "name": f"length_{length}",
                "source": "generated (reference gmssl)",
                "message": message.hex(),
                "digest": ref_sm3_hash(message).hex(),
            }
        )
    return out


def build() -> dict[str, Any]:
    good = good_cases()
    return {"sm3.json": sm3_cases(), "sm2_good.json": good, "sm2_bad.json": bad_cases(good)}


def render(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for filename, data in build().items():
        (args.out / filename).write_text(render(data))


if __name__ == "__main__":
    main()
