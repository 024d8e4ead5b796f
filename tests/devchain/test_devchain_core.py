"""Pure core of the EVM dev chain: headers, receipts, tries, transactions, state, seals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rlp
from coincurve import PrivateKey
from devchain_helpers import sign_tx
from eth_account import Account as EthAccount
from eth_hash.auto import keccak
from trie import HexaryTrie

from appchains.evm.devchain.bloom import bloom_may_contain, compute_bloom
from appchains.evm.devchain.crypto import SECP256K1_N, address_of_key, recover_signer, sign_digest
from appchains.evm.devchain.header import (
    EMPTY_OMMERS_HASH,
    EMPTY_TRIE_ROOT,
    Header,
    HeaderError,
    compute_header_hash,
    decode_header,
    encode_header,
)
from appchains.evm.devchain.receipts import (
    Log,
    compute_trie_root,
    decode_receipt,
    encode_receipt,
    make_receipt,
)
from appchains.evm.devchain.seals import (
    SealError,
    compute_seal_digest,
    compute_seals,
    recover_sealers,
    verify_seals,
)
from appchains.evm.devchain.state import (
    Frame,
    StateDiff,
    WorldState,
    apply_diff,
    compute_state_root,
)
from appchains.evm.devchain.transactions import (
    TxError,
    compute_intrinsic_gas,
    decode_signed_transaction,
)

DEVCHAIN = Path(__file__).resolve().parents[2] / "appchains" / "evm" / "devchain"


# ---------------------------------------------------------------------- headers
def _header(**kw: object) -> Header:
    fields: dict[str, object] = {
        "parent_hash": b"\0" * 32,
        "ommers_hash": EMPTY_OMMERS_HASH,
        "coinbase": b"\0" * 20,
        "state_root": b"\0" * 32,
        "transactions_root": EMPTY_TRIE_ROOT,
        "receipts_root": EMPTY_TRIE_ROOT,
        "logs_bloom": b"\0" * 256,
        "difficulty": 0,
        "number": 0,
        "gas_limit": 30_000_000,
        "gas_used": 0,
        "timestamp": 0,
        "extra_data": b"",
        "mix_hash": b"\0" * 32,
        "nonce": b"\0" * 8,
        "base_fee_per_gas": 7,
    }
    fields.update(kw)
    return Header(**fields)  # type: ignore[arg-type]


def test_london_header_hash_matches_sepolia_genesis() -> None:
    # Sepolia's genesis is a London header (baseFeePerGas present): an external vector.
    header = _header(
        state_root=bytes.fromhex(
            "5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494"
        ),
        difficulty=0x20000,
        gas_limit=0x1C9C380,
        timestamp=0x6159AF19,
        extra_data=b"Sepolia, Athens, Attica, Greece!",
        base_fee_per_gas=1_000_000_000,
    )
    assert (
        compute_header_hash(header).hex()
        == "25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9"
    )


def test_field_order_matches_mainnet_genesis() -> None:
    # The first 15 fields are the pre-London header: mainnet's genesis hash.
    header = _header(
        state_root=bytes.fromhex(
            "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
        ),
        difficulty=17179869184,
        gas_limit=5000,
        extra_data=bytes.fromhex(
            "11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa"
        ),
        nonce=bytes.fromhex("0000000000000042"),
    )
    fields = rlp.decode(encode_header(header))
    assert keccak(rlp.encode(fields[:15])).hex() == (
        "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
    )


def test_header_roundtrip_and_checks() -> None:
    header = _header(number=12, gas_used=21_000, timestamp=99, extra_data=b"x")
    assert decode_header(encode_header(header)) == header
    with pytest.raises(HeaderError):
        encode_header(_header(extra_data=b"x" * 33))
    with pytest.raises(HeaderError):
        encode_header(_header(parent_hash=b"\0" * 31))
    with pytest.raises(HeaderError):
        decode_header(b"\xc0")
    assert (
        EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    )


# ---------------------------------------------------------------------- receipts and tries
def test_receipt_encodings_typed_and_legacy() -> None:
    log = Log(b"\x11" * 20, (b"\x22" * 32, b"\x33" * 32), b"data")
    typed = make_receipt(2, 1, 50_000, [log])
    legacy = make_receipt(0, 0, 21_000, [])
    enc_typed = encode_receipt(typed)
    enc_legacy = encode_receipt(legacy)
    assert enc_typed[0] == 2 and enc_legacy[0] >= 0xC0
    # go-ethereum's encoding: status 1 is 0x01, status 0 the empty string.
    assert rlp.decode(enc_typed[1:])[0] == b"\x01"
    assert rlp.decode(enc_legacy)[0] == b""
    assert decode_receipt(enc_typed) == typed
    assert decode_receipt(enc_legacy) == legacy
    assert bloom_may_contain(typed.logs_bloom, log.address)
    assert bloom_may_contain(typed.logs_bloom, log.topics[1])
    assert typed.logs_bloom == compute_bloom([log.address, *log.topics])


def test_trie_root_is_hexary_trie_keyed_by_rlp_index() -> None:
    items = [bytes([i]) * (i + 1) for i in range(20)]
    reference = HexaryTrie({})
    for i, item in enumerate(items):
        reference[rlp.encode(i)] = item
    assert compute_trie_root(items) == reference.root_hash
    assert compute_trie_root([]) == EMPTY_TRIE_ROOT


# ---------------------------------------------------------------------- transactions
KEY = PrivateKey(b"\x42" * 32)
TO = "0x" + "ab" * 20


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_decode_real_signed_transactions(tx_type: int) -> None:
    raw = sign_tx(KEY, 1337, 5, TO, b"\x00\x01\x02", value=9, tx_type=tx_type)
    tx = decode_signed_transaction(raw, 1337)
    assert tx.tx_type == tx_type
    assert tx.sender == address_of_key(KEY)
    assert tx.hash == keccak(raw)
    assert tx.nonce == 5 and tx.value == 9 and tx.to == bytes.fromhex(TO[2:])
    assert tx.data == b"\x00\x01\x02"
    assert tx.chain_id == 1337
    assert compute_intrinsic_gas(tx) == 21_000 + 4 + 16 * 2
    signed_hash = EthAccount.sign_transaction(
        {"chainId": 1337, "nonce": 5, "to": tx.to, "value": 9, "gas": tx.gas, "gasPrice": 1},
        KEY.secret,
    ).hash
    assert len(signed_hash) == 32


def test_wrong_chain_id_and_unprotected_refused() -> None:
    raw = sign_tx(KEY, 1, 0, TO)
    with pytest.raises(TxError, match="invalid chain id"):
        decode_signed_transaction(raw, 1337)
    unprotected = EthAccount.sign_transaction(
        {"nonce": 0, "to": bytes.fromhex(TO[2:]), "value": 0, "gas": 21_000, "gasPrice": 1},
        KEY.secret,
    ).raw_transaction
    with pytest.raises(TxError, match="replay-protected"):
        decode_signed_transaction(bytes(unprotected), 1337)


def test_malformed_transactions_refused() -> None:
    raw = sign_tx(KEY, 1337, 0, TO)
    for bad in (b"", b"\x05" + raw[1:], raw + b"\x00", raw[:-3], b"\x02\xc0", b"\xc3\x01\x02\x03"):
        with pytest.raises(TxError):
            decode_signed_transaction(bad, 1337)
    # high-s form of the same signature (valid under ecrecover, refused by EIP-2)
    fields = rlp.decode(raw[1:])
    fields[-1] = (SECP256K1_N - int.from_bytes(fields[-1], "big")).to_bytes(32, "big")
    fields[-3] = b"" if fields[-3] == b"\x01" else b"\x01"
    with pytest.raises(TxError, match="v, r, s"):
        decode_signed_transaction(b"\x02" + rlp.encode(fields), 1337)


def test_contract_creation_refused() -> None:
    tx = {"chainId": 1337, "nonce": 0, "value": 0, "gas": 100_000, "gasPrice": 1, "data": b"\x60"}
    raw = bytes(EthAccount.sign_transaction(tx, KEY.secret).raw_transaction)
    with pytest.raises(TxError, match="contract creation"):
        decode_signed_transaction(raw, 1337)


# ---------------------------------------------------------------------- state
def test_frames_commit_and_discard() -> None:
    world = WorldState()
    top = Frame(world)
    top.set_balance(b"a" * 20, 100)
    child = top.child()
    child.transfer(b"a" * 20, b"b" * 20, 30)
    child.sstore(b"c" * 20, b"k", b"v")
    dropped = top.child()
    dropped.set_balance(b"a" * 20, 1)
    assert top.balance(b"a" * 20) == 100
    child.commit()
    assert top.balance(b"a" * 20) == 70 and top.balance(b"b" * 20) == 30
    diff = top.diff()
    assert set(diff.accounts) == {b"a" * 20, b"b" * 20}
    assert diff.storage == {(b"c" * 20, b"k"): b"v"}
    root = compute_state_root(world.root, diff)
    apply_diff(world, diff)
    assert world.root == root and world.storage[b"c" * 20] == {b"k": b"v"}
    # a no-op write is not a change; an empty diff keeps the root
    again = Frame(world)
    again.sstore(b"c" * 20, b"k", b"v")
    again.set_balance(b"a" * 20, 70)
    assert not again.diff()
    assert compute_state_root(world.root, StateDiff({}, {})) == world.root


# ---------------------------------------------------------------------- seals
def test_seal_digest_and_threshold() -> None:
    keys = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
    validators = [address_of_key(k) for k in keys]
    block_hash = keccak(b"block")
    digest = compute_seal_digest(1337, block_hash)
    assert digest == keccak(b"relayhub.evm-seal.v1" + (1337).to_bytes(32, "big") + block_hash)
    seals = compute_seals(keys[:3], 1337, block_hash)
    assert all(len(s) == 65 and s[64] in (27, 28) for s in seals)
    assert all(int.from_bytes(s[32:64], "big") <= SECP256K1_N // 2 for s in seals)
    assert recover_sealers(1337, block_hash, seals) == validators[:3]
    assert verify_seals(1337, block_hash, seals, validators, 3) == frozenset(validators[:3])
    with pytest.raises(SealError):
        verify_seals(
            1337, block_hash, seals[:2] + seals[:1], validators, 3
        )  # duplicates count once
    with pytest.raises(SealError):
        verify_seals(1338, block_hash, seals, validators, 1)  # another chain ID
    outsider = compute_seals([PrivateKey(b"\x09" * 32)], 1337, block_hash)
    with pytest.raises(SealError):
        verify_seals(1337, block_hash, seals[:2] + outsider, validators, 3)


def test_recover_signer_refuses_malformed() -> None:
    key = PrivateKey(b"\x05" * 32)
    digest = keccak(b"d")
    sig = sign_digest(key, digest)
    assert recover_signer(digest, sig) == address_of_key(key)
    assert recover_signer(digest, sig[:64]) is None
    assert recover_signer(digest, sig[:64] + b"\x00") is None
    high_s = (
        sig[:32] + (SECP256K1_N - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big") + sig[64:]
    )
    assert recover_signer(digest, high_s) is None
    assert recover_signer(digest, b"\x00" * 65) is None


# ---------------------------------------------------------------------- boundaries
def test_core_modules_load_no_io_and_devchain_imports_no_relay() -> None:
    core = [
        "abicodec", "bloom", "broker", "chain", "config", "crypto", "genesis", "header",
        "native", "receipts", "rlpcodec", "rpc", "seals", "services", "state", "transactions",
    ]  # fmt: skip
    code = (
        "import sys\n"
        + "".join(f"import appchains.evm.devchain.{m}\n" for m in core)
        + "io = ('trio', 'httpx', 'hypercorn', 'starlette', 'sqlite3')\n"
        + "bad = [m for m in io if m in sys.modules]\n"
        + "assert not bad, bad\n"
        + "import appchains.evm.devchain.node, appchains.evm.devchain.server\n"
        + "import appchains.evm.devchain.__main__\n"
        + "bad = [m for m in sys.modules if m.split('.')[0] in ('relay', 'adapters')]\n"
        + "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=DEVCHAIN.parents[2])
    io_modules = ("trio", "httpx", "hypercorn", "sqlite3", "socket", "time", "os")
    for name in core:
        text = (DEVCHAIN / f"{name}.py").read_text()
        for module in io_modules:
            if name == "config" and module == "time":
                continue  # only the default time source, never called in the core
            assert f"import {module}\n" not in text and f"from {module} " not in text, (
                name,
                module,
            )
    for path in DEVCHAIN.rglob("*.py"):
        text = path.read_text()
        assert "from relay" not in text and "import relay" not in text, path
        assert "from adapters" not in text and "import adapters" not in text, path


# ---------------------------------------------------------------------- config and CLI
def test_toml_config_and_cli_flags(tmp_path: Path) -> None:
    from appchains.evm.devchain.__main__ import build_parser, config_from_args
    from appchains.evm.devchain.config import ConfigError, DevchainConfig
    from benchmarks.harness.devchain_config import load_devchain_config
    from relay.config import ConfigError as FileError

    path = tmp_path / "chain.toml"
    path.write_text(
        '[devchain]\nchain_id = 77\nchain_name = "evmX"\nvalidators = 3\nthreshold = 2\n'
        'block_interval = "250ms"\nempty_block_interval = "2s"\nseed = "s"\n'
        f'relay_validators = ["0x{"11" * 20}", "0x{"22" * 20}"]\nrelay_threshold = 2\n'
        f'data_dir = "{tmp_path / "data"}"\n'
    )
    config = load_devchain_config(path)
    assert (config.chain_id, config.chain_name, config.validators, config.threshold) == (
        77,
        "evmX",
        3,
        2,
    )
    assert config.block_interval == 0.25 and config.empty_block_interval == 2.0
    assert config.data_dir == tmp_path / "data" and len(config.relay_validators) == 2
    args = build_parser().parse_args(
        [
            "--chain-id",
            "78",
            "--relay-validators",
            f"0x{'33' * 20}",
            "--relay-threshold",
            "1",
            "--service-owner",
            f"0x{'44' * 20}",
        ]
    )
    from_cli = config_from_args(args, config)
    assert from_cli.chain_id == 78 and from_cli.relay_validators == (f"0x{'33' * 20}",)
    assert from_cli.service_owner == f"0x{'44' * 20}"
    assert from_cli.port == 0 and from_cli.chain_name == "evmX"
    assert config_from_args(build_parser().parse_args([])).port == 8545
    for bad in (
        {"threshold": 5},
        {"chain_name": "a b"},
        {"host": "0.0.0.0"},
        {"relay_validators": ("0x12",)},
        {"relay_threshold": 3},
        {"sealers": 1},
    ):
        with pytest.raises(ConfigError):
            DevchainConfig(**bad).check()  # type: ignore[arg-type]
    path.write_text("[devchain]\nno_such_key = 1\n")
    with pytest.raises(FileError, match=r"devchain\.no_such_key: unknown key"):
        load_devchain_config(path)
