"""Ethereum JSON-RPC over httpx, and rebuilding consensus encodings from its answers.

Pure helpers (``encode_header_from_json``, ``encode_receipt_from_json``) turn the
JSON a node returns back into the bytes its roots commit to; :class:`EthRpc` is
the thin async client. Adapters talk to chains only through their own APIs.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import rlp

from relay.crypto import keccak
from relay.errors import Code, RelayError

#: Header fields in consensus order; the optional tail appears as forks add it.
_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
)
_OPTIONAL_TAIL: tuple[tuple[str, str], ...] = (
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "bytes"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),
)


class RpcError(RelayError):
    """A JSON-RPC error answer (CHAIN_RPC_ERROR, 8002, the node's own code and message
    in ``details``) or a transport failure (UPSTREAM_UNAVAILABLE, 6007): chain side,
    never the relay's refusal (:func:`relay.errors.is_chain_side`)."""


def hex_to_bytes(v: str) -> bytes:
    return bytes.fromhex(v[2:] if v.startswith("0x") else v)


def hex_to_int(v: str | int) -> int:
    return v if isinstance(v, int) else int(v, 16)


def _field(value: str, kind: str) -> bytes | int:
    return hex_to_int(value) if kind == "int" else hex_to_bytes(value)


def encode_header_from_json(block: dict[str, Any]) -> bytes:
    """RLP of the header a JSON block describes; its keccak must be ``block["hash"]``."""
    items: list[Any] = [_field(block[name], kind) for name, kind in _HEADER_FIELDS]
    for name, kind in _OPTIONAL_TAIL:
        if block.get(name) is None:
            break
        items.append(_field(block[name], kind))
    header = rlp.encode(items)
    if keccak(header) != hex_to_bytes(block["hash"]):
        raise RpcError(
            Code.PROOF_INVALID,
            f"block {block.get('number')}: header fields do not hash to {block['hash']}; "
            "the node returned a header format this adapter does not know",
        )
    return header


def encode_receipt_from_json(r: dict[str, Any], failed_status: bytes = b"") -> bytes:
    """Consensus encoding of a receipt: ``type ‖ rlp([status, gas, bloom, logs])`` for
    typed receipts, plain rlp for legacy ones. ``failed_status`` is how the chain
    writes status 0: go-ethereum ``b""``, ganache ``b"\\x00"``."""
    ok = hex_to_int(r["status"]) == 1
    body = rlp.encode(
        [
            b"\x01" if ok else failed_status,
            hex_to_int(r["cumulativeGasUsed"]),
            hex_to_bytes(r["logsBloom"]),
            [
                [
                    hex_to_bytes(log["address"]),
                    [hex_to_bytes(t) for t in log["topics"]],
                    hex_to_bytes(log["data"]),
                ]
                for log in r["logs"]
            ],
        ]
    )
    typ = hex_to_int(r.get("type") or "0x0")
    return body if typ == 0 else bytes([typ]) + body


class EthRpc:
    """Minimal async Ethereum JSON-RPC client (batch-capable)."""

    def __init__(
        self, url: str, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        req = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            resp = await self._client.post(self.url, json=req)
            answer = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            # ValueError: a truncated or non-JSON answer (a node dying mid-response).
            raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"{self.url} unreachable: {exc!r}") from None
        return self._result(answer, method)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        reqs = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        try:
            resp = await self._client.post(self.url, json=reqs)
            answers = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"{self.url} unreachable: {exc!r}") from None
        if not isinstance(answers, list):
            return [self._result(answers, calls[0][0])] * len(calls)
        by_id = {a.get("id"): a for a in answers}
        return [self._result(by_id.get(i, {}), calls[i][0]) for i in range(len(calls))]

    @staticmethod
    def _result(answer: Any, method: str) -> Any:
        if not isinstance(answer, dict):
            raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"{method}: malformed JSON-RPC answer")
        if "error" in answer and answer["error"] is not None:
            err = answer["error"]
            if not isinstance(err, dict):
                err = {"message": str(err)}
            message = str(err.get("message", ""))
            raise RpcError(
                Code.CHAIN_RPC_ERROR,
                f"{method}: the node answered {err.get('code')}: {message}",
                method=method,
                rpc_code=err.get("code"),
                rpc_message=message,
                data=err.get("data"),
            )
        return answer.get("result")
