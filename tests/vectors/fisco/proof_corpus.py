"""The FISCO proof corpus: ``good/*.json`` must verify, ``bad/*.json`` must be refused.

Written by ``generate.py`` (``write_proof_corpus``); the vector format is the one every
family shares (``docs/families.md`` §3). Built with the chain side
(``appchains.fisco.formats``), eth-abi, msgpack, coincurve and the pure-Python
reference ``gmssl`` — never with ``adapters.fisco`` — in both crypto modes:

* a secp256k1 chain ``fisco1`` (group 1): sealers 1-4 until height 1199, then 1, 2, 3
  and 5 from 1200 (the trust root's two lists);
* a 国密 chain ``fiscogm`` (group 1): SM2 sealers 1-4 registered from height 500.

TEST KEYS ONLY (see ``generate.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgpack
from coincurve import PrivateKey
from eth_abi import encode as abi_encode
from gmssl import sm2 as ref_sm2

from adapters.testing.vectors import write_corpus_files
from appchains.fisco import formats as chain
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, encode_ibtp

HUB = "hub1"
CHAIN = "fisco1"
GM_CHAIN = "fiscogm"
GROUP = 1
CHAIN_ID = 1
CHANGE_HEIGHT = 1200
GM_FIRST_HEIGHT = 500
#: FISCO's ``TransactionException::RevertInstruction``.
STATUS_REVERT = 0x16

SM2_N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
SECP_N = 0xFFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFE_BAAEDCE6_AF48A03B_BFD25E8C_D0364141
SM2_ID = b"1234567812345678"
SM2_CURVE = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)

INTERCHAIN_SIG = b"InterchainEvent(string,string,uint64,string,bytes[],bool,uint64,bytes32)"
RECEIPT_SIG = b"ReceiptEvent(string,string,uint64,uint8,bytes,bytes32)"
CALLBACK_SIG = b"CallbackEvent(string,string,uint64,uint8)"
INTERCHAIN_TYPES = ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"]
RECEIPT_TYPES = ["string", "string", "uint64", "uint8", "bytes", "bytes32"]
CALLBACK_TYPES = ["string", "string", "uint64", "uint8"]

Log = tuple[bytes, list[bytes], bytes]


# --------------------------------------------------------------------------- keys and seals


@dataclass(frozen=True)
class Sealer:
    name: str
    mode: str
    secret: int
    node_id: bytes

    def sign(self, block_hash: bytes) -> bytes:
        """The node's ``asBytes`` seal: secp256k1 ``r‖s‖v`` (v 0/1), SM2 ``r‖s‖pub``."""
        if self.mode == "secp256k1":
            return bytes(
                PrivateKey(self.secret.to_bytes(32, "big")).sign_recoverable(
                    block_hash, hasher=None
                )
            )
        entl = (len(SM2_ID) * 8).to_bytes(2, "big")
        z = chain.sm3(entl + SM2_ID + SM2_CURVE + self.node_id)
        e = chain.sm3(z + block_hash)
        k = int.from_bytes(chain.sm3(b"relayhub test nonce: " + self.node_id + block_hash), "big")
        signer = ref_sm2.CryptSM2(private_key=f"{self.secret:064x}", public_key=self.node_id.hex())
        out = signer.sign(e, f"{k % (SM2_N - 1) + 1:064x}")
        assert out is not None, "nonce rejected"
        return bytes.fromhex(out) + self.node_id


def make_sealer(name: str, mode: str) -> Sealer:
    label = b"relayhub test key: " + name.encode()
    if mode == "secp256k1":
        secret = int.from_bytes(chain.keccak256(label), "big")
        node = bytes(PrivateKey(secret.to_bytes(32, "big")).public_key.format(compressed=False))[1:]
        return Sealer(name, mode, secret, node)
    secret = int.from_bytes(chain.sm3(label), "big") % (SM2_N - 1) + 1
    point = ref_sm2.CryptSM2(private_key=f"{secret:064x}", public_key="")._kg(
        secret, ref_sm2.default_ecc_table["g"]
    )
    return Sealer(name, mode, secret, bytes.fromhex(point))


def sealer_set(names: list[str], mode: str) -> list[Sealer]:
    """The set in the chain's order: ascending node IDs (``ConsensusEngineBase`` sorts)."""
    return sorted((make_sealer(n, mode) for n in names), key=lambda s: s.node_id)


