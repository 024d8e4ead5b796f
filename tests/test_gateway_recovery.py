"""Gateway recovery finds a receipt the relay lacks, whichever its outcome.

The destination's gateway delivers a request whose call fails, but never polls the
broker's RECEIPT_FAILURE (its checkpoint is far past the chain head); restarted, its
recovery compares counters, asks the adapter for the receipt with ``ANY_RECEIPT``
(adapters.base) and submits it: the transaction ends in FAILURE. Asking for
RECEIPT_SUCCESS alone would find nothing and leave it in BEGIN until its timeout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from adapters.base import ANY_RECEIPT
from benchmarks.harness.topology import open_topology, start_gateway
from relay.ibtp import IBTPType, TxStatus

pytestmark = pytest.mark.slow

FAR_AHEAD = 10**9  # a checkpoint no dev chain reaches: the monitor polls nothing


async def test_recovery_resends_a_failure_receipt(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with open_topology(
            tmp_path, ("chainA", "chainB"), without_gateway=("chainB",)
        ) as topo:
            state_dir = tmp_path / "gateway-chainB"
            state_dir.mkdir(parents=True)
            (state_dir / "state.json").write_text(json.dumps({"checkpoint": FAR_AHEAD, "seq": 0}))
            (over_cap,) = await topo.transfer_many("chainA", "chainB", [5_000_000])
            src, dst, index = over_cap.split("~")
            b = topo.chains["chainB"]
            async with start_gateway(topo, "chainB") as gw:
                while (await gw.adapter.counters(src, dst)).inbound < int(index):
                    await trio.sleep(0.05)
                # Executed on chainB, its receipt not polled: the relay still says BEGIN.
                receipt = await gw.adapter.refetch(src, dst, int(index), ANY_RECEIPT)
                assert receipt is not None and receipt.type == IBTPType.RECEIPT_FAILURE
                assert (
                    await gw.adapter.refetch(src, dst, int(index), IBTPType.RECEIPT_SUCCESS) is None
                )
                async with topo.client() as client:
                    assert (await client.ibtp_status(over_cap)).status == TxStatus.BEGIN
                assert gw.stats.resent == 0
            assert b.gateway is None
            async with start_gateway(topo, "chainB") as gw:
                assert gw.state.checkpoint == FAR_AHEAD  # still polls nothing
                async with topo.client() as client:
                    st = await client.wait_final(over_cap, timeout=60)
                assert st.status == TxStatus.FAILURE
                assert gw.stats.resent == 1
