"""What the peer and the committer read of the ledger: a protocol the store implements.

Pure: the types and the protocol only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fabric_protos.common import common_pb2

from appchains.fabric.simulation import VersionedValue


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a transaction ID was committed, and its validation code."""

    block_number: int
    tx_index: int
    code: int  #: a ``peer.TxValidationCode``


class LedgerReader(Protocol):
    """A committed ledger: blocks, the transaction index and the world state."""

    def height(self) -> int:
        """The number of blocks (the next block's number)."""
        ...

    def get_block(self, number: int) -> common_pb2.Block | None: ...

    def block_hash(self, number: int) -> bytes | None:
        """The header hash of block ``number``."""
        ...

    def find_block(self, block_hash: bytes) -> int | None:
        """The number of the block whose header hash this is."""
        ...

    def find_tx(self, tx_id: str) -> TxLocation | None:
        """The first committed transaction with this ID (valid or not)."""
        ...

    def get_state(self, namespace: str, key: str) -> VersionedValue | None: ...
