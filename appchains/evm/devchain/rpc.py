"""Ethereum JSON-RPC for the dev chain: request handling and geth-style formatting (no I/O).

:class:`JsonRpc` turns a request body into a response body; the HTTP shell in
:mod:`appchains.evm.devchain.server` only moves bytes. Batches are supported.
Errors follow JSON-RPC 2.0 and geth: -32700 parse error, -32600 invalid request,
-32601 unknown method, -32602 invalid params, -32000 a refused transaction or a
missing block, -32005 a log query over the limits, and 3 "execution reverted"
with the revert data in ``data``. A handler never brings the server down: an
unexpected exception becomes -32603.

State queries (``eth_getBalance``, ``eth_call``, ...) answer from the head state
whatever block they name (no archive); a block beyond the head is -32000.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from appchains.evm.devchain.chain import CallResult, LogEntry, StoredBlock, TxReceipt
from appchains.evm.devchain.crypto import ZERO_ADDRESS, address_hex, to_hex
from appchains.evm.devchain.header import Header
from appchains.evm.devchain.native import decode_revert_reason
from appchains.evm.devchain.receipts import Log
from appchains.evm.devchain.transactions import Transaction, TxError

log = logging.getLogger("relayhub.devchain.rpc")

CLIENT_VERSION = "relayhub-devchain/0.1"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3

MAX_BATCH = 1_000
MAX_LOG_RESULTS = 10_000
MAX_LOG_BLOCK_RANGE = 100_000


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class Backend(Protocol):
    """What the JSON-RPC layer needs from a chain (implemented by ``DevchainNode``)."""

    @property
    def chain_id(self) -> int: ...
    def head_number(self) -> int: ...
    def get_block(self, number: int, full: bool = False) -> StoredBlock | None: ...
    def get_header(self, number: int) -> tuple[Header, bytes, tuple[bytes, ...]] | None: ...
    def get_receipt(self, number: int, index: int) -> TxReceipt | None: ...
    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, int, int] | None: ...
    def get_seals(self, number: int) -> tuple[bytes, ...] | None: ...
    def block_number_of(self, block_hash: bytes) -> int | None: ...
    def get_receipts(self, number: int) -> tuple[TxReceipt, ...]: ...
    def find_transaction(self, tx_hash: bytes) -> tuple[int, int] | None: ...
    def pending_transaction(self, tx_hash: bytes) -> Transaction | None: ...
    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: list[bytes],
        topics: list[list[bytes] | None],
        limit: int,
    ) -> list[LogEntry]: ...
    def submit_raw(self, raw: bytes) -> bytes: ...
    def call(
        self, sender: bytes, to: bytes, data: bytes, value: int, gas: int | None
    ) -> CallResult: ...
    def balance(self, address: bytes) -> int: ...
    def nonce(self, address: bytes) -> int: ...
    def pending_nonce(self, address: bytes) -> int: ...
    def code(self, address: bytes) -> bytes: ...
    def gas_price(self) -> int: ...
    def validators(self) -> tuple[list[str], int]: ...
    def chain_info(self) -> dict[str, Any]: ...
    def produce_block(self) -> Any: ...


# ---------------------------------------------------------------------- formatting
def quantity(value: int) -> str:
    return hex(value)


def format_log(
    entry: Log, block_number: int, block_hash: bytes, tx_hash: bytes, tx_index: int, log_index: int
) -> dict[str, Any]:
    return {
        "address": address_hex(entry.address),
        "topics": [to_hex(t) for t in entry.topics],
        "data": to_hex(entry.data),
        "blockNumber": quantity(block_number),
        "blockHash": to_hex(block_hash),
        "transactionHash": to_hex(tx_hash),
        "transactionIndex": quantity(tx_index),
        "logIndex": quantity(log_index),
        "removed": False,
    }


def format_receipt(r: TxReceipt, block_number: int, block_hash: bytes) -> dict[str, Any]:
    receipt = r.receipt
    first_log_index = r.first_log_index
    return {
        "transactionHash": to_hex(r.tx_hash),
        "transactionIndex": quantity(r.tx_index),
        "blockHash": to_hex(block_hash),
        "blockNumber": quantity(block_number),
        "from": address_hex(r.sender),
        "to": address_hex(r.to) if r.to is not None else None,
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "gasUsed": quantity(r.gas_used),
        "effectiveGasPrice": quantity(r.effective_gas_price),
        "contractAddress": None,
        "logs": [
            format_log(entry, block_number, block_hash, r.tx_hash, r.tx_index, first_log_index + i)
            for i, entry in enumerate(receipt.logs)
        ],
        "logsBloom": to_hex(receipt.logs_bloom),
        "status": quantity(receipt.status),
        "type": quantity(receipt.tx_type),
    }


def format_block_receipts(
    number: int, block_hash: bytes, receipts: Sequence[TxReceipt]
) -> list[dict[str, Any]]:
    return [format_receipt(r, number, block_hash) for r in receipts]


def format_transaction(
    tx: Transaction,
    block_hash: bytes | None,
    number: int | None,
    index: int | None,
    base_fee: int | None,
) -> dict[str, Any]:
    mined = block_hash is not None
    price = tx.max_fee
    if tx.tx_type == 2 and base_fee is not None:
        price = min(tx.max_fee, base_fee + tx.max_priority_fee)
    out: dict[str, Any] = {
        "blockHash": to_hex(block_hash) if mined and block_hash is not None else None,
        "blockNumber": quantity(number) if number is not None else None,
        "transactionIndex": quantity(index) if index is not None else None,
        "hash": to_hex(tx.hash),
        "from": address_hex(tx.sender),
        "to": address_hex(tx.to) if tx.to is not None else None,
        "nonce": quantity(tx.nonce),
        "gas": quantity(tx.gas),
        "gasPrice": quantity(price),
        "value": quantity(tx.value),
        "input": to_hex(tx.data),
        "type": quantity(tx.tx_type),
        "chainId": quantity(tx.chain_id),
        "v": quantity(tx.v),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    if tx.tx_type != 0:
        out["accessList"] = [
            {"address": address_hex(a), "storageKeys": [to_hex(k) for k in keys]}
            for a, keys in tx.access_list
        ]
        out["yParity"] = quantity(tx.v)
    if tx.tx_type == 2:
        out["maxFeePerGas"] = quantity(tx.max_fee)
        out["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee)
    return out


def format_header_fields(header: Header) -> dict[str, Any]:
    return {
        "number": quantity(header.number),
        "parentHash": to_hex(header.parent_hash),
        "sha3Uncles": to_hex(header.ommers_hash),
        "miner": address_hex(header.coinbase),
        "stateRoot": to_hex(header.state_root),
        "transactionsRoot": to_hex(header.transactions_root),
        "receiptsRoot": to_hex(header.receipts_root),
        "logsBloom": to_hex(header.logs_bloom),
        "difficulty": quantity(header.difficulty),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "extraData": to_hex(header.extra_data),
        "mixHash": to_hex(header.mix_hash),
        "nonce": to_hex(header.nonce),
        "baseFeePerGas": quantity(header.base_fee_per_gas),
    }


def format_block(block: StoredBlock, full: bool) -> dict[str, Any]:
    header = block.header
    out: dict[str, Any] = {"hash": to_hex(block.hash), **format_header_fields(header)}
    out["totalDifficulty"] = quantity(0)
    out["size"] = quantity(block.size)
    out["uncles"] = []
    if full:
        out["transactions"] = [
            format_transaction(tx, block.hash, header.number, i, header.base_fee_per_gas)
            for i, tx in enumerate(block.transactions)
        ]
    else:
        out["transactions"] = [to_hex(h) for h in block.tx_hashes]
    out["seals"] = [to_hex(s) for s in block.seals]
    return out


# ---------------------------------------------------------------------- parsing
def _param(params: list[Any], i: int, name: str, *, default: Any = ...) -> Any:
    if i < len(params):
        return params[i]
    if default is ...:
        raise RpcError(INVALID_PARAMS, f"missing value for required argument {i} ({name})")
    return default


def parse_quantity(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise RpcError(
        INVALID_PARAMS, f"invalid argument {name}: {str(value)[:80]!r} is not a hex quantity"
    )


def parse_data(value: Any, name: str, *, size: int | None = None) -> bytes:
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) % 2 == 0:
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = None
        if raw is not None and (size is None or len(raw) == size):
            return raw
    want = f"{size}-byte" if size else "even-length"
    raise RpcError(INVALID_PARAMS, f"invalid argument {name}: expected 0x-prefixed {want} hex data")


def parse_address_param(value: Any, name: str) -> bytes:
    return parse_data(value, name, size=20)


class JsonRpc:
    """Dispatch of JSON-RPC requests to a :class:`Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda p: CLIENT_VERSION,
            "net_version": lambda p: str(self.backend.chain_id),
            "net_listening": lambda p: True,
            "eth_chainId": lambda p: quantity(self.backend.chain_id),
            "eth_blockNumber": lambda p: quantity(self.backend.head_number()),
            "eth_syncing": lambda p: False,
            "eth_accounts": lambda p: [],
            "eth_gasPrice": lambda p: quantity(self.backend.gas_price()),
            "eth_maxPriorityFeePerGas": lambda p: quantity(0),
            "eth_getBalance": self.eth_get_balance,
            "eth_getTransactionCount": self.eth_get_transaction_count,
            "eth_getCode": self.eth_get_code,
            "eth_getBlockByNumber": self.eth_get_block_by_number,
            "eth_getBlockByHash": self.eth_get_block_by_hash,
            "eth_getTransactionByHash": self.eth_get_transaction_by_hash,
            "eth_getTransactionReceipt": self.eth_get_transaction_receipt,
            "eth_getBlockReceipts": self.eth_get_block_receipts,
            "eth_getLogs": self.eth_get_logs,
            "eth_sendRawTransaction": self.eth_send_raw_transaction,
            "eth_call": self.eth_call,
            "eth_estimateGas": self.eth_estimate_gas,
            "evm_mine": self.evm_mine,
            "relayhub_getBlockSeals": self.relayhub_get_block_seals,
            "relayhub_getValidators": self.relayhub_get_validators,
            "relayhub_getChainInfo": lambda p: self.backend.chain_info(),
        }

    # -- transport
    def handle_body(self, body: bytes) -> bytes | None:
        """Response body for a request body; ``None`` when only notifications came."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dump(_error_response(None, RpcError(PARSE_ERROR, "parse error")))
        if isinstance(request, list):
            if not request:
                return _dump(_error_response(None, RpcError(INVALID_REQUEST, "empty batch")))
            if len(request) > MAX_BATCH:
                return _dump(
                    _error_response(
                        None, RpcError(INVALID_REQUEST, f"batch larger than {MAX_BATCH}")
                    )
                )
            responses = [
                r for r in (self.handle_request(item) for item in request) if r is not None
            ]
            return _dump(responses) if responses else None
        response = self.handle_request(request)
        return None if response is None else _dump(response)

    def handle_request(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error_response(None, RpcError(INVALID_REQUEST, "a request is a JSON object"))
        req_id = request.get("id")
        if not isinstance(req_id, str | int | float | type(None)) or isinstance(req_id, bool):
            return _error_response(None, RpcError(INVALID_REQUEST, "invalid id"))
        notification = "id" not in request
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error_response(
                req_id, RpcError(INVALID_REQUEST, 'need "jsonrpc": "2.0" and a method')
            )
        params = request.get("params", [])
        if params is None:
            params = []
        try:
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "params must be an array")
            handler = self.methods.get(method)
            if handler is None:
                raise RpcError(
                    METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"
                )
            result = handler(params)
        except RpcError as exc:
            return None if notification else _error_response(req_id, exc)
        except TxError as exc:
            return (
                None if notification else _error_response(req_id, RpcError(SERVER_ERROR, str(exc)))
            )
        except Exception as exc:
            log.exception("JSON-RPC %s failed", method)
            error = RpcError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
            return None if notification else _error_response(req_id, error)
        if notification:
            return None
        return {"jsonrpc": "2.0", "id": req_id, "result": result}

    # -- helpers
    def _block_number(self, tag: Any, name: str = "block") -> int:
        head = self.backend.head_number()
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):
            if "blockHash" in tag:
                number = self.backend.block_number_of(
                    parse_data(tag["blockHash"], "blockHash", size=32)
                )
                if number is None:
                    raise RpcError(SERVER_ERROR, "header for hash not found")
                return number
            tag = tag.get("blockNumber")
        number = parse_quantity(tag, name)
        return number

    def _state_block(self, params: list[Any], i: int) -> None:
        number = self._block_number(_param(params, i, "block", default="latest"))
        if number > self.backend.head_number():
            raise RpcError(SERVER_ERROR, "header not found")

    def _call_args(self, params: list[Any]) -> tuple[bytes, bytes, bytes, int, int | None]:
        obj = _param(params, 0, "transaction")
        if not isinstance(obj, dict):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: a call object is expected")
        self._state_block(params, 1)
        if obj.get("to") is None:
            raise RpcError(SERVER_ERROR, "contract creation is not supported by this dev chain")
        to = parse_address_param(obj["to"], "to")
        sender = (
            parse_address_param(obj["from"], "from")
            if obj.get("from") is not None
            else ZERO_ADDRESS
        )
        raw = obj.get("input", obj.get("data"))
        data = parse_data(raw, "input") if raw is not None else b""
        value = parse_quantity(obj["value"], "value") if obj.get("value") is not None else 0
        gas = parse_quantity(obj["gas"], "gas") if obj.get("gas") is not None else None
        return sender, to, data, value, gas

    # -- state
    def eth_get_balance(self, params: list[Any]) -> str:
        address = parse_address_param(_param(params, 0, "address"), "address")
        self._state_block(params, 1)
        return quantity(self.backend.balance(address))

    def eth_get_transaction_count(self, params: list[Any]) -> str:
        address = parse_address_param(_param(params, 0, "address"), "address")
        if _param(params, 1, "block", default="latest") == "pending":
            return quantity(self.backend.pending_nonce(address))
        self._state_block(params, 1)
        return quantity(self.backend.nonce(address))

    def eth_get_code(self, params: list[Any]) -> str:
        address = parse_address_param(_param(params, 0, "address"), "address")
        self._state_block(params, 1)
        return to_hex(self.backend.code(address))

    # -- blocks and transactions
    def _full_flag(self, params: list[Any]) -> bool:
        full = _param(params, 1, "fullTransactions", default=False)
        if not isinstance(full, bool):
            raise RpcError(INVALID_PARAMS, "invalid argument 1: fullTransactions must be a boolean")
        return full

    def eth_get_block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        number = self._block_number(_param(params, 0, "block"))
        full = self._full_flag(params)
        block = self.backend.get_block(number, full)
        return None if block is None else format_block(block, full)

    def eth_get_block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        block_hash = parse_data(_param(params, 0, "blockHash"), "blockHash", size=32)
        full = self._full_flag(params)
        number = self.backend.block_number_of(block_hash)
        block = None if number is None else self.backend.get_block(number, full)
        return None if block is None else format_block(block, full)

    def eth_get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = parse_data(_param(params, 0, "hash"), "hash", size=32)
        found = self.backend.get_transaction(tx_hash)
        if found is None:
            pending = self.backend.pending_transaction(tx_hash)
            return None if pending is None else format_transaction(pending, None, None, None, None)
        tx, number, index = found
        header = self.backend.get_header(number)
        assert header is not None
        return format_transaction(tx, header[1], number, index, header[0].base_fee_per_gas)

    def eth_get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = parse_data(_param(params, 0, "hash"), "hash", size=32)
        where = self.backend.find_transaction(tx_hash)
        if where is None:
            return None
        number, index = where
        header = self.backend.get_header(number)
        receipt = self.backend.get_receipt(number, index)
        assert header is not None and receipt is not None
        return format_receipt(receipt, number, header[1])

    def eth_get_block_receipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        ref = _param(params, 0, "block")
        if isinstance(ref, str) and len(ref) == 66:
            number: int | None = self.backend.block_number_of(parse_data(ref, "blockHash", size=32))
        else:
            number = self._block_number(ref)
        header = None if number is None else self.backend.get_header(number)
        if header is None or number is None:
            return None
        return format_block_receipts(number, header[1], self.backend.get_receipts(number))

    def eth_get_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        flt = _param(params, 0, "filter")
        if not isinstance(flt, dict):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: a filter object is expected")
        head = self.backend.head_number()
        if flt.get("blockHash") is not None:
            if flt.get("fromBlock") is not None or flt.get("toBlock") is not None:
                raise RpcError(
                    INVALID_PARAMS,
                    "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock",
                )
            number = self.backend.block_number_of(
                parse_data(flt["blockHash"], "blockHash", size=32)
            )
            if number is None:
                raise RpcError(SERVER_ERROR, "unknown block")
            from_block = to_block = number
        else:
            from_block = self._block_number(flt.get("fromBlock"), "fromBlock")
            to_block = self._block_number(flt.get("toBlock"), "toBlock")
            to_block = min(to_block, head)
        if from_block > to_block:
            return []
        if to_block - from_block + 1 > MAX_LOG_BLOCK_RANGE:
            raise RpcError(LIMIT_EXCEEDED, f"block range larger than {MAX_LOG_BLOCK_RANGE}")
        raw_address = flt.get("address")
        if raw_address is None:
            addresses: list[bytes] = []
        elif isinstance(raw_address, list):
            addresses = [parse_address_param(a, "address") for a in raw_address]
        else:
            addresses = [parse_address_param(raw_address, "address")]
        raw_topics = flt.get("topics") or []
        if not isinstance(raw_topics, list) or len(raw_topics) > 4:
            raise RpcError(
                INVALID_PARAMS, "invalid argument 0: topics is a list of at most 4 entries"
            )
        topics: list[list[bytes] | None] = []
        for entry in raw_topics:
            if entry is None:
                topics.append(None)
            elif isinstance(entry, list):
                topics.append([parse_data(t, "topic", size=32) for t in entry] or None)
            else:
                topics.append([parse_data(entry, "topic", size=32)])
        found = self.backend.get_logs(from_block, to_block, addresses, topics, MAX_LOG_RESULTS)
        if len(found) > MAX_LOG_RESULTS:
            raise RpcError(LIMIT_EXCEEDED, f"query returned more than {MAX_LOG_RESULTS} results")
        return [
            format_log(e.log, e.block_number, e.block_hash, e.tx_hash, e.tx_index, e.log_index)
            for e in found
        ]

    # -- execution
    def eth_send_raw_transaction(self, params: list[Any]) -> str:
        raw = parse_data(_param(params, 0, "data"), "data")
        return to_hex(self.backend.submit_raw(raw))

    def _run(self, params: list[Any]) -> CallResult:
        sender, to, data, value, gas = self._call_args(params)
        result = self.backend.call(sender, to, data, value, gas)
        if result.ok:
            return result
        if result.out_of_gas:
            raise RpcError(
                SERVER_ERROR, f"out of gas: gas required exceeds allowance ({result.gas_used})"
            )
        reason = decode_revert_reason(result.output)
        message = "execution reverted" + (f": {reason}" if reason is not None else "")
        raise RpcError(EXECUTION_REVERTED, message, to_hex(result.output))

    def eth_call(self, params: list[Any]) -> str:
        return to_hex(self._run(params).output)

    def eth_estimate_gas(self, params: list[Any]) -> str:
        return quantity(self._run(params).gas_used)

    def evm_mine(self, params: list[Any]) -> str:
        self.backend.produce_block()
        return "0x0"

    # -- relayhub extensions
    def relayhub_get_block_seals(self, params: list[Any]) -> list[str] | None:
        number = self._block_number(_param(params, 0, "block"))
        seals = self.backend.get_seals(number)
        return None if seals is None else [to_hex(s) for s in seals]

    def relayhub_get_validators(self, params: list[Any]) -> dict[str, Any]:
        validators, threshold = self.backend.validators()
        return {"validators": validators, "threshold": threshold}


def _error_response(req_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": error.to_json()}


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
