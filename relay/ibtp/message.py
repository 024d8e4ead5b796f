"""The IBTP message and its enums (data only, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

IBTP_VERSION = 1


class IBTPType(IntEnum):
    INTERCHAIN = 0
    RECEIPT_SUCCESS = 1
    RECEIPT_FAILURE = 2
    RECEIPT_ROLLBACK = 3


class TxStatus(IntEnum):
    """State of an interchain transaction on the relay (BitXHub's numbering)."""

    BEGIN = 0
    SUCCESS = 1
    FAILURE = 2
    ROLLBACK = 3
    BEGIN_FAILURE = 4
    BEGIN_ROLLBACK = 5
    #: The destination confirmed the request will never run there; the source is
    #: rolling back (docs/protocol.md §3). Relay proofs of its notices announce
    #: BEGIN_ROLLBACK (5): brokers never see this value.
    SOURCE_ROLLBACK = 6

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({TxStatus.SUCCESS, TxStatus.FAILURE, TxStatus.ROLLBACK})


@dataclass(frozen=True, slots=True)
class Payload:
    """What the destination executes: ``func(*args)``.

    ``args`` are opaque bytes (usually ABI-encoded by the calling service). When
    ``encrypted`` is set, ``args`` carry ciphertext the relay does not read.
    Receipts carry the result (or failure reason) as their single argument.
    """

    func: str = ""
    args: tuple[bytes, ...] = ()
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class IBTP:
    """An inter-blockchain transfer protocol message.

    A request and its receipts share ``from``/``to``/``index``; ``type`` tells them
    apart. ``timeout`` is an absolute relay block height (0 = the hub's default,
    fixed at admission). ``proof`` is family-specific bytes checked by the
    verifier of the submitting chain's family.
    """

    src: str
    dst: str
    index: int
    type: IBTPType = IBTPType.INTERCHAIN
    timeout: int = 0
    payload: Payload = field(default_factory=Payload)
    proof: bytes = b""
    extra: bytes = b""
    version: int = IBTP_VERSION

    @property
    def id(self) -> str:
        from relay.ibtp.ids import compute_ibtp_id

        return compute_ibtp_id(self.src, self.dst, self.index)