OLD_SET = sealer_set([f"fisco-sealer-{i}" for i in (1, 2, 3, 4)], "secp256k1")
NEW_SET = sealer_set([f"fisco-sealer-{i}" for i in (1, 2, 3, 5)], "secp256k1")
GM_SET = sealer_set([f"fisco-gm-sealer-{i}" for i in (1, 2, 3, 4)], "sm")
OUTSIDER = make_sealer("fisco-outsider", "secp256k1")
GM_OUTSIDER = make_sealer("fisco-gm-outsider", "sm")


def root_entry(height: int, sealers: list[Sealer]) -> dict[str, Any]:
    return {"from_height": height, "nodes": [s.node_id.hex() for s in sealers]}


SECP_ROOT = {
    "mode": "secp256k1",
    "group_id": GROUP,
    "chain_id": CHAIN_ID,
    "sealers": [root_entry(0, OLD_SET), root_entry(CHANGE_HEIGHT, NEW_SET)],
}
GM_ROOT = {
    "mode": "sm",
    "group_id": GROUP,
    "chain_id": CHAIN_ID,
    "sealers": [root_entry(GM_FIRST_HEIGHT, GM_SET)],
}


def address(name: str) -> bytes:
    return chain.keccak256(b"relayhub test address: " + name.encode())[-20:]


BROKER = address("fisco-broker")
FAKE_BROKER = address("fisco-fake-broker")
TOKEN = address("fisco-token")
SERVICE = address("fisco-asset-service")
USER = address("fisco-user")


# --------------------------------------------------------------------------- broker logs


def payload_hash(p: Payload, hash_fn: chain.Hash) -> bytes:
    return hash_fn(abi_encode(["string", "bytes[]", "bool"], [p.func, list(p.args), p.encrypted]))


def interchain_log(ibtp: IBTP, hash_fn: chain.Hash, emitter: bytes = BROKER) -> Log:
    p = ibtp.payload
    data = abi_encode(
        INTERCHAIN_TYPES,
        [
            ibtp.src,
            ibtp.dst,
            ibtp.index,
            p.func,
            list(p.args),
            p.encrypted,
            ibtp.timeout,
            payload_hash(p, hash_fn),
        ],
    )
    return (emitter, [hash_fn(INTERCHAIN_SIG)], data)


def receipt_log(ibtp: IBTP, hash_fn: chain.Hash) -> Log:
    (result,) = ibtp.payload.args
    data = abi_encode(
        RECEIPT_TYPES,
        [
            ibtp.src,
            ibtp.dst,
            ibtp.index,
            int(ibtp.type),
            result,
            payload_hash(ibtp.payload, hash_fn),
        ],
    )
    return (BROKER, [hash_fn(RECEIPT_SIG)], data)


def callback_log(ibtp: IBTP, hash_fn: chain.Hash) -> Log:
    data = abi_encode(CALLBACK_TYPES, [ibtp.src, ibtp.dst, ibtp.index, 3])
    return (BROKER, [hash_fn(CALLBACK_SIG)], data)


def token_log(amount: int, hash_fn: chain.Hash) -> Log:
    topics = [
        hash_fn(b"Transfer(address,address,uint256)"),
        bytes(12) + USER,
        bytes(12) + SERVICE,
    ]
    return (TOKEN, topics, amount.to_bytes(32, "big"))


# --------------------------------------------------------------------------- blocks


@dataclass
class Block:
    mode: str
    number: int
    header: bytes
    block_hash: bytes
    receipts: list[bytes]
    sealers: list[Sealer]

    @property
    def hash_fn(self) -> chain.Hash:
        return chain.hash_for(self.mode)

    def levels(self, index: int) -> list[list[list[bytes]]]:
        hashes = [self.hash_fn(r) for r in self.receipts]
        return [
            [[bytes.fromhex(x) for x in level["left"]], [bytes.fromhex(x) for x in level["right"]]]
            for level in chain.merkle_proof(hashes, index, self.hash_fn)
        ]

    def seals(self, signers: list[int] | None = None) -> list[list[Any]]:
        picks = [0, 1, 2] if signers is None else signers
        return [[k, self.sealers[k].sign(self.block_hash)] for k in picks]


@dataclass(frozen=True)
class Spec:
    """One transaction's receipt: status and logs."""

    logs: tuple[Log, ...] = ()
    status: int = 0
    raw: bytes | None = None  # a receipt's bytes as a buggy chain stored them


