"""Persistence: restart from the data dir, atomic block commits, recovery after kill -9."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from coincurve import PrivateKey
from devchain_helpers import (
    OTHER,
    Rpc,
    add_counterpart,
    calldata,
    interchain_call,
    make_config,
    sign_tx,
)
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount

from appchains.evm.devchain import ConfigError, open_devchain
from appchains.evm.devchain.node import DevchainNode

REPO = Path(__file__).resolve().parents[2]
DEAD = "0x000000000000000000000000000000000000dead"
TRANSFER = "transfer(string,address,uint256,uint64)"


async def snapshot(rpc: Rpc, ids: dict[str, str], head: int) -> dict[str, Any]:
    async def view(to: str, data: bytes) -> Any:
        return await rpc("eth_call", {"to": to, "data": "0x" + data.hex()})

    return {
        "hashes": [
            (await rpc("eth_getBlockByNumber", hex(n), False))["hash"] for n in range(head + 1)
        ],
        "dead": await rpc("eth_getBalance", DEAD),
        "tokens": await view(ids["asset"], calldata("balanceOf(address)", DEAD)),
        "in": await view(
            ids["broker"], calldata("inCounter(string,string)", OTHER, ids["asset_id"])
        ),
    }


async def test_restart_keeps_blocks_and_state(tmp_path: Path) -> None:
    config = make_config(data_dir=tmp_path, block_interval=0.005)
    with trio.fail_after(30):
        async with (
            open_devchain(config) as handle,
            httpx.AsyncClient(base_url=handle.url) as client,
        ):
            rpc = Rpc(client)
            ids = {
                "asset": handle.asset_transfer,
                "broker": handle.broker,
                "asset_id": handle.full_id(handle.asset_transfer),
            }
            await rpc.transact(handle.accounts[0], DEAD, value=123)
            await add_counterpart(rpc, handle.accounts[0], handle.asset_transfer, OTHER)
            await rpc.transact(
                handle.accounts[0], handle.asset_transfer, calldata(TRANSFER, OTHER, DEAD, 5, 0)
            )
            mint = abi_encode(["address", "uint256"], [DEAD, 77])
            await rpc.transact(
                handle.accounts[1],
                handle.broker,
                interchain_call(OTHER, ids["asset_id"], 1, "mint", [mint]),
            )
            head = int(await rpc("eth_blockNumber"), 16)
            before = await snapshot(rpc, ids, head)
        assert int(before["tokens"], 16) == 77 and int(before["in"], 16) == 1
        async with (
            open_devchain(config) as handle,
            httpx.AsyncClient(base_url=handle.url) as client,
        ):
            rpc = Rpc(client)
            assert int(await rpc("eth_blockNumber"), 16) == head
            assert await snapshot(rpc, ids, head) == before
            sender = EthAccount.from_key(handle.accounts[0].secret).address
            assert await rpc("eth_getTransactionCount", sender) == "0x3"
            receipt = await rpc.transact(handle.accounts[0], DEAD, value=1)
            block = await rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
            assert block["parentHash"] == before["hashes"][-1]


def test_restart_refuses_another_chain(tmp_path: Path) -> None:
    DevchainNode.open(make_config(data_dir=tmp_path)).close()
    for change in ({"seed": "other"}, {"validators": 5}, {"chain_id": 7}, {"mint_cap": 1}):
        with pytest.raises(ConfigError, match="data dir"):
            DevchainNode.open(make_config(data_dir=tmp_path, **change))
    DevchainNode.open(make_config(data_dir=tmp_path)).close()


class _FailingDb:
    """Delegates to a sqlite3 connection but fails the storage writes of a block."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def executemany(self, sql: str, rows: Any) -> Any:
        if sql.startswith("INSERT OR REPLACE INTO storage"):
            raise OSError("disk full")
        return self._db.executemany(sql, rows)


def test_block_commit_is_atomic(tmp_path: Path) -> None:
    config = make_config(data_dir=tmp_path)
    node = DevchainNode.open(config)
    key = node.setup.account_keys[0]
    asset = "0x" + node.setup.asset_transfer.hex()
    node.submit_raw(sign_tx(key, config.chain_id, 0, asset, calldata(TRANSFER, OTHER, DEAD, 5, 0)))
    real = node.store.db
    node.store.db = _FailingDb(real)  # type: ignore[assignment]
    with pytest.raises(OSError):
        node.produce_block()
    node.store.db = real
    assert node.head_number() == 0 and node.pending_count() == 1  # memory untouched
    node.close()
    reopened = DevchainNode.open(config)
    try:
        assert reopened.head_number() == 0
        assert reopened.store.get_block(1) is None and reopened.store.get_receipts(1) == ()
        assert reopened.nonce(reopened.setup.accounts[0]) == 0
        # and the chain goes on from there
        reopened.submit_raw(sign_tx(key, config.chain_id, 0, DEAD, value=1))
        assert len(reopened.produce_block().transactions) == 1
    finally:
        reopened.close()


async def _start(data_dir: Path) -> tuple[trio.Process, dict[str, Any]]:
    cmd = [
        sys.executable, "-m", "appchains.evm.devchain", "--data-dir", str(data_dir), "--port", "0",
        "--seed", "kill9", "--block-interval", "0.005", "--log-level", "WARNING",
    ]  # fmt: skip
    proc = await trio.lowlevel.open_process(cmd, cwd=REPO, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        chunk = await proc.stdout.receive_some(65536)
        assert chunk, "dev chain exited before it was ready"
        line += chunk
    return proc, json.loads(line)


async def test_kill_9_restarts_from_last_committed_block(tmp_path: Path) -> None:
    with trio.fail_after(40):
        proc, info = await _start(tmp_path)
        try:
            key = PrivateKey(bytes.fromhex(info["accountKeys"][0][2:]))
            chain_id = int(info["chainId"], 16)
            async with httpx.AsyncClient(base_url=info["url"]) as client:
                rpc = Rpc(client)
                for _ in range(3):
                    await rpc.transact(key, DEAD, value=1)
                confirmed = int(await rpc("eth_blockNumber"), 16)
                hashes = [
                    (await rpc("eth_getBlockByNumber", hex(n), False))["hash"]
                    for n in range(confirmed + 1)
                ]
                for nonce in range(3, 40):  # a burst still in flight when the process dies
                    await rpc(
                        "eth_sendRawTransaction",
                        "0x" + sign_tx(key, chain_id, nonce, DEAD, value=1).hex(),
                    )
        finally:
            proc.kill()  # SIGKILL: no cleanup of any kind
            await proc.wait()
        proc, info = await _start(tmp_path)
        try:
            assert info["head"] >= confirmed
            async with httpx.AsyncClient(base_url=info["url"]) as client:
                rpc = Rpc(client)
                head = int(await rpc("eth_blockNumber"), 16)
                for n, block_hash in enumerate(hashes):
                    assert (await rpc("eth_getBlockByNumber", hex(n), False))["hash"] == block_hash
                mined = 0
                for n in range(head + 1):
                    mined += len((await rpc("eth_getBlockByNumber", hex(n), False))["transactions"])
                # state agrees with the blocks that survived
                assert int(await rpc("eth_getBalance", DEAD), 16) == mined
                sender = EthAccount.from_key(key.secret).address
                assert int(await rpc("eth_getTransactionCount", sender), 16) == mined
                receipt = await rpc.transact(key, DEAD, value=1)
                assert int(receipt["blockNumber"], 16) == head + 1
        finally:
            proc.terminate()  # SIGTERM: clean shutdown
            assert await proc.wait() == 0
