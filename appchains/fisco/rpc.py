"""FISCO BCOS 2.x JSON-RPC for the dev chain: method names, parameters and answers (no I/O).

As FISCO-BCOS-DOC ``2.x/docs/api.md`` documents them: the group ID comes first in every
group method; quantities are ``0x`` hex strings; node IDs (``sealerList``,
``getSealerList``) and Merkle proof items are hex without ``0x``. Methods:

``getClientVersion``, ``getGroupList``, ``getBlockNumber``, ``getSealerList``,
``getBlockByNumber`` / ``getBlockByHash`` (with ``dbHash``, ``receiptsRoot`` and the
block's ``signatureList`` of ``{index, signature}``), ``getBlockHashByNumber``,
``getTransactionByHash``, ``getTransactionReceipt``,
``getTransactionByHashWithProof`` (``transaction``, ``txProof``),
``getTransactionReceiptByHashWithProof`` (``transactionReceipt``, ``receiptProof``),
``sendRawTransaction``, ``call`` (``currentBlockNumber``, ``output``, ``status``),
``getPendingTxSize``, ``getTotalTransactionCount``. Batches are answered.

Errors: JSON-RPC's own (-32700, -32600, -32601, -32602, -32603); FISCO's -40001
(``GroupID does not exist``), -40003 / -40004 (no such block hash / number), -40006
(``call`` without ``from``); a refused transaction is an error whose ``code`` is its
``TransactionException`` status (10002 InvalidChainId, 10003 InvalidGroupId,
16 BlockLimitCheckFail, 15 NonceCheckFail, 5 InvalidSignature, 10000 AlreadyKnown...)
and whose ``message`` starts with the exception's name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from adapters.fisco.transaction import FiscoTransaction, TransactionError
from appchains.evm.devchain.receipts import Log
from appchains.fisco import formats
from appchains.fisco.chain import Block, Header, Receipt
from appchains.fisco.node import FiscoNode

log = logging.getLogger("relayhub.fisco.rpc")

#: What ``getClientVersion`` says: supported_version 2.7.0 (7-field receipts, proofs).
FISCO_VERSION = "2.7.2"
SUPPORTED_VERSION = "2.7.0"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
GROUP_NOT_FOUND = -40001
BLOCK_HASH_NOT_FOUND = -40003
BLOCK_NUMBER_NOT_FOUND = -40004
CALL_NEEDS_FROM = -40006
MAX_BATCH = 1_000


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _address(data: bytes | None) -> str:
    return _hex(data or b"\x00" * 20)


def _data(value: Any, name: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise RpcError(INVALID_PARAMS, f"{name} must be a hex string")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        out = bytes.fromhex(text)
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"{name} is not hex: {value!r}") from None
    if size is not None and len(out) != size:
        raise RpcError(INVALID_PARAMS, f"{name} must be {size} bytes")
    return out


def _number(value: Any, name: str) -> int:
    """A block number: ``0x`` hex or a decimal string (or a JSON integer)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value[:2] in ("0x", "0X") else int(value, 10)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"{name} must be a block number, got {value!r}")


def format_log(entry: Log) -> dict[str, Any]:
    return {
        "address": _address(entry.address),
        "data": _hex(entry.data),
        "topics": [_hex(t) for t in entry.topics],
    }


