"""What the SDK hands back: small containers, no behaviour beyond trivial properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relay.errors import RelayError
from relay.ibtp import TxStatus


@dataclass(frozen=True, slots=True)
class TxResult:
    """One transaction's outcome from ``POST /v1/txs``.

    Admitted: ``ok``, ``tx`` (hash hex), ``height`` and the per-item ``results``
    (for kind ``ibtp``: ``[ibtp_id, status, duplicate(, reason)]`` per IBTP).
    Refused: ``code``, ``message``, ``details``.
    """

    ok: bool
    tx: str
    height: int | None = None
    results: list[Any] = field(default_factory=list)
    code: int | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IbtpResult:
    """One IBTP's outcome from :meth:`submit_ibtps`, in the order given.

    Admitted: ``status`` (BEGIN, BEGIN_FAILURE or SOURCE_ROLLBACK for a new request;
    the current status for a duplicate, or for a destination's acknowledgement that
    changes nothing), ``duplicate`` (the item changed nothing), ``reason`` (why it
    became BEGIN_FAILURE or SOURCE_ROLLBACK at admission) and ``tx``, the hash of the
    transaction that carried it.
    Refused: ``error`` (a RelayApiError; ``error.details["item"]`` is set on the
    IBTP that caused the refusal).
    """

    ibtp_id: str
    status: TxStatus | None = None
    duplicate: bool = False
    reason: str = ""
    tx: str = ""
    error: RelayError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class IbtpStatus:
    """``GET /v1/ibtps/{id}``: the interchain transaction's status, its history
    (``(status, relay height)`` pairs) and the destination's result."""

    id: str
    status: TxStatus
    status_name: str
    final: bool
    hash: bytes
    timeout: int
    history: list[tuple[TxStatus, int]]
    #: What the destination returned (or its failure reason); empty until a receipt.
    result: bytes = b""
    #: The relay's last admission refusal of this IBTP ``{code, message, details,
    #: sender, height}`` (kept in the node's memory, bounded), or None.
    last_refusal: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OutboundEntry:
    """An IBTP the relay routed to ``chain``: ``ibtp`` is its canonical bytes with an
    empty proof (``relay.ibtp.decode_ibtp`` reads it), ``sigs`` the relay-validator
    signatures over its signed digest with ``status``."""

    chain: str
    seq: int
    ibtp: bytes
    status: TxStatus
    sigs: list[bytes]


@dataclass(frozen=True, slots=True)
class OutboundPage:
    entries: list[OutboundEntry]
    last_seq: int
