"""Pure decisions of the gateway runtime: what to resend, what to skip.

No I/O here: the runtime gathers counters from the relay and the broker and asks
these functions what to do, so recovery logic is tested by feeding numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.errors import Code, RelayError, is_chain_side


@dataclass(frozen=True, slots=True)
class Resend:
    """Re-fetch and submit requests ``first..last`` of a pair, in order."""

    src: str
    dst: str
    first: int
    last: int


def compute_request_resends(
    pairs: dict[tuple[str, str], tuple[int, int]],
) -> list[Resend]:
    """``pairs`` maps (src, dst) -> (relay interchain counter, broker out counter) for
    pairs whose source is this chain. Requests the broker emitted that the relay has
    not recorded are resent, in index order, pairs in sorted order."""
    out = []
    for (src, dst), (relay_ic, broker_out) in sorted(pairs.items()):
        if broker_out > relay_ic:
            out.append(Resend(src, dst, relay_ic + 1, broker_out))
    return out


def compute_receipt_checks(
    pairs: dict[tuple[str, str], tuple[int, int]],
) -> list[Resend]:
    """``pairs`` maps (src, dst) -> (relay receipt counter, broker inbound counter) for
    pairs whose destination is this chain. Receipts for requests the broker executed
    past the relay's receipt counter, and acknowledgements of indices it consumed
    unexecuted after a timeout, may be missing at the relay: check them."""
    out = []
    for (src, dst), (relay_rc, broker_in) in sorted(pairs.items()):
        if broker_in > relay_rc:
            out.append(Resend(src, dst, relay_rc + 1, broker_in))
    return out


class SubmitAction:
    DROP = "drop"  # the relay has decided this item already (late, a duplicate); move on
    SET_ASIDE = "set_aside"  # the relay will never take this item: keep it for an operator
    FILL_GAP = "fill_gap"  # resend the missing indices first
    RETRY = "retry"  # may pass later: back off and retry, a bounded number of times
    FATAL = "fatal"  # configuration problem: stop and tell the operator


#: How the gateway reacts to a refused item, by error code.
_ACTIONS: dict[int, str] = {
    Code.INDEX_GAP: SubmitAction.FILL_GAP,
    Code.LATE_RECEIPT: SubmitAction.DROP,
    Code.INVALID_TRANSITION: SubmitAction.DROP,
    Code.CONFLICTING_DUPLICATE: SubmitAction.DROP,
    # The chain emitted a message no relay of this hub routes (a user may call any ID).
    Code.SAME_CHAIN: SubmitAction.SET_ASIDE,
    Code.WRONG_HUB: SubmitAction.SET_ASIDE,
    Code.UNKNOWN_IBTP: SubmitAction.RETRY,
    Code.MEMPOOL_FULL: SubmitAction.RETRY,
    Code.SHUTTING_DOWN: SubmitAction.RETRY,
    Code.NONCE_USED: SubmitAction.RETRY,
    Code.NONCE_GAP: SubmitAction.RETRY,
    Code.UNAUTHORIZED: SubmitAction.FATAL,
    Code.UNKNOWN_CHAIN: SubmitAction.FATAL,
    Code.CHAIN_NOT_ACTIVE: SubmitAction.RETRY,
}


def decide_on_refusal(err: RelayError) -> str:
    """What to do with the item a refusal names. Proof refusals are retried a bounded
    number of times (the relay may not yet know a rotated trust root; the chain may
    still be syncing), then set aside. An item the relay cannot decode (1xxx) is set
    aside at once: its chain's broker emitted fields no IBTP can carry (any user may
    pick a destination ID), and stopping the gateway for it would let one user stall
    every pair of the chain.

    A chain-side error (8xxx, 6007: :func:`relay.errors.is_chain_side`) is no refusal
    of the item by the relay, whatever the chain said: retry with backoff."""
    if is_chain_side(err.code):
        return SubmitAction.RETRY
    action = _ACTIONS.get(err.code)
    if action is not None:
        return action
    if 5000 <= err.code < 6000:
        return SubmitAction.RETRY
    if 1000 <= err.code < 2000:
        return SubmitAction.SET_ASIDE
    return SubmitAction.RETRY
