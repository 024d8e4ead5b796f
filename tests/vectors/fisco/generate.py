"""Generate the FISCO vectors: formats (``formats.json``, ``merkle_bad.json``) and proofs.

Run from the repository root::

    .venv/bin/python tests/vectors/fisco/generate.py            # rewrites tests/vectors/fisco/
    .venv/bin/python tests/vectors/fisco/generate.py --out DIR  # DIR/*.json, DIR/good, DIR/bad

Everything is built with the *chain side* (``appchains.fisco.formats``), the
standard library and independent libraries (eth-abi for event data, msgpack for the
proof array, coincurve and the pure-Python reference ``gmssl`` for seals), never
with the verifier side (``adapters.fisco``), so ``tests/test_fisco_formats.py`` and
``tests/test_fisco_verifier.py``, which check these files with the verifier side,
are a cross-check. Deterministic: item hashes are ``Hash("relayhub fisco item <n>/<i>")``;
secp256k1 seals are RFC 6979, SM2 seals use nonces derived from the key and hash.
The formats are in ``tests/vectors/fisco/README.md``.

TEST KEYS ONLY: secp256k1 sealer keys are ``keccak256("relayhub test key: <name>")``,
SM2 ones ``SM3("relayhub test key: <name>") mod (n-1) + 1``. They are public; never
use them for anything that holds value.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE))

from proof_corpus import write_proof_corpus  # noqa: E402

from appchains.fisco import formats as chain  # noqa: E402

MODES = ("secp256k1", "sm")
TREE_SIZES = (1, 2, 15, 16, 17, 40, 300)


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def items(n: int, mode: str) -> list[bytes]:
    hash_fn = chain.hash_for(mode)
    return [hash_fn(b"relayhub fisco item %d/%d" % (n, i)) for i in range(n)]


def headers() -> list[dict[str, Any]]:
    out = []
    for mode in MODES:
        hash_fn = chain.hash_for(mode)
        fields: dict[str, Any] = {
            "parent_hash": hash_fn(b"parent"),
            "state_root": hash_fn(b"state"),
            "transactions_root": chain.merkle_root(items(2, mode), hash_fn),
            "receipts_root": chain.merkle_root(items(3, mode), hash_fn),
            "db_hash": hash_fn(b"db"),
            "log_bloom": chain.log_bloom([(b"\xaa" * 20, [b"\x01" * 32], b"")], hash_fn),
            "number": 42,
            "gas_limit": 300_000_000,
            "gas_used": 63_000,
            "timestamp": 1_700_000_000_000,
            "extra_data": [b"", b"relayhub"],
            "sealer": 1,
            "sealer_list": [hash_fn(b"sealer %d" % i) * 2 for i in range(4)],
        }
        rlp_bytes = chain.encode_header(**fields)
        out.append(
            {
                "name": f"header-{mode}",
                "mode": mode,
                "fields": {
                    k: (
                        [hx(x) for x in v]
                        if isinstance(v, list)
                        else v
                        if isinstance(v, int)
                        else hx(v)
                    )
                    for k, v in fields.items()
                },
                "rlp": hx(rlp_bytes),
                "block_hash": hx(hash_fn(rlp_bytes)),
            }
        )
    return out


def receipts() -> list[dict[str, Any]]:
    out = []
    for mode in MODES:
        hash_fn = chain.hash_for(mode)
        logs = [
            (b"\xaa" * 20, [hash_fn(b"topic0"), hash_fn(b"topic1")], b"data"),
            (b"\xbb" * 20, [], b""),
        ]
        for remain_gas in (None, 1_000_000):
            data = chain.encode_receipt(
                state_root=hash_fn(b"state"),
                gas_used=84_000,
                contract_address=bytes(20),
                log_bloom=chain.log_bloom(logs, hash_fn),
                status=0,
                output=b"\x00" * 31 + b"\x01",
                logs=logs,
                remain_gas=remain_gas,
            )
            fields = 7 if remain_gas is None else 8
            out.append(
                {
                    "name": f"receipt-{fields}-fields-{mode}",
                    "mode": mode,
                    "fields": fields,
                    "rlp": hx(data),
                    "hash": hx(hash_fn(data)),
                }
            )
    return out


def trees() -> list[dict[str, Any]]:
    out = []
    for mode in MODES:
        hash_fn = chain.hash_for(mode)
        for n in TREE_SIZES:
            hashes = items(n, mode)
            chosen = sorted({0, n // 2, n - 1})
            out.append(
                {
                    "name": f"tree-{n}-{mode}",
                    "mode": mode,
                    "item_hashes": [hx(h) for h in hashes],
                    "root": hx(chain.merkle_root(hashes, hash_fn)),
                    "proofs": [
                        {"index": i, "proof": chain.merkle_proof(hashes, i, hash_fn)}
                        for i in chosen
                    ],
                }
            )
    return out


def _flip(hex_text: str) -> str:
    return hex_text[:-1] + ("0" if hex_text[-1] != "0" else "1")


def bad_proofs() -> list[dict[str, Any]]:
    out = []
    n, index = 40, 18
    for mode in MODES:
        hash_fn = chain.hash_for(mode)
        hashes = items(n, mode)
        root = chain.merkle_root(hashes, hash_fn)
        good = chain.merkle_proof(hashes, index, hash_fn)

        def case(
            name: str,
            code: int,
            code_name: str,
            proof: Any,
            *,
            at: int = index,
            item: int = index,
            root_hex: str = hx(root),
            mode: str = mode,
            hashes: list[bytes] = hashes,
        ) -> None:
            out.append(
                {
                    "name": f"{name}-{mode}",
                    "mode": mode,
                    "root": root_hex,
                    "index": at,
                    "item_hash": hx(hashes[item]),
                    "proof": proof,
                    "expected": {"code": code, "name": code_name},
                }
            )

        l0, l1 = good[0], good[1]
        case(
            "swap_left_right",
            5407,
            "MERKLE_SIBLING_ORDER",
            [{"left": l0["right"], "right": l0["left"]}, *good[1:]],
        )
        case(
            "change_a_sibling",
            5410,
            "MERKLE_ROOT_MISMATCH",
            [l0, {"left": [_flip(l1["left"][0])], "right": l1["right"]}, *good[2:]],
        )
        case("drop_a_level", 5405, "MERKLE_ROOT_LEVEL_MISSING", good[:-1])
        case("extra_level", 5406, "MERKLE_EXTRA_LEVEL", [*good, {"left": [], "right": []}])
        case(
            "wrong_root",
            5410,
            "MERKLE_ROOT_MISMATCH",
            good,
            root_hex=hx(root)[:-1] + "0" if hx(root)[-1] != "0" else hx(root)[:-1] + "1",
        )
        case("wrong_leaf_index", 5408, "MERKLE_INDEX_MISMATCH", good, at=index + 1)
        case(
            "receipt_of_another_position", 5409, "MERKLE_ITEM_AT_OTHER_INDEX", good, item=index + 3
        )
        case(
            "sixteen_siblings",
            5404,
            "MERKLE_PROOF_MALFORMED",
            [{"left": l0["left"], "right": [*l0["right"], l0["right"][-1]]}, *good[1:]],
        )
        case(
            "short_upper_sibling",
            5404,
            "MERKLE_PROOF_MALFORMED",
            [l0, {"left": [l1["left"][0][:-2]], "right": l1["right"]}, *good[2:]],
        )
        case("empty_proof", 5404, "MERKLE_PROOF_MALFORMED", [])
        # Leaf 306 (0x820132 ‖ h) re-cut as a claimed leaf 50 (0x32 ‖ h): the left
        # neighbour swallows 0x8201, the bytes hashed are unchanged, so a verifier
        # that only folds accepts it; a whole-leaf check on siblings refuses it.
        big = items(310, mode)
        big_proof = chain.merkle_proof(big, 306, hash_fn)
        left0 = big_proof[0]["left"]
        out.append(
            {
                "name": f"recut_leaf_index-{mode}",
                "mode": mode,
                "root": hx(chain.merkle_root(big, hash_fn)),
                "index": 50,
                "item_hash": hx(big[306]),
                "proof": [
                    {"left": [*left0[:-1], left0[-1] + "8201"], "right": big_proof[0]["right"]},
                    *big_proof[1:],
                ],
                "expected": {"code": 5404, "name": "MERKLE_PROOF_MALFORMED"},
            }
        )
    return out


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "formats.json": {"headers": headers(), "receipts": receipts(), "trees": trees()},
        "merkle_bad.json": bad_proofs(),
    }
    for name, content in files.items():
        (out_dir / name).write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    write_proof_corpus(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
