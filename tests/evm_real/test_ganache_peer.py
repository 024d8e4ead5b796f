"""Facts about the real peers the EVM family relies on: ganache's receipts root, the
ganache harness itself, the committed artifacts and the event topics of docs/broker.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import rlp
import trio
from eth_abi import encode as abi_encode
from trie import HexaryTrie

from appchains.evm.build_contracts import compile_contracts, stale_artifacts
from appchains.evm.ganache import DEFAULT_BALANCE, DEFAULT_KEYS, open_ganache
from appchains.evm.rpc import Artifact, JsonRpc, address_of, sign_transaction
from relay.ibtp import TxStatus

from . import support
from .support import TEST_DEADLINE, World, request_ibtp, require_ganache

BROKER_DOC = Path(__file__).resolve().parents[2] / "docs" / "broker.md"


def test_event_topics_match_the_doc() -> None:
    """Every ``event`` in docs/broker.md has the topic0 the doc states and the ABI has."""
    text = BROKER_DOC.read_text(encoding="utf-8")
    documented = re.findall(r"event (\w+)\(([^)]*)\);\s*// topic0 = (0x[0-9a-f]{64})", text)
    assert {name for name, _, _ in documented} == {
        "InterchainEvent",
        "ReceiptEvent",
        "CallbackEvent",
    }
    broker = Artifact.load("Broker")
    for name, params, topic in documented:
        types = ",".join(p.split()[0] for p in params.split(","))
        assert broker.signature("event", name) == f"{name}({types})"
        assert "0x" + broker.topic(name).hex() == topic, name


def _documented_functions(text: str) -> dict[str, tuple[str, str]]:
    """``name -> (input types, output types)`` of the ``function`` lines in ``text``."""
    found: dict[str, tuple[str, str]] = {}
    pattern = r"function (\w+)\(([^)]*)\)[^;(]*?(?:returns \(([^)]*)\))?;"
    for name, params, returns in re.findall(pattern, text):
        types = [p.split()[0] for p in params.split(",") if p.strip()]
        outs = [p.split()[0] for p in returns.split(",") if p.strip()]
        found[name] = (",".join(types), ",".join(outs))
    return found


def _abi_functions(artifact: Artifact) -> dict[str, tuple[str, str]]:
    return {
        e["name"]: (
            ",".join(p["type"] for p in e["inputs"]),
            ",".join(p["type"] for p in e["outputs"]),
        )
        for e in artifact.abi
        if e["type"] == "function"
    }


def test_abi_is_exactly_the_documented_interface() -> None:
    """The Broker and IInterchainService ABIs have exactly the functions of docs/broker.md."""
    text = BROKER_DOC.read_text(encoding="utf-8")
    broker_part, _, rest = text.partition("## Events")
    service_part = rest.partition("interface IInterchainService")[2]
    assert _abi_functions(Artifact.load("Broker")) == _documented_functions(broker_part)
    assert _abi_functions(Artifact.load("IInterchainService")) == _documented_functions(
        service_part
    )


def test_missing_peers_skip_locally_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support, "ganache_available", lambda: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        support.require_ganache()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        support.require_ganache()


def test_committed_artifacts_match_a_fresh_build() -> None:
    """`make contracts` would change nothing: the artifacts are rebuilt byte for byte."""
    require_ganache()
    assert stale_artifacts(compile_contracts()) == []


async def test_open_ganache_starts_answers_and_stops() -> None:
    require_ganache()
    key = DEFAULT_KEYS[5]
    with trio.fail_after(TEST_DEADLINE):
        async with open_ganache(chain_id=4242, keys=[key]) as url, JsonRpc(url) as rpc:
            assert url.startswith("http://127.0.0.1:")
            assert int(await rpc.call("eth_chainId"), 16) == 4242
            accounts = [a.lower() for a in await rpc.call("eth_accounts")]
            assert accounts == [address_of(key)]
            balance = await rpc.call("eth_getBalance", address_of(key), "latest")
            assert int(balance, 16) == DEFAULT_BALANCE
        async with httpx.AsyncClient(timeout=2.0) as client:
            with pytest.raises(httpx.HTTPError):
                await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def encode_receipt(receipt: dict[str, Any], *, failed_status: bytes) -> bytes:
    """Consensus encoding of a receipt as it goes into the receipts trie.

    ``rlp([status, cumulativeGasUsed, logsBloom, [[address, topics, data], ...]])``,
    prefixed by the transaction type byte for typed (EIP-2718) transactions.
    """
    status = b"\x01" if int(receipt["status"], 16) == 1 else failed_status
    logs = [
        [_hex(log["address"]), [_hex(t) for t in log["topics"]], _hex(log["data"])]
        for log in receipt["logs"]
    ]
    body = rlp.encode(
        [status, int(receipt["cumulativeGasUsed"], 16), _hex(receipt["logsBloom"]), logs]
    )
    typ = int(receipt.get("type", "0x0"), 16)
    return body if typ == 0 else bytes([typ]) + body


def receipts_root(receipts: list[dict[str, Any]], *, failed_status: bytes) -> bytes:
    trie = HexaryTrie({})
    for i, receipt in enumerate(receipts):
        trie.set(rlp.encode(i), encode_receipt(receipt, failed_status=failed_status))
    return bytes(trie.root_hash)


async def test_receipts_root_rebuilds_from_receipts(world: World) -> None:
    """One block with a legacy transfer, typed calls with logs and a failed call.

    ganache has no eth_getBlockReceipts: the receipts come one by one. A failed
    status is encoded as the byte 0x00 (go-ethereum writes the empty string), which
    is the encoding that reproduces ganache's receiptsRoot.
    """
    rpc = world.rpc
    with trio.fail_after(TEST_DEADLINE):
        recipient = address_of(world.user)
        asset = world.a.asset
        transfer = asset.artifact.encode_call("transfer", world.b.asset_id, recipient, 5, 0)
        event_ibtp = request_ibtp(
            {
                "from": world.a.asset_id,
                "to": world.b.asset_id,
                "index": 1,
                "func": "mint",
                "args": [abi_encode(["address", "uint256"], [recipient, 5])],
                "encrypted": False,
                "timeout": 0,
            }
        )
        refused = world.b.broker.artifact.encode_call(
            "invokeInterchain",
            event_ibtp.src,
            event_ibtp.dst,
            7,  # out of order: this transaction fails
            "mint",
            list(event_ibtp.payload.args),
            world.relay.sign(event_ibtp, TxStatus.BEGIN),
        )
        deployer_nonce = int(
            await rpc.call("eth_getTransactionCount", address_of(world.deployer), "latest"), 16
        )
        gateway_nonce = int(
            await rpc.call("eth_getTransactionCount", address_of(world.gateway), "latest"), 16
        )
        raws = [
            await sign_transaction(
                rpc,
                world.deployer,
                to=recipient,
                value=1,
                gas=21_000,
                nonce=deployer_nonce,
                legacy=True,
            ),
            await sign_transaction(
                rpc,
                world.deployer,
                to=asset.address,
                data=transfer,
                gas=500_000,
                nonce=deployer_nonce + 1,
            ),
            await sign_transaction(
                rpc,
                world.gateway,
                to=world.b.broker.address,
                data=refused,
                gas=500_000,
                nonce=gateway_nonce,
            ),
            await sign_transaction(
                rpc,
                world.deployer,
                to=asset.address,
                data=transfer,
                gas=500_000,
                nonce=deployer_nonce + 2,
                legacy=True,
            ),
        ]
        await rpc.call("miner_stop")
        try:
            hashes = [await rpc.call("eth_sendRawTransaction", "0x" + raw.hex()) for raw in raws]
            await rpc.call("evm_mine")
        finally:
            await rpc.call("miner_start")

        receipts = [await rpc.call("eth_getTransactionReceipt", h) for h in hashes]
        # (status, type) of each transaction as sent: legacy transfer, typed call,
        # typed call that reverts, legacy call.
        assert [(int(r["status"], 16), int(r.get("type", "0x0"), 16)) for r in receipts] == [
            (1, 0),
            (1, 2),
            (0, 2),
            (1, 0),
        ]
        assert all(r["logs"] for r in (receipts[1], receipts[3]))
        assert len({r["blockNumber"] for r in receipts}) == 1
        block = await rpc.call("eth_getBlockByNumber", receipts[0]["blockNumber"], False)
        assert sorted(h.lower() for h in block["transactions"]) == sorted(h.lower() for h in hashes)
        receipts.sort(key=lambda r: int(r["transactionIndex"], 16))
        assert [r["transactionHash"] for r in receipts] == block["transactions"]

        expected = _hex(block["receiptsRoot"])
        assert receipts_root(receipts, failed_status=b"\x00") == expected
        # The go-ethereum encoding of a failed status does not reproduce ganache's root.
        assert receipts_root(receipts, failed_status=b"") != expected
