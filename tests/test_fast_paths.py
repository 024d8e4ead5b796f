"""The relay's fast paths give exactly what their reference implementations give.

* ``compute_relay_digest_of`` (hand-laid ABI words) == ``compute_signed_digest``
  (eth-abi), over the on-disk IBTP vectors and random IBTPs;
* ``relay.ledger.types.canonical_packb`` (fast path for plain lists) ==
  ``relay.ibtp.codec.canonical_packb`` (the reference), and the same refusals;
* ``RelayProofSigner`` signs the same bytes in its worker process as in the thread,
  and falls back to the thread when the worker dies.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.crypto import Account, recover_address
from relay.errors import EncodingError
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_signed_digest,
    decode_ibtp,
    encode_ibtp_unproven,
)
from relay.ibtp.codec import canonical_packb as reference_packb
from relay.ledger.relay_proofs import RelayProofSigner, _abi_dynamic, compute_relay_digest_of
from relay.ledger.types import canonical_packb as fast_packb

VECTORS = sorted((Path(__file__).parent / "vectors" / "ibtp").glob("*.json"))
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.from_regex(r"[a-z0-9]{1,8}:[a-z0-9]{1,8}:[a-z0-9x]{1,20}", fullmatch=True)
ibtps = st.builds(
    IBTP,
    src=ids,
    dst=ids,
    index=st.integers(1, 2**64 - 1),
    type=st.sampled_from(list(IBTPType)),
    timeout=st.integers(0, 2**64 - 1),
    payload=st.builds(
        Payload,
        func=st.text(max_size=40),
        args=st.lists(st.binary(max_size=100), max_size=5).map(tuple),
        encrypted=st.booleans(),
    ),
)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_fast_digest_matches_the_vectors(path: Path) -> None:
    vec = json.loads(path.read_text())
    ibtp = decode_ibtp(bytes.fromhex(vec["encoded"][2:]))
    raw = encode_ibtp_unproven(ibtp)
    for target in ("appchain1", "appchain2", "c" * 64):
        for status in TxStatus:
            fast = compute_relay_digest_of(_abi_dynamic(b"hub0"), target, raw, status)
            assert fast == compute_signed_digest("hub0", target, ibtp, status)


@FAST
@given(
    ibtps,
    st.sampled_from(list(TxStatus)),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=70),
)
def test_fast_digest_matches_eth_abi(ibtp: IBTP, status: TxStatus, hub: str, target: str) -> None:
    raw = encode_ibtp_unproven(ibtp)
    fast = compute_relay_digest_of(_abi_dynamic(hub.encode()), target, raw, status)
    assert fast == compute_signed_digest(hub, target, ibtp, status)


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
    ),
    max_leaves=20,
)


@FAST
@given(values)
def test_fast_canonical_encoding_matches_the_reference(v: Any) -> None:
    assert fast_packb(v) == reference_packb(v)


@pytest.mark.parametrize(
    "bad", [[1.5], {"a": 1, b"b": 2}, [[{"x": 0.1}]], ({1: 2, "k": 3},)], ids=repr
)
def test_fast_canonical_encoding_refuses_what_the_reference_refuses(bad: Any) -> None:
    with pytest.raises(EncodingError) as ref:
        reference_packb(bad)
    with pytest.raises(EncodingError) as fast:
        fast_packb(bad)
    assert fast.value.code == ref.value.code


def _entries(n: int) -> list[tuple[str, bytes, int]]:
    return [
        (
            "b",
            encode_ibtp_unproven(IBTP("h:a:s", "h:b:s", i + 1, payload=Payload("f", (b"x",)))),
            0,
        )
        for i in range(n)
    ]


def _wait_until_ready(signer: RelayProofSigner, entries: list[tuple[str, bytes, int]]) -> None:
    """Submit until the worker process has started and said it is ready."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        signer.submit(entries)()
        if signer._proc is not None and signer._ready:
            return
        time.sleep(0.05)
    raise AssertionError("the signer worker never became ready")


def test_signer_process_and_thread_sign_the_same_bytes() -> None:
    key = Account.from_key(b"\x07" * 32)
    entries = _entries(RelayProofSigner.PROCESS_MIN)
    thread = RelayProofSigner(key, "hub0", mode="thread")
    proc = RelayProofSigner(key, "hub0", mode="process")
    try:
        want = thread.submit(entries)()
        _wait_until_ready(proc, entries)
        got = proc.submit(entries)()  # signed in the worker process
        assert proc._proc is not None and proc._proc.poll() is None
        assert got == want
        digest = compute_relay_digest_of(_abi_dynamic(b"hub0"), "b", entries[0][1], 0)
        assert recover_address(digest, got[0]) == key.address
    finally:
        thread.close()
        proc.close()


def _signed_here(key: Account, entries: list[tuple[str, bytes, int]]) -> list[bytes]:
    """The signatures of ``entries`` made here, by the reference digest."""
    return [
        key.sign(compute_relay_digest_of(_abi_dynamic(b"hub0"), c, e, s)) for c, e, s in entries
    ]


@pytest.mark.parametrize("failure", ["dies", "hangs"])
def test_signer_falls_back_to_the_thread(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    """A worker that dies, or stops answering (SIGSTOP, as a debugger or an overloaded
    host would), is given up — a hung one after ``WAIT``, then killed — and the block is
    signed in the thread, and every later one: the committer never waits on the worker
    for good (it used to block in a pipe read)."""
    monkeypatch.setattr(RelayProofSigner, "WAIT", 0.5)
    key = Account.from_key(b"\x08" * 32)
    entries = _entries(RelayProofSigner.PROCESS_MIN)
    signer = RelayProofSigner(key, "hub0", mode="process")
    try:
        _wait_until_ready(signer, entries)
        worker = signer._proc
        assert worker is not None
        if failure == "dies":
            worker.kill()
            worker.wait()
        else:
            os.kill(worker.pid, signal.SIGSTOP)
        # A request bigger than a pipe holds, so the write side is tested too.
        big = _entries(RelayProofSigner.PROCESS_MIN * 4)
        t0 = time.monotonic()
        assert signer.submit(big)() == _signed_here(key, big)  # answered by the thread
        assert time.monotonic() - t0 < 3  # at most one WAIT, the hung worker killed at once
        assert signer._proc is None and worker.poll() is not None  # given up for good
        assert signer.submit(entries)() == _signed_here(key, entries)
    finally:
        signer.close()
