"""The Fabric dev chain's SQLite ledger: reopening resumes, and a process killed with
SIGKILL mid-load reopens consistent (heights, hash chain, state = replay of VALID txs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from netfix import SETUP, endorsed, open_network

from appchains.fabric.block import (
    header_hash,
    transactions_filter,
    verify_block,
)
from appchains.fabric.simulation import Version, parse_rwset
from appchains.fabric.store import LedgerStore

Code = transaction_pb2.TxValidationCode
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def replay(store: LedgerStore) -> dict[tuple[str, str], tuple[bytes, Version]]:
    """The world state rebuilt from the VALID transactions of every stored block,
    checking the chain on the way."""
    state: dict[tuple[str, str], tuple[bytes, Version]] = {}
    previous = None
    for number in range(store.height()):
        block = store.get_block(number)
        assert block is not None and block.header.number == number
        verify_block(block, previous, SETUP.orderer_cas, int(time.time()))
        previous = header_hash(block.header)
        assert store.block_hash(number) == previous
        codes = transactions_filter(block)
        assert len(codes) == len(block.data.data)
        for index, (data, code) in enumerate(zip(block.data.data, codes, strict=True)):
            if code != Code.VALID or number == 0:
                continue
            payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(data).payload)
            tx = transaction_pb2.Transaction.FromString(payload.data)
            cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(
                cap.action.proposal_response_payload
            )
            action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
            for ns, writes in parse_rwset(action.results).writes.items():
                for key, value in writes.items():
                    if value is None:
                        state.pop((ns, key), None)
                    else:
                        state[(ns, key)] = (value, Version(number, index))
    return state


def stored_state(store: LedgerStore) -> dict[tuple[str, str], tuple[bytes, Version]]:
    return {
        (ns, k): (v.value, v.version) for ns in ("kv", "kv1") for k, v in store.state(ns).items()
    }


def test_reopen_resumes_the_ledger(tmp_path: Path) -> None:
    net = open_network(LedgerStore(tmp_path))
    tx, env = endorsed(net, "kv", "put", "a", "1")
    net.order([env.SerializeToString()])
    head = net.store.block_hash(1)
    net.store.close()
    store = LedgerStore(tmp_path)
    again = open_network(store)
    assert store.height() == 2 and store.block_hash(1) == head
    location = store.find_tx(tx)
    assert location is not None and location.code == Code.VALID
    _, env2 = endorsed(again, "kv", "transfer", "a", "b", "1")
    again.order([env2.SerializeToString()])
    assert stored_state(store) == replay(store)
    assert store.get_state("kv", "b") is not None
    store.close()


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from netfix import CLIENT, endorsed, open_network
    from appchains.fabric.store import LedgerStore
    from appchains.fabric.transaction import TransactionError

    net = open_network(LedgerStore(Path(sys.argv[1])), max_message_count=4, batch_timeout=0.05)
    net.start()
    for i in range(100000):
        key = f"k{i % 7}"
        try:
            _, a = endorsed(net, "kv", "put", key, str(i))
            _, b = endorsed(net, "kv", "transfer", key, f"k{(i + 1) % 7}", "0")
        except TransactionError:  # a block committed between the two peers' simulations
            continue
        for env in (a, b):
            assert net.broadcast(env).ok
        print(net.store.height(), flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_mid_load_reopens_consistent(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        height = 0
        while height < 30 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            height = int(line)
        assert height >= 30, child.stderr.read() if child.stderr else ""
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    store = LedgerStore(tmp_path)
    assert store.height() >= 30
    assert stored_state(store) == replay(store)
    codes = [c for n in range(1, store.height()) for c in transactions_filter(store.get_block(n))]  # type: ignore[arg-type]
    assert Code.VALID in codes and Code.MVCC_READ_CONFLICT in codes
    # the reopened network goes on from there
    net = open_network(store)
    before = store.height()
    _, tx = endorsed(net, "kv", "put", "after", "1")
    net.order([tx.SerializeToString()])
    assert store.height() == before + 1 and stored_state(store) == replay(store)
    store.close()
