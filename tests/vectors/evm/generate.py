"""Generate the EVM proof corpus: ``good/*.json`` must verify, ``bad/*.json`` must not.

Run from the repository root::

    .venv/bin/python tests/vectors/evm/generate.py            # rewrites tests/vectors/evm/
    .venv/bin/python tests/vectors/evm/generate.py --out DIR  # writes DIR/good, DIR/bad

Output is deterministic (fixed keys; RFC 6979 signatures), so a regenerated corpus
is byte-identical and ``tests/test_evm_verifier.py`` checks that it is. The vector
format is in ``tests/vectors/evm/README.md``.

TEST KEYS ONLY: every private key below is derived from a public string
(``keccak256("relayhub test key: <name>")``). They are known to everyone; never
use them for anything that holds value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgpack
import rlp
from eth_abi import encode as abi_encode

from adapters.evm.errors import EvmCode
from adapters.evm.proof import (
    CALLBACK_EVENT_TOPIC,
    CALLBACK_EVENT_TYPES,
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
    RECEIPT_EVENT_TOPIC,
    RECEIPT_EVENT_TYPES,
    EvmProof,
    build_receipt_proofs,
    compute_receipts_root,
    encode_evm_proof,
    sign_seal,
)
from adapters.testing.vectors import corpus_generator_main, write_corpus_files
from relay.crypto import SECP256K1_N, Account, keccak
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, compute_payload_hash, encode_ibtp

HERE = Path(__file__).resolve().parent

HUB = "hub1"
CHAIN = "ethdev"  # the EVM chain's relay chain ID
OTHER = "fab1"  # the chain on the other side of the calls
EVM_CHAIN_ID = 1337
TRANSFER_TOPIC = keccak(b"Transfer(address,address,uint256)")


def test_account(name: str) -> Account:
    """A TEST key: keccak256("relayhub test key: " + name). Public; never hold value with it."""
    return Account.from_key(keccak(b"relayhub test key: " + name.encode()))


def test_address(name: str) -> bytes:
    return keccak(b"relayhub test address: " + name.encode())[-20:]


VALIDATORS = [test_account(f"evm-validator-{i}") for i in range(1, 5)]
OUTSIDER = test_account("evm-outsider")
NOTARIES = [test_account(f"evm-notary-{i}") for i in range(1, 4)]

BROKER = test_address("broker")
FAKE_BROKER = test_address("fake-broker")  # an attacker's contract emitting look-alike events
TOKEN = test_address("token")
SERVICE = test_address("asset-service")
USER = test_address("user")

SEAL_ROOT = {
    "evm_chain_id": EVM_CHAIN_ID,
    "mode": "seal",
    "validators": [v.address for v in VALIDATORS],
    "threshold": 3,
}
NOTARY_ROOT = {
    "evm_chain_id": EVM_CHAIN_ID,
    "mode": "notary",
    "validators": [n.address for n in NOTARIES],
    "threshold": 2,
}

LOCAL_SVC = f"{HUB}:{CHAIN}:0x{SERVICE.hex()}"
REMOTE_SVC = f"{HUB}:{OTHER}:asset"


# --------------------------------------------------------------------------- chain data


def logs_bloom(logs: list[list[Any]]) -> bytes:
    """The 2048-bit bloom of a receipt's (or block's) logs: 3 bits per address and topic."""
    bits = 0
    for address, topics, _ in logs:
        for item in [address, *topics]:
            h = keccak(item)
            for i in (0, 2, 4):
                bits |= 1 << (((h[i] << 8) | h[i + 1]) & 2047)
    return bits.to_bytes(256, "big")


def encode_receipt(
    tx_type: int, status: bytes, cumulative_gas: int, logs: list[list[Any]]
) -> bytes:
    body = rlp.encode([status, cumulative_gas, logs_bloom(logs), logs])
    return body if tx_type == 0 else bytes([tx_type]) + body


def transfer_log(amount: int) -> list[Any]:
    return [
        TOKEN,
        [TRANSFER_TOPIC, b"\x00" * 12 + USER, b"\x00" * 12 + SERVICE],
        amount.to_bytes(32, "big"),
    ]


def interchain_log(ibtp: IBTP, emitter: bytes = BROKER) -> list[Any]:
    p = ibtp.payload
    data = abi_encode(
        INTERCHAIN_EVENT_TYPES,
        (
            ibtp.src,
            ibtp.dst,
            ibtp.index,
            p.func,
            list(p.args),
            p.encrypted,
            ibtp.timeout,
            compute_payload_hash(p),
        ),
    )
    return [emitter, [INTERCHAIN_EVENT_TOPIC], data]


def receipt_event_log(ibtp: IBTP) -> list[Any]:
    (result,) = ibtp.payload.args
    data = abi_encode(
        RECEIPT_EVENT_TYPES,
        (
            ibtp.src,
            ibtp.dst,
            ibtp.index,
            int(ibtp.type),
            result,
            compute_payload_hash(ibtp.payload),
        ),
    )
    return [BROKER, [RECEIPT_EVENT_TOPIC], data]


def callback_log(ibtp: IBTP, typ: int = 3) -> list[Any]:
    data = abi_encode(CALLBACK_EVENT_TYPES, (ibtp.src, ibtp.dst, ibtp.index, typ))
    return [BROKER, [CALLBACK_EVENT_TOPIC], data]


@dataclass
class Block:
    number: int
    receipts: list[bytes]
    header_rlp: bytes
    block_hash: bytes
    receipts_root: bytes
    nodes: list[list[bytes]]


def make_header(number: int, receipts_root: bytes, bloom: bytes, gas_used: int, n_tx: int) -> bytes:
    """A London header (16 fields) with the given receiptsRoot."""
    fake_txs = [bytes([2]) + rlp.encode([EVM_CHAIN_ID, i, number]) for i in range(n_tx)]
    tx_root = compute_receipts_root(fake_txs) if fake_txs else keccak(rlp.encode(b""))
    return rlp.encode(
        [
            keccak(b"parent %d" % number),  # parentHash
            keccak(rlp.encode([])),  # ommersHash
            test_address("coinbase"),  # coinbase
            keccak(b"state %d" % number),  # stateRoot
            tx_root,  # transactionsRoot
            receipts_root,  # receiptsRoot
            bloom,  # logsBloom
            0,  # difficulty
            number,  # number
            30_000_000,  # gasLimit
            gas_used,  # gasUsed
            1_700_000_000 + 12 * number,  # timestamp
            b"relayhub test chain",  # extraData
            keccak(b"mix %d" % number),  # mixHash
            b"\x00" * 8,  # nonce
            1_000_000_000,  # baseFeePerGas
        ]
    )


def make_block(number: int, spec: list[tuple[int, bytes, list[list[Any]]]]) -> Block:
    """spec: one (tx_type, status, logs) per transaction, in block order."""
    receipts = []
    gas = 0
    all_logs: list[list[Any]] = []
    for tx_type, status, logs in spec:
        gas += 21_000 + 5_000 * len(logs)
        receipts.append(encode_receipt(tx_type, status, gas, logs))
        all_logs.extend(logs)
    root, nodes = build_receipt_proofs(receipts)
    header = make_header(number, root, logs_bloom(all_logs), gas, len(receipts))
    return Block(number, receipts, header, keccak(header), root, nodes)


def seals(
    block_hash: bytes, signers: list[Account], chain_id: int = EVM_CHAIN_ID
) -> tuple[bytes, ...]:
    return tuple(sign_seal(s, chain_id, block_hash) for s in signers)


def proof_for(
    block: Block, tx_index: int, log_index: int, signers: list[Account] | None = None
) -> EvmProof:
    return EvmProof(
        block_hash=block.block_hash,
        header_rlp=block.header_rlp,
        seals=seals(block.block_hash, VALIDATORS[:3] if signers is None else signers),
        receipt=block.receipts[tx_index],
        tx_index=tx_index,
        nodes=tuple(block.nodes[tx_index]),
        log_index=log_index,
    )


# --------------------------------------------------------------------------- IBTPs


def mint_args(amount: int) -> tuple[bytes, ...]:
    return (abi_encode(("address", "uint256"), (USER, amount)),)


IB_TX0 = IBTP(LOCAL_SVC, REMOTE_SVC, 1, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(100)))
IB_TX2 = IBTP(LOCAL_SVC, REMOTE_SVC, 2, IBTPType.INTERCHAIN, 5_000, Payload("mint", mint_args(7)))
IB_TX3 = IBTP(LOCAL_SVC, REMOTE_SVC, 3, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(42)))
IB_SUCCESS = IBTP(
    REMOTE_SVC, LOCAL_SVC, 7, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"minted 7",), False)
)
IB_FAILURE = IBTP(
    REMOTE_SVC, LOCAL_SVC, 8, IBTPType.RECEIPT_FAILURE, 0, Payload("", (b"mint cap exceeded",))
)
IB_ROLLBACK = IBTP(LOCAL_SVC, REMOTE_SVC, 4, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
#: The destination's acknowledgement: ethdev's broker consumed an inbound index unexecuted.
IB_DST_ROLLBACK = IBTP(REMOTE_SVC, LOCAL_SVC, 12, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
IB_FAKE = IBTP(LOCAL_SVC, REMOTE_SVC, 9, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(10**24)))
IB_ENCRYPTED = IBTP(
    LOCAL_SVC,
    REMOTE_SVC,
    5,
    IBTPType.INTERCHAIN,
    123_456,
    Payload("transfer", (b"\x8e" * 48, b"ciphertext nonce"), True),
)
IB_FAILED_TX = IBTP(LOCAL_SVC, REMOTE_SVC, 6, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(1)))
IB_BIG_BLOCK = IBTP(
    LOCAL_SVC, REMOTE_SVC, 10, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(3))
)
IB_GANACHE = IBTP(LOCAL_SVC, REMOTE_SVC, 11, IBTPType.INTERCHAIN, 0, Payload("mint", mint_args(5)))

GETH_FAIL = b""  # go-ethereum's failed status
GANACHE_FAIL = b"\x00"  # ganache's failed status
OK = b"\x01"


def filler(i: int) -> tuple[int, bytes, list[list[Any]]]:
    kind = i % 3
    if kind == 0:
        return (0, OK, [])  # a legacy value transfer
    if kind == 1:
        return (2, OK, [transfer_log(i)])  # an EIP-1559 token transfer
    return (1, OK, [transfer_log(i), transfer_log(i + 1)])  # EIP-2930 with two logs


def build_blocks() -> dict[str, Block]:
    a_spec: list[tuple[int, bytes, list[list[Any]]]] = [
        (2, OK, [interchain_log(IB_TX0)]),  # 0  typed 0x02, key 0x80
        (0, OK, [transfer_log(5)]),  # 1  legacy, token only
        (0, OK, [interchain_log(IB_TX2)]),  # 2  legacy InterchainEvent
        (2, OK, [transfer_log(42), interchain_log(IB_TX3)]),  # 3  broker log is log 1
        (1, OK, [receipt_event_log(IB_SUCCESS)]),  # 4  typed 0x01 ReceiptEvent typ 1
        (2, OK, [receipt_event_log(IB_FAILURE)]),  # 5  ReceiptEvent typ 2
        (0, OK, [callback_log(IB_ROLLBACK)]),  # 6  legacy CallbackEvent typ 3
        (2, GETH_FAIL, []),  # 7  reverted (geth encoding), no logs
        (2, OK, [interchain_log(IB_FAKE, emitter=FAKE_BROKER)]),  # 8  look-alike event
    ]
    a_spec.append((0, OK, [callback_log(IB_DST_ROLLBACK)]))  # 9  destination-side typ 3
    a_spec += [filler(i) for i in range(10, 17)]
    a_spec.append((2, OK, [transfer_log(1), interchain_log(IB_ENCRYPTED)]))  # 17 key 0x11
    a_spec += [filler(i) for i in range(18, 20)]

    # Block B: the next block, 150 transactions (two-byte keys 0x81xx from tx 128 on).
    b_spec = [filler(i) for i in range(150)]
    b_spec[2] = (0, OK, [interchain_log(IB_TX2)])  # same event, another block
    b_spec[130] = (2, OK, [interchain_log(IB_BIG_BLOCK)])  # key 0x8182

    # Block C: a ganache block (notary mode); a failed tx encodes status 0x00.
    c_spec: list[tuple[int, bytes, list[list[Any]]]] = [
        (2, GANACHE_FAIL, []),
        (2, OK, [interchain_log(IB_GANACHE)]),
        (2, GANACHE_FAIL, []),
    ]

    # Block D: a buggy chain and broker, faithfully sealed: a receipt whose RLP is cut
    # short, a broker log whose data is not ABI, a broker log with an extra topic.
    good_receipt = encode_receipt(2, OK, 26_000, [interchain_log(IB_TX0)])
    bad_abi_log = [BROKER, [INTERCHAIN_EVENT_TOPIC], b"\x00" * 31 + b"\x20" + b"\xff" * 7]
    two_topic_log = interchain_log(IB_TX0)
    two_topic_log[1] = [INTERCHAIN_EVENT_TOPIC, keccak(b"an indexed field")]
    d_receipts = [
        good_receipt[:-10],
        encode_receipt(2, OK, 52_000, [bad_abi_log]),
        encode_receipt(0, OK, 78_000, [two_topic_log]),
    ]
    d_root, d_nodes = build_receipt_proofs(d_receipts)
    d_header = make_header(103, d_root, b"\x00" * 256, 78_000, 3)
    d_block = Block(103, d_receipts, d_header, keccak(d_header), d_root, d_nodes)

    return {
        "A": make_block(100, a_spec),
        "B": make_block(101, b_spec),
        "C": make_block(102, c_spec),
        "D": d_block,
    }


# --------------------------------------------------------------------------- vectors


def vector(
    name: str,
    description: str,
    ibtp: IBTP,
    proof: EvmProof | bytes,
    expected: EvmCode | None,
    trust_root: dict[str, Any] = SEAL_ROOT,
) -> dict[str, Any]:
    proof_bytes = proof if isinstance(proof, bytes) else encode_evm_proof(proof)
    full = replace(ibtp, proof=proof_bytes)
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "hub_id": HUB,
        "chain_id": CHAIN,
        "family": "evm",
        "broker": "0x" + BROKER.hex(),
        "trust_root": trust_root,
        "ibtp": encode_ibtp(full).hex(),
        "ibtp_hash": compute_ibtp_hash(full).hex(),
        "expected": {"ok": True}
        if expected is None
        else {"ok": False, "code": int(expected), "name": expected.name},
    }
    return out


def high_s(seal: bytes) -> bytes:
    """The same signature with s replaced by n - s (a malleated, high-s form)."""
    s = int.from_bytes(seal[32:64], "big")
    return seal[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - seal[64]])


def build_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    blocks = build_blocks()
    a, b, c, d = blocks["A"], blocks["B"], blocks["C"], blocks["D"]
    v = VALIDATORS

    good = [
        vector(
            "interchain_typed_tx0", "EIP-1559 receipt at key 0x80", IB_TX0, proof_for(a, 0, 0), None
        ),
        vector(
            "interchain_legacy",
            "legacy receipt with the broker's InterchainEvent",
            IB_TX2,
            proof_for(a, 2, 0),
            None,
        ),
        vector(
            "interchain_second_log",
            "the broker log follows a token Transfer log",
            IB_TX3,
            proof_for(a, 3, 1),
            None,
        ),
        vector(
            "interchain_encrypted",
            "encrypted payload, timeout set, key 0x11",
            IB_ENCRYPTED,
            proof_for(a, 17, 1),
            None,
        ),
        vector(
            "receipt_success",
            "EIP-2930 receipt with ReceiptEvent typ 1",
            IB_SUCCESS,
            proof_for(a, 4, 0),
            None,
        ),
        vector(
            "receipt_failure",
            "ReceiptEvent typ 2 (the service reverted)",
            IB_FAILURE,
            proof_for(a, 5, 0),
            None,
        ),
        vector(
            "receipt_rollback",
            "CallbackEvent typ 3: the rollback acknowledgement",
            IB_ROLLBACK,
            proof_for(a, 6, 0),
            None,
        ),
        vector(
            "receipt_rollback_destination",
            "CallbackEvent typ 3 of the destination (to is on ethdev): its broker consumed the "
            "index without running it",
            IB_DST_ROLLBACK,
            proof_for(a, 9, 0),
            None,
        ),
        vector("all_four_seals", "4-of-4 seals, threshold 3", IB_TX0, proof_for(a, 0, 0, v), None),
        vector(
            "seals_reordered_with_duplicate",
            "3 distinct seals plus one repeated: duplicates count once, 3 remain",
            IB_TX2,
            replace(proof_for(a, 2, 0), seals=seals(a.block_hash, [v[3], v[1], v[3], v[0]])),
            None,
        ),
        vector(
            "big_block_two_byte_key",
            "tx 130 of 150 (key 0x8182)",
            IB_BIG_BLOCK,
            proof_for(b, 130, 0),
            None,
        ),
        vector(
            "ganache_notary",
            "notary mode (2-of-3) for a ganache block whose failed receipts encode status 0x00",
            IB_GANACHE,
            proof_for(c, 1, 0, NOTARIES[:2]),
            None,
            NOTARY_ROOT,
        ),
    ]

    p2 = proof_for(a, 2, 0)
    forged_receipt = encode_receipt(0, OK, 21_000, [interchain_log(IB_FAKE)])
    forged_root, forged_nodes = build_receipt_proofs([*a.receipts[:2], forged_receipt])
    forged_header = rlp.encode(
        [forged_root if i == 5 else item for i, item in enumerate(rlp.decode(a.header_rlp))]
    )
    bad_node = b"\xf8\x40" + b"\x00" * 10  # RLP header says 64 bytes follow; 10 do
    bad_node_header = make_header(104, keccak(bad_node), b"\x00" * 256, 21_000, 1)
    garbage_header = b"\xf9\x02\x00" + b"\x11" * 40  # claims 512 bytes of list
    canonical = encode_evm_proof(p2)
    # The same array with tx_index written as a msgpack uint32 (0xce) instead of a
    # positive fixint: decodable, but not the one canonical encoding.
    pack = msgpack.Packer(use_bin_type=True).pack
    non_canonical = b"".join(
        [
            b"\x98",  # fixarray of 8
            pack(1),
            pack(p2.block_hash),
            pack(p2.header_rlp),
            pack(list(p2.seals)),
            pack(p2.receipt),
            b"\xce" + p2.tx_index.to_bytes(4, "big"),
            pack(list(p2.nodes)),
            pack(p2.log_index),
        ]
    )
    assert msgpack.unpackb(non_canonical) == msgpack.unpackb(canonical)

    bad = [
        vector(
            "wrong_root",
            "a sealed header of another block (B) with the nodes and receipt of block A",
            IB_TX2,
            replace(
                p2,
                block_hash=b.block_hash,
                header_rlp=b.header_rlp,
                seals=seals(b.block_hash, v[:3]),
            ),
            EvmCode.MPT_ROOT_MISMATCH,
        ),
        vector(
            "node_swapped",
            "proof node 1 replaced by a sibling branch of the same trie",
            IB_TX2,
            replace(p2, nodes=(p2.nodes[0], a.nodes[17][1], p2.nodes[2])),
            EvmCode.MPT_NODE_MISMATCH,
        ),
        vector(
            "leaf_byte_flipped",
            "one byte of the leaf node changed",
            IB_TX2,
            replace(p2, nodes=(*p2.nodes[:2], _flip(p2.nodes[2], 40))),
            EvmCode.MPT_NODE_MISMATCH,
        ),
        vector(
            "truncated_proof",
            "the leaf node left out",
            IB_TX2,
            replace(p2, nodes=p2.nodes[:2]),
            EvmCode.MPT_PROOF_TRUNCATED,
        ),
        vector(
            "no_nodes",
            "no proof nodes at all",
            IB_TX2,
            replace(p2, nodes=()),
            EvmCode.MPT_PROOF_TRUNCATED,
        ),
        vector(
            "extra_node",
            "a further (valid) node appended",
            IB_TX2,
            replace(p2, nodes=(*p2.nodes, a.nodes[3][2])),
            EvmCode.MPT_EXTRA_NODES,
        ),
        vector(
            "receipt_from_other_block",
            "the same broker event's receipt from block B, proven with block A's nodes",
            IB_TX2,
            replace(p2, receipt=b.receipts[2]),
            EvmCode.RECEIPT_NOT_PROVEN,
        ),
        vector(
            "other_tx_index",
            "tx_index 3 claimed with the nodes and receipt of tx 2",
            IB_TX2,
            replace(p2, tx_index=3),
            EvmCode.MPT_NODE_MISMATCH,
        ),
        vector(
            "receipt_of_other_tx",
            "valid nodes for tx 3 but the receipt of tx 2",
            IB_TX2,
            replace(p2, tx_index=3, nodes=tuple(a.nodes[3])),
            EvmCode.RECEIPT_NOT_PROVEN,
        ),
        vector(
            "key_absent",
            "tx_index 50 in a block of 20: the root branch's slot is empty",
            IB_TX2,
            replace(p2, tx_index=50, nodes=p2.nodes[:1]),
            EvmCode.MPT_KEY_ABSENT,
        ),
        vector(
            "ibtp_from_other_chain",
            "an INTERCHAIN IBTP whose from names another chain, with a valid proof of ethdev",
            replace(IB_TX2, src=f"{HUB}:otherevm:0x{SERVICE.hex()}"),
            p2,
            EvmCode.CHAIN_MISMATCH,
        ),
        vector(
            "receipt_to_other_chain",
            "a RECEIPT_SUCCESS whose to names another chain, with a valid proof of ethdev",
            replace(IB_SUCCESS, dst=f"{HUB}:otherevm:0x{SERVICE.hex()}"),
            proof_for(a, 4, 0),
            EvmCode.CHAIN_MISMATCH,
        ),
        vector(
            "rollback_on_neither_chain",
            "a RECEIPT_ROLLBACK whose from and to both name other chains, with a valid proof of "
            "ethdev's CallbackEvent",
            replace(IB_ROLLBACK, src=f"{HUB}:otherevm:0x{SERVICE.hex()}", dst=REMOTE_SVC),
            proof_for(a, 6, 0),
            EvmCode.CHAIN_MISMATCH,
        ),
        vector(
            "log_not_from_broker",
            "an InterchainEvent look-alike emitted by another contract",
            IB_FAKE,
            proof_for(a, 8, 0),
            EvmCode.LOG_WRONG_EMITTER,
        ),
        vector(
            "log_not_from_broker_token",
            "log 0 of tx 3 is the token's Transfer, not the broker's event",
            IB_TX3,
            proof_for(a, 3, 0),
            EvmCode.LOG_WRONG_EMITTER,
        ),
        vector(
            "wrong_topic",
            "an INTERCHAIN IBTP pointed at the broker's ReceiptEvent",
            IB_TX2,
            proof_for(a, 4, 0),
            EvmCode.LOG_WRONG_EVENT,
        ),
        vector(
            "rollback_from_interchain_event",
            "a RECEIPT_ROLLBACK IBTP pointed at an InterchainEvent",
            replace(IB_TX2, type=IBTPType.RECEIPT_ROLLBACK, timeout=0, payload=Payload()),
            p2,
            EvmCode.LOG_WRONG_EVENT,
        ),
        vector(
            "extra_not_bound",
            "an INTERCHAIN IBTP with an extra the InterchainEvent does not carry",
            replace(IB_TX2, extra=b"\x01"),
            p2,
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "field_mismatch_index",
            "the IBTP's index differs from the log's",
            replace(IB_TX2, index=3),
            p2,
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "field_mismatch_to",
            "the IBTP names another destination",
            replace(IB_TX2, dst=f"{HUB}:{OTHER}:vault"),
            p2,
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "field_mismatch_args",
            "the IBTP mints more than the broker logged",
            replace(IB_TX2, payload=Payload("mint", mint_args(7_000_000))),
            p2,
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "field_mismatch_timeout",
            "the IBTP's timeout differs from the log's",
            replace(IB_TX2, timeout=9_999),
            p2,
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "receipt_typ_mismatch",
            "RECEIPT_FAILURE claimed for a ReceiptEvent with typ 1 (success)",
            replace(IB_SUCCESS, type=IBTPType.RECEIPT_FAILURE),
            proof_for(a, 4, 0),
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "receipt_result_mismatch",
            "RECEIPT_SUCCESS whose result differs from the logged one",
            replace(IB_SUCCESS, payload=Payload("", (b"minted 7000",))),
            proof_for(a, 4, 0),
            EvmCode.LOG_FIELD_MISMATCH,
        ),
        vector(
            "seals_below_threshold",
            "2 seals, threshold 3",
            IB_TX2,
            replace(p2, seals=seals(a.block_hash, v[:2])),
            EvmCode.SEALS_BELOW_THRESHOLD,
        ),
        vector(
            "seal_counted_twice",
            "3 seals but one of them twice: 2 distinct validators, threshold 3",
            IB_TX2,
            replace(p2, seals=seals(a.block_hash, [v[0], v[1], v[0]])),
            EvmCode.SEALS_BELOW_THRESHOLD,
        ),
        vector(
            "seal_unregistered",
            "2 validator seals plus one from a key that is not registered",
            IB_TX2,
            replace(p2, seals=seals(a.block_hash, [v[0], v[1], OUTSIDER])),
            EvmCode.SEAL_UNKNOWN_SIGNER,
        ),
        vector(
            "seal_other_chain_id",
            "seals made for EVM chain id 1338 replayed to a chain registered as 1337",
            IB_TX2,
            replace(p2, seals=seals(a.block_hash, v[:3], chain_id=EVM_CHAIN_ID + 1)),
            EvmCode.SEAL_UNKNOWN_SIGNER,
        ),
        vector(
            "seal_high_s",
            "a validator's seal malleated to its high-s twin",
            IB_TX2,
            replace(p2, seals=(*p2.seals[:2], high_s(p2.seals[2]))),
            EvmCode.SEAL_MALFORMED,
        ),
        vector(
            "seal_wrong_length",
            "a seal of 64 bytes (v missing)",
            IB_TX2,
            replace(p2, seals=(*p2.seals[:2], p2.seals[2][:64])),
            EvmCode.SEAL_MALFORMED,
        ),
        vector(
            "notary_seals_for_seal_mode",
            "ganache notary signatures offered to a chain registered in seal mode",
            IB_GANACHE,
            proof_for(c, 1, 0, NOTARIES[:3]),
            EvmCode.SEAL_UNKNOWN_SIGNER,
        ),
        vector(
            "header_not_sealed_hash",
            "header with a forged receiptsRoot (a trie holding a forged receipt) under the "
            "original, sealed block hash",
            IB_FAKE,
            EvmProof(
                a.block_hash, forged_header, p2.seals, forged_receipt, 2, tuple(forged_nodes[2]), 0
            ),
            EvmCode.HEADER_HASH_MISMATCH,
        ),
        vector(
            "header_rehashed",
            "the forged header with its own hash as block_hash and the original seals",
            IB_FAKE,
            EvmProof(
                keccak(forged_header),
                forged_header,
                p2.seals,
                forged_receipt,
                2,
                tuple(forged_nodes[2]),
                0,
            ),
            EvmCode.SEAL_UNKNOWN_SIGNER,
        ),
        vector(
            "failed_receipt_geth",
            "a reverted tx (status b'')",
            IB_FAILED_TX,
            proof_for(a, 7, 0),
            EvmCode.RECEIPT_FAILED,
        ),
        vector(
            "failed_receipt_ganache",
            "a reverted tx on ganache (status 0x00)",
            IB_GANACHE,
            proof_for(c, 0, 0, NOTARIES[:2]),
            EvmCode.RECEIPT_FAILED,
            NOTARY_ROOT,
        ),
        vector(
            "log_index_out_of_range",
            "log_index 1 of a receipt with one log",
            IB_TX2,
            replace(p2, log_index=1),
            EvmCode.LOG_INDEX_OUT_OF_RANGE,
        ),
        vector(
            "receipt_malformed_rlp",
            "a sealed block whose trie holds a receipt with truncated RLP",
            IB_TX0,
            proof_for(d, 0, 0),
            EvmCode.RECEIPT_MALFORMED,
        ),
        vector(
            "log_data_not_abi",
            "the broker's InterchainEvent data is not ABI-encoded event fields",
            IB_TX0,
            proof_for(d, 1, 0),
            EvmCode.LOG_MALFORMED,
        ),
        vector(
            "log_extra_topic",
            "the broker's log has topic0 of InterchainEvent and a second topic",
            IB_TX0,
            proof_for(d, 2, 0),
            EvmCode.LOG_WRONG_EVENT,
        ),
        vector(
            "header_malformed_rlp",
            "a sealed 'header' that is not valid RLP",
            IB_TX2,
            replace(
                p2,
                block_hash=keccak(garbage_header),
                header_rlp=garbage_header,
                seals=seals(keccak(garbage_header), v[:3]),
            ),
            EvmCode.HEADER_MALFORMED,
        ),
        vector(
            "mpt_node_malformed_rlp",
            "a sealed header whose receiptsRoot is the hash of a node that is not valid RLP",
            IB_TX2,
            replace(
                p2,
                block_hash=keccak(bad_node_header),
                header_rlp=bad_node_header,
                seals=seals(keccak(bad_node_header), v[:3]),
                nodes=(bad_node,),
            ),
            EvmCode.MPT_NODE_MALFORMED,
        ),
        vector(
            "proof_truncated_bytes",
            "the proof's last 5 bytes cut",
            IB_TX2,
            canonical[:-5],
            EvmCode.PROOF_MALFORMED,
        ),
        vector(
            "proof_non_canonical",
            "tx_index written as a msgpack uint32",
            IB_TX2,
            non_canonical,
            EvmCode.PROOF_MALFORMED,
        ),
        vector(
            "proof_version_2",
            "a proof that says it is version 2",
            IB_TX2,
            replace(p2, version=2),
            EvmCode.PROOF_VERSION,
        ),
    ]
    return good, bad


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def write_corpus(out: Path) -> int:
    good, bad = build_vectors()
    return write_corpus_files(out, good, bad)


def main(argv: list[str] | None = None) -> None:
    corpus_generator_main(__doc__.split("\n\n")[0], HERE, write_corpus, argv)


if __name__ == "__main__":
    main()
