"""Helpers for the dev chain tests.

Calldata, events and relay signatures are built here independently of the dev
chain's own ABI layer (eth-abi + keccak from signature strings, relay.ibtp for
the signed digest), so the tests check the chain against the spec, not against
itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from coincurve import PrivateKey
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_hash.auto import keccak

from appchains.evm.devchain.chain import ChainState, TxReceipt, apply_block, call
from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.genesis import DevchainSetup, build_genesis, make_setup
from appchains.evm.devchain.transactions import decode_signed_transaction
from relay.crypto import Account as RelayAccount
from relay.ibtp import IBTP, IBTPType, Payload, compute_payload_hash, compute_signed_digest

HUB = "hub1"
CHAIN = "evmA"
OTHER = "hub1:evmB:0x" + "bb" * 20  # a service on another chain

RELAY_KEYS = [RelayAccount.from_key(bytes([i + 1]) * 32) for i in range(3)]
OUTSIDER = RelayAccount.from_key(b"\x77" * 32)

INTERCHAIN_TOPIC = keccak(
    b"InterchainEvent(string,string,uint64,string,bytes[],bool,uint64,bytes32)"
)
RECEIPT_TOPIC = keccak(b"ReceiptEvent(string,string,uint64,uint8,bytes,bytes32)")
CALLBACK_TOPIC = keccak(b"CallbackEvent(string,string,uint64,uint8)")
INTERCHAIN_TYPES = ["string", "string", "uint64", "string", "bytes[]", "bool", "uint64", "bytes32"]
RECEIPT_TYPES = ["string", "string", "uint64", "uint8", "bytes", "bytes32"]
CALLBACK_TYPES = ["string", "string", "uint64", "uint8"]


def make_config(**overrides: Any) -> DevchainConfig:
    base: dict[str, Any] = {
        "seed": "tests",
        "hub_id": HUB,
        "chain_name": CHAIN,
        "relay_validators": tuple(a.address for a in RELAY_KEYS),
        "relay_threshold": 2,
        "accounts": 4,
        "block_interval": 0.01,
    }
    base.update(overrides)
    return DevchainConfig(**base)


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return [t for t in re.split(r",(?![^(]*\))", inner) if t]


def calldata(signature: str, *args: Any) -> bytes:
    return keccak(signature.encode())[:4] + abi_encode(_types(signature), list(args))


def error_data(message: str) -> bytes:
    return bytes.fromhex("08c379a0") + abi_encode(["string"], [message])


def sign_tx(
    key: PrivateKey,
    chain_id: int,
    nonce: int,
    to: str,
    data: bytes = b"",
    value: int = 0,
    gas: int = 2_000_000,
    tx_type: int = 2,
) -> bytes:
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "to": to_checksum(to),
        "value": value,
        "gas": gas,
    }
    tx["data"] = data
    if tx_type == 2:
        tx.update(type=2, maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9)
    elif tx_type == 1:
        tx.update(type=1, gasPrice=2 * 10**9, accessList=[])
    else:
        tx.update(gasPrice=2 * 10**9)
    return bytes(EthAccount.sign_transaction(tx, key.secret).raw_transaction)


def to_checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def relay_sign(
    src: str,
    dst: str,
    index: int,
    typ: IBTPType,
    payload: Payload,
    status: int,
    signers: list[RelayAccount] | None = None,
    hub: str = HUB,
    target: str | None = None,
) -> list[bytes]:
    """Relay signatures over the signed digest addressed to the broker of ``target``
    (default: ``CHAIN``, the chain under test)."""
    ibtp = IBTP(src=src, dst=dst, index=index, type=typ, payload=payload)
    digest = compute_signed_digest(hub, CHAIN if target is None else target, ibtp, status)
    return [s.sign(digest) for s in (signers if signers is not None else RELAY_KEYS[:2])]


def interchain_call(
    src: str, dst: str, index: int, func: str, args: list[bytes], **kw: Any
) -> bytes:
    sigs = relay_sign(
        src, dst, index, IBTPType.INTERCHAIN, Payload(func, tuple(args), False), 0, **kw
    )
    return calldata(
        "invokeInterchain(string,string,uint64,string,bytes[],bytes[])",
        src,
        dst,
        index,
        func,
        args,
        sigs,
    )


def receipt_call(
    src: str, dst: str, index: int, typ: int, result: bytes, status: int, **kw: Any
) -> bytes:
    payload = Payload("", (), False) if typ == 3 else Payload("", (result,), False)
    sigs = relay_sign(src, dst, index, IBTPType(typ), payload, status, **kw)
    return calldata(
        "invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])",
        src,
        dst,
        index,
        typ,
        result,
        status,
        sigs,
    )


def receipt_payload_hash(result: bytes) -> bytes:
    return compute_payload_hash(Payload("", (result,), False))


@dataclass
class Event:
    name: str
    address: bytes
    values: tuple[Any, ...]


def decode_broker_event(address: bytes, topics: list[bytes], data: bytes) -> Event | None:
    for name, topic, types in (
        ("InterchainEvent", INTERCHAIN_TOPIC, INTERCHAIN_TYPES),
        ("ReceiptEvent", RECEIPT_TOPIC, RECEIPT_TYPES),
        ("CallbackEvent", CALLBACK_TOPIC, CALLBACK_TYPES),
    ):
        if topics and topics[0] == topic:
            assert len(topics) == 1
            return Event(name, address, tuple(abi_decode(types, data)))
    return None


class CoreChain:
    """A dev chain driven in-process through the pure core: one block per transaction."""

    def __init__(self, config: DevchainConfig | None = None) -> None:
        self.config = config or make_config()
        self.setup: DevchainSetup = make_setup(self.config, self.config.seed or "x")
        self.state: ChainState = build_genesis(self.setup)
        self.nonces: dict[bytes, int] = {}
        self.timestamp = 1_700_000_000

    @property
    def broker(self) -> str:
        return "0x" + self.setup.broker.hex()

    @property
    def asset(self) -> str:
        return "0x" + self.setup.asset_transfer.hex()

    @property
    def dataswap(self) -> str:
        return "0x" + self.setup.data_swap.hex()

    def full_id(self, address: str) -> str:
        return f"{self.config.hub_id}:{self.config.chain_name}:{address.lower()}"

    def account(self, i: int = 0) -> PrivateKey:
        return self.setup.account_keys[i]

    def address(self, i: int = 0) -> str:
        return EthAccount.from_key(self.account(i).secret).address.lower()

    def send(self, to: str, data: bytes, *, sender: int = 0, value: int = 0) -> TxReceipt:
        key = self.account(sender)
        nonce = self.nonces.get(key.secret, 0)
        raw = sign_tx(key, self.config.chain_id, nonce, to, data, value)
        tx = decode_signed_transaction(raw, self.config.chain_id)
        self.timestamp += 1
        block, receipts = apply_block(self.state, [tx], self.timestamp)
        assert len(block.transactions) == 1
        self.nonces[key.secret] = nonce + 1
        return receipts[0]

    def call(self, to: str, data: bytes, sender: str = "0x" + "00" * 20) -> tuple[bool, bytes]:
        result = call(self.state, bytes.fromhex(sender[2:]), bytes.fromhex(to[2:]), data)
        return result.ok, result.output

    def view(self, to: str, signature: str, returns: list[str], *args: Any) -> Any:
        ok, out = self.call(to, calldata(signature, *args))
        assert ok, out
        values = abi_decode(returns, out)
        return values[0] if len(values) == 1 else values

    def events(self, receipt: TxReceipt) -> list[Event]:
        out = []
        for log in receipt.receipt.logs:
            event = decode_broker_event(log.address, list(log.topics), log.data)
            if event is not None:
                out.append(event)
        return out


class Rpc:
    """A small JSON-RPC client over httpx."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(self, body: Any) -> Any:
        response = await self.client.post("/", json=body)
        assert response.status_code in (200, 204), response.text
        return response.json() if response.status_code == 200 else None

    async def request(self, method: str, *params: Any) -> dict[str, Any]:
        result = await self.raw(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        )
        assert isinstance(result, dict)
        return result

    async def __call__(self, method: str, *params: Any) -> Any:
        response = await self.request(method, *params)
        if "error" in response:
            raise RpcFailure(response["error"])
        return response["result"]

    async def wait_receipt(self, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                receipt = await self("eth_getTransactionReceipt", tx_hash)
                if receipt is not None:
                    return dict(receipt)
                await trio.sleep(0.005)

    async def transact(
        self, key: PrivateKey, to: str, data: bytes = b"", value: int = 0, tx_type: int = 2
    ) -> dict[str, Any]:
        address = EthAccount.from_key(key.secret).address
        nonce = int(await self("eth_getTransactionCount", address, "pending"), 16)
        chain_id = int(await self("eth_chainId"), 16)
        raw = sign_tx(key, chain_id, nonce, to, data, value, tx_type=tx_type)
        tx_hash = await self("eth_sendRawTransaction", "0x" + raw.hex())
        return await self.wait_receipt(tx_hash)


async def add_counterpart(rpc: Rpc, owner: PrivateKey, asset: str, service: str) -> None:
    """The owner registers ``service`` as a counterpart of the AssetTransfer at ``asset``."""
    receipt = await rpc.transact(
        owner, asset, calldata("setCounterpart(string,bool)", service, True)
    )
    assert receipt["status"] == "0x1", receipt


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error


def hexb(text: str) -> bytes:
    return bytes.fromhex(text[2:])
