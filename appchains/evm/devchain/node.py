"""The running dev chain: pool, block producer, persistence and the JSON-RPC server (I/O shell).

:func:`open_devchain` is what tests and demos use::

    async with open_devchain(DevchainConfig(seed="demo")) as chain:
        chain.url          # http://127.0.0.1:PORT, JSON-RPC
        chain.accounts     # funded dev accounts (coincurve keys)
        chain.relay_keys   # derived relay-validator keys, if none were configured

The producer makes a block at most every ``block_interval`` seconds when
transactions are pending, and an empty one after ``empty_block_interval``
seconds without any (0 disables empty blocks).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from coincurve import PrivateKey

from appchains.evm.devchain.chain import (
    Block,
    CallResult,
    ChainState,
    ExecutedBlock,
    LogEntry,
    StoredBlock,
    TxReceipt,
    call,
    check_transaction,
    commit_block,
    compute_block_size,
    execute_block,
)
from appchains.evm.devchain.config import ConfigError, DevchainConfig
from appchains.evm.devchain.crypto import address_hex, address_of_key
from appchains.evm.devchain.genesis import DevchainSetup, build_genesis, make_setup
from appchains.evm.devchain.header import Header
from appchains.evm.devchain.seals import compute_seals
from appchains.evm.devchain.state import Frame, StateDiff
from appchains.evm.devchain.store import ChainStore
from appchains.evm.devchain.transactions import Transaction, TxError, decode_signed_transaction

log = logging.getLogger("relayhub.devchain")

#: A sender may queue this many nonces ahead of its account nonce.
MAX_NONCE_GAP = 1024
#: Blocks kept decoded in memory after they are stored: gateways and clients ask for
#: the newest blocks' headers and receipts over and over (every receipt poll decoded
#: the header and the receipt from SQLite again).
RECENT_BLOCKS = 128


@dataclass(frozen=True, slots=True)
class _Recent:
    executed: ExecutedBlock
    seals: tuple[bytes, ...]


class DevchainNode:
    """Chain state, transaction pool and storage; the JSON-RPC backend."""

    def __init__(self, setup: DevchainSetup, state: ChainState, store: ChainStore) -> None:
        self.setup = setup
        self.config = setup.config
        self.state = state
        self.store = store
        self._pool: dict[bytes, Transaction] = {}
        self._pending_slots: set[tuple[bytes, int]] = set()
        self._wakeup = trio.Event()
        self._new_block = trio.Event()
        self._last_block_time: float | None = None
        self._recent: dict[int, _Recent] = {}
        self._recent_txs: dict[bytes, tuple[int, int]] = {}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, config: DevchainConfig) -> DevchainNode:
        """Open (or create) the chain in ``config.data_dir`` (in memory when ``None``)."""
        config.check()
        store = ChainStore(config.data_dir)
        try:
            return cls._open(config, store)
        except BaseException:
            store.close()
            raise

    @classmethod
    def _open(cls, config: DevchainConfig, store: ChainStore) -> DevchainNode:
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
        genesis = build_genesis(setup)
        spec = json.dumps(
            {
                "chain_id": config.chain_id,
                "genesis": genesis.head_hash.hex(),
                "validators": [address_hex(a) for a in setup.validators],
                "threshold": config.threshold,
            },
            sort_keys=True,
        ).encode()
        head = store.head_number()
        if head is None:
            store.set_meta("seed", seed.encode())
            store.set_meta("spec", spec)
            world = genesis.world
            diff = StateDiff(
                dict(world.accounts),
                {(a, k): v for a, slots in world.storage.items() for k, v in slots.items()},
            )
            block = Block(genesis.head, genesis.head_hash, ())
            seals = compute_seals(setup.sealing_keys, config.chain_id, genesis.head_hash)
            store.commit(ExecutedBlock(block, (), diff), seals)
            return cls(setup, genesis, store)
        stored_spec = store.get_meta("spec")
        if stored_spec != spec:
            raise ConfigError(
                f"data dir {config.data_dir} holds another chain "
                f"({(stored_spec or b'').decode()}); start with the same chain_id, "
                "validators, seed and genesis settings, or use a new data dir"
            )
        found = store.get_header(head)
        assert found is not None
        header, block_hash, _seals = found
        world = store.load_world(header.state_root)
        state = ChainState(genesis.params, genesis.contracts, world, header, block_hash)
        return cls(setup, state, store)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ pool
    def submit_raw(self, raw: bytes) -> bytes:
        """Admit a signed transaction to the pool; its hash, or :class:`TxError`."""
        tx = decode_signed_transaction(raw, self.config.chain_id)
        if tx.hash in self._pool or self.find_transaction(tx.hash) is not None:
            raise TxError("already known")
        if len(self._pool) >= self.config.max_pool_txs:
            raise TxError("txpool is full")
        frame = Frame(self.state.world)
        check_transaction(frame, tx, self.state.params, exact_nonce=False)
        if tx.nonce > frame.nonce(tx.sender) + MAX_NONCE_GAP:
            raise TxError(f"nonce too high: more than {MAX_NONCE_GAP} ahead of the account nonce")
        if (tx.sender, tx.nonce) in self._pending_slots:
            raise TxError("replacement transaction not supported: this nonce is already pending")
        self._pool[tx.hash] = tx
        self._pending_slots.add((tx.sender, tx.nonce))
        self._wakeup.set()
        return tx.hash

    def pending_count(self) -> int:
        return len(self._pool)

    def pending_nonce(self, address: bytes) -> int:
        nonce = self.state.world.account(address).nonce
        while (address, nonce) in self._pending_slots:
            nonce += 1
        return nonce

    def _select(self) -> list[Transaction]:
        """Pool transactions in arrival order, each sender's in nonce order, gaps left out."""
        world = self.state.world
        expected: dict[bytes, int] = {}
        chosen: list[Transaction] = []
        waiting = list(self._pool.values())
        limit = self.config.max_block_txs
        while waiting and len(chosen) < limit:
            deferred: list[Transaction] = []
            for tx in waiting:
                nonce = expected.get(tx.sender)
                if nonce is None:
                    nonce = world.account(tx.sender).nonce
                if tx.nonce == nonce and len(chosen) < limit:
                    chosen.append(tx)
                    expected[tx.sender] = nonce + 1
                elif tx.nonce > nonce:
                    deferred.append(tx)
            if len(deferred) == len(waiting):
                break
            waiting = deferred
        return chosen

    def _remember(self, executed: ExecutedBlock, seals: tuple[bytes, ...]) -> None:
        number = executed.block.number
        self._recent[number] = _Recent(executed, seals)
        for i, tx in enumerate(executed.block.transactions):
            self._recent_txs[tx.hash] = (number, i)
        old = self._recent.pop(number - RECENT_BLOCKS, None)
        if old is not None:
            for tx in old.executed.block.transactions:
                self._recent_txs.pop(tx.hash, None)

    def _forget(self, tx: Transaction) -> None:
        self._pool.pop(tx.hash, None)
        self._pending_slots.discard((tx.sender, tx.nonce))

    # ------------------------------------------------------------------ blocks
    def produce_block(self) -> Block:
        """Seal, store and apply the next block from the pool (possibly empty)."""
        candidates = self._select()
        timestamp = int(self.config.time_source())
        executed = execute_block(self.state, candidates, timestamp)
        block = executed.block
        seals = compute_seals(self.setup.sealing_keys, self.config.chain_id, block.hash)
        self.store.commit(executed, seals)
        commit_block(self.state, executed)
        self._remember(executed, seals)
        included = {tx.hash for tx in block.transactions}
        tried = {tx.hash for tx in candidates}
        full = block.header.gas_used + 21_000 > self.state.params.gas_limit
        frame = Frame(self.state.world)
        for tx in list(self._pool.values()):
            if tx.hash in included:
                self._forget(tx)
                continue
            if tx.nonce < frame.nonce(tx.sender):
                self._forget(tx)  # stale
            elif not full and tx.hash in tried:
                try:
                    check_transaction(frame, tx, self.state.params, exact_nonce=False)
                except TxError as exc:
                    log.info("dropping transaction 0x%s: %s", tx.hash.hex(), exc)
                    self._forget(tx)
        self._new_block.set()
        self._new_block = trio.Event()
        return block

    async def serve_producer(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Produce blocks forever: when transactions wait, or empty ones on the empty interval."""
        interval = self.config.block_interval
        empty = self.config.empty_block_interval
        self._last_block_time = trio.current_time()
        task_status.started()
        while True:
            if not self._pool:
                deadline = self._last_block_time + empty if empty > 0 else float("inf")
                with trio.move_on_at(deadline):
                    await self._wakeup.wait()
                self._wakeup = trio.Event()
            await trio.sleep_until(self._last_block_time + interval)
            self.produce_block()
            self._last_block_time = trio.current_time()

    async def wait_for_block(self, number: int) -> None:
        """Return once block ``number`` is the head or behind it."""
        while self.state.head.number < number:
            await self._new_block.wait()

    async def wait_for_receipt(self, tx_hash: bytes) -> TxReceipt:
        while True:
            where = self.store.find_transaction(tx_hash)
            if where is not None:
                receipt = self.store.get_receipt(*where)
                assert receipt is not None
                return receipt
            await self._new_block.wait()

    # ------------------------------------------------------------------ queries (JSON-RPC backend)
    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    def head_number(self) -> int:
        return self.state.head.number

    def get_block(self, number: int, full: bool = False) -> StoredBlock | None:
        recent = self._recent.get(number)
        if recent is None:
            return self.store.get_block(number, full)
        block = recent.executed.block
        txs = block.transactions
        return StoredBlock(
            block.header,
            block.hash,
            recent.seals,
            tuple(tx.hash for tx in txs),
            txs if full else (),
            compute_block_size(block.header, [tx.raw for tx in txs]),
        )

    def get_header(self, number: int) -> tuple[Header, bytes, tuple[bytes, ...]] | None:
        recent = self._recent.get(number)
        if recent is None:
            return self.store.get_header(number)
        return recent.executed.block.header, recent.executed.block.hash, recent.seals

    def get_receipt(self, number: int, index: int) -> TxReceipt | None:
        recent = self._recent.get(number)
        if recent is None:
            return self.store.get_receipt(number, index)
        receipts = recent.executed.receipts
        return receipts[index] if 0 <= index < len(receipts) else None

    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, int, int] | None:
        return self.store.get_transaction(tx_hash)

    def get_seals(self, number: int) -> tuple[bytes, ...] | None:
        found = self.get_header(number)
        return None if found is None else found[2]

    def block_number_of(self, block_hash: bytes) -> int | None:
        return self.store.block_number_of(block_hash)

    def get_receipts(self, number: int) -> tuple[TxReceipt, ...]:
        recent = self._recent.get(number)
        return self.store.get_receipts(number) if recent is None else recent.executed.receipts

    def find_transaction(self, tx_hash: bytes) -> tuple[int, int] | None:
        found = self._recent_txs.get(tx_hash)
        return found if found is not None else self.store.find_transaction(tx_hash)

    def pending_transaction(self, tx_hash: bytes) -> Transaction | None:
        return self._pool.get(tx_hash)

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: list[bytes],
        topics: list[list[bytes] | None],
        limit: int,
    ) -> list[LogEntry]:
        return self.store.get_logs(from_block, to_block, addresses, topics, limit)

    def call(
        self, sender: bytes, to: bytes, data: bytes, value: int, gas: int | None
    ) -> CallResult:
        return call(self.state, sender, to, data, value=value, gas=gas)

    def balance(self, address: bytes) -> int:
        return self.state.world.account(address).balance

    def nonce(self, address: bytes) -> int:
        return self.state.world.account(address).nonce

    def code(self, address: bytes) -> bytes:
        return self.state.world.account(address).code

    def gas_price(self) -> int:
        return self.state.params.base_fee

    def validators(self) -> tuple[list[str], int]:
        return [address_hex(a) for a in self.setup.validators], self.config.threshold

    def chain_info(self) -> dict[str, Any]:
        setup, config = self.setup, self.config
        return {
            "chainId": hex(config.chain_id),
            "hubId": config.hub_id,
            "chainName": config.chain_name,
            "broker": address_hex(setup.broker),
            "assetTransfer": address_hex(setup.asset_transfer),
            "dataSwap": address_hex(setup.data_swap),
            "serviceOwner": address_hex(setup.service_owner),
            "relayValidators": [address_hex(a) for a in setup.relay_validators],
            "relayThreshold": config.relay_threshold,
            "validators": [address_hex(a) for a in setup.validators],
            "threshold": config.threshold,
        }


@dataclass(frozen=True, slots=True)
class DevchainHandle:
    """A running dev chain, as :func:`open_devchain` hands it out."""

    url: str
    node: DevchainNode

    @property
    def config(self) -> DevchainConfig:
        return self.node.config

    @property
    def setup(self) -> DevchainSetup:
        return self.node.setup

    @property
    def chain_id(self) -> int:
        return self.node.config.chain_id

    @property
    def accounts(self) -> tuple[PrivateKey, ...]:
        return self.node.setup.account_keys

    @property
    def validator_keys(self) -> tuple[PrivateKey, ...]:
        return self.node.setup.validator_keys

    @property
    def validators(self) -> tuple[str, ...]:
        return tuple(address_hex(address_of_key(k)) for k in self.node.setup.validator_keys)

    @property
    def relay_keys(self) -> tuple[PrivateKey, ...]:
        return self.node.setup.relay_keys

    @property
    def broker(self) -> str:
        return address_hex(self.node.setup.broker)

    @property
    def asset_transfer(self) -> str:
        return address_hex(self.node.setup.asset_transfer)

    @property
    def data_swap(self) -> str:
        return address_hex(self.node.setup.data_swap)

    def full_id(self, address: str) -> str:
        """``hubId:chainName:0x<address>`` of a service on this chain."""
        return f"{self.config.hub_id}:{self.config.chain_name}:{address.lower()}"


@asynccontextmanager
async def open_devchain(config: DevchainConfig) -> AsyncIterator[DevchainHandle]:
    """Run a dev chain (producer + JSON-RPC on loopback) for the duration of the block."""
    from appchains.evm.devchain.rpc import JsonRpc
    from appchains.evm.devchain.server import serve_json_rpc

    node = DevchainNode.open(config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.serve_producer)
            url = await nursery.start(serve_json_rpc, JsonRpc(node), config.host, config.port)
            try:
                yield DevchainHandle(url, node)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        node.close()
