"""The dev chain over JSON-RPC on loopback: hashes, roots and seals recomputed from
what a client sees, real signed transactions, broker calls, batches and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import rlp
import trio
from devchain_helpers import (
    INTERCHAIN_TOPIC,
    OTHER,
    OUTSIDER,
    RECEIPT_TOPIC,
    Rpc,
    RpcFailure,
    add_counterpart,
    calldata,
    error_data,
    hexb,
    interchain_call,
    make_config,
    receipt_payload_hash,
    sign_tx,
    to_checksum,
)
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_hash.auto import keccak
from trie import HexaryTrie

from appchains.evm.devchain import DevchainHandle, open_devchain
from relay.crypto import recover_address
from relay.ibtp import Payload, compute_payload_hash

TRANSFER = "transfer(string,address,uint256,uint64)"
DEAD = "0x000000000000000000000000000000000000dead"


@pytest.fixture
async def chain() -> AsyncIterator[tuple[DevchainHandle, Rpc]]:
    with trio.fail_after(20):
        async with (
            open_devchain(make_config(block_interval=0.005)) as handle,
            httpx.AsyncClient(base_url=handle.url, timeout=10) as client,
        ):
            yield handle, Rpc(client)


def header_hash_from_json(block: dict[str, Any]) -> bytes:
    return keccak(encode_header_from_json(block))


def encode_header_from_json(block: dict[str, Any]) -> bytes:
    def q(name: str) -> int:
        return int(block[name], 16)

    def d(name: str) -> bytes:
        return hexb(block[name])

    fields = [
        d("parentHash"), d("sha3Uncles"), d("miner"), d("stateRoot"), d("transactionsRoot"),
        d("receiptsRoot"), d("logsBloom"), q("difficulty"), q("number"), q("gasLimit"),
        q("gasUsed"), q("timestamp"), d("extraData"), d("mixHash"), d("nonce"), q("baseFeePerGas"),
    ]  # fmt: skip
    return bytes(rlp.encode(fields))


def receipt_bytes_from_json(receipt: dict[str, Any]) -> bytes:
    logs = [
        [hexb(x["address"]), [hexb(t) for t in x["topics"]], hexb(x["data"])]
        for x in receipt["logs"]
    ]
    body = rlp.encode(
        [
            int(receipt["status"], 16),
            int(receipt["cumulativeGasUsed"], 16),
            hexb(receipt["logsBloom"]),
            logs,
        ]
    )
    tx_type = int(receipt["type"], 16)
    return body if tx_type == 0 else bytes([tx_type]) + body


def trie_root(items: list[bytes]) -> bytes:
    trie = HexaryTrie({})
    for i, item in enumerate(items):
        trie[rlp.encode(i)] = item
    return trie.root_hash


async def send_raw(rpc: Rpc, raw: bytes) -> dict[str, Any]:
    return await rpc.wait_receipt(await rpc("eth_sendRawTransaction", "0x" + raw.hex()))


async def test_headers_roots_and_seals_recompute(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    key = handle.accounts[0]
    counterpart = calldata("setCounterpart(string,bool)", OTHER, True)  # the owner's
    raws = [sign_tx(key, handle.chain_id, 0, handle.asset_transfer, counterpart)]
    raws += [
        sign_tx(key, handle.chain_id, n, DEAD, value=n, tx_type=t)
        for n, t in enumerate((0, 1, 2), start=1)
    ]
    raws.append(
        sign_tx(
            key, handle.chain_id, 4, handle.asset_transfer, calldata(TRANSFER, OTHER, DEAD, 5, 0)
        )
    )
    raws.append(
        sign_tx(
            key, handle.chain_id, 5, handle.asset_transfer, calldata(TRANSFER, OTHER, DEAD, 0, 0)
        )
    )
    hashes = [await rpc("eth_sendRawTransaction", "0x" + raw.hex()) for raw in raws]
    receipts = [await rpc.wait_receipt(h) for h in hashes]
    assert [r["status"] for r in receipts] == [
        "0x1",
        "0x1",
        "0x1",
        "0x1",
        "0x1",
        "0x0",
    ]  # zero amount reverts
    assert [r["type"] for r in receipts] == ["0x2", "0x0", "0x1", "0x2", "0x2", "0x2"]

    info = await rpc("relayhub_getValidators")
    validators, threshold = info["validators"], info["threshold"]
    assert validators == list(handle.validators) and threshold == 3
    head = int(await rpc("eth_blockNumber"), 16)
    parent = None
    mined = {h: raw for h, raw in zip(hashes, raws, strict=True)}
    for number in range(head + 1):
        block = await rpc("eth_getBlockByNumber", hex(number), False)
        assert hexb(block["hash"]) == header_hash_from_json(block)
        assert block == await rpc("eth_getBlockByHash", block["hash"], False)
        if parent is not None:
            assert block["parentHash"] == parent
        parent = block["hash"]
        block_receipts = await rpc("eth_getBlockReceipts", hex(number))
        assert hexb(block["receiptsRoot"]) == trie_root(
            [receipt_bytes_from_json(r) for r in block_receipts]
        )
        one_by_one = [await rpc("eth_getTransactionReceipt", h) for h in block["transactions"]]
        assert one_by_one == block_receipts
        raws_here = [mined[h] for h in block["transactions"]]
        assert hexb(block["transactionsRoot"]) == trie_root(raws_here)
        body = [rlp.decode(r) if r[0] >= 0xC0 else r for r in raws_here]
        full_block = rlp.encode([rlp.decode(encode_header_from_json(block)), body, []])
        assert int(block["size"], 16) == len(full_block)
        # seals: served alone and inside the block, recovering to >= threshold validators
        seals = await rpc("relayhub_getBlockSeals", hex(number))
        assert seals == block["seals"]
        digest = keccak(
            b"relayhub.evm-seal.v1" + handle.chain_id.to_bytes(32, "big") + hexb(block["hash"])
        )
        signers = {recover_address(digest, hexb(s)) for s in seals}
        assert len(signers & set(validators)) >= threshold
    assert await rpc("relayhub_getBlockSeals", hex(head + 100)) is None


async def test_eth_transfer_signed_with_eth_account(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    sender = EthAccount.from_key(handle.accounts[1].secret).address
    before = int(await rpc("eth_getBalance", sender, "latest"), 16)
    receipt = await rpc.transact(handle.accounts[1], DEAD, value=10**18)
    assert receipt["status"] == "0x1" and receipt["gasUsed"] == hex(21_000)
    assert receipt["from"] == sender.lower() and receipt["to"] == DEAD
    price = int(receipt["effectiveGasPrice"], 16)
    assert price == int(await rpc("eth_gasPrice"), 16) + 10**9  # base fee + tip
    after = int(await rpc("eth_getBalance", sender, "latest"), 16)
    assert before - after == 10**18 + 21_000 * price
    assert await rpc("eth_getBalance", DEAD) == hex(10**18)
    assert await rpc("eth_getTransactionCount", sender, "latest") == "0x1"
    tx = await rpc("eth_getTransactionByHash", receipt["transactionHash"])
    assert (
        tx["from"] == sender.lower()
        and tx["value"] == hex(10**18)
        and tx["blockHash"] == receipt["blockHash"]
    )
    full = await rpc("eth_getBlockByNumber", receipt["blockNumber"], True)
    assert full["transactions"] == [tx]
    assert await rpc("eth_getCode", handle.broker) != "0x"
    assert await rpc("eth_getCode", DEAD) == "0x"


async def test_broker_calls_over_json_rpc(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    asset_id = handle.full_id(handle.asset_transfer)
    await add_counterpart(rpc, handle.accounts[0], handle.asset_transfer, OTHER)
    # emitInterchain through AssetTransfer.transfer
    receipt = await rpc.transact(
        handle.accounts[0], handle.asset_transfer, calldata(TRANSFER, OTHER, DEAD, 42, 9)
    )
    logs = await rpc(
        "eth_getLogs",
        {"fromBlock": "0x0", "address": handle.broker, "topics": ["0x" + INTERCHAIN_TOPIC.hex()]},
    )
    assert len(logs) == 1 and logs[0]["transactionHash"] == receipt["transactionHash"]
    values = abi_decode(
        ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"],
        hexb(logs[0]["data"]),
    )
    mint = abi_encode(["address", "uint256"], [DEAD, 42])
    assert values == (
        asset_id,
        OTHER,
        1,
        "mint",
        (mint,),
        False,
        9,
        compute_payload_hash(Payload("mint", (mint,), False)),
    )
    # invokeInterchain with relay-validator signatures
    data = interchain_call(
        OTHER, asset_id, 1, "mint", [abi_encode(["address", "uint256"], [DEAD, 7])]
    )
    receipt = await rpc.transact(handle.accounts[2], handle.broker, data)
    assert receipt["status"] == "0x1"
    (event,) = [x for x in receipt["logs"] if x["topics"] == ["0x" + RECEIPT_TOPIC.hex()]]
    src, dst, index, typ, result, payload_hash = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"], hexb(event["data"])
    )
    assert (src, dst, index, typ) == (
        OTHER,
        asset_id,
        1,
        1,
    ) and payload_hash == receipt_payload_hash(result)
    balance = await rpc(
        "eth_call",
        {"to": handle.asset_transfer, "data": "0x" + calldata("balanceOf(address)", DEAD).hex()},
        "latest",
    )
    assert int(balance, 16) == 7
    counter = await rpc(
        "eth_call",
        {
            "to": handle.broker,
            "input": "0x" + calldata("inCounter(string,string)", OTHER, asset_id).hex(),
        },
    )
    assert int(counter, 16) == 1
    # a failing mint becomes ReceiptEvent typ 2 carrying the revert data
    data = interchain_call(
        OTHER, asset_id, 2, "mint", [abi_encode(["address", "uint256"], [DEAD, 10**7])]
    )
    receipt = await rpc.transact(handle.accounts[2], handle.broker, data)
    values = abi_decode(
        ["string", "string", "uint64", "uint8", "bytes", "bytes32"],
        hexb(receipt["logs"][0]["data"]),
    )
    assert values[3:5] == (2, b"asset: amount above mint cap")
    # wrong signatures and a wrong index: eth_call reverts with data, a transaction gets status 0
    cases = [
        (
            interchain_call(OTHER, asset_id, 3, "mint", [b""], signers=[OUTSIDER]),
            "broker: unregistered relay signer",
        ),
        (interchain_call(OTHER, asset_id, 5, "mint", [b""]), "broker: index out of order"),
    ]
    for bad, message in cases:
        with pytest.raises(RpcFailure) as failure:
            await rpc("eth_call", {"from": DEAD, "to": handle.broker, "data": "0x" + bad.hex()})
        assert failure.value.error["code"] == 3
        assert failure.value.error["message"] == f"execution reverted: {message}"
        assert failure.value.error["data"] == "0x" + error_data(message).hex()
        with pytest.raises(RpcFailure):
            await rpc("eth_estimateGas", {"to": handle.broker, "data": "0x" + bad.hex()})
        receipt = await rpc.transact(handle.accounts[2], handle.broker, bad)
        assert receipt["status"] == "0x0" and receipt["logs"] == []


async def test_get_logs_filters(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    await add_counterpart(rpc, handle.accounts[0], handle.asset_transfer, OTHER)
    first = await rpc.transact(
        handle.accounts[0], handle.asset_transfer, calldata(TRANSFER, OTHER, DEAD, 1, 0)
    )
    second = await rpc.transact(
        handle.accounts[0], handle.data_swap, calldata("set(string,bytes)", "k", b"v")
    )
    everything = await rpc("eth_getLogs", {"fromBlock": "earliest", "toBlock": "latest"})
    counterpart_set = "0x" + keccak(b"CounterpartSet(string,bool)").hex()
    assert [x["topics"][0] for x in everything[:1]] == [counterpart_set]
    assert [x["transactionHash"] for x in everything[1:]] == [first["transactionHash"]] * 2 + [
        second["transactionHash"]
    ]
    by_address = await rpc(
        "eth_getLogs", {"fromBlock": "0x0", "address": [handle.data_swap, handle.broker]}
    )
    assert len(by_address) == 2
    locked = "0x" + keccak(b"Locked(string,uint64,address,address,uint256)").hex()
    interchain = "0x" + INTERCHAIN_TOPIC.hex()
    either = await rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [[locked, interchain]]})
    assert len(either) == 2
    sender_topic = (
        "0x"
        + abi_encode(["address"], [EthAccount.from_key(handle.accounts[0].secret).address]).hex()
    )
    assert len(await rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [None, sender_topic]})) == 1
    assert await rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [None, "0x" + "00" * 32]}) == []
    assert len(await rpc("eth_getLogs", {"blockHash": second["blockHash"]})) == 1
    assert await rpc("eth_getLogs", {"fromBlock": second["blockNumber"], "toBlock": "0x0"}) == []
    assert all(x["logIndex"] == hex(i) for i, x in enumerate(everything[1:3]))


async def test_batches_and_errors(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    batch = await rpc.raw(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": "two", "method": "net_version", "params": []},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_nope"},
            {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # notification: no answer
            5,
        ]
    )
    assert batch[0] == {"jsonrpc": "2.0", "id": 1, "result": hex(handle.chain_id)}
    assert batch[1]["result"] == str(handle.chain_id) and batch[1]["id"] == "two"
    assert batch[2]["error"]["code"] == -32601
    assert batch[3]["error"]["code"] == -32600 and len(batch) == 4
    client = rpc.client
    assert (await client.post("/", content=b"{not json")).json()["error"]["code"] == -32700
    assert (await client.post("/", json=[])).json()["error"]["code"] == -32600
    assert (await client.post("/", json={"id": 1, "method": "eth_chainId"})).json()["error"][
        "code"
    ] == -32600
    assert (
        await client.post("/", json={"jsonrpc": "2.0", "method": "eth_chainId"})
    ).status_code == 204
    assert (await client.get("/")).status_code == 200
    assert (await client.put("/")).status_code == 405

    async def code(method: str, *params: Any) -> int:
        response = await rpc.request(method, *params)
        return int(response["error"]["code"])

    assert await code("eth_getBalance") == -32602
    assert await code("eth_getBalance", "0x1234") == -32602
    assert await code("eth_getBlockByNumber", "0xzz", False) == -32602
    assert await code("eth_getBlockByNumber", "0x0", "yes") == -32602
    assert await code("eth_getBalance", DEAD, "0x999999") == -32000
    assert await code("eth_getLogs", "x") == -32602
    assert await code("eth_call", {"data": "0x"}) == -32000
    assert await code("eth_sendRawTransaction", "0x1234") == -32000
    assert await code("eth_sendRawTransaction", "nothex") == -32602
    assert await rpc("eth_getBlockByNumber", "0x999", False) is None
    assert await rpc("eth_getTransactionReceipt", "0x" + "00" * 32) is None
    # transactions a node refuses
    key = handle.accounts[3]
    other_chain = sign_tx(key, 1, 0, DEAD)
    assert (
        "invalid chain id"
        in (await rpc.request("eth_sendRawTransaction", "0x" + other_chain.hex()))["error"][
            "message"
        ]
    )
    raw = sign_tx(key, handle.chain_id, 0, DEAD)
    receipt = await send_raw(rpc, raw)
    assert receipt["status"] == "0x1"
    again = await rpc.request("eth_sendRawTransaction", "0x" + raw.hex())
    assert again["error"]["code"] == -32000 and "already known" in again["error"]["message"]
    stale = sign_tx(key, handle.chain_id, 0, DEAD, value=1)
    assert (
        "nonce too low"
        in (await rpc.request("eth_sendRawTransaction", "0x" + stale.hex()))["error"]["message"]
    )
    poor = EthAccount.create()
    broke = EthAccount.sign_transaction(
        {
            "chainId": handle.chain_id,
            "nonce": 0,
            "to": to_checksum(DEAD),
            "value": 1,
            "gas": 21_000,
            "gasPrice": 2 * 10**9,
        },
        poor.key,
    ).raw_transaction
    message = (await rpc.request("eth_sendRawTransaction", "0x" + bytes(broke).hex()))["error"][
        "message"
    ]
    assert "insufficient funds" in message


async def test_estimate_gas_and_evm_mine(chain: tuple[DevchainHandle, Rpc]) -> None:
    handle, rpc = chain
    sender = EthAccount.from_key(handle.accounts[0].secret).address
    await add_counterpart(rpc, handle.accounts[0], handle.asset_transfer, OTHER)
    data = "0x" + calldata(TRANSFER, OTHER, DEAD, 3, 0).hex()
    estimate = int(
        await rpc("eth_estimateGas", {"from": sender, "to": handle.asset_transfer, "data": data}),
        16,
    )
    receipt = await rpc.transact(handle.accounts[0], handle.asset_transfer, bytes.fromhex(data[2:]))
    assert int(receipt["gasUsed"], 16) == estimate > 21_000
    assert int(await rpc("eth_estimateGas", {"to": DEAD}), 16) == 21_000
    head = int(await rpc("eth_blockNumber"), 16)
    assert await rpc("evm_mine") == "0x0"
    assert int(await rpc("eth_blockNumber"), 16) == head + 1
    info = await rpc("relayhub_getChainInfo")
    assert info["broker"] == handle.broker and info["chainName"] == handle.config.chain_name
    assert info["serviceOwner"] == EthAccount.from_key(handle.accounts[0].secret).address.lower()
