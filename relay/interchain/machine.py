"""The interchain transaction state machine as a pure transition table.

``compute_next_status(status, event)`` is the whole machine: every (status, event)
pair not in :data:`TRANSITIONS` is refused, and final statuses never change.
docs/protocol.md §3 has the same table.
"""

from __future__ import annotations

from enum import IntEnum

from relay.errors import Code, RelayError
from relay.ibtp.message import FINAL_STATUSES, TxStatus


class Event(IntEnum):
    INTERCHAIN_ACCEPTED = 0
    INTERCHAIN_REJECTED = 1
    RECEIPT_SUCCESS = 2
    RECEIPT_FAILURE = 3
    TIMEOUT = 4
    ROLLBACK_ACK = 5
    #: A proven request whose timeout height had already passed when it was admitted:
    #: it consumes its index and goes straight to rollback on both chains.
    INTERCHAIN_EXPIRED = 6


#: (current status or None for "no transaction yet", event) -> next status.
TRANSITIONS: dict[tuple[TxStatus | None, Event], TxStatus] = {
    (None, Event.INTERCHAIN_ACCEPTED): TxStatus.BEGIN,
    (None, Event.INTERCHAIN_REJECTED): TxStatus.BEGIN_FAILURE,
    (None, Event.INTERCHAIN_EXPIRED): TxStatus.BEGIN_ROLLBACK,
    (TxStatus.BEGIN, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    (TxStatus.BEGIN, Event.TIMEOUT): TxStatus.BEGIN_ROLLBACK,
    (TxStatus.BEGIN_ROLLBACK, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
    (TxStatus.BEGIN_FAILURE, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
}

_RECEIPTS = (Event.RECEIPT_SUCCESS, Event.RECEIPT_FAILURE)


def compute_next_status(status: TxStatus | None, event: Event) -> TxStatus:
    """The status after ``event``, or a RelayError saying why the event is refused."""
    nxt = TRANSITIONS.get((status, event))
    if nxt is not None:
        return nxt
    if status is None:
        raise RelayError(
            Code.UNKNOWN_IBTP,
            f"{event.name} for a transaction the relay has not seen; submit its request first",
        )
    if event in _RECEIPTS:
        raise RelayError(
            Code.LATE_RECEIPT,
            f"receipt for a transaction already {status.name}; a late receipt cannot change it",
            status=int(status),
        )
    if status in FINAL_STATUSES:
        raise RelayError(
            Code.INVALID_TRANSITION,
            f"transaction is final ({status.name}); {event.name} cannot change it",
            status=int(status),
        )
    raise RelayError(
        Code.INVALID_TRANSITION,
        f"{event.name} is not allowed while the transaction is {status.name}",
        status=int(status),
    )
