"""The FISCO dev chain's 国密 rules in its pure core: function selectors, Solidity error
selectors and the state root are the chain's hash (SM3 in 国密 mode), as a 国密 toolchain
compiles contracts and as every ``crypto::Hash`` of a 国密 node is SM3; the secp256k1
chain keeps keccak-256 throughout."""

from __future__ import annotations

import secrets
from typing import Any

import gmssl_pyx
import pytest
import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak

from adapters.fisco.abi import compute_selector, decode_revert_reason, encode_call
from adapters.fisco.hashing import hash_fn_for
from adapters.fisco.transaction import FiscoTransaction, decode_transaction, sign_transaction
from appchains.evm.devchain.native import (
    BlockContext,
    Env,
    GasMeter,
    Msg,
    NativeContract,
    Revert,
    abi_function,
    panic,
    require,
)
from appchains.evm.devchain.state import Frame, StateDiff, WorldState, compute_state_root
from appchains.fisco.chain import (
    ChainState,
    call,
    commit_block,
    execute_block,
    make_genesis,
    make_setup,
)
from appchains.fisco.config import FiscoConfig

RELAY = "0x" + "11" * 20
STATUS_REVERT = 22


def _sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(data))


def _keccak(data: bytes) -> bytes:
    return bytes(keccak(data))


