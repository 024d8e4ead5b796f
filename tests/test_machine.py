"""The interchain state machine, checked over every (status, event) pair."""

from __future__ import annotations

import itertools

import pytest

from relay.errors import Code, RelayError
from relay.ibtp import FINAL_STATUSES, TxStatus
from relay.interchain.machine import TRANSITIONS, Event, compute_next_status

ALL_STATES: list[TxStatus | None] = [None, *TxStatus]

EXPECTED = {
    (None, Event.INTERCHAIN_ACCEPTED): TxStatus.BEGIN,
    (None, Event.INTERCHAIN_REJECTED): TxStatus.BEGIN_FAILURE,
    (None, Event.INTERCHAIN_EXPIRED): TxStatus.BEGIN_ROLLBACK,
    (TxStatus.BEGIN, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    (TxStatus.BEGIN, Event.TIMEOUT): TxStatus.BEGIN_ROLLBACK,
    (TxStatus.BEGIN_ROLLBACK, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
    (TxStatus.BEGIN_FAILURE, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
}


def test_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("status", "event"), list(itertools.product(ALL_STATES, Event)))
def test_every_pair(status: TxStatus | None, event: Event) -> None:
    if (status, event) in EXPECTED:
        assert compute_next_status(status, event) == EXPECTED[(status, event)]
        return
    with pytest.raises(RelayError) as err:
        compute_next_status(status, event)
    code = err.value.code
    if status is None:
        assert code == Code.UNKNOWN_IBTP
    elif event in (Event.RECEIPT_SUCCESS, Event.RECEIPT_FAILURE):
        assert code == Code.LATE_RECEIPT
    else:
        assert code == Code.INVALID_TRANSITION


@pytest.mark.parametrize(("status", "event"), list(itertools.product(FINAL_STATUSES, Event)))
def test_final_states_never_change(status: TxStatus, event: Event) -> None:
    with pytest.raises(RelayError):
        compute_next_status(status, event)


def test_every_path_ends_final_or_waits_for_one_event() -> None:
    """From BEGIN, every sequence of allowed events ends in a final state in <= 2 steps."""
    frontier = {TxStatus.BEGIN, TxStatus.BEGIN_FAILURE}
    for _ in range(3):
        nxt = set()
        for s in frontier:
            for e in Event:
                if (s, e) in TRANSITIONS:
                    nxt.add(TRANSITIONS[(s, e)])
        frontier = {s for s in nxt if s not in FINAL_STATUSES}
    assert frontier == set()
