"""The EVM gateway's fast paths give the same bytes and answers as the libraries they replace:
transaction signing (eth-account), receipt proofs (py-trie), JSON-RPC over HTTP (httpx)."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import trio
from eth_account import Account as EthAccount
from eth_utils import to_checksum_address

from adapters.evm import mpt, proof
from adapters.evm.client import sign_legacy_transaction
from adapters.evm.lean_rpc import LeanEthRpc, open_rpc
from adapters.evm.rpc import EthRpc, RpcError, encode_receipt_from_json
from adapters.gateway.plan import SubmitAction, decide_on_refusal
from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.node import open_devchain
from relay.crypto import Account
from relay.errors import Code, is_chain_side


@pytest.mark.parametrize("chain_id", [1, 1337, 2**40 + 7])
def test_sign_legacy_transaction_matches_eth_account(chain_id: int) -> None:
    rnd = random.Random(chain_id)
    for n in range(20):
        account = Account.from_key(rnd.randbytes(32))
        to = "0x" + rnd.randbytes(20).hex()
        fields = {
            "nonce": rnd.choice([0, 1, 127, 128, 2**32]) + n,
            "gasPrice": rnd.choice([0, 1, 10**9, 2**64]),
            "gas": rnd.choice([21_000, 5_000_000]),
            "value": rnd.choice([0, 1, 10**18]),
            "data": rnd.randbytes(rnd.choice([0, 1, 55, 56, 300])),
        }
        expected = EthAccount.sign_transaction(
            {**fields, "to": to_checksum_address(to), "chainId": chain_id},
            account.key.secret,
        ).raw_transaction
        got = sign_legacy_transaction(
            account,
            nonce=fields["nonce"],
            gas_price=fields["gasPrice"],
            gas=fields["gas"],
            to=to if n % 2 else bytes.fromhex(to[2:]),
            value=fields["value"],
            data=fields["data"],
            chain_id=chain_id,
        )
        assert got == bytes(expected)
        assert (
            EthAccount.recover_transaction(got) == EthAccount.from_key(account.key.secret).address
        )
    with pytest.raises(ValueError):
        sign_legacy_transaction(
            account, nonce=0, gas_price=0, gas=0, to=b"\x00" * 19, value=0, data=b"", chain_id=1
        )


@pytest.mark.parametrize("sizes", [(1, 3), (1, 40), (30, 700)])
def test_receipt_proofs_match_py_trie(sizes: tuple[int, int]) -> None:
    rnd = random.Random(sizes[1])
    for n in [*range(1, 132), 255, 256, 257, 600]:
        items = [rnd.randbytes(rnd.randint(*sizes)) for _ in range(n)]
        assert mpt.build_receipt_proofs(items) == proof.build_receipt_proofs(items), n
        assert mpt.compute_receipts_root(items) == proof.compute_receipts_root(items)
    assert mpt.build_receipt_proofs([]) == (proof.compute_receipts_root([]), [])
    with pytest.raises(ValueError):
        mpt.build_receipt_proofs([b"ok", b""])


async def test_lean_rpc_against_the_dev_chain() -> None:
    async with open_devchain(DevchainConfig(seed="lean", port=0)) as chain:
        lean, ref = LeanEthRpc(chain.url), EthRpc(chain.url)
        try:
            assert isinstance(open_rpc(chain.url), LeanEthRpc)
            assert type(open_rpc("https://example.invalid")) is EthRpc
            for method, params in [
                ("eth_chainId", []),
                ("eth_getBlockByNumber", ["0x0", False]),
                ("relayhub_getBlockSeals", ["0x0"]),
            ]:
                assert await lean.call(method, *params) == await ref.call(method, *params)
            calls = [("eth_chainId", []), ("eth_blockNumber", []), ("net_version", [])]
            assert await lean.batch(calls) == await ref.batch(calls)
            with pytest.raises(RpcError) as err:
                await lean.call("eth_nope")
            assert err.value.details.get("rpc_code") == -32601
            # many sequential requests reuse one connection
            for _ in range(50):
                await lean.call("eth_blockNumber")
            assert len(lean._idle) == 1
        finally:
            await lean.aclose()
            await ref.aclose()
    # the node is gone: unreachable, as with httpx
    with pytest.raises(RpcError) as gone:
        await LeanEthRpc(chain.url, timeout=2).call("eth_chainId")
    assert "unreachable" in gone.value.message


Handler = Callable[[trio.SocketStream, bytes], Awaitable[None]]


async def _serve(nursery: trio.Nursery, handler: Handler) -> str:
    async def on_connection(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await _loop(stream)

    async def _loop(stream: trio.SocketStream) -> None:
        buf = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(buf) < length:
                    buf += await stream.receive_some(65536)
                body, buf = buf[:length], buf[length:]
                await handler(stream, body)

    listeners = await nursery.start(trio.serve_tcp, on_connection, 0)
    return f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/rpc"


async def test_lean_rpc_http_variants() -> None:
    answer = b'{"jsonrpc":"2.0","id":1,"result":"0x2a"}'
    mode: dict[str, Any] = {"kind": "chunked", "served": 0}

    async def handler(stream: trio.SocketStream, body: bytes) -> None:
        mode["served"] += 1
        kind = mode["kind"]
        if kind == "chunked":
            half = len(answer) // 2
            await stream.send_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n"
                % (half, answer[:half], len(answer) - half, answer[half:])
            )
        elif kind == "close":  # no length: the body runs to the end of the connection
            await stream.send_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + answer)
            await stream.aclose()
        elif kind == "status":
            await stream.send_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy")
        elif kind == "garbage":
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{x}")
        elif kind == "drop":  # close without answering
            await stream.aclose()
        elif kind == "silent":
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        url = await _serve(nursery, handler)
        rpc = LeanEthRpc(url, timeout=1)
        assert await rpc.call("eth_chainId") == "0x2a"
        assert await rpc.call("eth_chainId") == "0x2a"  # the same connection, chunked again
        mode["kind"] = "close"
        assert await rpc.call("eth_chainId") == "0x2a"
        assert await rpc.call("eth_chainId") == "0x2a"
        for kind, text in [
            ("status", "HTTP 503"),
            ("garbage", "no JSON"),
            ("drop", "unreachable"),
            ("silent", "unreachable"),
        ]:
            mode["kind"] = kind
            with pytest.raises(RpcError) as err:
                await rpc.call("eth_chainId")
            assert text in err.value.message, (kind, err.value.message)
        mode["kind"] = "chunked"
        assert await rpc.call("eth_chainId") == "0x2a"
        await rpc.aclose()
        nursery.cancel_scope.cancel()


def test_receipt_encoding_matches_rpc_helper() -> None:
    rnd = random.Random(11)

    def hx(b: bytes) -> str:
        return "0x" + b.hex()

    for n in range(300):
        receipt = {
            "status": rnd.choice(["0x1", "0x0"]),
            "cumulativeGasUsed": hex(rnd.choice([0, 1, 127, 128, 21_000, 2**40])),
            "logsBloom": hx(rnd.randbytes(256)),
            "logs": [
                {
                    "address": hx(rnd.randbytes(20)),
                    "topics": [hx(rnd.randbytes(32)) for _ in range(rnd.randint(0, 4))],
                    "data": hx(rnd.randbytes(rnd.choice([0, 1, 55, 56, 700]))),
                }
                for _ in range(rnd.randint(0, 3))
            ],
        }
        if n % 3:
            receipt["type"] = rnd.choice(["0x0", "0x1", "0x2"])
        for failed in (b"", b"\x00"):
            assert mpt.encode_receipt_json(receipt, failed) == encode_receipt_from_json(
                receipt, failed
            )


async def test_chain_answers_map_to_chain_side_codes() -> None:
    """A node's JSON-RPC error is CHAIN_RPC_ERROR (8002) with the node's code and message
    in details, never the node's code as ours nor a 1xxx; a node that does not answer
    is UPSTREAM_UNAVAILABLE (6007). Both clients, and both are chain side."""
    error = {"code": -32000, "message": "execution reverted", "data": "0x08c379a0"}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if isinstance(body, list):
            return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": 0, "error": error}])
        if body["method"] == "eth_down":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": error})

    async def lean_handler(stream: trio.SocketStream, body: bytes) -> None:
        req = json.loads(body)
        raw = json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(raw), raw))

    async with trio.open_nursery() as nursery:
        url = await _serve(nursery, lean_handler)
        clients: list[EthRpc] = [
            EthRpc("http://node.invalid", transport=httpx.MockTransport(answer)),
            LeanEthRpc(url, timeout=1),
        ]
        for rpc in clients:
            with pytest.raises(RpcError) as info:
                await rpc.call("eth_call", {}, "latest")
            err = info.value
            assert err.code == Code.CHAIN_RPC_ERROR and is_chain_side(err.code)
            assert err.details["rpc_code"] == -32000
            assert err.details["rpc_message"] == "execution reverted"
            assert err.details["data"] == "0x08c379a0"
            assert err.details["method"] == "eth_call"
            assert decide_on_refusal(err) == SubmitAction.RETRY
            await rpc.aclose()
        mocked = EthRpc("http://node.invalid", transport=httpx.MockTransport(answer))
        with pytest.raises(RpcError) as info:
            await mocked.batch([("eth_call", [{}])])
        assert info.value.code == Code.CHAIN_RPC_ERROR
        with pytest.raises(RpcError) as info:
            await mocked.call("eth_down")
        assert info.value.code == Code.UPSTREAM_UNAVAILABLE and is_chain_side(info.value.code)
        await mocked.aclose()
        nursery.cancel_scope.cancel()


def test_a_broker_log_no_ibtp_can_carry_is_skipped() -> None:
    """A log whose fields are no IBTP's (here a `to` that is not valid UTF-8, which
    Solidity never checks) is skipped with a warning, so the gateway's checkpoint moves
    past it: before, the decode error was taken for an adapter bug and the same
    position was polled again forever, stopping everything the chain sends."""
    from eth_abi import encode as abi_encode

    from adapters.evm.gateway import EvmAdapter, EvmAdapterConfig
    from relay.ibtp import IBTPType

    adapter = EvmAdapter(
        EvmAdapterConfig(
            chain_id="chainA",
            rpc="http://127.0.0.1:9",
            broker="0x" + "00" * 19 + "10",
            key=Account.from_key(b"\x01" * 32),
        )
    )

    def log_of(to: bytes) -> dict[str, Any]:
        # `bytes` has the layout of `string` in the ABI, and lets the test write bytes
        # that are not UTF-8, as a broker that does not check may emit them.
        layout = [t.replace("string", "bytes") for t in proof.INTERCHAIN_EVENT_TYPES]
        data = abi_encode(
            layout,
            [b"h:chainA:" + b"a" * 4, to, 1, b"f", [b""], False, 0, b"\x00" * 32],
        )
        return {
            "topics": ["0x" + proof.INTERCHAIN_EVENT_TOPIC.hex()],
            "data": "0x" + data.hex(),
            "logIndex": "0x0",
            "transactionHash": "0x" + "ab" * 32,
        }

    good = adapter._ibtp_from_log(log_of(b"h:chainB:svc"), b"")
    assert good is not None and good.type == IBTPType.INTERCHAIN and good.dst == "h:chainB:svc"
    assert adapter._ibtp_from_log(log_of(b"h:chainB:\xff\xfe"), b"") is None