def test_sm3_and_the_selectors_it_gives() -> None:
    # GB/T 32905-2016 example 1
    assert _sm3(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    # Error(string) on a 国密 chain: FISCO's Java SDK RevertMessageParser "SM Method".
    assert compute_selector("Error(string)", hash_fn_for("sm")).hex() == "c703cb12"
    assert compute_selector("Error(string)", hash_fn_for("secp256k1")).hex() == "08c379a0"
    assert (
        compute_selector("set(string,bytes)", hash_fn_for("sm")) == _sm3(b"set(string,bytes)")[:4]
    )


def _chain(mode: str) -> ChainState:
    cfg = FiscoConfig(seed="gm", relay_validators=(RELAY,), mode=mode)
    state, _, _ = make_genesis(make_setup(cfg, "gm"))
    return state


def _send(state: ChainState, to: bytes, data: bytes, account: int = 1) -> tuple[int, bytes]:
    """One transaction in its own block, committed: ``(status, output)``."""
    setup = state.setup
    raw = sign_transaction(
        FiscoTransaction(
            nonce=int.from_bytes(secrets.token_bytes(31), "big"),
            gas_price=0,
            gas=3_000_000,
            block_limit=state.head.number + 100,
            to=to,
            value=0,
            data=data,
            chain_id=setup.config.chain_id,
            group_id=setup.config.group_id,
            extra_data=b"",
        ),
        setup.accounts[account].private_key,
        setup.mode,
    )
    executed = execute_block(state, [decode_transaction(raw, setup.mode)], state.head.timestamp)
    commit_block(state, executed)
    (receipt,) = executed.block.receipts
    return receipt.status, receipt.output


def _view(state: ChainState, to: bytes, data: bytes) -> tuple[int, bytes]:
    result = call(state, state.setup.accounts[0].address, to, data)
    return result.status, result.output


@pytest.mark.parametrize("mode", ["secp256k1", "sm"])
def test_contracts_dispatch_on_the_chain_s_selectors_only(mode: str) -> None:
    state = _chain(mode)
    other = "secp256k1" if mode == "sm" else "sm"
    mine, theirs = hash_fn_for(mode), hash_fn_for(other)  # type: ignore[arg-type]
    swap = state.setup.data_swap

    def data(hash_fn: Any, sig: str, *values: Any) -> bytes:
        return encode_call(sig, list(values), hash_fn)

    # A transaction with the other toolchain's selector: no such function, empty revert.
    assert _send(state, swap, data(theirs, "set(string,bytes)", "k", b"v")) == (
        STATUS_REVERT,
        b"",
    )
    assert _view(state, swap, data(mine, "valueOf(string)", "k")) == (
        0,
        abi_encode(["bool", "bytes"], [False, b""]),
    )
    assert _send(state, swap, data(mine, "set(string,bytes)", "k", b"v")) == (0, b"")
    assert _view(state, swap, data(mine, "valueOf(string)", "k")) == (
        0,
        abi_encode(["bool", "bytes"], [True, b"v"]),
    )
    assert _view(state, swap, data(theirs, "valueOf(string)", "k")) == (STATUS_REVERT, b"")

    # A require() reverts with the chain's Error(string) selector.
    asset = state.setup.asset_transfer
    status, out = _send(state, asset, data(mine, "setCounterpart(string,bool)", "x", True))
    assert status == STATUS_REVERT
    assert out[:4] == compute_selector("Error(string)", mine)
    assert decode_revert_reason(out, mine) == "asset: only the owner"
    assert decode_revert_reason(out, theirs) == ""

    # Contract-to-contract calls use the chain's selectors too: AssetTransfer.transfer
    # calls the broker's emitInterchain, whose event carries the chain's topic.
    peer = "hub0:elsewhere:0x" + "ab" * 20
    set_peer = data(mine, "setCounterpart(string,bool)", peer, True)
    assert _send(state, asset, set_peer, account=0) == (0, b"")
    recipient = "0x" + "cd" * 20
    transfer = data(mine, "transfer(string,address,uint256,uint64)", peer, recipient, 5, 0)
    setup = state.setup
    status, out = _send(state, asset, transfer)
    assert status == 0 and abi_decode(["uint64"], out) == (1,)
    counter = data(mine, "outCounter(string,string)", f"hub0:{setup.config.chain_name}:0x"
                   + setup.asset_transfer.hex(), peer)  # fmt: skip
    assert _view(state, setup.broker, counter) == (0, abi_encode(["uint64"], [1]))


class _Reverts(NativeContract):
    NAME = "Reverts"

    @abi_function("overflow()")
    def overflow(self, msg: Msg) -> None:
        raise panic(0x11)

    @abi_function("refuse()")
    def refuse(self, msg: Msg) -> None:
        require(False, "no")

    @abi_function("relay(bytes4)", "bool,bytes")
    def relay(self, msg: Msg, selector: bytes) -> tuple[bool, bytes]:
        return msg.env.try_call(self.address, self.address, selector)


@pytest.mark.parametrize("mode", ["secp256k1", "sm"])
def test_solidity_errors_leave_a_contract_with_the_chain_s_selector(mode: str) -> None:
    h = hash_fn_for(mode)  # type: ignore[arg-type]
    address = b"\x0e" * 20
    contracts: dict[bytes, NativeContract] = {address: _Reverts(address)}
    env = Env(
        Frame(WorldState()), contracts, BlockContext(1, 1, 1, b"\x00" * 20, 0),
        GasMeter(10**7), b"\x01" * 20, h,
    )  # fmt: skip
    panic_data = compute_selector("Panic(uint256)", h) + (0x11).to_bytes(32, "big")
    error_data = compute_selector("Error(string)", h) + abi_encode(["string"], ["no"])
    for name, expected in (("overflow()", panic_data), ("refuse()", error_data)):
        with pytest.raises(Revert) as exc:
            env.call(b"\x01" * 20, address, compute_selector(name, h), top=True)
        assert exc.value.data == expected
        # What a caller catches (Solidity's try) is the same data.
        relay = encode_call("relay(bytes4)", [compute_selector(name, h)], h)
        out = env.call(b"\x01" * 20, address, relay, top=True)
        assert abi_decode(["bool", "bytes"], out) == (False, expected)
    assert (mode == "sm") == (panic_data[:4].hex() == _sm3(b"Panic(uint256)")[:4].hex())


def _encode_diff_independently(diff: StateDiff) -> bytes:
    """``rlp([[[address, nonce, balance, code]...], [[address, key, value]...]])``, sorted,
    with pyrlp (not the dev chain's encoder)."""
    return bytes(
        rlp.encode(
            [
                [[a, s.nonce, s.balance, s.code] for a, s in sorted(diff.accounts.items())],
                [[a, k, v] for (a, k), v in sorted(diff.storage.items())],
            ]
        )
    )


def _root(parent: bytes, diff: StateDiff, h: Any) -> bytes:
    return bytes(h(b"relayhub.evm-state.v1" + parent + h(_encode_diff_independently(diff))))


def test_the_state_root_is_sm3_on_a_gm_chain() -> None:
    cfg = FiscoConfig(seed="gm", relay_validators=(RELAY,), mode="sm")
    state, block0, diff0 = make_genesis(make_setup(cfg, "gm"))
    zero = b"\x00" * 32
    # Genesis: the state commitment over the contracts' accounts and storage, with SM3.
    assert block0.header.state_root == _root(zero, diff0, _sm3)
    # The same state committed with keccak gives another root (the EVM dev chain's).
    assert _root(zero, diff0, _keccak) != block0.header.state_root
    assert compute_state_root(zero, diff0) == _root(zero, diff0, _keccak)

    # A block that changes state: SM3 over the parent root and that block's changes.
    raw_set = encode_call("set(string,bytes)", ["k", b"v"], hash_fn_for("sm"))
    parent = state.head.state_root
    setup = state.setup
    tx = sign_transaction(
        FiscoTransaction(
            nonce=1,
            gas_price=0,
            gas=3_000_000,
            block_limit=100,
            to=state.setup.data_swap,
            value=0,
            data=raw_set,
            chain_id=setup.config.chain_id,
            group_id=setup.config.group_id,
            extra_data=b"",
        ),
        setup.accounts[1].private_key,
        "sm",
    )
    executed = execute_block(state, [decode_transaction(tx, "sm")], 1_000)
    assert executed.block.receipts[0].status == 0 and executed.diff
    root = executed.block.header.state_root
    assert root == _root(parent, executed.diff, _sm3)
    assert root != _root(parent, executed.diff, _keccak)
    # Every committed receipt carries the block's (SM3) state root.
    assert executed.block.receipts[0].state_root == root
    commit_block(state, executed)
    assert state.world.root == root


def test_the_secp256k1_chain_keeps_the_keccak_state_root() -> None:
    cfg = FiscoConfig(seed="gm", relay_validators=(RELAY,), mode="secp256k1")
    _, block0, diff0 = make_genesis(make_setup(cfg, "gm"))
    assert block0.header.state_root == _root(b"\x00" * 32, diff0, _keccak)