def build_block(
    mode: str,
    number: int,
    specs: list[Spec],
    sealers: list[Sealer],
    *,
    remain_gas: bool = False,
    header_sealers: list[Sealer] | None = None,
) -> Block:
    hash_fn = chain.hash_for(mode)
    state_root = hash_fn(b"state %d" % number)
    receipts = []
    gas = 0
    all_logs: list[Log] = []
    for spec in specs:
        gas += 21_000 + 9_000 * len(spec.logs)
        if spec.raw is not None:
            receipts.append(spec.raw)
            continue
        receipts.append(
            chain.encode_receipt(
                state_root=state_root,
                gas_used=gas,
                contract_address=bytes(20),
                log_bloom=chain.log_bloom(list(spec.logs), hash_fn),
                status=spec.status,
                output=b"",
                logs=list(spec.logs),
                remain_gas=300_000_000 - gas if remain_gas else None,
            )
        )
        all_logs.extend(spec.logs)
    tx_hashes = [hash_fn(b"tx %d/%d" % (number, i)) for i in range(len(specs))]
    listed = sealers if header_sealers is None else header_sealers
    header = chain.encode_header(
        parent_hash=hash_fn(b"parent %d" % number),
        state_root=state_root,
        transactions_root=chain.merkle_root(tx_hashes, hash_fn),
        receipts_root=chain.merkle_root([hash_fn(r) for r in receipts], hash_fn),
        db_hash=hash_fn(b"db %d" % number),
        log_bloom=chain.log_bloom(all_logs, hash_fn),
        number=number,
        gas_limit=300_000_000,
        gas_used=gas,
        timestamp=1_700_000_000_000 + 1_000 * number,
        extra_data=[],
        sealer=number % len(listed),
        sealer_list=[s.node_id for s in listed],
    )
    return Block(mode, number, header, hash_fn(header), receipts, sealers)


def proof_array(
    block: Block,
    index: int,
    log_index: int,
    *,
    seals: list[list[Any]] | None = None,
    group: int = GROUP,
) -> list[Any]:
    """The version-1 proof array of ``adapters.fisco.proof`` (docs/fisco.md §2)."""
    return [
        1,
        group,
        block.block_hash,
        block.header,
        block.seals() if seals is None else seals,
        block.receipts[index],
        index,
        block.levels(index),
        log_index,
    ]


def pack(proof: list[Any]) -> bytes:
    return bytes(msgpack.packb(proof, use_bin_type=True))


# --------------------------------------------------------------------------- IBTPs


def svc(chain_id: str, service: bytes) -> str:
    return f"{HUB}:{chain_id}:0x{service.hex()}"


LOCAL = svc(CHAIN, SERVICE)
GM_LOCAL = svc(GM_CHAIN, SERVICE)
REMOTE = f"{HUB}:ethdev:0x{address('evm-asset-service').hex()}"


def mint_args(amount: int) -> tuple[bytes, ...]:
    return (abi_encode(["address", "uint256"], [USER, amount]),)


def interchain(index: int, amount: int, src: str = LOCAL, timeout: int = 0) -> IBTP:
    return IBTP(
        src, REMOTE, index, IBTPType.INTERCHAIN, timeout, Payload("mint", mint_args(amount))
    )


