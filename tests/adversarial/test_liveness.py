"""Liveness under hostile participants (issue 7): no request, gateway or timeout can
stall a service pair or a chain.

Each scenario runs against real processes (``benchmarks.harness.procs``: the relay,
EVM dev chains and gateways, each its own OS process). After each one, an unrelated
transfer into the same chain still reaches SUCCESS, token supply is conserved, and
``relayhub relay verify --replay`` passes on the relay's ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from adapters.evm.client import (
    EvmSender,
    calldata,
    eth_view,
    interchain_events,
    sign_legacy_transaction,
)
from adapters.evm.gateway import EvmAdapter
from adapters.evm.rpc import RpcError, hex_to_int
from benchmarks.harness.procs import ProcTopology, open_proc_topology
from benchmarks.harness.topology import Topology
from relay.crypto import Account, keccak
from relay.errors import Code
from relay.ibtp import IBTPType, TxStatus, decode_ibtp, encode_ibtp
from relay.sdk import AsyncRelayClient, RelayApiError

pytestmark = pytest.mark.slow

PY = sys.executable
#: Gateways give up on a refused delivery quickly here (the default is 8 attempts).
GATEWAY_OPTIONS: dict[str, str | int] = {
    "max_attempts": 3,
    "max_backoff": "200ms",
    "admin": "auto",
}


@asynccontextmanager
async def _procs(tmp_path: Path, **kw: object) -> AsyncIterator[ProcTopology]:
    with trio.fail_after(240):
        async with open_proc_topology(
            tmp_path, gateway_options=GATEWAY_OPTIONS, timeout_blocks=60, **kw
        ) as pt:
            yield pt
    # The topology is stopped: the relay's ledger re-verifies and replays.
    verify = subprocess.run(
        [PY, "-m", "relay.cli", "relay", "verify", "--dir", str(tmp_path / "relay"), "--replay"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _topo(pt: ProcTopology) -> Topology:
    assert pt.topo is not None
    return pt.topo


async def _supply(topo: Topology) -> int:
    return sum([await topo.total_supply(c) for c in topo.chains])


async def _final(topo: Topology, ibtp_id: str, timeout: float = 60) -> tuple[TxStatus, bytes]:
    async with topo.client() as client:
        st = await client.wait_final(ibtp_id, timeout=timeout)
    finals = [s for s, _ in st.history if s.is_final]
    assert finals == [st.status], st.history
    return st.status, st.result


async def _honest_transfer(topo: Topology, src: str, dst: str) -> None:
    """An unrelated transfer into ``dst`` still completes, and its callback on ``src``
    too (the source's lock burned: the supply across chains is back to what it was)."""
    supply = await _supply(topo)
    (tid,) = await topo.transfer_many(src, dst, [3])
    assert (await _final(topo, tid))[0] == TxStatus.SUCCESS
    with trio.fail_after(30):  # the relay's SUCCESS comes before the source's callback
        while await _supply(topo) != supply:
            await trio.sleep(0.05)


async def _emit(topo: Topology, chain: str, dst_service: str, func: str, arg: bytes) -> str:
    """A user's raw emitInterchain on ``chain`` (an externally owned account calling the
    broker, as the SDK's EvmCaller does); returns the IBTP ID."""
    c = topo.chains[chain]
    sender = EvmSender(topo.rpc(chain), c.users[2])
    outcome = await sender.send(
        c.broker,
        calldata("emitInterchain(string,string,bytes[],uint64)", [dst_service, func, [arg], 0]),
    )
    assert outcome.ok
    ((f, t, i),) = interchain_events(outcome.receipt, c.broker)
    return f"{f}~{t}~{i}"


async def _in_counter(topo: Topology, chain: str, src: str, dst: str) -> int:
    c = topo.chains[chain]
    (v,) = await eth_view(
        topo.rpc(chain), c.broker, "inCounter(string,string)", [src, dst], ["uint64"]
    )
    return int(v)


async def _wait_in_counter(topo: Topology, chain: str, src: str, dst: str, want: int) -> None:
    with trio.fail_after(30):
        while await _in_counter(topo, chain, src, dst) < want:
            await trio.sleep(0.1)


async def test_unroutable_calls_consume_their_index_at_the_destination(tmp_path: Path) -> None:
    """Case 1: a user calls a service that is not routable yet (a chain not registered,
    a service not registered). The relay consumes the index as BEGIN_FAILURE and tells
    both chains; when the chain and the service are registered later, their later calls
    arrive in order instead of being refused as out of order for good."""
    async with _procs(
        tmp_path, chains=("chainA", "chainB", "chainC"), registered=("chainA", "chainB")
    ) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a, b, c = (topo.chains[n] for n in ("chainA", "chainB", "chainC"))
        key = abi_encode(["string"], ["k"])
        # chainC runs but is not registered: the call is refused as unroutable.
        first = await _emit(topo, "chainA", c.service_id(c.data_swap), "get", key)
        status, reason = await _final(topo, first)
        assert status == TxStatus.ROLLBACK and b"not an active chain" in reason
        # A service on chainB that is not registered (an address with no service).
        ghost = b.service_id("0x" + "0b" * 20)
        g1 = await _emit(topo, "chainA", ghost, "ping", b"")
        assert (await _final(topo, g1))[0] == TxStatus.ROLLBACK
        # chainB's broker learnt of the consumed index from the notice, and its
        # acknowledgement of a BEGIN_FAILURE notice is taken silently by the relay.
        src = a.service_id(a.users[2].address)
        await _wait_in_counter(topo, "chainB", src, ghost, 1)
        await trio.sleep(2)
        counts = await _gateway_counts(pt, "chainB")
        assert counts["dropped_total"] == 0 and counts["set_aside_total"] == 0, counts
        async with topo.client() as client:
            assert (await client.ibtp_status(g1)).last_refusal is None

        # Now the operator registers chainC (its gateway reads its queue from seq 1)...
        await pt.register_late("chainC")
        await topo.data_set("chainC", "k", b"v")
        await _wait_in_counter(topo, "chainC", src, c.service_id(c.data_swap), 1)
        second = await _emit(topo, "chainA", c.service_id(c.data_swap), "get", key)
        assert second.endswith("~2")
        assert await _final(topo, second) == (TxStatus.SUCCESS, b"v")
        # ... and registers the ghost service on chainB: its index 2 is delivered in
        # order (it has no code there, so chainB answers FAILURE: a final answer).
        async with AsyncRelayClient(topo.relay_url, account=b.gateway_key) as gw:
            await gw.register_service(ghost, name="late")
        g2 = await _emit(topo, "chainA", ghost, "ping", b"")
        assert (await _final(topo, g2)) == (TxStatus.FAILURE, b"no service code")

        await _honest_transfer(topo, "chainA", "chainB")
        await _honest_transfer(topo, "chainA", "chainC")
        assert await _supply(topo) == supply


async def test_expired_timeout_rolls_back_and_the_pair_goes_on(tmp_path: Path) -> None:
    """Case 2: a request whose timeout height has already passed when the relay admits
    it is recorded, consumes its index and rolls back on both chains; the pair's next
    call succeeds (it used to wait forever behind a 4003 refusal)."""
    async with _procs(tmp_path) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a = topo.chains["chainA"]
        alice = a.users[0].address
        before = await topo.balance("chainA", alice)
        (expired,) = await topo.transfer_many("chainA", "chainB", [25], timeout=1)
        status, reason = await _final(topo, expired)
        assert status == TxStatus.ROLLBACK and b"had passed" in reason
        async with topo.client() as client:
            st = await client.ibtp_status(expired)
        # Never routed: SOURCE_ROLLBACK, notices to both chains at once.
        assert [s for s, _ in st.history] == [TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK]
        with trio.fail_after(20):  # the source returned the lock
            while await topo.balance("chainA", alice) != before:
                await trio.sleep(0.05)
        b = topo.chains["chainB"]
        src, dst = a.service_id(a.asset), b.service_id(b.asset)
        await _wait_in_counter(topo, "chainB", src, dst, 1)  # consumed there, never minted
        # chainB's broker acknowledged its notice; the relay takes that silently (a
        # refusal would be dropped or set aside by chainB's gateway).
        await trio.sleep(2)
        counts = await _gateway_counts(pt, "chainB")
        assert counts == {"dropped_total": 0, "set_aside_total": 0, "parked": 0}, counts
        async with topo.client() as client:
            st = await client.ibtp_status(expired)
        assert st.last_refusal is None, st.last_refusal
        assert [s for s, _ in st.history] == [TxStatus.SOURCE_ROLLBACK, TxStatus.ROLLBACK]
        # The same pair goes on: index 2 succeeds.
        (nxt,) = await topo.transfer_many("chainA", "chainB", [4])
        assert nxt.endswith("~2")
        assert (await _final(topo, nxt))[0] == TxStatus.SUCCESS
        assert await _supply(topo) == supply


async def test_a_hostile_gateway_cannot_reorder_a_pair(tmp_path: Path) -> None:
    """Case 3: unordered services do not exist, and a source gateway that submits #2
    before #1 is refused with INDEX_GAP without changing anything; the honest gateway
    then delivers both, in order."""
    async with _procs(tmp_path) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a, b = topo.chains["chainA"], topo.chains["chainB"]
        async with AsyncRelayClient(topo.relay_url, account=b.gateway_key) as gw:
            with pytest.raises(RelayApiError) as err:
                await gw.send(
                    "service.register",
                    {"service": b.service_id("0x" + "0c" * 20), "ordered": False},
                )
            assert err.value.code == Code.FIELD_TYPE
        # The hostile gateway holds chainA's gateway key; the honest one is down.
        pt.kill("gateway-chainA")
        ids = await topo.transfer_many("chainA", "chainB", [5, 6])
        adapter = EvmAdapter.from_config(a.adapter_config)
        await adapter.start()
        try:
            src, dst = a.service_id(a.asset), b.service_id(b.asset)
            second = await adapter.refetch(src, dst, 2, IBTPType.INTERCHAIN)
            assert second is not None
        finally:
            await adapter.stop()
        async with AsyncRelayClient(topo.relay_url, account=a.gateway_key) as hostile:
            with pytest.raises(RelayApiError) as err:
                await hostile.send("ibtp", [encode_ibtp(second)], wait_commit=True)
            assert err.value.code == Code.INDEX_GAP and err.value.details["expected"] == 1
            assert (await hostile.pair(src, dst))["interchain"] == 0
        await pt.restart("gateway-chainA")
        for i in ids:
            assert (await _final(topo, i))[0] == TxStatus.SUCCESS
        await _honest_transfer(topo, "chainA", "chainB")
        assert await _supply(topo) == supply


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_relay_proofs_are_for_one_chain_and_refusals_are_set_aside(
    tmp_path: Path,
) -> None:
    """Case 6 and the gateway's head-of-line rule (case 4).

    * The BEGIN_FAILURE notice the relay routed to the *source* chain is refused by the
      *destination* broker: the signed digest names the chain it is for.
    * A user calls a destination service ID that chainB's broker cannot parse: the
      relay consumes the index and chainB's broker takes the notice (nothing can run for
      that ID), so it blocks nothing.
    * A delivery chainB keeps refusing (its gateway's gas is too low for one call):
      chainB's gateway retries it a bounded number of times, sets it aside (persisted,
      listed by the CLI and the admin API, counted in /metrics), then idles: under 5%
      CPU over 10 s. Deliveries into chainB go on."""
    async with _procs(tmp_path, chain_options={"chainB": {"gas": 200_000}}) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a, b = topo.chains["chainA"], topo.chains["chainB"]
        src = a.service_id(a.users[2].address)

        # --- case 6: the source's notice replayed at the destination -------------------
        pt.kill("gateway-chainB")  # so that chainB's own notice is not delivered first
        ghost = b.service_id("0x" + "0d" * 20)
        refused = await _emit(topo, "chainA", ghost, "ping", b"")
        assert (await _final(topo, refused))[0] == TxStatus.ROLLBACK  # chainA acknowledged
        async with topo.client() as client:
            page = await client.outbound("chainA")
        (entry,) = [
            e
            for e in page.entries
            if e.status == TxStatus.BEGIN_FAILURE and decode_ibtp(e.ibtp).id == refused
        ]
        replay = calldata(
            "invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])",
            [src, ghost, 1, 3, b"", int(TxStatus.BEGIN_FAILURE), list(entry.sigs)],
        )
        with pytest.raises(RpcError) as revert:
            await topo.rpc("chainB").call(
                "eth_call", {"to": b.broker, "data": "0x" + replay.hex()}, "latest"
            )
        assert "unregistered relay signer" in _revert_text(revert.value)
        outcome = await EvmSender(topo.rpc("chainB"), b.users[3]).send(b.broker, replay)
        assert not outcome.ok
        assert await _in_counter(topo, "chainB", src, ghost) == 0
        await pt.restart("gateway-chainB")  # chainB's own notice consumes the index
        await _wait_in_counter(topo, "chainB", src, ghost, 1)

        # --- a notice naming no possible service of chainB is taken, not refused --------
        junk = b.service_id("not-an-evm-address")
        bad = await _emit(topo, "chainA", junk, "ping", b"")
        assert (await _final(topo, bad))[0] == TxStatus.ROLLBACK
        await _wait_in_counter(topo, "chainB", src, junk, 1)

        # --- case 4: a delivery chainB keeps refusing --------------------------------------
        # chainB's gateway sends with 200,000 gas (chain_options below): enough for
        # transfers, not for answering a DataSwap read of a 30 KiB value (its ReceiptEvent
        # alone costs 8 gas a byte). The chain refuses that delivery every time.
        await topo.data_set("chainB", "big", b"\x07" * 30_000)
        heavy = await topo.data_get("chainA", "chainB", "big")
        admin = pt.gateway_admin["chainB"]
        with trio.fail_after(60):
            async with httpx.AsyncClient() as http:
                while True:
                    items = (await http.get(f"{admin}/v1/parked")).json()["items"]
                    if items:
                        break
                    await trio.sleep(0.2)
                metrics = (await http.get(f"{admin}/metrics")).text
        (item,) = items
        assert item["ibtp_id"] == heavy and item["type"] == "INTERCHAIN"
        assert "reverted" in item["reason"] and item["attempts"] == 3
        assert 'relayhub_gateway_set_aside_total{chain="chainB"} 1.0' in metrics
        bad = heavy
        listed = subprocess.run(
            [
                PY,
                "-m",
                "relay.cli",
                "gateway",
                "parked",
                "--config",
                str(tmp_path / "gateway-chainB" / "gateway.toml"),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert [i["ibtp_id"] for i in json.loads(listed.stdout)["items"]] == [bad]
        # Holding it, the gateway does not spin.
        pid = pt.procs["gateway-chainB"].popen.pid  # type: ignore[union-attr]
        cpu0, t0 = _cpu_seconds(pid), trio.current_time()
        await trio.sleep(10)
        share = (_cpu_seconds(pid) - cpu0) / (trio.current_time() - t0)
        assert share < 0.05, f"gateway with one set-aside item used {share:.1%} CPU"

        await _honest_transfer(topo, "chainA", "chainB")
        await _honest_transfer(topo, "chainB", "chainA")
        assert await _supply(topo) == supply


def _revert_text(exc: RpcError) -> str:
    """The Error(string) reason of a reverted eth_call, else the error's own text."""
    data = exc.details.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        return str(abi_decode(["string"], bytes.fromhex(data[10:]))[0])
    return f"{exc.message} {data}"


# --- timeouts never create value twice -----------------------------------------------
#
# A destination never undoes: a timeout asks the destination to give the request up
# first (BEGIN_ROLLBACK, a notice to the destination only). A destination that had run
# it answers with its receipt, however late, and its outcome stands; one that had not
# consumes the index and acknowledges, and only then is the source told to roll back.


async def _wait_status(topo: Topology, ibtp_id: str, want: TxStatus, timeout: float = 60) -> None:
    async with topo.client() as client:
        with trio.fail_after(timeout):
            while True:
                try:
                    if (await client.ibtp_status(ibtp_id)).status == want:
                        return
                except RelayApiError as err:
                    if err.code != Code.UNKNOWN_IBTP:
                        raise
                await trio.sleep(0.05)


async def _routed(topo: Topology, chain: str, ibtp_id: str, typ: IBTPType) -> tuple[Any, Any]:
    """The relay's outbound entry of ``ibtp_id`` of type ``typ`` for ``chain``."""
    async with topo.client() as client:
        with trio.fail_after(30):
            while True:
                page = await client.outbound(chain)
                for e in page.entries:
                    ibtp = decode_ibtp(e.ibtp)
                    if ibtp.id == ibtp_id and ibtp.type == typ:
                        return e, ibtp
                await trio.sleep(0.05)


async def _lock_of(topo: Topology, chain: str, dst_service: str, index: int) -> int:
    c = topo.chains[chain]
    _, amount = await eth_view(
        topo.rpc(chain),
        c.asset,
        "lockOf(string,uint64)",
        [dst_service, index],
        ["address", "uint256"],
    )
    return int(amount)


async def _gateway_counts(pt: ProcTopology, chain: str) -> dict[str, float]:
    """The gateway's dropped / set-aside counters and parked items (its admin API)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{pt.gateway_admin[chain]}/metrics")).text
    out = {}
    for name in ("dropped_total", "set_aside_total", "parked"):
        for line in text.splitlines():
            if line.startswith(f'relayhub_gateway_{name}{{chain="{chain}"}} '):
                out[name] = float(line.split()[-1])
    return out


async def _fund_gas(topo: Topology, chain: str, address: str) -> None:
    """Send ``address`` native coin for gas from a dev account (a value transfer)."""
    rpc, funder = topo.rpc(chain), topo.chains[chain].users[5]
    raw = sign_legacy_transaction(
        funder,
        nonce=hex_to_int(await rpc.call("eth_getTransactionCount", funder.address, "pending")),
        gas_price=hex_to_int(await rpc.call("eth_gasPrice")),
        gas=21_000,
        to=address,
        value=10**20,
        data=b"",
        chain_id=hex_to_int(await rpc.call("eth_chainId")),
    )
    tx_hash = await rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
    (outcome,) = await EvmSender(rpc, funder).wait_receipts([tx_hash], ordered=True)
    assert outcome.ok


async def test_a_spent_mint_after_a_timeout_is_settled_not_undone(tmp_path: Path) -> None:
    """The race that created value twice. chainB's gateway is down; the transfer is
    delivered to chainB's broker (its relay-signed request, sent by anyone), which
    mints; the recipient spends the tokens at once; the relay's timeout passes before
    any receipt reaches it. The relay tells only chainB (BEGIN_ROLLBACK): chainA keeps
    the lock. When chainB's gateway comes back, chainB's broker takes the notice without
    undoing anything and the late receipt settles the transfer: SUCCESS, chainA burns
    the lock (no refund), supply is conserved, nothing is set aside."""
    async with _procs(tmp_path) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a, b = topo.chains["chainA"], topo.chains["chainB"]
        # The recipient holds nothing but what this transfer mints.
        recipient = Account.from_key(keccak(b"relayhub test: the recipient who spends"))
        await _fund_gas(topo, "chainB", recipient.address)
        alice, bob = a.users[0].address, recipient.address
        src, dst = a.service_id(a.asset), b.service_id(b.asset)
        alice_before = await topo.balance("chainA", alice)
        assert await topo.balance("chainB", bob) == 0
        pt.kill("gateway-chainB")
        async with topo.client() as client:
            height = (await client.status())["height"]
        (tid,) = await topo.transfer_many(
            "chainA", "chainB", [40], timeout=height + 10, recipient=bob
        )
        index = int(tid.rsplit("~", 1)[1])
        await _wait_status(topo, tid, TxStatus.BEGIN)

        # Someone delivers the relay-signed request to chainB's broker: it mints.
        entry, request = await _routed(topo, "chainB", tid, IBTPType.INTERCHAIN)
        bob_before = await topo.balance("chainB", bob)
        invoke = calldata(
            "invokeInterchain(string,string,uint64,string,bytes[],bytes[])",
            [src, dst, index, request.payload.func, list(request.payload.args), list(entry.sigs)],
        )
        assert (await EvmSender(topo.rpc("chainB"), b.users[3]).send(b.broker, invoke)).ok
        assert await topo.balance("chainB", bob) == bob_before + 40 == 40
        # The recipient spends it all at once (a transfer on to chainA): no burn of the
        # mint could succeed any more.
        outcome = await EvmSender(topo.rpc("chainB"), recipient).send(
            b.asset,
            calldata("transfer(string,address,uint256,uint64)", [src, a.users[4].address, 40, 0]),
        )
        assert outcome.ok
        ((f, t, i),) = interchain_events(outcome.receipt, b.broker)
        spend = f"{f}~{t}~{i}"
        assert await topo.balance("chainB", bob) == 0

        # The timeout passes with no receipt at the relay: only chainB is told.
        await _wait_status(topo, tid, TxStatus.BEGIN_ROLLBACK)
        await trio.sleep(1)
        async with topo.client() as client:
            to_a = [decode_ibtp(e.ibtp).id for e in (await client.outbound("chainA")).entries]
        assert tid not in to_a, "the source was told to roll back before the destination"
        assert await _lock_of(topo, "chainA", dst, index) == 40  # chainA keeps the lock
        assert await topo.balance("chainA", alice) == alice_before - 40

        # chainB's gateway comes back: the notice is taken, the late receipt settles it.
        await pt.restart("gateway-chainB")
        status, _ = await _final(topo, tid)
        assert status == TxStatus.SUCCESS
        async with topo.client() as client:
            st = await client.ibtp_status(tid)
        assert [s for s, _ in st.history] == [
            TxStatus.BEGIN,
            TxStatus.BEGIN_ROLLBACK,
            TxStatus.SUCCESS,
        ]
        with trio.fail_after(30):  # the source burns the lock on the receipt
            while await _lock_of(topo, "chainA", dst, index) != 0:
                await trio.sleep(0.05)
        assert await topo.balance("chainA", alice) == alice_before - 40  # never refunded
        assert (await _final(topo, spend))[0] == TxStatus.SUCCESS
        await _honest_transfer(topo, "chainA", "chainB")
        assert await _supply(topo) == supply
        counts = await _gateway_counts(pt, "chainB")
        assert counts["set_aside_total"] == 0 and counts["parked"] == 0, counts


async def test_a_timeout_the_destination_gives_up_refunds_the_source_after(
    tmp_path: Path,
) -> None:
    """The relay's notice reaches chainB's broker before the request: it consumes the
    index unexecuted and acknowledges. Until the acknowledgement reaches the relay
    (chainB's gateway is down), chainA keeps the lock; then SOURCE_ROLLBACK, the notice
    to chainA, its refund and acknowledgement: ROLLBACK, nothing minted, supply
    conserved."""
    async with _procs(tmp_path) as pt:
        topo = _topo(pt)
        supply = await _supply(topo)
        a, b = topo.chains["chainA"], topo.chains["chainB"]
        alice, bob = a.users[0].address, b.users[4].address
        src, dst = a.service_id(a.asset), b.service_id(b.asset)
        alice_before = await topo.balance("chainA", alice)
        bob_before = await topo.balance("chainB", bob)
        pt.kill("gateway-chainB")
        async with topo.client() as client:
            height = (await client.status())["height"]
        (tid,) = await topo.transfer_many(
            "chainA", "chainB", [30], timeout=height + 6, recipient=bob
        )
        index = int(tid.rsplit("~", 1)[1])
        await _wait_status(topo, tid, TxStatus.BEGIN_ROLLBACK)
        entry, _ = await _routed(topo, "chainB", tid, IBTPType.RECEIPT_ROLLBACK)
        assert entry.status == TxStatus.BEGIN_ROLLBACK
        invoke = calldata(
            "invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])",
            [src, dst, index, 3, b"", int(entry.status), list(entry.sigs)],
        )
        assert (await EvmSender(topo.rpc("chainB"), b.users[3]).send(b.broker, invoke)).ok
        assert await _in_counter(topo, "chainB", src, dst) == index  # consumed, not run
        await trio.sleep(1)
        # The acknowledgement is on chainB but not at the relay yet: no refund.
        async with topo.client() as client:
            assert (await client.ibtp_status(tid)).status == TxStatus.BEGIN_ROLLBACK
        assert await topo.balance("chainA", alice) == alice_before - 30

        await pt.restart("gateway-chainB")
        assert (await _final(topo, tid))[0] == TxStatus.ROLLBACK
        async with topo.client() as client:
            st = await client.ibtp_status(tid)
        assert [s for s, _ in st.history] == [
            TxStatus.BEGIN,
            TxStatus.BEGIN_ROLLBACK,
            TxStatus.SOURCE_ROLLBACK,
            TxStatus.ROLLBACK,
        ]
        with trio.fail_after(30):
            while await topo.balance("chainA", alice) != alice_before:
                await trio.sleep(0.05)
        assert await topo.balance("chainB", bob) == bob_before  # never minted
        await _honest_transfer(topo, "chainA", "chainB")
        assert await _supply(topo) == supply
        counts = await _gateway_counts(pt, "chainB")
        assert counts["set_aside_total"] == 0 and counts["parked"] == 0, counts