class FiscoRpc:
    """The JSON-RPC method set of one node (one group)."""

    def __init__(self, node: FiscoNode) -> None:
        self.node = node
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "getClientVersion": self.get_client_version,
            "getGroupList": self.get_group_list,
            "getBlockNumber": self.get_block_number,
            "getSealerList": self.get_sealer_list,
            "getBlockByNumber": self.get_block_by_number,
            "getBlockByHash": self.get_block_by_hash,
            "getBlockHashByNumber": self.get_block_hash_by_number,
            "getTransactionByHash": self.get_transaction_by_hash,
            "getTransactionReceipt": self.get_transaction_receipt,
            "getTransactionByHashWithProof": self.get_transaction_with_proof,
            "getTransactionReceiptByHashWithProof": self.get_receipt_with_proof,
            "sendRawTransaction": self.send_raw_transaction,
            "call": self.call,
            "getPendingTxSize": self.get_pending_tx_size,
            "getTotalTransactionCount": self.get_total_transaction_count,
        }

    # ------------------------------------------------------------------ envelope
    def handle_body(self, body: bytes) -> bytes | None:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dump(_error(None, RpcError(PARSE_ERROR, "JSON_PARSE_ERROR")))
        if isinstance(request, list):
            if not request or len(request) > MAX_BATCH:
                return _dump(_error(None, RpcError(INVALID_REQUEST, "INVALID_JSON_REQUEST")))
            answers = [a for a in (self.handle_request(r) for r in request) if a is not None]
            return _dump(answers) if answers else None
        answer = self.handle_request(request)
        return None if answer is None else _dump(answer)

    def handle_request(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, RpcError(INVALID_REQUEST, "INVALID_JSON_REQUEST"))
        req_id = request.get("id")
        notification = "id" not in request
        method = request["method"]
        params = request.get("params") or []
        try:
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "INVALID_PARAMS: params must be an array")
            handler = self.methods.get(method)
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND, f"METHOD_NOT_FOUND: {method}")
            result = handler(params)
        except RpcError as exc:
            return None if notification else _error(req_id, exc)
        except TransactionError as exc:
            error = RpcError(exc.code, f"{exc.name}: {exc}")
            return None if notification else _error(req_id, error)
        except Exception as exc:
            log.exception("JSON-RPC %s failed", method)
            error = RpcError(INTERNAL_ERROR, f"INTERNAL_ERROR: {type(exc).__name__}")
            return None if notification else _error(req_id, error)
        return None if notification else {"id": req_id, "jsonrpc": "2.0", "result": result}

    # ------------------------------------------------------------------ helpers
    def _group(self, params: list[Any], count: int) -> None:
        """The group ID first, then ``count - 1`` more parameters."""
        if len(params) < count:
            raise RpcError(INVALID_PARAMS, f"INVALID_PARAMS: {count} parameters expected")
        group = params[0]
        if isinstance(group, str) and group.isdigit():
            group = int(group)
        if group != self.node.config.group_id:
            raise RpcError(GROUP_NOT_FOUND, "GroupID does not exist")

    def _format_tx(self, tx: FiscoTransaction, block: Block, index: int) -> dict[str, Any]:
        return {
            "blockHash": _hex(block.hash),
            "blockLimit": hex(tx.block_limit),
            "blockNumber": hex(block.number),
            "chainId": hex(tx.chain_id),
            "extraData": _hex(tx.extra_data),
            "from": _address(tx.sender),
            "gas": hex(tx.gas),
            "gasPrice": hex(tx.gas_price),
            "groupId": hex(tx.group_id),
            "hash": _hex(tx.hash),
            "input": _hex(tx.data),
            "nonce": hex(tx.nonce),
            "to": _address(tx.to),
            "transactionIndex": hex(index),
            "value": hex(tx.value),
        }

    def _format_receipt(self, block: Block, index: int, receipt: Receipt) -> dict[str, Any]:
        tx = block.transactions[index]
        return {
            "blockHash": _hex(block.hash),
            "blockNumber": hex(block.number),
            "contractAddress": _address(receipt.contract_address),
            "from": _address(tx.sender),
            "gasUsed": hex(receipt.gas_used),
            "input": _hex(tx.data),
            "logs": [format_log(x) for x in receipt.logs],
            "logsBloom": _hex(receipt.log_bloom),
            "output": _hex(receipt.output),
            "root": _hex(receipt.state_root),
            "status": hex(receipt.status),
            "to": _address(tx.to),
            "transactionHash": _hex(tx.hash),
            "transactionIndex": hex(index),
        }

    def _format_block(self, block: Block, full: bool) -> dict[str, Any]:
        h: Header = block.header
        return {
            "dbHash": _hex(h.db_hash),
            "extraData": [_hex(x) for x in h.extra_data],
            "gasLimit": hex(h.gas_limit),
            "gasUsed": hex(h.gas_used),
            "hash": _hex(block.hash),
            "logsBloom": _hex(h.log_bloom),
            "number": hex(h.number),
            "parentHash": _hex(h.parent_hash),
            "receiptsRoot": _hex(h.receipts_root),
            "sealer": hex(h.sealer),
            "sealerList": [x.hex() for x in h.sealer_list],
            "signatureList": [
                {"index": hex(i), "signature": _hex(sig)} for i, sig in block.sig_list
            ],
            "stateRoot": _hex(h.state_root),
            "timestamp": hex(h.timestamp),
            "transactions": [
                self._format_tx(tx, block, i) if full else _hex(tx.hash)
                for i, tx in enumerate(block.transactions)
            ],
            "transactionsRoot": _hex(h.transactions_root),
        }

    def _block(self, number: int) -> Block:
        block = self.node.get_block(number)
        if block is None:
            raise RpcError(BLOCK_NUMBER_NOT_FOUND, "BlockNumber does not exist")
        return block

    def _hash_fn(self) -> formats.Hash:
        return formats.hash_for(self.node.config.mode)

    # ------------------------------------------------------------------ methods
    def get_client_version(self, params: list[Any]) -> dict[str, str]:
        config = self.node.config
        # A 国密 build says so in its version string.
        version = FISCO_VERSION + (" gm" if config.mode == "sm" else "")
        return {
            "Build Time": "20260101 00:00:00",
            "Build Type": "relayhub dev chain (Python)",
            "Chain Id": str(config.chain_id),
            "FISCO-BCOS Version": version,
            "Git Branch": "relayhub",
            "Git Commit Hash": "0" * 40,
            "Supported Version": SUPPORTED_VERSION,
        }

    def get_group_list(self, params: list[Any]) -> list[int]:
        return [self.node.config.group_id]

    def get_block_number(self, params: list[Any]) -> str:
        self._group(params, 1)
        return hex(self.node.head_number())

    def get_sealer_list(self, params: list[Any]) -> list[str]:
        self._group(params, 1)
        return [x.hex() for x in self.node.setup.sealer_list]

    def get_block_by_number(self, params: list[Any]) -> dict[str, Any]:
        self._group(params, 2)
        full = bool(params[2]) if len(params) > 2 else False
        return self._format_block(self._block(_number(params[1], "blockNumber")), full)

    def get_block_by_hash(self, params: list[Any]) -> dict[str, Any]:
        self._group(params, 2)
        number = self.node.block_number_of(_data(params[1], "blockHash", 32))
        if number is None:
            raise RpcError(BLOCK_HASH_NOT_FOUND, "BlockHash does not exist")
        full = bool(params[2]) if len(params) > 2 else False
        return self._format_block(self._block(number), full)

    def get_block_hash_by_number(self, params: list[Any]) -> str:
        self._group(params, 2)
        return _hex(self._block(_number(params[1], "blockNumber")).hash)

    def _located(self, params: list[Any]) -> tuple[Block, int, Receipt] | None:
        self._group(params, 2)
        return self.node.receipt_of(_data(params[1], "transactionHash", 32))

    def get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        found = self._located(params)
        if found is None:
            return None
        block, index, _ = found
        return self._format_tx(block.transactions[index], block, index)

    def get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        found = self._located(params)
        return None if found is None else self._format_receipt(*found)

    def get_transaction_with_proof(self, params: list[Any]) -> dict[str, Any] | None:
        found = self._located(params)
        if found is None:
            return None
        block, index, _ = found
        hashes = [tx.hash for tx in block.transactions]
        return {
            "transaction": self._format_tx(block.transactions[index], block, index),
            "txProof": formats.merkle_proof(hashes, index, self._hash_fn()),
        }

    def get_receipt_with_proof(self, params: list[Any]) -> dict[str, Any] | None:
        found = self._located(params)
        if found is None:
            return None
        block, index, receipt = found
        hash_fn = self._hash_fn()
        hashes = [hash_fn(r.encode()) for r in block.receipts]
        return {
            "receiptProof": formats.merkle_proof(hashes, index, hash_fn),
            "transactionReceipt": self._format_receipt(block, index, receipt),
        }

    def send_raw_transaction(self, params: list[Any]) -> str:
        self._group(params, 2)
        return _hex(self.node.submit_raw(_data(params[1], "rlp")))

    def call(self, params: list[Any]) -> dict[str, str]:
        self._group(params, 2)
        obj = params[1]
        if not isinstance(obj, dict):
            raise RpcError(INVALID_PARAMS, "INVALID_PARAMS: the call object")
        if not obj.get("from"):
            raise RpcError(CALL_NEEDS_FROM, "Call needs a 'from' field")
        sender = _data(obj["from"], "from", 20)
        to = _data(obj.get("to"), "to", 20)
        data = _data(obj.get("data") or "0x", "data")
        result = self.node.call(sender, to, data)
        return {
            "currentBlockNumber": hex(self.node.head_number()),
            "output": _hex(result.output),
            "status": hex(result.status),
        }

    def get_pending_tx_size(self, params: list[Any]) -> str:
        self._group(params, 1)
        return hex(self.node.pending_count())

    def get_total_transaction_count(self, params: list[Any]) -> dict[str, str]:
        self._group(params, 1)
        return {
            "blockNumber": hex(self.node.head_number()),
            "failedTxSum": "0x0",
            "txSum": hex(self.node.total_transactions()),
        }


def _error(req_id: Any, error: RpcError) -> dict[str, Any]:
    return {"error": error.to_json(), "id": req_id, "jsonrpc": "2.0"}


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
