"""The interchain state machine, checked over every (status, event) pair."""

from __future__ import annotations

import itertools

import pytest

from relay.errors import Code, RelayError
from relay.ibtp import FINAL_STATUSES, TxStatus
from relay.interchain.machine import DST_ACK_NOOPS, TRANSITIONS, Event, compute_next_status

ALL_STATES: list[TxStatus | None] = [None, *TxStatus]

EXPECTED = {
    (None, Event.INTERCHAIN_ACCEPTED): TxStatus.BEGIN,
    (None, Event.INTERCHAIN_REJECTED): TxStatus.BEGIN_FAILURE,
    (None, Event.INTERCHAIN_EXPIRED): TxStatus.SOURCE_ROLLBACK,
    (TxStatus.BEGIN, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    (TxStatus.BEGIN, Event.TIMEOUT): TxStatus.BEGIN_ROLLBACK,
    (TxStatus.BEGIN_ROLLBACK, Event.RECEIPT_SUCCESS): TxStatus.SUCCESS,
    (TxStatus.BEGIN_ROLLBACK, Event.RECEIPT_FAILURE): TxStatus.FAILURE,
    (TxStatus.BEGIN_ROLLBACK, Event.DST_ROLLBACK_ACK): TxStatus.SOURCE_ROLLBACK,
    (TxStatus.SOURCE_ROLLBACK, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
    (TxStatus.BEGIN_FAILURE, Event.ROLLBACK_ACK): TxStatus.ROLLBACK,
}

#: A destination's acknowledgement in these statuses is taken and changes nothing.
NOOPS = {TxStatus.BEGIN_FAILURE, TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK}


def test_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED
    assert set(DST_ACK_NOOPS) == NOOPS


def test_status_values_are_the_documented_ones() -> None:
    assert {s.name: int(s) for s in TxStatus} == {
        "BEGIN": 0,
        "SUCCESS": 1,
        "FAILURE": 2,
        "ROLLBACK": 3,
        "BEGIN_FAILURE": 4,
        "BEGIN_ROLLBACK": 5,
        "SOURCE_ROLLBACK": 6,
    }
    assert {s for s in TxStatus if s.is_final} == {
        TxStatus.SUCCESS,
        TxStatus.FAILURE,
        TxStatus.ROLLBACK,
    }


@pytest.mark.parametrize(("status", "event"), list(itertools.product(ALL_STATES, Event)))
def test_every_pair(status: TxStatus | None, event: Event) -> None:
    if (status, event) in EXPECTED:
        assert compute_next_status(status, event) == EXPECTED[(status, event)]
        return
    if event is Event.DST_ROLLBACK_ACK and status in NOOPS:
        assert compute_next_status(status, event) == status  # taken, changes nothing
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
    if event is Event.DST_ROLLBACK_ACK and status in NOOPS:
        assert compute_next_status(status, event) == status
        return
    with pytest.raises(RelayError):
        compute_next_status(status, event)


def test_a_routed_request_never_reaches_the_source_rollback_without_the_destination() -> None:
    """The safety rule: from BEGIN, SOURCE_ROLLBACK (the source refunds) is reached only
    through the destination's acknowledgement that it consumed the index unexecuted."""
    paths: list[list[Event]] = [[]]
    reached: list[tuple[list[Event], TxStatus]] = []
    for _ in range(4):
        nxt = []
        for path in paths:
            status = TxStatus.BEGIN
            for e in path:
                status = TRANSITIONS[(status, e)]
            for e in Event:
                if (status, e) in TRANSITIONS:
                    nxt.append([*path, e])
                    reached.append(([*path, e], TRANSITIONS[(status, e)]))
        paths = nxt
    for path, status in reached:
        if status in (TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK):
            assert Event.DST_ROLLBACK_ACK in path, path


def test_every_path_ends_final_or_waits_for_one_event() -> None:
    """From BEGIN, every sequence of allowed events ends in a final state in <= 3 steps."""
    frontier = {TxStatus.BEGIN, TxStatus.BEGIN_FAILURE, TxStatus.SOURCE_ROLLBACK}
    for _ in range(4):
        nxt = set()
        for s in frontier:
            for e in Event:
                if (s, e) in TRANSITIONS:
                    nxt.add(TRANSITIONS[(s, e)])
        frontier = {s for s in nxt if s not in FINAL_STATUSES}
    assert frontier == set()
