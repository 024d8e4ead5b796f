"""The FISCO BCOS-like dev chain from the outside: FISCO 2.x JSON-RPC shapes (group ID
first, api.md's field names), sealed blocks the relay's modules accept, receipt and
transaction proofs under the header's roots, the pool's refusals, persistence; and the
transaction codec against FISCO-BCOS-DOC's own example transactions."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from eth_abi import encode as abi_encode

from adapters.fisco.abi import compute_selector, decode_revert_reason
from adapters.fisco.gateway import receipt_from_rpc
from adapters.fisco.hashing import CryptoMode, hash_fn_for
from adapters.fisco.header import compute_block_hash, header_from_rpc
from adapters.fisco.merkle import check_indexed_proof, proof_from_json
from adapters.fisco.receipt import encode_receipt
from adapters.fisco.seals import verify_sealed_header
from adapters.fisco.transaction import FiscoTransaction, decode_transaction, sign_transaction
from appchains.fisco.config import FiscoConfig
from appchains.fisco.node import FiscoHandle, open_fisco_chain

RELAY = "0x" + "11" * 20

#: FISCO-BCOS-DOC 2.x api.md, sendRawTransaction "RC2 Request" (secp256k1) and its result.
RC2_TX = bytes.fromhex(
    "f8d3a003922ee720bb7445e3a914d8ab8f507d1a647296d563100e49548d83fd98865c8411e1a300"
    "8411e1a3008201f894d6c8a04b8826b0a37c6d4aa0eaa8644d8e35b79f80a466c991390000000000"
    "0000000000000000000000000000000000000000000000000000040101a466c99139000000000000"
    "00000000000000000000000000000000000000000000000000041ba08e0d3fae10412c584c977721"
    "aeda88df932b2a019f084feda1e0a42d199ea979a016c387f79eb85078be5db40abe1670b8b480a1"
    "2c7eab719bedee212b7972f775"
)
RC2_HASH = "0accad4228274b0d78939f48149767883a6e99c95941baa950156e926f1c96ba"
#: The same page's 国密 "RC2 Request": pub, r, s in place of v, r, s.
RC2_SM_TX = bytes.fromhex(
    "f90114a003eebc46c9c0e3b84799097c5a6ccd6657a9295c11270407707366d0750fcd598411e1a3"
    "0084b2d05e008201f594bab78cea98af2320ad4ee81bba8a7473e0c8c48d80a48fff0fc400000000"
    "000000000000000000000000000000000000000000000000000000040101a48fff0fc40000000000"
    "000000000000000000000000000000000000000000000000000004b8408234c544a9f3ce3b401a92"
    "cc7175602ce2a1e29b1ec135381c7d2a9e8f78f3edc9c06ee55252857c9a4560cb39e9d70d40f433"
    "1cace4d2b3121b967fa7a829f0a00f16d87c5065ad5c3b110ef0b97fe9a67b62443cb8ddde60d4e0"
    "01a64429dc6ea03d2569e0449e9a900c236541afb9d8a8d5e1a36844439c7076f6e75ed624256f"
)


def test_the_codec_reads_fisco_docs_example_transactions() -> None:
    tx = decode_transaction(RC2_TX, "secp256k1")
    assert tx.hash.hex() == RC2_HASH  # the node's answer to that request
    assert (tx.block_limit, tx.chain_id, tx.group_id) == (0x1F8, 1, 1)
    # the sender api.md shows for that account's transactions
    assert tx.sender.hex() == "148947262ec5e21739fe3a931c29e8b84ee34a0f"
    sm = decode_transaction(RC2_SM_TX, "sm")  # SM2 over SM3, default user ID
    assert (sm.block_limit, sm.chain_id, sm.group_id) == (0x1F5, 1, 1)
    with pytest.raises(ValueError):
        decode_transaction(RC2_SM_TX, "secp256k1")


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(timeout=10)

    async def raw(self, method: str, *params: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer: dict[str, Any] = (await self.client.post(self.url, json=body)).json()
        return answer

    async def __call__(self, method: str, *params: Any) -> Any:
        answer = await self.raw(method, *params)
        assert "error" not in answer, answer
        return answer["result"]


def _tx(chain: FiscoHandle, data: bytes, *, block_limit: int = 500, **kw: Any) -> bytes:
    setup = chain.setup
    fields: dict[str, Any] = {
        "nonce": int.from_bytes(secrets.token_bytes(31), "big"),
        "gas_price": 0,
        "gas": 3_000_000,
        "block_limit": block_limit,
        "to": setup.data_swap,
        "value": 0,
        "data": data,
        "chain_id": 1,
        "group_id": 1,
        "extra_data": b"",
    }
    fields.update(kw)
    return sign_transaction(
        FiscoTransaction(**fields), setup.accounts[1].private_key, chain.config.mode
    )


def _sel(signature: str, mode: str) -> bytes:
    return compute_selector(signature, hash_fn_for(mode))  # type: ignore[arg-type]


def _set(key: str, value: bytes, mode: str) -> bytes:
    return _sel("set(string,bytes)", mode) + abi_encode(["string", "bytes"], [key, value])


async def _mined(rpc: Rpc, tx_hash: str) -> dict[str, Any]:
    with trio.fail_after(10):
        while (r := await rpc("getTransactionReceipt", 1, tx_hash)) is None:
            await trio.sleep(0.02)
    return dict(r)


@pytest.mark.parametrize("mode", ["secp256k1", "sm"])
async def test_json_rpc_shapes_seals_and_proofs(tmp_path: Path, mode: CryptoMode) -> None:
    cfg = FiscoConfig(
        seed="shapes", relay_validators=(RELAY,), block_interval=0.02, mode=mode,
        data_dir=tmp_path / "chain",
    )  # fmt: skip
    hash_fn = hash_fn_for(mode)
    with trio.fail_after(60):
        async with open_fisco_chain(cfg) as chain:
            rpc = Rpc(chain.url)
            version = await rpc("getClientVersion")
            assert version["Chain Id"] == "1"
            assert ("gm" in version["FISCO-BCOS Version"].split()) == (mode == "sm")
            assert await rpc("getGroupList") == [1]
            assert await rpc("getBlockNumber", 1) == "0x0"
            sealers = await rpc("getSealerList", 1)
            assert len(sealers) == 4 and sealers == sorted(sealers)
            assert all(len(s) == 128 and not s.startswith("0x") for s in sealers)

            # Three transactions in one block: the receipts tree has several leaves.
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "sendRawTransaction",
                    "params": [1, "0x" + _tx(chain, _set(f"k{i}", b"v", mode)).hex()],
                }
                for i in range(3)
            ]
            answers = (await rpc.client.post(chain.url, json=batch)).json()
            hashes = [a["result"] for a in sorted(answers, key=lambda a: a["id"])]
            receipts = [await _mined(rpc, h) for h in hashes]
            r = receipts[-1]
            assert r["status"] == "0x0" and len(r["logs"]) == 1
            assert set(r["logs"][0]) == {"address", "data", "topics"}
            assert r["from"] == "0x" + chain.setup.accounts[1].address.hex()
            block = await rpc("getBlockByNumber", 1, r["blockNumber"], False)
            assert block == await rpc("getBlockByHash", 1, block["hash"], False)
            assert block["sealerList"] == sealers
            header = header_from_rpc(block)
            block_hash = bytes.fromhex(block["hash"][2:])
            assert compute_block_hash(header, hash_fn) == block_hash
            sig_list = [
                (int(s["index"], 16), bytes.fromhex(s["signature"][2:]))
                for s in block["signatureList"]
            ]
            assert len(sig_list) == 3  # n - (n-1)//3 of 4
            assert {len(s) for _, s in sig_list} == {128 if mode == "sm" else 65}
            nodes = [bytes.fromhex(x) for x in sealers]
            assert verify_sealed_header(block_hash, sig_list, nodes, mode) == 3

            # Receipt and transaction proofs in the node's left/right shape.
            same_block = [x for x in receipts if x["blockNumber"] == r["blockNumber"]]
            assert len(same_block) == 3  # one batch, one block: a tree of three leaves
            for x in same_block:
                got = await rpc("getTransactionReceiptByHashWithProof", 1, x["transactionHash"])
                assert got["transactionReceipt"] == x
                index = int(x["transactionIndex"], 16)
                item = hash_fn(encode_receipt(receipt_from_rpc(x)))
                levels = proof_from_json(got["receiptProof"])
                check_indexed_proof(header.receipts_root, index, item, levels, hash_fn)
                tx_proof = await rpc("getTransactionByHashWithProof", 1, x["transactionHash"])
                assert tx_proof["transaction"]["hash"] == x["transactionHash"]
                check_indexed_proof(
                    header.transactions_root,
                    index,
                    bytes.fromhex(x["transactionHash"][2:]),
                    proof_from_json(tx_proof["txProof"]),
                    hash_fn,
                )

            # call: {currentBlockNumber, output, status}; a revert is status 0x16.
            view = _sel("valueOf(string)", mode) + abi_encode(["string"], ["k1"])
            who = "0x" + chain.setup.accounts[0].address.hex()
            to = "0x" + chain.setup.data_swap.hex()
            got = await rpc(
                "call", 1, {"from": who, "to": to, "value": "0x0", "data": "0x" + view.hex()}
            )
            assert got["status"] == "0x0" and got["currentBlockNumber"] == r["blockNumber"]
            bad = _sel("get(string,string,uint64)", mode) + abi_encode(
                ["string", "string", "uint64"], ["hub0:fisco1:0x" + "00" * 20, "k", 0]
            )
            got = await rpc("call", 1, {"from": who, "to": to, "data": "0x" + bad.hex()})
            # Error(string) with the chain's selector: 0x08c379a0, or SM3's 0xc703cb12.
            error_selector = "0xc703cb12" if mode == "sm" else "0x08c379a0"
            assert got["status"] == "0x16" and got["output"].startswith(error_selector)
            reason = decode_revert_reason(bytes.fromhex(got["output"][2:]), hash_fn)
            assert reason == "broker: to is on this chain"
            # The other mode's selector names no function here: a revert with no data.
            other = "secp256k1" if mode == "sm" else "sm"
            alien = _sel("valueOf(string)", other) + abi_encode(["string"], ["k1"])
            got = await rpc("call", 1, {"from": who, "to": to, "data": "0x" + alien.hex()})
            assert (got["status"], got["output"]) == ("0x16", "0x")
            alien_tx = _tx(chain, _set("k9", b"v", other))
            mined = await _mined(rpc, await rpc("sendRawTransaction", 1, "0x" + alien_tx.hex()))
            assert (mined["status"], mined["output"], mined["logs"]) == ("0x16", "0x", [])
            assert (await rpc.raw("call", 1, {"to": to}))["error"]["code"] == -40006

            # Refusals: another group, chain ID, a stale or far blockLimit, a replay.
            head = int(await rpc("getBlockNumber", 1), 16)
            cases = {
                10003: _tx(chain, _set("x", b"", mode), group_id=2),
                10002: _tx(chain, _set("x", b"", mode), chain_id=7),
                16: _tx(chain, _set("x", b"", mode), block_limit=head),
                10001: bytes.fromhex((await rpc("getTransactionByHash", 1, hashes[0]))["hash"][2:]),
            }
            for code, raw in cases.items():
                if code == 10001:
                    continue
                answer = await rpc.raw("sendRawTransaction", 1, "0x" + raw.hex())
                assert answer["error"]["code"] == code, answer
            replay = _tx(chain, _set("k0", b"v", mode))
            await _mined(rpc, await rpc("sendRawTransaction", 1, "0x" + replay.hex()))
            answer = await rpc.raw("sendRawTransaction", 1, "0x" + replay.hex())
            assert answer["error"]["code"] == 10001
            assert (await rpc.raw("getBlockNumber", 2))["error"]["code"] == -40001
            assert (await rpc.raw("getBlockByNumber", 1, "0x999", False))["error"]["code"] == -40004
            await rpc.client.aclose()
            height = chain.node.head_number()
            blocks = [chain.node.get_block(n) for n in range(height + 1)]

    # The store survives a restart: same blocks, same head, nonces still refused.
    with trio.fail_after(60):
        async with open_fisco_chain(cfg) as again:
            assert again.node.head_number() == height
            assert [again.node.get_block(n) for n in range(height + 1)] == blocks
            rpc = Rpc(again.url)
            answer = await rpc.raw("sendRawTransaction", 1, "0x" + replay.hex())
            assert answer["error"]["code"] == 10001
            await rpc.client.aclose()
