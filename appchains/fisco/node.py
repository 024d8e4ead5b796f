"""The running FISCO BCOS-like chain: pool, PBFT-sealed block producer, store, JSON-RPC.

:func:`open_fisco_chain` is what tests and the harness use::

    async with open_fisco_chain(FiscoConfig(seed="demo", relay_validators=(...,))) as chain:
        chain.url        # http://127.0.0.1:PORT, FISCO JSON-RPC (group ID first)
        chain.setup      # sealers (sorted node IDs), accounts, contract addresses

Like a FISCO node with ``omitEmptyBlock``, a block is sealed only when transactions
wait, at most every ``block_interval`` seconds. The pool checks what ``TxPool`` does:
the signature, ``chainId``, ``groupId``, ``blockLimit`` within ``(head, head + 1000]``,
a nonce never seen, and a call to a contract (no deployment on this dev chain).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import rlp
import trio

from adapters.fisco.transaction import (
    MAX_BLOCK_LIMIT,
    STATUS_ALREADY_IN_CHAIN,
    STATUS_ALREADY_KNOWN,
    STATUS_BLOCK_LIMIT_CHECK_FAIL,
    STATUS_INVALID_CHAIN_ID,
    STATUS_INVALID_GROUP_ID,
    STATUS_MALFORMED_TX,
    STATUS_NONCE_CHECK_FAIL,
    STATUS_TX_POOL_FULL,
    FiscoTransaction,
    TransactionError,
    decode_transaction,
)
from appchains.fisco.chain import (
    Block,
    CallResult,
    ChainState,
    ExecutedBlock,
    FiscoSetup,
    Header,
    Receipt,
    call,
    commit_block,
    execute_block,
    genesis_spec,
    intrinsic_gas,
    make_genesis,
    make_setup,
)
from appchains.fisco.config import ConfigError, FiscoConfig
from appchains.fisco.store import FiscoStore

log = logging.getLogger("relayhub.fisco")

RECENT_BLOCKS = 128


def parse_stored_transaction(raw: bytes, sender: bytes, tx_hash: bytes) -> FiscoTransaction:
    """A mined transaction from its raw bytes, without checking its signature again."""
    f = rlp.decode(raw)

    def n(i: int) -> int:
        return int.from_bytes(f[i], "big")

    return FiscoTransaction(
        n(0), n(1), n(2), n(3), f[4] or None, n(5), f[6], n(7), n(8), f[9], sender, tx_hash, raw
    )


class FiscoNode:
    """Chain state, transaction pool and storage; the JSON-RPC backend."""

    def __init__(self, setup: FiscoSetup, state: ChainState, store: FiscoStore) -> None:
        self.setup = setup
        self.config = setup.config
        self.state = state
        self.store = store
        self._pool: dict[bytes, FiscoTransaction] = {}
        self._pool_nonces: set[int] = set()
        self._wakeup = trio.Event()
        self._new_block = trio.Event()
        self._recent: dict[int, Block] = {}
        self._recent_txs: dict[bytes, tuple[int, int]] = {}

    @classmethod
    def open(cls, config: FiscoConfig) -> FiscoNode:
        config.check()
        store = FiscoStore(config.data_dir)
        try:
            return cls._open(config, store)
        except BaseException:
            store.close()
            raise

    @classmethod
    def _open(cls, config: FiscoConfig, store: FiscoStore) -> FiscoNode:
        stored_seed = store.get_meta("seed")
        if config.seed is not None:
            seed = config.seed
            if stored_seed is not None and stored_seed.decode() != seed:
                raise ConfigError(f"data dir {config.data_dir} was created with another seed")
        elif stored_seed is not None:
            seed = stored_seed.decode()
        else:
            seed = secrets.token_hex(16)
        setup = make_setup(config, seed)
        genesis, block0, diff0 = make_genesis(setup)
        spec = json.dumps(genesis_spec(setup, block0.hash), sort_keys=True).encode()
        head = store.head_number()
        if head is None:
            store.set_meta("seed", seed.encode())
            store.set_meta("spec", spec)
            store.commit(ExecutedBlock(block0, diff0))
            return cls(setup, genesis, store)
        if store.get_meta("spec") != spec:
            raise ConfigError(
                f"data dir {config.data_dir} holds another chain; start with the same "
                "chain_id, group_id, mode, sealers, seed, hub and chain name, or a new data dir"
            )
        found = store.get_header(head)
        assert found is not None
        header, block_hash, _ = found
        world = store.load_world(header.state_root)
        state = ChainState(setup, genesis.contracts, world, header, block_hash)
        return cls(setup, state, store)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ pool
    def submit_raw(self, raw: bytes) -> bytes:
        """Admit a signed transaction (``TxPool::import``); its hash, or TransactionError."""
        config = self.config
        tx = decode_transaction(raw, config.mode)
        if tx.hash in self._pool:
            raise TransactionError(
                STATUS_ALREADY_KNOWN, "AlreadyKnown", "transaction already known"
            )
        if self.find_transaction(tx.hash) is not None:
            raise TransactionError(STATUS_ALREADY_IN_CHAIN, "AlreadyInChain", "already in chain")
        if tx.chain_id != config.chain_id:
            raise TransactionError(
                STATUS_INVALID_CHAIN_ID,
                "InvalidChainId",
                f"chainId {tx.chain_id}, this chain is {config.chain_id}",
            )
        if tx.group_id != config.group_id:
            raise TransactionError(
                STATUS_INVALID_GROUP_ID,
                "InvalidGroupId",
                f"groupId {tx.group_id}, this node runs group {config.group_id}",
            )
        head = self.state.head.number
        if not head < tx.block_limit <= head + MAX_BLOCK_LIMIT:
            raise TransactionError(
                STATUS_BLOCK_LIMIT_CHECK_FAIL,
                "BlockLimitCheckFail",
                f"blockLimit {tx.block_limit} is not in ({head}, {head + MAX_BLOCK_LIMIT}]",
            )
        if tx.nonce in self._pool_nonces or self.store.nonce_used(tx.nonce):
            raise TransactionError(STATUS_NONCE_CHECK_FAIL, "NonceCheckFail", "nonce already used")
        if tx.to is None or tx.value or tx.gas < intrinsic_gas(tx.data):
            raise TransactionError(
                STATUS_MALFORMED_TX,
                "MalformedTx",
                "this dev chain takes calls to its contracts only: a receiveAddress, "
                "value 0 and gas for the call data",
            )
        if len(self._pool) >= config.max_pool_txs:
            raise TransactionError(STATUS_TX_POOL_FULL, "TxPoolIsFull", "transaction pool is full")
        self._pool[tx.hash] = tx
        self._pool_nonces.add(tx.nonce)
        self._wakeup.set()
        return tx.hash

    def pending_count(self) -> int:
        return len(self._pool)

    # ------------------------------------------------------------------ blocks
    def produce_block(self) -> Block | None:
        """Seal, store and apply the next block from the pool (None when it is empty)."""
        head = self.state.head.number
        txs: list[FiscoTransaction] = []
        for tx in list(self._pool.values()):
            if tx.block_limit <= head:  # expired while waiting
                self._drop(tx)
            elif len(txs) < self.config.max_block_txs:
                txs.append(tx)
        if not txs:
            return None
        executed = execute_block(self.state, txs, int(self.config.time_source() * 1000))
        self.store.commit(executed)
        commit_block(self.state, executed)
        block = executed.block
        self._recent[block.number] = block
        for i, tx in enumerate(block.transactions):
            self._recent_txs[tx.hash] = (block.number, i)
            self._drop(tx)
        old = self._recent.pop(block.number - RECENT_BLOCKS, None)
        if old is not None:
            for tx in old.transactions:
                self._recent_txs.pop(tx.hash, None)
        self._new_block.set()
        self._new_block = trio.Event()
        return block

    def _drop(self, tx: FiscoTransaction) -> None:
        self._pool.pop(tx.hash, None)
        self._pool_nonces.discard(tx.nonce)

    async def serve_producer(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        interval = self.config.block_interval
        last = trio.current_time()
        task_status.started()
        while True:
            while not self._pool:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
            await trio.sleep_until(last + interval)
            self.produce_block()
            last = trio.current_time()

    async def wait_for_block(self, number: int) -> None:
        while self.state.head.number < number:
            await self._new_block.wait()

    # ------------------------------------------------------------------ queries
    def head_number(self) -> int:
        return self.state.head.number

    def get_block(self, number: int) -> Block | None:
        recent = self._recent.get(number)
        if recent is not None:
            return recent
        found = self.store.get_header(number)
        if found is None:
            return None
        header, block_hash, sigs = found
        txs = tuple(
            parse_stored_transaction(raw, sender, h)
            for h, raw, sender in self.store.get_transactions(number)
        )
        return Block(header, block_hash, txs, tuple(self.store.get_receipts(number)), sigs)

    def get_header(self, number: int) -> Header | None:
        block = self._recent.get(number)
        if block is not None:
            return block.header
        found = self.store.get_header(number)
        return None if found is None else found[0]

    def block_number_of(self, block_hash: bytes) -> int | None:
        return self.store.block_number_of(block_hash)

    def find_transaction(self, tx_hash: bytes) -> tuple[int, int] | None:
        found = self._recent_txs.get(tx_hash)
        return found if found is not None else self.store.find_transaction(tx_hash)

    def receipt_of(self, tx_hash: bytes) -> tuple[Block, int, Receipt] | None:
        where = self.find_transaction(tx_hash)
        if where is None:
            return None
        block = self.get_block(where[0])
        assert block is not None
        return block, where[1], block.receipts[where[1]]

    def call(self, sender: bytes, to: bytes, data: bytes) -> CallResult:
        return call(self.state, sender, to, data)

    def total_transactions(self) -> int:
        return self.store.count_transactions()


@dataclass(frozen=True, slots=True)
class FiscoHandle:
    """A running chain, as :func:`open_fisco_chain` hands it out."""

    url: str
    node: FiscoNode

    @property
    def config(self) -> FiscoConfig:
        return self.node.config

    @property
    def setup(self) -> FiscoSetup:
        return self.node.setup


@asynccontextmanager
async def open_fisco_chain(config: FiscoConfig) -> AsyncIterator[FiscoHandle]:
    """Run the chain (producer + JSON-RPC on loopback) for the duration of the block."""
    from appchains.evm.devchain.server import serve_json_rpc
    from appchains.fisco.rpc import FiscoRpc

    node = FiscoNode.open(config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.serve_producer)
            url = await nursery.start(serve_json_rpc, FiscoRpc(node), config.host, config.port)
            try:
                yield FiscoHandle(url, node)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        node.close()
