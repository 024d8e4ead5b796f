"""Block production and the transaction pool, on trio's virtual clock (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import trio
import trio.testing
from devchain_helpers import make_config, sign_tx

from appchains.evm.devchain.node import DevchainNode
from appchains.evm.devchain.transactions import TxError

DEAD = "0x000000000000000000000000000000000000dead"


@contextmanager
def node_for(**overrides: Any) -> Iterator[DevchainNode]:
    config = make_config(time_source=trio.current_time, **overrides)
    node = DevchainNode.open(config)
    try:
        yield node
    finally:
        node.close()


@asynccontextmanager
async def producing(node: DevchainNode) -> AsyncIterator[None]:
    async with trio.open_nursery() as nursery:
        await nursery.start(node.serve_producer)
        yield
        nursery.cancel_scope.cancel()


def raw(node: DevchainNode, nonce: int, account: int = 0, **kw: Any) -> bytes:
    return sign_tx(node.setup.account_keys[account], node.config.chain_id, nonce, DEAD, **kw)


async def test_empty_blocks_and_tx_latency(autojump_clock: trio.testing.MockClock) -> None:
    with node_for(block_interval=0.1, empty_block_interval=5.0) as node, trio.fail_after(60):
        async with producing(node):
            start = trio.current_time()
            await node.wait_for_block(3)
            assert trio.current_time() - start == pytest.approx(15.0)  # one empty block per 5 s
            assert node.get_block(3) is not None and node.get_block(3).tx_hashes == ()  # type: ignore[union-attr]
            # a transaction right after a block waits for the block interval, no more
            submitted = trio.current_time()
            receipt = await node.wait_for_receipt(node.submit_raw(raw(node, 0)))
            assert trio.current_time() - submitted == pytest.approx(0.1)
            assert receipt.receipt.status == 1
            # long after the last block, it is mined at once
            await trio.sleep(1.0)
            submitted = trio.current_time()
            await node.wait_for_receipt(node.submit_raw(raw(node, 1)))
            assert trio.current_time() - submitted == pytest.approx(0.0)
            # and the idle timer restarts from the last block
            head = node.head_number()
            await node.wait_for_block(head + 1)
            assert trio.current_time() - submitted == pytest.approx(5.0)


async def test_no_empty_blocks_when_disabled(autojump_clock: trio.testing.MockClock) -> None:
    with node_for(empty_block_interval=0) as node, trio.fail_after(1000):
        async with producing(node):
            await trio.sleep(600)
            assert node.head_number() == 0
            await node.wait_for_receipt(node.submit_raw(raw(node, 0)))
            assert node.head_number() == 1


async def test_nonce_order_and_gaps(autojump_clock: trio.testing.MockClock) -> None:
    with node_for() as node, trio.fail_after(60):
        async with producing(node):
            late, early = node.submit_raw(raw(node, 1)), node.submit_raw(raw(node, 0))
            other = node.submit_raw(raw(node, 0, account=1))
            await node.wait_for_receipt(late)
            block = node.get_block(node.store.find_transaction(early)[0])  # type: ignore[index]
            assert block is not None
            order = list(block.tx_hashes)
            assert sorted(order) == sorted([early, late, other])  # one block, arrival order
            assert order.index(early) < order.index(late)  # each sender's nonces in order
            # a gap keeps a transaction pending until the missing nonce arrives
            gapped = node.submit_raw(raw(node, 3))
            await trio.sleep(1.0)
            assert node.pending_count() == 1 and node.store.find_transaction(gapped) is None
            assert node.pending_nonce(node.setup.accounts[0]) == 2
            filler = node.submit_raw(raw(node, 2))
            await node.wait_for_receipt(gapped)
            where_filler, where_gapped = (
                node.store.find_transaction(filler),
                node.store.find_transaction(gapped),
            )
            assert where_filler is not None and where_gapped is not None
            assert where_filler[0] == where_gapped[0] and where_filler[1] < where_gapped[1]
            assert node.pending_count() == 0


async def test_pool_admission_rules(autojump_clock: trio.testing.MockClock) -> None:
    with node_for(max_pool_txs=2, max_block_txs=1) as node:
        first = raw(node, 0)
        node.submit_raw(first)
        with pytest.raises(TxError, match="already known"):
            node.submit_raw(first)
        with pytest.raises(TxError, match="already pending"):
            node.submit_raw(raw(node, 0, value=5))
        with pytest.raises(TxError, match="nonce too high"):
            node.submit_raw(raw(node, 2000))
        with pytest.raises(TxError, match="intrinsic gas"):
            node.submit_raw(raw(node, 1, gas=20_000))
        node.submit_raw(raw(node, 1))
        with pytest.raises(TxError, match="txpool is full"):
            node.submit_raw(raw(node, 2))
        # max_block_txs: one per block, in nonce order
        first_block, second_block = node.produce_block(), node.produce_block()
        assert [tx.nonce for tx in first_block.transactions] == [0]
        assert [tx.nonce for tx in second_block.transactions] == [1]
        assert node.pending_count() == 0
        # block timestamps come from the time source and never go backwards
        assert second_block.header.timestamp >= first_block.header.timestamp
