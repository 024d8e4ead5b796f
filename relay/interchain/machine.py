"""The interchain transaction state machine as a pure transition table.

``compute_next_status(status, event)`` is the whole machine: every (status, event)
pair not in :data:`TRANSITIONS` is refused, except the destination's acknowledgements
of :data:`DST_ACK_NOOPS`, which are taken and change nothing; final statuses never
change. docs/protocol.md §3 has the same table.

A destination never undoes: once a request was routed, a timeout asks the
destination to give up first (BEGIN_ROLLBACK, a notice to the destination only). If
it had already executed the request, its receipt still comes and stands (SUCCESS /
FAILURE); if not, its broker consumes the index without running it and acknowledges
(DST_ROLLBACK_ACK), and only then is the source told to roll back (SOURCE_ROLLBACK).
So the source never refunds what the destination may have delivered.
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
    #: The destination's broker consumed the index without running it (its
    #: acknowledgement of a rollback notice, a RECEIPT_ROLLBACK from ``to``'s chain).
    DST_ROLLBACK_ACK = 7


#: (current status or None for "no transaction yet", event) -> next status.
TRANSITIONS: dict[tuple[TxStatus | None, Event], TxStatus] = {
    (None, Event.INTERCHAIN_ACCEPTED): TxStatus.BEGIN,
    (None, Event.INTERCHAIN_REJECTED): TxStatus.BEGIN_FAILURE,
    # Never routed, so both chains are told at once: the destination cannot have run it.
    (None, Event.INTERCHAIN_EXPIRED): TxStatus.SOURCE_ROLLBACK,
    (TxStatus.BEGIN, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    # Routed: only the destination is told; the source waits for its answer.
    (TxStatus.BEGIN, Event.TIMEOUT): TxStatus.BEGIN_ROLLBACK,
    # A late receipt: the destination had executed it; its outcome stands.
    (TxStatus.BEGIN_ROLLBACK, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN_ROLLBACK, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    (TxStatus.BEGIN_ROLLBACK, Event.DST_ROLLBACK_ACK): TxStatus.SOURCE_ROLLBACK,
    (TxStatus.SOURCE_ROLLBACK, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
    (TxStatus.BEGIN_FAILURE, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
}

#: Statuses in which a destination's acknowledgement is taken (verified) and changes
#: nothing: it consumed an index it was told to (a notice sent to both chains at once),
#: or a repeat. Refusing it would make its gateway set it aside for nothing.
DST_ACK_NOOPS: frozenset[TxStatus] = frozenset(
    {TxStatus.BEGIN_FAILURE, TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK}
)

_RECEIPTS = (Event.RECEIPT_SUCCESS, Event.RECEIPT_FAILURE)


def compute_next_status(status: TxStatus | None, event: Event) -> TxStatus:
    """The status after ``event`` (the same status for a destination acknowledgement
    of :data:`DST_ACK_NOOPS`), or a RelayError saying why the event is refused."""
    nxt = TRANSITIONS.get((status, event))
    if nxt is not None:
        return nxt
    if event is Event.DST_ROLLBACK_ACK and status in DST_ACK_NOOPS:
        return status
    if status is None:
        raise RelayError(
            Code.UNKNOWN_IBTP,
            f"{event.name} for a transaction the relay has not seen; submit its request first",
        )
    if event in _RECEIPTS:
        raise RelayError(
            Code.LATE_RECEIPT,
            f"receipt for a transaction already {status.name}; the destination gave the "
            "request up or answered it already, so this receipt cannot change it",
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
