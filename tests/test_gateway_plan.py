"""The gateway runtime's pure decisions: recovery plans, refusal handling, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.gateway.config import GatewayConfig
from adapters.gateway.plan import (
    Resend,
    SubmitAction,
    compute_receipt_checks,
    compute_request_resends,
    decide_on_refusal,
)
from adapters.gateway.runtime import GatewayState
from relay.config import parse_duration
from relay.errors import Code, RelayError

A, B, C = "h:A:s", "h:B:s", "h:C:s"


def test_requests_the_relay_lacks_are_resent_in_order() -> None:
    plan = compute_request_resends({(A, C): (3, 3), (A, B): (2, 5), (A, "h:D:s"): (9, 7)})
    assert plan == [Resend(A, B, 3, 5)]


def test_receipts_past_the_relay_counter_are_checked() -> None:
    plan = compute_receipt_checks({(B, A): (4, 6), (C, A): (2, 2)})
    assert plan == [Resend(B, A, 5, 6)]


def test_nothing_to_do_when_counters_agree() -> None:
    assert compute_request_resends({(A, B): (5, 5)}) == []
    assert compute_receipt_checks({(B, A): (5, 5)}) == []


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (Code.INDEX_GAP, SubmitAction.FILL_GAP),
        (Code.LATE_RECEIPT, SubmitAction.DROP),
        (Code.CONFLICTING_DUPLICATE, SubmitAction.DROP),
        (Code.MEMPOOL_FULL, SubmitAction.RETRY),
        (Code.NONCE_GAP, SubmitAction.RETRY),
        (Code.UNAUTHORIZED, SubmitAction.FATAL),
        (Code.UNKNOWN_CHAIN, SubmitAction.FATAL),
        # A message the relay cannot decode or will never route: kept for an operator,
        # never a reason to stop (any user may pick the fields a broker emits).
        (Code.NON_CANONICAL, SubmitAction.SET_ASIDE),
        (Code.BAD_SERVICE_ID, SubmitAction.SET_ASIDE),
        (Code.SAME_CHAIN, SubmitAction.SET_ASIDE),
        (Code.WRONG_HUB, SubmitAction.SET_ASIDE),
        (5219, SubmitAction.RETRY),  # a family proof refusal
        (Code.NOTARY_BELOW_THRESHOLD, SubmitAction.RETRY),
        (7001, SubmitAction.RETRY),  # relay unreachable (SDK)
        # Chain side: the app chain, not the relay, said no or did not answer.
        (Code.DELIVERY_REFUSED, SubmitAction.RETRY),
        (Code.CHAIN_RPC_ERROR, SubmitAction.RETRY),
        (Code.CHAIN_INCONSISTENT, SubmitAction.RETRY),
        (Code.UPSTREAM_UNAVAILABLE, SubmitAction.RETRY),
    ],
)
def test_refusal_handling(code: int, action: str) -> None:
    assert decide_on_refusal(RelayError(code, "x")) == action


@pytest.mark.parametrize(
    ("text", "seconds"), [("200ms", 0.2), ("10s", 10.0), ("2m", 120.0), ("1.5s", 1.5)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["10", "fast", "-1s", True, 3, 0.2])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(RelayError) as err:
        parse_duration(bad)
    assert err.value.code == Code.CONFIG


def test_config_resolves_paths_and_refuses_missing_tables(tmp_path: Path) -> None:
    toml = tmp_path / "gw.toml"
    toml.write_text(
        '[gateway]\nrelay = "http://127.0.0.1:1"\nkey = "k.key"\ndata_dir = "state"\n'
        'batch = 64\n\n[chain]\ntype = "evm"\nid = "chainA"\nrpc = "http://127.0.0.1:2"\n'
        'broker = "0x0000000000000000000000000000000000001000"\nkey = "evm.key"\n'
    )
    cfg = GatewayConfig.load(toml)
    assert cfg.key == (tmp_path / "k.key").resolve() and cfg.batch == 64
    assert cfg.chain_type == "evm" and cfg.chain["rpc"] == "http://127.0.0.1:2"
    assert cfg.chain["key"] == str(tmp_path / "evm.key")  # relative to the file
    toml.write_text('[gateway]\nrelay = "x"\n')
    with pytest.raises(RelayError) as err:
        GatewayConfig.load(toml)
    assert err.value.code == Code.CONFIG


def test_state_survives_a_restart_and_is_replaced_atomically(tmp_path: Path) -> None:
    st = GatewayState(tmp_path)
    st.checkpoint, st.seq = 41, 7
    st.save()
    again = GatewayState(tmp_path)
    assert (again.checkpoint, again.seq) == (41, 7)
    assert not (tmp_path / "state.tmp").exists()
