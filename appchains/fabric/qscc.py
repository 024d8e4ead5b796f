"""The query system chaincode ``qscc``, as Fabric's (``core/scc/qscc``). Pure.

Arguments as Fabric's: the function name, the channel name, then the block number
(decimal string) or transaction ID. Responses carry the serialized message:

| function | argument | payload |
|---|---|---|
| ``GetChainInfo`` | — | ``common.BlockchainInfo{height, currentBlockHash, previousBlockHash}`` |
| ``GetBlockByNumber`` | number | ``common.Block`` (with its transactions filter) |
| ``GetBlockByHash`` | header hash | ``common.Block`` |
| ``GetBlockByTxID`` | tx ID | ``common.Block`` |
| ``GetTransactionByID`` | tx ID | ``peer.ProcessedTransaction`` (envelope, validation code) |

It runs through the ordinary endorsement path, so its answer is a proposal response
endorsed by the peer (docs/fabric.md §3.3).
"""

from __future__ import annotations

from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import transaction_pb2

from appchains.fabric.chaincode.stub import Response, Stub, error, success
from appchains.fabric.ledger import LedgerReader

NAME = "qscc"
FUNCTIONS = (
    "GetChainInfo",
    "GetBlockByNumber",
    "GetBlockByHash",
    "GetBlockByTxID",
    "GetTransactionByID",
)


class Qscc:
    """``qscc`` on one channel's ledger."""

    name = NAME

    def __init__(self, channel_id: str, ledger: LedgerReader) -> None:
        self.channel_id = channel_id
        self.ledger = ledger

    def invoke(self, stub: Stub) -> Response:
        args = stub.get_args()
        if len(args) < 2:
            return error(f"Incorrect number of arguments, {len(args)}")
        function, channel = args[0].decode(errors="replace"), args[1].decode(errors="replace")
        if function not in FUNCTIONS:
            return error(f"Requested function {function} not found.")
        if channel != self.channel_id:
            return error(f"Invalid chain ID, {channel}")
        if function == "GetChainInfo":
            return self._chain_info()
        if len(args) < 3:
            return error(f"missing 3rd argument for {function}")
        arg = args[2]
        if function == "GetBlockByNumber":
            return self._block_by_number(arg)
        if function == "GetBlockByHash":
            return self._block_by_hash(arg)
        location = self.ledger.find_tx(arg.decode(errors="replace"))
        if location is None:
            return error(f"Failed to get transaction with id {arg.decode(errors='replace')}")
        block = self.ledger.get_block(location.block_number)
        if block is None:
            return error(f"Failed to get block {location.block_number}")
        if function == "GetBlockByTxID":
            return success(block.SerializeToString())
        processed = transaction_pb2.ProcessedTransaction(
            transactionEnvelope=common_pb2.Envelope.FromString(block.data.data[location.tx_index]),
            validationCode=location.code,
        )
        return success(processed.SerializeToString())

    def _chain_info(self) -> Response:
        height = self.ledger.height()
        info = ledger_pb2.BlockchainInfo(height=height)
        if height:
            top = self.ledger.get_block(height - 1)
            info.currentBlockHash = self.ledger.block_hash(height - 1) or b""
            info.previousBlockHash = top.header.previous_hash if top is not None else b""
        return success(info.SerializeToString())

    def _block_by_number(self, arg: bytes) -> Response:
        text = arg.decode(errors="replace")
        if not text.isdigit() or not text.isascii():
            return error(f"Failed to parse block number with error {text!r} is not a number")
        block = self.ledger.get_block(int(text))
        if block is None:
            return error(f"Failed to get block number {text}, error Entry not found in index")
        return success(block.SerializeToString())

    def _block_by_hash(self, arg: bytes) -> Response:
        number = self.ledger.find_block(arg)
        block = None if number is None else self.ledger.get_block(number)
        if block is not None:
            return success(block.SerializeToString())
        return error(f"Failed to get block hash {arg.hex()}, error Entry not found in index")