IB_0 = interchain(1, 100)
IB_2 = interchain(2, 7, timeout=5_000)
IB_ENC = IBTP(
    LOCAL,
    REMOTE,
    3,
    IBTPType.INTERCHAIN,
    123_456,
    Payload("transfer", (b"\x8e" * 48, b"ciphertext nonce"), True),
)
IB_SUCCESS = IBTP(REMOTE, LOCAL, 7, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"minted 7",)))
IB_FAILURE = IBTP(REMOTE, LOCAL, 8, IBTPType.RECEIPT_FAILURE, 0, Payload("", (b"cap exceeded",)))
IB_ROLLBACK = IBTP(LOCAL, REMOTE, 4, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
IB_FAILED_TX = interchain(5, 1)
IB_FAKE = interchain(9, 10**24)
IB_BIG = interchain(10, 3)
IB_CHANGED = interchain(11, 12)
IB_OLD_SET = interchain(12, 13)
IB_GM = interchain(1, 100, src=GM_LOCAL)
IB_GM_SUCCESS = IBTP(REMOTE, GM_LOCAL, 7, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"ok",)))
IB_GM_ROLLBACK = IBTP(GM_LOCAL, REMOTE, 4, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
IB_GM_KECCAK = interchain(2, 5, src=GM_LOCAL)
IB_GM_OLD = interchain(3, 6, src=GM_LOCAL)


def filler(i: int, hash_fn: chain.Hash) -> Spec:
    return Spec((token_log(i, hash_fn),)) if i % 2 else Spec()


def build_blocks() -> dict[str, Block]:
    k = chain.keccak256
    a_specs = [
        Spec((interchain_log(IB_0, k),)),  # 0
        Spec((token_log(5, k),)),  # 1  a token log only
        Spec((token_log(42, k), interchain_log(IB_2, k))),  # 2  the broker log is log 1
        Spec((receipt_log(IB_SUCCESS, k),)),  # 3
        Spec((receipt_log(IB_FAILURE, k),)),  # 4
        Spec((callback_log(IB_ROLLBACK, k),)),  # 5
        Spec(status=STATUS_REVERT),  # 6  reverted: no logs
        Spec((interchain_log(IB_FAKE, k, emitter=FAKE_BROKER),)),  # 7  a look-alike
        Spec((interchain_log(IB_ENC, k),)),  # 8
    ] + [filler(i, k) for i in range(9, 20)]
    b_specs = [filler(i, k) for i in range(5)]
    b_specs[2] = Spec((token_log(42, k), interchain_log(IB_2, k)))  # the same event again
    big_specs = [filler(i, k) for i in range(300)]
    big_specs[290] = Spec((interchain_log(IB_BIG, k),))
    # A buggy chain, faithfully sealed: a receipt with cut RLP, a broker log whose data
    # is not ABI, one whose data is ABI with a word too many.
    good_data = interchain_log(IB_0, k)[2]
    cut = chain.encode_receipt(
        state_root=k(b"state 1003"),
        gas_used=30_000,
        contract_address=bytes(20),
        log_bloom=bytes(256),
        status=0,
        output=b"",
        logs=[interchain_log(IB_0, k)],
    )[:-10]
    e_specs = [
        Spec(raw=cut),
        Spec(((BROKER, [k(INTERCHAIN_SIG)], b"\x00" * 31 + b"\x20" + b"\xff" * 7),)),
        Spec(((BROKER, [k(INTERCHAIN_SIG)], good_data + bytes(32)),)),
    ]
    s = chain.sm3
    gm_specs = [
        Spec((interchain_log(IB_GM, s),)),
        Spec((receipt_log(IB_GM_SUCCESS, s),)),
        Spec((callback_log(IB_GM_ROLLBACK, s),)),
        Spec((interchain_log(IB_GM_KECCAK, k),)),  # a broker compiled with keccak topics
        Spec((token_log(3, s),)),
    ]
    return {
        "A": build_block("secp256k1", 1000, a_specs, OLD_SET),
        "B": build_block("secp256k1", 1001, b_specs, OLD_SET, remain_gas=True),
        "big": build_block("secp256k1", 1002, big_specs, OLD_SET),
        "E": build_block("secp256k1", 1003, e_specs, OLD_SET),
        "changed": build_block(
            "secp256k1", CHANGE_HEIGHT, [Spec((interchain_log(IB_CHANGED, k),))], NEW_SET
        ),
        "old_set": build_block(
            "secp256k1", CHANGE_HEIGHT, [Spec((interchain_log(IB_OLD_SET, k),))], OLD_SET
        ),
        "gm": build_block("sm", 600, gm_specs, GM_SET),
        "gm_old": build_block("sm", 400, [Spec((interchain_log(IB_GM_OLD, s),))], GM_SET),
    }


# --------------------------------------------------------------------------- vectors


def vector(
    name: str,
    description: str,
    ibtp: IBTP,
    proof: list[Any] | bytes,
    expected: tuple[int, str] | None = None,
    *,
    gm: bool = False,
) -> dict[str, Any]:
    full = replace(ibtp, proof=proof if isinstance(proof, bytes) else pack(proof))
    return {
        "name": name,
        "description": description,
        "hub_id": HUB,
        "chain_id": GM_CHAIN if gm else CHAIN,
        "family": "fisco",
        "broker": "0x" + BROKER.hex(),
        "trust_root": GM_ROOT if gm else SECP_ROOT,
        "ibtp": encode_ibtp(full).hex(),
        "ibtp_hash": compute_ibtp_hash(full).hex(),
        "expected": {"ok": True}
        if expected is None
        else {"ok": False, "code": expected[0], "name": expected[1]},
    }


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _high_s(seal: bytes) -> bytes:
    s = int.from_bytes(seal[32:64], "big")
    return seal[:32] + (SECP_N - s).to_bytes(32, "big") + bytes([seal[64] ^ 1])


def _with(proof: list[Any], **fields: Any) -> list[Any]:
    at = {
        "group": 1,
        "block_hash": 2,
        "header": 3,
        "seals": 4,
        "receipt": 5,
        "index": 6,
        "levels": 7,
        "log_index": 8,
        "version": 0,
    }
    out = list(proof)
    for key, value in fields.items():
        out[at[key]] = value
    return out


def build_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    b = build_blocks()
    a = b["A"]
    gm = b["gm"]
    p2 = proof_array(a, 2, 1)
    good = [
        vector(
            "interchain_tx0",
            "InterchainEvent at receipt 0, 3 of 4 seals",
            IB_0,
            proof_array(a, 0, 0),
        ),
        vector("interchain_second_log", "the broker log follows a token log", IB_2, p2),
        vector(
            "interchain_encrypted", "encrypted payload, timeout set", IB_ENC, proof_array(a, 8, 0)
        ),
        vector("receipt_success", "ReceiptEvent typ 1", IB_SUCCESS, proof_array(a, 3, 0)),
        vector("receipt_failure", "ReceiptEvent typ 2", IB_FAILURE, proof_array(a, 4, 0)),
        vector("receipt_rollback", "CallbackEvent typ 3", IB_ROLLBACK, proof_array(a, 5, 0)),
        vector(
            "all_four_seals_any_order",
            "4 of 4 seals in reverse order",
            IB_0,
            proof_array(a, 0, 0, seals=a.seals([3, 2, 1, 0])),
        ),
        vector(
            "receipt_8_fields",
            "a chain at 2.8.0 or later: receipts carry remainGas",
            IB_2,
            proof_array(b["B"], 2, 1),
        ),
        vector(
            "big_block_three_levels",
            "receipt 290 of 300 (two group levels and the root level)",
            IB_BIG,
            proof_array(b["big"], 290, 0),
        ),
        vector(
            "after_sealer_change",
            f"block {CHANGE_HEIGHT}, the first of the new sealer list, sealed by it",
            IB_CHANGED,
            proof_array(b["changed"], 0, 0),
        ),
        vector(
            "gm_interchain",
            "国密 chain: SM3 hashes, SM2 seals",
            IB_GM,
            proof_array(gm, 0, 0),
            gm=True,
        ),
        vector(
            "gm_receipt_success",
            "国密 chain: ReceiptEvent",
            IB_GM_SUCCESS,
            proof_array(gm, 1, 0),
            gm=True,
        ),
        vector(
            "gm_receipt_rollback",
            "国密 chain: CallbackEvent typ 3",
            IB_GM_ROLLBACK,
            proof_array(gm, 2, 0),
            gm=True,
        ),
    ]

    # Forged block: a receipt of a forged event under a header whose receiptsRoot is
    # changed, presented with the genuine block's hash and seals.
    k = chain.keccak256
    forged = build_block("secp256k1", 1000, [Spec((interchain_log(IB_FAKE, k),))], OLD_SET)
    twelve = chain.encode_header(
        parent_hash=k(b"p"),
        state_root=k(b"s"),
        transactions_root=k(b"t"),
        receipts_root=k(b"r"),
        db_hash=k(b"d"),
        log_bloom=bytes(256),
        number=1004,
        gas_limit=1,
        gas_used=0,
        timestamp=0,
        extra_data=[],
        sealer=0,
        sealer_list=[s.node_id for s in OLD_SET],
    )
    twelve = _drop_last_item(twelve)
    twelve_hash = k(twelve)
    twelve_seals = [[i, OLD_SET[i].sign(twelve_hash)] for i in range(3)]
    seals = a.seals()
    levels2 = a.levels(2)
    level0 = levels2[0]
    canonical = pack(p2)
    non_canonical = canonical.replace(
        msgpack.packb(2) + msgpack.packb(levels2, use_bin_type=True),
        b"\xce\x00\x00\x00\x02" + msgpack.packb(levels2, use_bin_type=True),
    )
    assert non_canonical != canonical and msgpack.unpackb(non_canonical) == msgpack.unpackb(
        canonical
    )
    gm_sm_seals = gm.seals()

    def bad(
        name: str,
        description: str,
        ibtp: IBTP,
        proof: list[Any] | bytes,
        code: int,
        code_name: str,
        gm_chain: bool = False,
    ) -> dict[str, Any]:
        return vector(name, description, ibtp, proof, (code, code_name), gm=gm_chain)

    bad_vectors = [
        bad(
            "proof_truncated",
            "the proof's last 5 bytes cut",
            IB_2,
            canonical[:-5],
            5419,
            "PROOF_MALFORMED",
        ),
        bad(
            "proof_non_canonical",
            "receipt_index written as a msgpack uint32",
            IB_2,
            non_canonical,
            5419,
            "PROOF_MALFORMED",
        ),
        bad(
            "proof_version_2",
            "a proof that says it is version 2",
            IB_2,
            _with(p2, version=2),
            5420,
            "PROOF_VERSION",
        ),
        bad(
            "ibtp_from_other_chain",
            "an INTERCHAIN IBTP whose from names another chain, with a valid proof of fisco1",
            replace(IB_2, src=svc("fisco2", SERVICE)),
            p2,
            5422,
            "CHAIN_MISMATCH",
        ),
        bad(
            "rollback_on_neither_chain",
            "a RECEIPT_ROLLBACK whose from and to are both on other chains",
            replace(IB_ROLLBACK, src=svc("fisco2", SERVICE)),
            proof_array(a, 5, 0),
            5422,
            "CHAIN_MISMATCH",
        ),
        bad(
            "wrong_group",
            "a valid proof said to be of group 2",
            IB_2,
            _with(p2, group=2),
            5423,
            "WRONG_GROUP",
        ),
        bad(
            "header_not_sealed_hash",
            "a header with a forged receiptsRoot under the genuine block hash and seals",
            IB_FAKE,
            _with(proof_array(forged, 0, 0, seals=seals), block_hash=a.block_hash),
            5402,
            "HEADER_HASH_MISMATCH",
        ),
        bad(
            "header_rehashed",
            "the forged header with its own hash and the genuine block's seals",
            IB_FAKE,
            proof_array(forged, 0, 0, seals=seals),
            5416,
            "SEAL_UNREGISTERED_SIGNER",
        ),
        bad(
            "header_malformed",
            "a sealed 'header' of 12 RLP items",
            IB_2,
            _with(p2, block_hash=twelve_hash, header=twelve, seals=twelve_seals),
            5401,
            "HEADER_MALFORMED",
        ),
        bad(
            "sealed_by_old_set_after_change",
            f"block {CHANGE_HEIGHT} listing and sealed by the sealers of before the change",
            IB_OLD_SET,
            proof_array(b["old_set"], 0, 0),
            5425,
            "SEALER_LIST_MISMATCH",
        ),
        bad(
            "seal_high_s",
            "a sealer's seal malleated to its high-s twin",
            IB_2,
            _with(p2, seals=[*seals[:2], [2, _high_s(seals[2][1])]]),
            5411,
            "SEAL_MALFORMED",
        ),
        bad(
            "sm2_seal_in_secp_mode",
            "a 128-byte SM2 seal on a chain registered in secp256k1 mode",
            IB_2,
            _with(p2, seals=[*seals[:2], [2, GM_SET[2].sign(a.block_hash)]]),
            5412,
            "SEAL_WRONG_MODE",
        ),
        bad(
            "seal_index_out_of_range",
            "a seal naming sealer index 4 of a 4-sealer list",
            IB_2,
            _with(p2, seals=[*seals[:2], [4, seals[2][1]]]),
            5413,
            "SEAL_INDEX_OUT_OF_RANGE",
        ),
        bad(
            "seal_signer_mismatch",
            "sealer 2's seal presented under index 3",
            IB_2,
            _with(p2, seals=[*seals[:2], [3, seals[2][1]]]),
            5415,
            "SEAL_SIGNER_MISMATCH",
        ),
        bad(
            "seal_unregistered",
            "two sealers' seals and one by a key that is not registered",
            IB_2,
            _with(p2, seals=[*seals[:2], [3, OUTSIDER.sign(a.block_hash)]]),
            5416,
            "SEAL_UNREGISTERED_SIGNER",
        ),
        bad(
            "seal_counted_twice",
            "three seals, one sealer's twice: 2 distinct of the quorum 3",
            IB_2,
            _with(p2, seals=[seals[0], seals[1], seals[0]]),
            5417,
            "SEAL_DUPLICATE_SEALER",
        ),
        bad(
            "one_short_of_quorum",
            "2 seals, quorum 3 of 4",
            IB_2,
            _with(p2, seals=seals[:2]),
            5418,
            "SEAL_BELOW_QUORUM",
        ),
        bad(
            "receipt_malformed",
            "a sealed block whose tree commits to a receipt with cut RLP",
            IB_0,
            proof_array(b["E"], 0, 0),
            5403,
            "RECEIPT_MALFORMED",
        ),
        bad(
            "merkle_sibling_cut",
            "a level-0 sibling missing its last byte",
            IB_2,
            _with(p2, levels=[[level0[0], [level0[1][0][:-1], *level0[1][1:]]], *levels2[1:]]),
            5404,
            "MERKLE_PROOF_MALFORMED",
        ),
        bad(
            "merkle_root_level_missing",
            "the last (root) level dropped",
            IB_2,
            _with(p2, levels=levels2[:-1]),
            5405,
            "MERKLE_ROOT_LEVEL_MISSING",
        ),
        bad(
            "merkle_extra_level",
            "an empty level appended",
            IB_2,
            _with(p2, levels=[*levels2, [[], []]]),
            5406,
            "MERKLE_EXTRA_LEVEL",
        ),
        bad(
            "merkle_left_right_swapped",
            "level 0's left and right sibling lists swapped",
            IB_2,
            _with(p2, levels=[[level0[1], level0[0]], *levels2[1:]]),
            5407,
            "MERKLE_SIBLING_ORDER",
        ),
        bad(
            "merkle_index_mismatch",
            "receipt_index 3 claimed with the levels of receipt 2",
            IB_2,
            _with(p2, index=3),
            5408,
            "MERKLE_INDEX_MISMATCH",
        ),
        bad(
            "merkle_receipt_at_other_index",
            "receipt 3 presented at index 2 (it is a sibling there)",
            IB_SUCCESS,
            _with(proof_array(a, 2, 0), receipt=a.receipts[3]),
            5409,
            "MERKLE_ITEM_AT_OTHER_INDEX",
        ),
        bad(
            "merkle_sibling_changed",
            "one byte of the level-1 sibling changed",
            IB_2,
            _with(
                p2, levels=[level0, [levels2[1][0], [_flip_last(levels2[1][1][0])]], *levels2[2:]]
            ),
            5410,
            "MERKLE_ROOT_MISMATCH",
        ),
        bad(
            "receipt_of_another_block",
            "the same broker event's receipt from block 1001 with block 1000's header and levels",
            IB_2,
            _with(p2, receipt=b["B"].receipts[2]),
            5410,
            "MERKLE_ROOT_MISMATCH",
        ),
        bad(
            "receipt_failed_status",
            "a reverted transaction (status 0x16)",
            IB_FAILED_TX,
            proof_array(a, 6, 0),
            5426,
            "RECEIPT_FAILED",
        ),
        bad(
            "log_index_out_of_range",
            "log 2 of a receipt with two logs",
            IB_2,
            _with(p2, log_index=2),
            5427,
            "LOG_INDEX_OUT_OF_RANGE",
        ),
        bad(
            "wrong_broker",
            "an InterchainEvent look-alike emitted by another contract",
            IB_FAKE,
            proof_array(a, 7, 0),
            5428,
            "LOG_WRONG_EMITTER",
        ),
        bad(
            "token_log_not_broker",
            "log 0 of receipt 2 is the token's Transfer",
            IB_2,
            _with(p2, log_index=0),
            5428,
            "LOG_WRONG_EMITTER",
        ),
        bad(
            "wrong_event_topic",
            "an INTERCHAIN IBTP pointed at the broker's ReceiptEvent",
            IB_2,
            proof_array(a, 3, 0),
            5429,
            "LOG_WRONG_EVENT",
        ),
        bad(
            "log_data_not_abi",
            "the broker's InterchainEvent data is not ABI",
            IB_0,
            proof_array(b["E"], 1, 0),
            5430,
            "LOG_MALFORMED",
        ),
        bad(
            "log_data_not_canonical",
            "the event's ABI data with a zero word appended (decodes, but Solidity never emits it)",
            IB_0,
            proof_array(b["E"], 2, 0),
            5430,
            "LOG_MALFORMED",
        ),
        bad(
            "field_mismatch_index",
            "the IBTP's index differs from the log's",
            replace(IB_2, index=3),
            p2,
            5431,
            "LOG_FIELD_MISMATCH",
        ),
        bad(
            "field_mismatch_args",
            "the IBTP mints more than the broker logged",
            replace(IB_2, payload=Payload("mint", mint_args(7_000_000))),
            p2,
            5431,
            "LOG_FIELD_MISMATCH",
        ),
        bad(
            "field_mismatch_timeout",
            "the IBTP's timeout differs from the log's",
            replace(IB_2, timeout=9_999),
            p2,
            5431,
            "LOG_FIELD_MISMATCH",
        ),
        bad(
            "extra_not_bound",
            "an INTERCHAIN IBTP with an extra the InterchainEvent does not carry",
            replace(IB_2, extra=b"\x01"),
            p2,
            5431,
            "LOG_FIELD_MISMATCH",
        ),
        bad(
            "receipt_typ_mismatch",
            "RECEIPT_FAILURE claimed for a ReceiptEvent with typ 1",
            replace(IB_SUCCESS, type=IBTPType.RECEIPT_FAILURE),
            proof_array(a, 3, 0),
            5431,
            "LOG_FIELD_MISMATCH",
        ),
        bad(
            "gm_secp_seal_in_sm_mode",
            "国密 chain: a 65-byte secp256k1 seal among the SM2 ones",
            IB_GM,
            proof_array(gm, 0, 0, seals=[*gm_sm_seals[:2], [2, OLD_SET[2].sign(gm.block_hash)]]),
            5412,
            "SEAL_WRONG_MODE",
            True,
        ),
        bad(
            "gm_seal_over_other_hash",
            "国密 chain: a sealer's SM2 seal over another block's hash",
            IB_GM,
            proof_array(
                gm, 0, 0, seals=[*gm_sm_seals[:2], [2, GM_SET[2].sign(b["gm_old"].block_hash)]]
            ),
            5414,
            "SEAL_SIGNATURE_INVALID",
            True,
        ),
        bad(
            "gm_seal_unregistered",
            "国密 chain: an outsider's SM2 seal",
            IB_GM,
            proof_array(gm, 0, 0, seals=[*gm_sm_seals[:2], [3, GM_OUTSIDER.sign(gm.block_hash)]]),
            5416,
            "SEAL_UNREGISTERED_SIGNER",
            True,
        ),
        bad(
            "gm_one_short_of_quorum",
            "国密 chain: 2 SM2 seals, quorum 3",
            IB_GM,
            proof_array(gm, 0, 0, seals=gm_sm_seals[:2]),
            5418,
            "SEAL_BELOW_QUORUM",
            True,
        ),
        bad(
            "gm_height_before_trust_root",
            f"国密 chain: block 400, below the trust root's first height {GM_FIRST_HEIGHT}",
            IB_GM_OLD,
            proof_array(b["gm_old"], 0, 0),
            5424,
            "HEIGHT_BEFORE_TRUST_ROOT",
            True,
        ),
        bad(
            "gm_keccak_topic",
            "国密 chain: an InterchainEvent whose topic is keccak (not SM3) of its signature",
            IB_GM_KECCAK,
            proof_array(gm, 3, 0),
            5429,
            "LOG_WRONG_EVENT",
            True,
        ),
        bad(
            "gm_field_mismatch",
            "国密 chain: a ReceiptEvent's result differs from the IBTP's",
            replace(IB_GM_SUCCESS, payload=Payload("", (b"not ok",))),
            proof_array(gm, 1, 0),
            5431,
            "LOG_FIELD_MISMATCH",
            True,
        ),
    ]
    return good, bad_vectors


def _drop_last_item(header: bytes) -> bytes:
    import rlp

    return bytes(rlp.encode(rlp.decode(header)[:12]))


def write_proof_corpus(out: Path) -> int:
    good, bad = build_vectors()
    return write_corpus_files(out, good, bad)
