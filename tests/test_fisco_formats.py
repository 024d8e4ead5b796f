"""FISCO BCOS 2.x formats (``adapters.fisco``): headers, receipts, Merkle proofs, quorum.

Vectors from the FISCO docs (real node answers) plus hand-computed trees and a
tampered-proof corpus, in both hash modes (keccak-256 and SM3).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rlp

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HashFn, hash_fn_for, keccak256, sm3
from adapters.fisco.header import (
    BlockHeader,
    compute_block_hash,
    decode_header,
    encode_header,
    header_from_rpc,
)
from adapters.fisco.inclusion import check_receipt_inclusion
from adapters.fisco.merkle import (
    MerkleProof,
    ProofLevel,
    build_merkle_proof,
    check_indexed_proof,
    compute_leaf,
    compute_leaves,
    compute_merkle_root,
    compute_proof_index,
    compute_proof_root,
    proof_from_json,
    proof_to_json,
    split_leaf,
    verify_merkle_proof,
)
from adapters.fisco.pbft import compute_pbft_quorum
from adapters.fisco.receipt import (
    LogEntry,
    Receipt,
    compute_log_bloom,
    compute_receipt_hash,
    decode_receipt,
    encode_receipt,
)
from relay.errors import ProofError

MODES = pytest.mark.parametrize("hash_fn", [keccak256, sm3], ids=["keccak", "sm3"])


def h(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


# --- vectors from FISCO-BCOS-DOC ------------------------------------------------

#: ``getBlockByHash`` example of FISCO-BCOS-DOC 2.x/docs/api.md (block 1, one tx).
API_MD_BLOCK = {
    "dbHash": "0x" + "00" * 32,
    "extraData": [],
    "gasLimit": "0x0",
    "gasUsed": "0x0",
    "hash": "0xfa639d1454362a8cdfcab1ca1948a5defaf7048b28f67e80780ab1e24e8f8c59",
    "logsBloom": "0x" + "00" * 256,
    "number": "0x1",
    "parentHash": "0x249f59e00beac8424a7821c4750fdd70c128f4ce795afbab53f345e9fce95d1a",
    "receiptsRoot": "0x69a04fa6073e4fc0947bac7ee6990e788d1e2c5ec0fe6c2436d0892e7f3c09d2",
    "sealer": "0x0",
    "sealerList": [
        "4ca3a91a4937355dba6a2e5fe76141479a1fc44e9caa86750092dab64e0b8382"
        "f6b8476749c2d2de414350a54491620d38813d2a1442f524e36e3d9946109c4d"
    ],
    "stateRoot": "0x" + "00" * 32,
    "timestamp": "0x175ac38cf10",
    "transactionsRoot": "0xb880b08df3b43a9ffc334d7a526522b33e004ef95403d61d76454b6085b9b2f1",
}
API_MD_TX_HASH = h("0x3961fac263d8e640b148ddcfafd71d2069e93a006abc937c32fb16cfa96e661d")


def test_api_md_block_hash_recomputes_from_its_fields() -> None:
    header = header_from_rpc(API_MD_BLOCK)
    assert compute_block_hash(header, keccak256) == h(API_MD_BLOCK["hash"])  # type: ignore[arg-type]
    assert decode_header(encode_header(header)) == header


def test_api_md_transactions_root_is_the_one_leaf_tree() -> None:
    # One transaction: root = Hash(rlp(0) ‖ txHash) = keccak(0x80 ‖ txHash).
    root = compute_merkle_root(compute_leaves([API_MD_TX_HASH]), keccak256)
    assert root == h(API_MD_BLOCK["transactionsRoot"])  # type: ignore[arg-type]
    assert root == keccak256(b"\x80" + API_MD_TX_HASH)


#: ``txProof`` of the worked example in FISCO-BCOS-DOC 2.x/docs/design/merkle_proof.md.
MERKLE_MD_TX_HASH = h("8ab2b200320671cab4862312d834dcfa8b7d74e18a647e9fd4324076542a6357")
MERKLE_MD_ROOT = h("edf6863d1e53598e4d276854ce979155b299016bd61ef83160ab93a79a7b6142")
MERKLE_MD_PROOF = [
    {
        "left": [
            "81800be7f26ba151d7a4706808edad0ba42fe83b58531e9ee75011fef30d4e566118",
            "818105c837280e25ed26e3c185fe2c909f2aa021df122772b36af70ee5a9b3e45df0",
            "8182649e6b2420ef2ab08358931000ef0b5b4a58c7df898d49249cc25a1f8afef63a",
            "8183af3f8b5d63b3c98ea02ac0013a160dde06ffc1a4d0c3f7b16124d8e4e81cbabd",
            "81848355dfbb711717d4173e54d17f9ba23fe4f18558eee9806ae7a9b4cb3b28af79",
            "81858c894d870cdb930917006b6f11de907fd89cf1c825efc01e816f7c988792cce6",
            "8186d851bc330fa5e5122cce8a1b2315989baf78736f2a48115a303ed3b569421e32",
            "81875ac50f93440900a145119d9cd8aeab4dfbc5eff5fa2d5a826394fc244c822bfa",
            "81889912e677ebc796aead4bcdbd15f0fc70c1adfedf67ca8d147d3a7e1322d1b410",
            "8189138e33fb4e18bfd6a47940e8613cad120d34f7c8ca2901c02649290f092e6757",
            "818a6f9dfc50e3053c3858b2ffa26085cce5ff78480209a8cb84b38f28a4cc953732",
            "818b1f65fc5db96d74bbe2726b2ed94c074b6abd0e8cbd0b31d46d5f6b6b8a809a05",
        ],
        "right": [
            "818de3a4d26bc038bc364bdebf4aaf80a21709d1fa2ac21d2da527fa7a70b8d6c89a",
            "818ee380f8ea824a989f5354ee3d169100c23baab390471183c0c28f9090373b64f6",
            "818f30d2fb70f7a2240403ac563b884aec7e7a4b9d0f35eeaadb790d5c28ba1667c4",
        ],
    },
    {
        "left": [
            "54d76311eb6d04ef5050dc6b4d7123c19d480254697b1d4a3f4f1b40340e0211",
            "d2324309fab418afcd1464422b6f52fa9fb914d97c7723e7f2ff94bcfc2ccf6f",
            "48ce4d23e17cdda81df5a356419bd6ad96c621bb1bf23b80e46aeeee49d55264",
            "3c84f5bab45be8a8d0067c6000eede4e44d646b1148612d55264faf9aa4983ff",
            "4c8e80c9ca7e104325b8c31ca6644ccf075a4c950cae767c979284218b51807f",
            "25873a13a821be1d99d3d7dea1fe575f827a42641527d515ad69c39eb36dae72",
            "8ab68393bd9b08a631ecc124dc7b4ee6541e0599debf92506750d3846c071bcf",
            "d498097ddd1404b6f80e88cd4e84c13ec1d39b6482ffc7014d4b9b84d149b99a",
        ],
        "right": [
            "63cd6c8c4f7c3e34711b23866aa1f1a25c121757804d1534d1f4ae2845a1f00b",
            "a1025cdf4b0fb375621a486929a5d63a7dd98a70c2c1455a38b75bada8c06d7b",
            "2d7322ebf4fe8c5088945888151825860f0f90b1e68bef2f8f2d7b8f60896574",
            "cda5f95b02c2fa12de2aa459f932a01095b41d3dbdad618d18ade4f5750c2f37",
            "8ec46dd6ef3d8784d598529df711a7e18ab4cdebbdc959220806afa779033761",
            "bb3379a814efb11f6f1c6472fd67e66725ac038e8563f019c7035a8097622ff9",
            "9311fb5c9ae432243c5096b29e3551781fe801e82035e2e350c2850246de70c0",
        ],
    },
    {
        "left": [],
        "right": [
            "1d462e3d09fb445e26408a525cda37660667001e4404ae187ff9a6b0960955a4",
            "19d97826e27d99129ccd3ab39cd4b6e6c508b568e9007761c13dc27ef4bc032c",
            "60e5b1c331d963a19b175a5d69cba14b792bbc5e089d06333c78fce738fcc7d4",
        ],
    },
    {"left": [], "right": []},
]


def test_merkle_md_worked_example_verifies() -> None:
    proof = proof_from_json(MERKLE_MD_PROOF)
    leaf = compute_leaf(0x8C, MERKLE_MD_TX_HASH)
    assert leaf[:2] == h("818c")  # the doc's rlp(0x8c)
    assert verify_merkle_proof(MERKLE_MD_ROOT, leaf, proof, keccak256)
    check_indexed_proof(MERKLE_MD_ROOT, 0x8C, MERKLE_MD_TX_HASH, proof, keccak256)
    # The doc's intermediate hashes, level by level.
    expected = [
        "cd9a95abaf830b3aed4c9d5f6dc71d7802baf03c42bc55bcb647d93e614e4592",
        "1d77e6364520ebc619b3d9c7782428a0d45695f48baabad134b46dd65fcf1d39",
        "ecbc0529c1961c18a0ea4381a235542c968af53ab682cd610b5a0bfedc22feef",
    ]
    for k, want in enumerate(expected, start=1):
        assert compute_proof_root(leaf, proof[:k], keccak256) == h(want)
    assert proof_to_json(proof) == MERKLE_MD_PROOF
    # Another index, or the root in 国密 mode, does not verify.
    with pytest.raises(ProofError) as err:
        check_indexed_proof(MERKLE_MD_ROOT, 0x8B, MERKLE_MD_TX_HASH, proof, keccak256)
    assert err.value.code == FiscoCode.MERKLE_INDEX_MISMATCH
    with pytest.raises(ProofError) as err:
        check_indexed_proof(MERKLE_MD_ROOT, 0x8C, MERKLE_MD_TX_HASH, proof, sm3)
    assert err.value.code == FiscoCode.MERKLE_ROOT_MISMATCH


#: ``receiptProof`` of the getTransactionReceiptByHashWithProof example in api.md
#: (transaction index 0x32 of block 5). The docs give no header for block 5, so
#: only its structure and index can be checked, not its root.
API_MD_RECEIPT_PROOF = [
    {
        "left": [
            "3088b5c8f9d92a3411a911f35ff0119a02e8f8f04852cf2fdfaa659843eac6a3ad",
            "31170ac8fd555dc50e59050841da0d96e4c4bc7e6266e1c6865c08c3b2391801dd",
        ],
        "right": [
            "33c572c8f961e0c56689d641fcf274916857819769a74e6424c58659bf530e90e3",
            "341233933ea3d357b4fdd6b3d1ed732dcff15cfd54e527c93c15a4e0238585ed11",
            "351e7ba09965cce1cfb820aced1d37204b06d96a21c5c2cf36850ffc62cf1fc84c",
            "361f65633d9ae843d4d3679b255fd448546a7b531c0056e8161ea0adbf1af12c0f",
            "37744f6e0d320314536b230d28b2fd6ac90b0111fb1e3bf4a750689abc282d8589",
            "386e60d9daa0be9825019fcf3d08cdaf51a90dc62a22a6e11371f94a8e516679cc",
            "391ef2f2cee81f3561a9900d5333af18f59aa3cd14e70241b5e86305ba697bf5f2",
            "3ac9999d4f36d76c95c61761879eb9ec60b964a489527f5af844398ffaa8617f0d",
            "3b0039ce903e275170640f3a464ce2e1adc2a7caee41267c195469365074032401",
            "3ca53017502028a0cb5bbf6c47c4779f365138da6910ffcfebf9591b45b89abd48",
            "3de04fc8766a344bb73d3fe6360c61d036e2eeedfd9ecdb86a0498d7849ed591f0",
            "3e2fc73ee22c4986111423dd20e8db317a313c9df29fa5aa3090f27097ecc4e1a9",
            "3fa7d31ad5c6e7bba3f99f9efc03ed8dd97cb1504003c34ad6bde5a662481f00a0",
        ],
    },
    {
        "left": [
            "cd46118c0e99be585ffcf50423630348dbc486e54e9d9293a6a8754020a68a92",
            "3be78209b3e3c83af3668ec3192b5bf232531323ef66b66de80a11f386270132",
            "bd3a11d74a3fd79b1e1ea17e45b76eda4d25f6a5ec7fc5f067ea0d086b1ce70f",
        ],
        "right": [
            "6a6cefef8b48e455287a8c8694b06f4f7cb7950017ab048d6e6bdd8029f9f8c9",
            "0a27c5ee02e618d919d228e6a754dc201d299c91c9e4420a48783bb6fcd09be5",
        ],
    },
    {"left": [], "right": []},
]


def test_api_md_receipt_proof_has_the_node_shape_for_index_0x32() -> None:
    proof = proof_from_json(API_MD_RECEIPT_PROOF)
    assert compute_proof_index(proof) == 0x32
    # Level-0 siblings are the leaves 48..63 except 50, in order (rlp(j) is one byte).
    indices = [split_leaf(s) for s in proof[0].left + proof[0].right]
    assert [x[0] for x in indices if x] == [48, 49, *range(51, 64)]
    # The receipt of the example (7 fields: a pre-2.8 chain), rebuilt from its JSON.
    receipt = Receipt(
        state_root=h("c3b4185963c78a4ca8eb90240e5cd95371d7217a9ce2bfa1149d53f79c73afbb"),
        gas_used=0x21DC1B,
        contract_address=bytes(20),
        log_bloom=bytes(256),
        status=0,
        output=b"",
        logs=(),
    )
    item_hash = keccak256(encode_receipt(receipt))
    root = compute_proof_root(compute_leaf(0x32, item_hash), proof, keccak256)
    # Self-consistent (the structural checks all pass against the root it implies) ...
    check_indexed_proof(root, 0x32, item_hash, proof, keccak256)
    # ... and another receipt at the same place implies another root.
    other = keccak256(encode_receipt(dataclasses.replace(receipt, gas_used=0x21DC1C)))
    assert compute_proof_root(compute_leaf(0x32, other), proof, keccak256) != root


# --- headers --------------------------------------------------------------------


def sample_header(**changes: object) -> BlockHeader:
    base = BlockHeader(
        parent_hash=b"\x01" * 32,
        state_root=b"\x02" * 32,
        transactions_root=b"\x03" * 32,
        receipts_root=b"\x04" * 32,
        db_hash=b"\x05" * 32,
        log_bloom=bytes(range(256)),
        number=1234,
        gas_limit=300_000_000,
        gas_used=21_000,
        timestamp=1_600_000_000_123,
        extra_data=(b"", b"\x00extra"),
        sealer=2,
        sealer_list=tuple(bytes([i]) * 64 for i in range(4)),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@MODES
def test_header_round_trip_and_hash(hash_fn: HashFn) -> None:
    header = sample_header()
    data = encode_header(header)
    assert decode_header(data) == header
    assert encode_header(decode_header(data)) == data
    assert compute_block_hash(header, hash_fn) == hash_fn(data) == compute_block_hash(data, hash_fn)
    assert len(rlp.decode(data)) == 13


def test_header_hash_differs_by_mode_and_by_field() -> None:
    header = sample_header()
    assert compute_block_hash(header, keccak256) != compute_block_hash(header, sm3)
    assert hash_fn_for("secp256k1") is keccak256 and hash_fn_for("sm") is sm3
    with pytest.raises(ValueError):
        hash_fn_for("ed25519")  # type: ignore[arg-type]
    seen = {compute_block_hash(header, keccak256)}
    for change in (
        {"number": 1235},
        {"sealer": 1},
        {"extra_data": (b"", b"\x00extrb")},
        {"sealer_list": header.sealer_list[:3]},
        {"db_hash": b"\x06" * 32},
    ):
        seen.add(compute_block_hash(sample_header(**change), keccak256))
    assert len(seen) == 6


def _fields() -> list[object]:
    return list(rlp.decode(encode_header(sample_header())))


def _with(index: int, value: object) -> bytes:
    fields = _fields()
    fields[index] = value
    return bytes(rlp.encode(fields))


BAD_HEADERS: dict[str, Callable[[], bytes]] = {
    "not_rlp": lambda: b"\xf9\xff",
    "byte_string": lambda: bytes(rlp.encode(b"header")),
    "trailing_bytes": lambda: encode_header(sample_header()) + b"\x00",
    "12_fields": lambda: bytes(rlp.encode(_fields()[:12])),
    "14_fields": lambda: bytes(rlp.encode([*_fields(), b""])),
    "short_parent_hash": lambda: _with(0, b"\x01" * 31),
    "long_receipts_root": lambda: _with(3, b"\x04" * 33),
    "hash_is_list": lambda: _with(4, [b"\x05" * 32]),
    "short_bloom": lambda: _with(5, bytes(255)),
    "number_leading_zero": lambda: _with(6, b"\x00\x01"),
    "number_2_63": lambda: _with(6, (1 << 63).to_bytes(8, "big")),
    "timestamp_2_64": lambda: _with(9, (1 << 64).to_bytes(9, "big")),
    "gas_limit_2_256": lambda: _with(7, b"\x01" + bytes(32)),
    "extra_data_bytes": lambda: _with(10, b"extra"),
    "extra_data_nested": lambda: _with(10, [[b"x"]]),
    "sealer_list_bytes": lambda: _with(12, b"\x00" * 64),
    "sealer_id_63": lambda: _with(12, [b"\x00" * 63]),
    "sealer_is_list": lambda: _with(11, [b"\x02"]),
    # The list length in 3 bytes with a leading zero (canonical is f9 + 2 bytes).
    "non_canonical_prefix": lambda: b"\xfa\x00" + encode_header(sample_header())[1:],
}


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
def test_bad_header_refused(name: str) -> None:
    data = BAD_HEADERS[name]()
    with pytest.raises(ProofError) as err:
        decode_header(data)
    assert err.value.code == FiscoCode.HEADER_MALFORMED


def test_non_canonical_prefix_case_is_really_non_canonical() -> None:
    # Guard for the corpus: the re-prefixed header differs from the canonical bytes
    # only by its length prefix, which pyrlp refuses.
    data = BAD_HEADERS["non_canonical_prefix"]()
    good = encode_header(sample_header())
    assert good[0] == 0xF9 and data[4:] == good[3:] and data[2:4] == good[1:3]


def test_header_constructor_refuses_bad_fields() -> None:
    for change in (
        {"parent_hash": b"\x01" * 31},
        {"log_bloom": bytes(10)},
        {"number": -1},
        {"number": 1 << 63},
        {"timestamp": True},
        {"extra_data": [b""]},
        {"sealer_list": (b"\x00" * 65,)},
    ):
        with pytest.raises(ValueError):
            sample_header(**change)


def test_header_from_rpc_refuses_wrong_shapes() -> None:
    for key, value in (
        ("number", "1"),
        ("parentHash", "0x1234"),
        ("extraData", "0x"),
        ("sealerList", ["00" * 63]),
        ("logsBloom", "0xzz"),
    ):
        with pytest.raises(ValueError):
            header_from_rpc({**API_MD_BLOCK, key: value})
    block = dict(API_MD_BLOCK)
    del block["dbHash"]
    with pytest.raises(ValueError, match="dbHash"):
        header_from_rpc(block)


# --- receipts -------------------------------------------------------------------


def sample_receipt(remain_gas: int | None = None, **changes: object) -> Receipt:
    base = Receipt(
        state_root=b"\x07" * 32,
        gas_used=52_000,
        contract_address=bytes(20),
        log_bloom=b"\x10" * 256,
        status=0,
        output=b"\x00" * 31 + b"\x01",
        logs=(
            LogEntry(address=b"\xaa" * 20, topics=(b"\x01" * 32, b"\x02" * 32), data=b"payload"),
            LogEntry(address=b"\xbb" * 20, topics=(), data=b""),
        ),
        remain_gas=remain_gas,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("remain_gas", [None, 0, 29_948_000])
def test_receipt_round_trip(remain_gas: int | None) -> None:
    receipt = sample_receipt(remain_gas)
    data = encode_receipt(receipt)
    items = rlp.decode(data)
    assert len(items) == (7 if remain_gas is None else 8)
    assert items[-1][0] == [b"\xaa" * 20, [b"\x01" * 32, b"\x02" * 32], b"payload"]
    assert items[4] == b""  # status 0 is the empty string
    assert decode_receipt(data) == receipt
    assert decode_receipt(data, fields=len(items)) == receipt
    assert encode_receipt(decode_receipt(data)) == data
    assert receipt.succeeded
    assert not sample_receipt(status=0x16).succeeded  # RevertInstruction


def _receipt_with(index: int, value: object, *, remain_gas: int | None = None) -> bytes:
    fields = rlp.decode(encode_receipt(sample_receipt(remain_gas)))
    fields[index] = value
    return bytes(rlp.encode(fields))


def _log_with(index: int, value: object) -> bytes:
    fields = rlp.decode(encode_receipt(sample_receipt()))
    fields[6][0][index] = value
    return bytes(rlp.encode(fields))


BAD_RECEIPTS: dict[str, Callable[[], bytes]] = {
    "not_rlp": lambda: b"\xc5\x01",
    "byte_string": lambda: bytes(rlp.encode(b"receipt")),
    "6_fields": lambda: bytes(rlp.encode(rlp.decode(encode_receipt(sample_receipt()))[:6])),
    "9_fields": lambda: bytes(rlp.encode([*rlp.decode(encode_receipt(sample_receipt(5))), []])),
    "state_root_31": lambda: _receipt_with(0, b"\x07" * 31),
    "gas_leading_zero": lambda: _receipt_with(1, b"\x00\x10"),
    "address_19": lambda: _receipt_with(2, b"\x00" * 19),
    "address_empty": lambda: _receipt_with(2, b""),
    "bloom_255": lambda: _receipt_with(3, bytes(255)),
    "status_2_32": lambda: _receipt_with(4, (1 << 32).to_bytes(5, "big")),
    "output_is_list": lambda: _receipt_with(5, [b""]),
    "logs_not_list": lambda: _receipt_with(6, b"logs"),
    "remain_gas_is_list": lambda: _receipt_with(6, [b"\x01"], remain_gas=1),
    "log_two_items": lambda: _receipt_with(6, [[b"\xaa" * 20, []]]),
    "log_address_21": lambda: _log_with(0, b"\xaa" * 21),
    "log_topic_31": lambda: _log_with(1, [b"\x01" * 31]),
    "log_topics_bytes": lambda: _log_with(1, b"\x01" * 32),
    "log_data_list": lambda: _log_with(2, [b"x"]),
}


@pytest.mark.parametrize("name", sorted(BAD_RECEIPTS))
def test_bad_receipt_refused(name: str) -> None:
    with pytest.raises(ProofError) as err:
        decode_receipt(BAD_RECEIPTS[name]())
    assert err.value.code == FiscoCode.RECEIPT_MALFORMED


def test_receipt_field_count_can_be_pinned() -> None:
    with pytest.raises(ProofError) as err:
        decode_receipt(encode_receipt(sample_receipt(5)), fields=7)
    assert err.value.code == FiscoCode.RECEIPT_MALFORMED
    with pytest.raises(ProofError):
        decode_receipt(encode_receipt(sample_receipt()), fields=8)
    with pytest.raises(ValueError):
        decode_receipt(encode_receipt(sample_receipt()), fields=6)


# --- Merkle trees -----------------------------------------------------------------


def item_hashes(n: int, hash_fn: HashFn) -> list[bytes]:
    return [hash_fn(b"item %d" % i) for i in range(n)]


@MODES
def test_hand_computed_roots(hash_fn: HashFn) -> None:
    H, cat = hash_fn, b"".join

    def leaves(n: int) -> list[bytes]:
        return compute_leaves(item_hashes(n, hash_fn))

    assert compute_merkle_root([], H) == H(b"")
    one = leaves(1)
    assert one[0] == b"\x80" + item_hashes(1, hash_fn)[0]
    assert compute_merkle_root(one, H) == H(one[0])
    two = leaves(2)
    assert compute_merkle_root(two, H) == H(H(two[0] + two[1]))
    sixteen = leaves(16)
    assert compute_merkle_root(sixteen, H) == H(H(cat(sixteen)))
    seventeen = leaves(17)
    assert compute_merkle_root(seventeen, H) == H(H(H(cat(seventeen[:16])) + H(seventeen[16])))
    many = leaves(300)
    assert many[200][:3] == b"\x81\xc8" + item_hashes(300, hash_fn)[200][:1]
    level1 = [H(cat(many[16 * i : 16 * i + 16])) for i in range(19)]  # 18 full groups + 12
    level2 = [H(cat(level1[:16])), H(cat(level1[16:]))]
    assert compute_merkle_root(many, H) == H(H(level2[0] + level2[1]))


@MODES
@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 31, 255, 256, 257, 300])
def test_every_leaf_proof_verifies(n: int, hash_fn: HashFn) -> None:
    hashes = item_hashes(n, hash_fn)
    leaves = compute_leaves(hashes)
    root = compute_merkle_root(leaves, hash_fn)
    depth = 1
    while 16 ** (depth - 1) < n:
        depth += 1
    for i in range(n):
        proof = build_merkle_proof(leaves, i, hash_fn)
        assert len(proof) == depth
        assert proof[-1] == ProofLevel((), ())
        assert compute_proof_index(proof) == i
        assert verify_merkle_proof(root, leaves[i], proof, hash_fn)
        check_indexed_proof(root, i, hashes[i], proof, hash_fn)
        assert proof_from_json(proof_to_json(proof)) == proof
        if n > 1:
            assert not verify_merkle_proof(root, leaves[(i + 1) % n], proof, hash_fn)


def test_build_proof_refuses_out_of_range() -> None:
    leaves = compute_leaves(item_hashes(3, keccak256))
    for index in (-1, 3):
        with pytest.raises(IndexError):
            build_merkle_proof(leaves, index, keccak256)
    with pytest.raises(ValueError):
        compute_leaf(-1, bytes(32))


def test_split_leaf() -> None:
    digest = b"\x42" * 32
    for index in (0, 1, 0x7F, 0x80, 0xFF, 0x100, 70_000, 2**32):
        assert split_leaf(compute_leaf(index, digest)) == (index, digest)
    for bad in (
        b"",
        b"\x80" + b"\x42" * 31,  # hash too short
        b"\x81\x05" + digest,  # single byte below 0x80 with a prefix
        b"\x82\x00\x90" + digest,  # leading zero
        b"\x82\x01" + digest,  # truncated integer
        b"\xc0" + digest,  # a list prefix
    ):
        assert split_leaf(bad) is None


# --- the tampered-proof corpus ------------------------------------------------------

N_CORPUS = 40  # three level-0 groups: 16 + 16 + 8
I_CORPUS = 18  # group 1, position 2: two siblings left, 13 right; level 1: one left, one right


def _corpus(hash_fn: HashFn) -> tuple[list[bytes], list[bytes], bytes, MerkleProof]:
    receipts = [
        encode_receipt(sample_receipt(gas_used=21_000 + i, logs=())) for i in range(N_CORPUS)
    ]
    hashes = [hash_fn(r) for r in receipts]
    leaves = compute_leaves(hashes)
    return (
        receipts,
        hashes,
        compute_merkle_root(leaves, hash_fn),
        build_merkle_proof(leaves, I_CORPUS, hash_fn),
    )


def _replace_level(proof: MerkleProof, k: int, level: ProofLevel) -> MerkleProof:
    return (*proof[:k], level, *proof[k + 1 :])


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


#: name -> (index claimed, which receipt, proof transform, root transform, expected code)
TAMPERED: dict[str, tuple[int, int, Callable[[MerkleProof], MerkleProof], bool, FiscoCode]] = {
    "swap_left_right": (
        I_CORPUS,
        I_CORPUS,
        lambda p: _replace_level(p, 0, ProofLevel(p[0].right, p[0].left)),
        False,
        FiscoCode.MERKLE_SIBLING_ORDER,
    ),
    "change_a_sibling": (
        I_CORPUS,
        I_CORPUS,
        lambda p: _replace_level(p, 1, ProofLevel((_flip(p[1].left[0]),), p[1].right)),
        False,
        FiscoCode.MERKLE_ROOT_MISMATCH,
    ),
    "drop_a_level": (
        I_CORPUS,
        I_CORPUS,
        lambda p: p[:-1],
        False,
        FiscoCode.MERKLE_ROOT_LEVEL_MISSING,
    ),
    "extra_level": (
        I_CORPUS,
        I_CORPUS,
        lambda p: (*p, ProofLevel((), ())),
        False,
        FiscoCode.MERKLE_EXTRA_LEVEL,
    ),
    "wrong_root": (I_CORPUS, I_CORPUS, lambda p: p, True, FiscoCode.MERKLE_ROOT_MISMATCH),
    "wrong_leaf_index": (
        I_CORPUS + 1,
        I_CORPUS,
        lambda p: p,
        False,
        FiscoCode.MERKLE_INDEX_MISMATCH,
    ),
    "receipt_of_another_position": (
        I_CORPUS,
        I_CORPUS + 3,
        lambda p: p,
        False,
        FiscoCode.MERKLE_ITEM_AT_OTHER_INDEX,
    ),
    "sixteen_siblings": (
        I_CORPUS,
        I_CORPUS,
        lambda p: _replace_level(p, 0, ProofLevel(p[0].left, (*p[0].right, p[0].right[-1]))),
        False,
        FiscoCode.MERKLE_PROOF_MALFORMED,
    ),
    "short_upper_sibling": (
        I_CORPUS,
        I_CORPUS,
        lambda p: _replace_level(p, 1, ProofLevel((p[1].left[0][:31],), p[1].right)),
        False,
        FiscoCode.MERKLE_PROOF_MALFORMED,
    ),
    "level0_sibling_not_a_leaf": (
        I_CORPUS,
        I_CORPUS,
        lambda p: _replace_level(p, 0, ProofLevel((p[0].left[0][2:], *p[0].left[1:]), p[0].right)),
        False,
        FiscoCode.MERKLE_PROOF_MALFORMED,
    ),
    "empty_proof": (I_CORPUS, I_CORPUS, lambda p: (), False, FiscoCode.MERKLE_PROOF_MALFORMED),
}


@MODES
@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_tampered_proof_refused_with_its_code(name: str, hash_fn: HashFn) -> None:
    _receipts, hashes, root, proof = _corpus(hash_fn)
    check_indexed_proof(root, I_CORPUS, hashes[I_CORPUS], proof, hash_fn)  # the untampered one
    index, which, transform, bad_root, code = TAMPERED[name]
    tampered = transform(proof)
    with pytest.raises(ProofError) as err:
        check_indexed_proof(
            _flip(root) if bad_root else root, index, hashes[which], tampered, hash_fn
        )
    assert err.value.code == code, err.value.message
    assert not verify_merkle_proof(root, compute_leaf(index, hashes[which]), tampered, hash_fn) or (
        name == "wrong_root"
    )


def test_tampered_codes_cover_every_merkle_code() -> None:
    codes = {case[4] for case in TAMPERED.values()}
    assert codes == {c for c in FiscoCode if c.name.startswith("MERKLE_")}


@MODES
def test_upper_level_swap_and_middle_drop_are_refused(hash_fn: HashFn) -> None:
    _, hashes, root, proof = _corpus(hash_fn)
    swapped = _replace_level(proof, 1, ProofLevel(proof[1].right, proof[1].left))
    dropped = proof[:1] + proof[2:]
    for tampered in (swapped, dropped):
        with pytest.raises(ProofError) as err:
            check_indexed_proof(root, I_CORPUS, hashes[I_CORPUS], tampered, hash_fn)
        assert err.value.code in {FiscoCode.MERKLE_INDEX_MISMATCH, FiscoCode.MERKLE_ROOT_MISMATCH}


def test_proof_from_json_refuses_wrong_shapes() -> None:
    bad: object
    for bad in (
        {"left": [], "right": []},
        [{"left": []}],
        [{"left": [], "right": [], "extra": []}],
        [{"left": "00", "right": []}],
        [{"left": ["zz"], "right": []}],
        [{"left": [7], "right": []}],
        ["level"],
    ):
        with pytest.raises(ProofError) as err:
            proof_from_json(bad)
        assert err.value.code == FiscoCode.MERKLE_PROOF_MALFORMED


# --- a receipt in a block -----------------------------------------------------------


@MODES
def test_receipt_inclusion_in_a_block(hash_fn: HashFn) -> None:
    receipts, _, root, proof = _corpus(hash_fn)
    header = sample_header(receipts_root=root)
    header_rlp = encode_header(header)
    block_hash = compute_block_hash(header, hash_fn)
    got_header, got_receipt = check_receipt_inclusion(
        block_hash, header_rlp, I_CORPUS, receipts[I_CORPUS], proof, hash_fn
    )
    assert got_header == header and got_receipt.gas_used == 21_000 + I_CORPUS

    cases = {
        # A header with another receiptsRoot is another block: its hash is not the sealed one.
        "wrong_root_in_header": (
            block_hash,
            encode_header(sample_header(receipts_root=_flip(root))),
            receipts[I_CORPUS],
            FiscoCode.HEADER_HASH_MISMATCH,
        ),
        "malformed_header": (
            hash_fn(header_rlp + b"\x00"),
            header_rlp + b"\x00",
            receipts[I_CORPUS],
            FiscoCode.HEADER_MALFORMED,
        ),
        "malformed_receipt": (
            block_hash,
            header_rlp,
            receipts[I_CORPUS][:-1],
            FiscoCode.RECEIPT_MALFORMED,
        ),
        "other_receipt": (
            block_hash,
            header_rlp,
            receipts[I_CORPUS + 1],
            FiscoCode.MERKLE_ITEM_AT_OTHER_INDEX,
        ),
    }
    for name, (bh, hr, receipt, code) in cases.items():
        with pytest.raises(ProofError) as err:
            check_receipt_inclusion(bh, hr, I_CORPUS, receipt, proof, hash_fn)
        assert err.value.code == code, name


# --- PBFT ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "quorum"),
    [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (6, 5), (7, 5), (8, 6), (9, 7), (10, 7)],
)
def test_pbft_quorum_table(n: int, quorum: int) -> None:
    assert compute_pbft_quorum(n) == quorum


def test_pbft_quorum_is_2f_plus_1_and_refuses_empty_groups() -> None:
    for f in range(10):
        assert compute_pbft_quorum(3 * f + 1) == 2 * f + 1
    for bad in (0, -3, True, 2.0):
        with pytest.raises(ValueError):
            compute_pbft_quorum(bad)  # type: ignore[arg-type]


def test_every_code_has_a_row_in_docs_fisco_md() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "fisco.md").read_text()
    for code in FiscoCode:
        assert f"| {int(code)} | {code.name} |" in page, code.name


# --- the chain side agrees with the verifier side ------------------------------------


@MODES
def test_chain_side_builds_what_the_verifier_side_checks(hash_fn: HashFn) -> None:
    from appchains.fisco import formats as chain

    assert chain.hash_for("secp256k1")(b"x") == keccak256(b"x")
    assert chain.hash_for("sm")(b"x") == sm3(b"x")
    with pytest.raises(ValueError):
        chain.hash_for("ed25519")
    header = sample_header()
    header_rlp = chain.encode_header(
        parent_hash=header.parent_hash,
        state_root=header.state_root,
        transactions_root=header.transactions_root,
        receipts_root=header.receipts_root,
        db_hash=header.db_hash,
        log_bloom=header.log_bloom,
        number=header.number,
        gas_limit=header.gas_limit,
        gas_used=header.gas_used,
        timestamp=header.timestamp,
        extra_data=header.extra_data,
        sealer=header.sealer,
        sealer_list=header.sealer_list,
    )
    assert header_rlp == encode_header(header)
    for remain_gas in (None, 7):
        receipt = sample_receipt(remain_gas)
        chain_rlp = chain.encode_receipt(
            state_root=receipt.state_root,
            gas_used=receipt.gas_used,
            contract_address=receipt.contract_address,
            log_bloom=receipt.log_bloom,
            status=receipt.status,
            output=receipt.output,
            logs=[(x.address, x.topics, x.data) for x in receipt.logs],
            remain_gas=remain_gas,
        )
        assert chain_rlp == encode_receipt(receipt)
    assert chain.merkle_root([], hash_fn) == compute_merkle_root([], hash_fn)
    for n in (1, 2, 16, 17, 300):
        hashes = item_hashes(n, hash_fn)
        root = chain.merkle_root(hashes, hash_fn)
        assert root == compute_merkle_root(compute_leaves(hashes), hash_fn)
        for i in {0, n // 2, n - 1}:
            proof = proof_from_json(chain.merkle_proof(hashes, i, hash_fn))
            assert proof == build_merkle_proof(compute_leaves(hashes), i, hash_fn)
            check_indexed_proof(root, i, hashes[i], proof, hash_fn)
    with pytest.raises(IndexError):
        chain.merkle_proof(item_hashes(3, hash_fn), 3, hash_fn)


def test_chain_side_refuses_bad_fields() -> None:
    from appchains.fisco import formats as chain

    with pytest.raises(ValueError):
        chain.encode_receipt(
            state_root=bytes(32),
            gas_used=0,
            contract_address=bytes(19),
            log_bloom=bytes(256),
            status=0,
            output=b"",
            logs=[],
        )
    with pytest.raises(ValueError):
        chain.encode_receipt(
            state_root=bytes(32),
            gas_used=0,
            contract_address=bytes(20),
            log_bloom=bytes(256),
            status=1 << 32,
            output=b"",
            logs=[],
        )
    fields = {
        "parent_hash": bytes(31),
        "state_root": bytes(32),
        "transactions_root": bytes(32),
        "receipts_root": bytes(32),
        "db_hash": bytes(32),
        "log_bloom": bytes(256),
        "number": 1,
        "gas_limit": 0,
        "gas_used": 0,
        "timestamp": 0,
        "extra_data": [],
        "sealer": 0,
        "sealer_list": [bytes(64)],
    }
    for change in (
        {},
        {"parent_hash": bytes(32), "sealer_list": [bytes(63)]},
        {"parent_hash": bytes(32), "number": 1 << 63},
    ):
        with pytest.raises(ValueError):
            chain.encode_header(**{**fields, **change})  # type: ignore[arg-type]
    assert chain.encode_header(**{**fields, "parent_hash": bytes(32)})  # type: ignore[arg-type]


def test_log_bloom_is_the_yellow_paper_bloom_in_keccak_mode() -> None:
    from appchains.evm.devchain.bloom import compute_bloom
    from appchains.fisco import formats as chain

    logs = sample_receipt().logs
    values = [v for log in logs for v in (log.address, *log.topics)]
    assert compute_log_bloom(logs, keccak256) == compute_bloom(values)
    assert compute_log_bloom((), keccak256) == bytes(256)
    sm_bloom = compute_log_bloom(logs, sm3)
    assert sm_bloom != compute_bloom(values)
    assert 1 <= bin(int.from_bytes(sm_bloom, "big")).count("1") <= 12
    for hash_fn in (keccak256, sm3):
        as_tuples = [(x.address, x.topics, x.data) for x in logs]
        assert chain.log_bloom(as_tuples, hash_fn) == compute_log_bloom(logs, hash_fn)


# --- the on-disk corpus (tests/vectors/fisco/, written by the chain side) -------------

VECTORS = Path(__file__).resolve().parent / "vectors" / "fisco"
FORMATS = json.loads((VECTORS / "formats.json").read_text())
MERKLE_BAD = json.loads((VECTORS / "merkle_bad.json").read_text())


@pytest.mark.parametrize("case", FORMATS["headers"], ids=lambda c: c["name"])
def test_header_vectors(case: dict[str, Any]) -> None:
    hash_fn = hash_fn_for(case["mode"])
    header = decode_header(h(case["rlp"]))
    assert compute_block_hash(header, hash_fn) == h(case["block_hash"])
    fields = case["fields"]
    assert header.number == fields["number"] and header.sealer == fields["sealer"]
    assert header.receipts_root == h(fields["receipts_root"])
    assert [x.hex() for x in header.sealer_list] == [x[2:] for x in fields["sealer_list"]]
    assert encode_header(header) == h(case["rlp"])


@pytest.mark.parametrize("case", FORMATS["receipts"], ids=lambda c: c["name"])
def test_receipt_vectors(case: dict[str, Any]) -> None:
    hash_fn = hash_fn_for(case["mode"])
    receipt = decode_receipt(h(case["rlp"]), fields=case["fields"])
    assert (receipt.remain_gas is None) == (case["fields"] == 7)
    assert compute_log_bloom(receipt.logs, hash_fn) == receipt.log_bloom
    assert compute_receipt_hash(receipt, hash_fn) == h(case["hash"])


@pytest.mark.parametrize("case", FORMATS["trees"], ids=lambda c: c["name"])
def test_tree_vectors(case: dict[str, Any]) -> None:
    hash_fn = hash_fn_for(case["mode"])
    hashes = [h(x) for x in case["item_hashes"]]
    root = compute_merkle_root(compute_leaves(hashes), hash_fn)
    assert root == h(case["root"])
    assert case["proofs"]
    for entry in case["proofs"]:
        proof = proof_from_json(entry["proof"])
        check_indexed_proof(root, entry["index"], hashes[entry["index"]], proof, hash_fn)


@pytest.mark.parametrize("case", MERKLE_BAD, ids=lambda c: c["name"])
def test_bad_merkle_vectors(case: dict[str, Any]) -> None:
    hash_fn = hash_fn_for(case["mode"])
    with pytest.raises(ProofError) as err:
        proof = proof_from_json(case["proof"])
        check_indexed_proof(h(case["root"]), case["index"], h(case["item_hash"]), proof, hash_fn)
    assert err.value.code == case["expected"]["code"]
    assert FiscoCode(err.value.code).name == case["expected"]["name"]


def test_corpus_covers_both_modes_and_the_named_tamperings() -> None:
    assert {c["mode"] for c in MERKLE_BAD} == {"secp256k1", "sm"}
    names = {c["name"].rsplit("-", 1)[0] for c in MERKLE_BAD}
    assert set(TAMPERED) - {"level0_sibling_not_a_leaf"} | {"recut_leaf_index"} == names


@pytest.mark.parametrize(
    "case", [c for c in MERKLE_BAD if c["name"].startswith("recut")], ids=lambda c: c["name"]
)
def test_recut_vector_fools_the_bare_fold(case: dict[str, Any]) -> None:
    hash_fn = hash_fn_for(case["mode"])
    leaf = compute_leaf(case["index"], h(case["item_hash"]))
    assert verify_merkle_proof(h(case["root"]), leaf, proof_from_json(case["proof"]), hash_fn)


def test_corpus_regenerates_identically(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    for name in ("formats.json", "merkle_bad.json"):
        assert (tmp_path / name).read_text() == (VECTORS / name).read_text(), f"{name} is stale"


@MODES
def test_identical_items_at_two_positions_still_verify(hash_fn: HashFn) -> None:
    hashes = item_hashes(20, hash_fn)
    hashes[7] = hashes[3]  # the same item hash twice in one group
    leaves = compute_leaves(hashes)
    root = compute_merkle_root(leaves, hash_fn)
    for i in (3, 7):
        check_indexed_proof(root, i, hashes[i], build_merkle_proof(leaves, i, hash_fn), hash_fn)


@MODES
def test_index_is_bound_by_the_checks_not_by_the_fold(hash_fn: HashFn) -> None:
    # Leaf 306 is 0x820132 ‖ h. Re-cut so that the claimed leaf is 50's encoding
    # (0x32 ‖ h): the bytes hashed at level 0 are the same, so the fold still
    # reaches the root, but the checks refuse it.
    hashes = item_hashes(310, hash_fn)
    leaves = compute_leaves(hashes)
    root = compute_merkle_root(leaves, hash_fn)
    proof = build_merkle_proof(leaves, 306, hash_fn)
    assert leaves[306][:3] == b"\x82\x01\x32"
    level0 = proof[0]
    recut = (
        ProofLevel((*level0.left[:-1], level0.left[-1] + b"\x82\x01"), level0.right),
        *proof[1:],
    )
    fake_leaf = compute_leaf(50, hashes[306])
    assert verify_merkle_proof(root, fake_leaf, recut, hash_fn)  # the fold alone is fooled
    with pytest.raises(ProofError) as err:
        check_indexed_proof(root, 50, hashes[306], recut, hash_fn)
    assert err.value.code == FiscoCode.MERKLE_PROOF_MALFORMED
