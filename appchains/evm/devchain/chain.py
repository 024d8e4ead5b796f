"""Block production, transaction execution, ``eth_call`` and genesis (pure).

:func:`execute_block` runs transactions against a copy-on-write view of the state
and returns the block, its receipts and the state diff without changing
anything; :func:`commit_block` then advances the chain. :func:`apply_block` does
both. Execution is deterministic: no clock (the caller passes the timestamp), no
iteration over unordered sets.

Fees follow EIP-1559 with a constant base fee: the sender pays
``gasUsed * effectiveGasPrice``, the base fee part is burnt and the tip goes to the
block's coinbase (the validator whose turn it is, ``validators[number % N]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from appchains.evm.devchain.bloom import bloom_union
from appchains.evm.devchain.crypto import ZERO_HASH
from appchains.evm.devchain.header import (
    EMPTY_OMMERS_HASH,
    Header,
    compute_header_hash,
    encode_header,
)
from appchains.evm.devchain.native import (
    BlockContext,
    Env,
    GasMeter,
    NativeContract,
    OutOfGas,
    Revert,
)
from appchains.evm.devchain.receipts import (
    Log,
    Receipt,
    compute_trie_root,
    encode_receipt,
    make_receipt,
)
from appchains.evm.devchain.state import (
    AccountState,
    Frame,
    StateDiff,
    WorldState,
    apply_diff,
    compute_state_root,
)
from appchains.evm.devchain.transactions import (
    Transaction,
    TxError,
    compute_effective_gas_price,
    compute_intrinsic_gas,
)

EXTRA_DATA = b"relayhub devchain v1"


@dataclass(frozen=True, slots=True)
class ChainParams:
    chain_id: int
    gas_limit: int
    base_fee: int
    validators: tuple[bytes, ...]
    extra_data: bytes = EXTRA_DATA

    def coinbase(self, number: int) -> bytes:
        return self.validators[number % len(self.validators)]


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    hash: bytes
    transactions: tuple[Transaction, ...]

    @property
    def number(self) -> int:
        return self.header.number


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """A consensus receipt with what JSON-RPC shows next to it."""

    receipt: Receipt
    tx_hash: bytes
    tx_index: int
    sender: bytes
    to: bytes | None
    gas_used: int
    effective_gas_price: int
    first_log_index: int = 0  # position of its first log in the block


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    block: Block
    receipts: tuple[TxReceipt, ...]
    diff: StateDiff


@dataclass(slots=True)
class ChainState:
    """The head of the chain and the world state after it."""

    params: ChainParams
    contracts: Mapping[bytes, NativeContract]
    world: WorldState
    head: Header
    head_hash: bytes = field(default=ZERO_HASH)


@dataclass(frozen=True, slots=True)
class CallResult:
    ok: bool
    output: bytes
    gas_used: int
    logs: tuple[Log, ...] = ()
    out_of_gas: bool = False


def check_transaction(
    frame: Frame, tx: Transaction, params: ChainParams, *, exact_nonce: bool
) -> None:
    """Raise :class:`TxError` if ``tx`` cannot be executed on ``frame`` now.

    With ``exact_nonce`` the nonce must be the sender's next one (block inclusion);
    without, a future nonce is fine (admission to the pool).
    """
    if tx.chain_id != params.chain_id:
        raise TxError(f"invalid chain id for signer: have {tx.chain_id} want {params.chain_id}")
    if tx.to is None:
        raise TxError("contract creation is not supported by this dev chain")
    if tx.gas > params.gas_limit:
        raise TxError("exceeds block gas limit")
    if tx.gas < compute_intrinsic_gas(tx):
        raise TxError("intrinsic gas too low")
    if tx.max_fee < params.base_fee:
        raise TxError(
            "max fee per gas less than block base fee: "
            f"maxFeePerGas: {tx.max_fee}, baseFee: {params.base_fee}"
        )
    nonce = frame.nonce(tx.sender)
    if tx.nonce < nonce:
        raise TxError(f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
    if exact_nonce and tx.nonce != nonce:
        raise TxError(f"nonce too high: next nonce {nonce}, tx nonce {tx.nonce}")
    cost = tx.gas * tx.max_fee + tx.value
    balance = frame.balance(tx.sender)
    if balance < cost:
        raise TxError(
            f"insufficient funds for gas * price + value: balance {balance}, tx cost {cost}"
        )


def apply_transaction(
    frame: Frame,
    contracts: Mapping[bytes, NativeContract],
    block: BlockContext,
    tx: Transaction,
    tx_index: int,
    cumulative_gas: int,
    first_log_index: int = 0,
) -> TxReceipt:
    """Execute a checked transaction into ``frame``: nonce, fees, call, refund, tip."""
    assert tx.to is not None
    price = compute_effective_gas_price(tx, block.base_fee)
    tx_frame = frame.child()
    tx_frame.set_nonce(tx.sender, tx.nonce + 1)
    tx_frame.set_balance(tx.sender, tx_frame.balance(tx.sender) - tx.gas * price)
    env = Env(tx_frame, contracts, block, GasMeter(tx.gas, compute_intrinsic_gas(tx)), tx.sender)
    status = 1
    try:
        env.call(tx.sender, tx.to, tx.data, tx.value, top=True)
    except Revert:
        status = 0
    except OutOfGas:
        status = 0
        env.gas.used = tx.gas
    logs = env.logs if status else []
    gas_used = env.gas.used
    tx_frame.add_balance(tx.sender, (tx.gas - gas_used) * price)
    tx_frame.add_balance(block.coinbase, gas_used * (price - block.base_fee))
    tx_frame.commit()
    total = cumulative_gas + gas_used
    return TxReceipt(
        receipt=make_receipt(tx.tx_type, status, total, logs),
        tx_hash=tx.hash,
        tx_index=tx_index,
        sender=tx.sender,
        to=tx.to,
        gas_used=gas_used,
        effective_gas_price=price,
        first_log_index=first_log_index,
    )


def block_context(state: ChainState, number: int, timestamp: int) -> BlockContext:
    params = state.params
    return BlockContext(
        number, timestamp, params.chain_id, params.coinbase(number), params.base_fee
    )


def execute_block(state: ChainState, txs: Iterable[Transaction], timestamp: int) -> ExecutedBlock:
    """Build the next block from ``txs`` (in order) without changing ``state``.

    A transaction that cannot run now (wrong nonce, cannot pay, no room left in
    the block) is left out; the rest are included, reverted ones with status 0.
    """
    params = state.params
    number = state.head.number + 1
    timestamp = max(timestamp, state.head.timestamp)
    ctx = block_context(state, number, timestamp)
    frame = Frame(state.world)
    included: list[Transaction] = []
    receipts: list[TxReceipt] = []
    gas_used = 0
    log_count = 0
    for tx in txs:
        if gas_used + tx.gas > params.gas_limit:
            continue
        try:
            check_transaction(frame, tx, params, exact_nonce=True)
        except TxError:
            continue
        receipt = apply_transaction(
            frame, state.contracts, ctx, tx, len(included), gas_used, log_count
        )
        gas_used = receipt.receipt.cumulative_gas_used
        log_count += len(receipt.receipt.logs)
        included.append(tx)
        receipts.append(receipt)
    diff = frame.diff()
    header = Header(
        parent_hash=state.head_hash,
        ommers_hash=EMPTY_OMMERS_HASH,
        coinbase=ctx.coinbase,
        state_root=compute_state_root(state.world.root, diff),
        transactions_root=compute_trie_root([tx.raw for tx in included]),
        receipts_root=compute_trie_root([encode_receipt(r.receipt) for r in receipts]),
        logs_bloom=bloom_union(r.receipt.logs_bloom for r in receipts),
        difficulty=0,
        number=number,
        gas_limit=params.gas_limit,
        gas_used=gas_used,
        timestamp=timestamp,
        extra_data=params.extra_data,
        mix_hash=ZERO_HASH,
        nonce=b"\x00" * 8,
        base_fee_per_gas=params.base_fee,
    )
    block = Block(header, compute_header_hash(header), tuple(included))
    return ExecutedBlock(block, tuple(receipts), diff)


def commit_block(state: ChainState, executed: ExecutedBlock) -> None:
    """Make ``executed`` (built on the current head) the new head."""
    header = executed.block.header
    if header.parent_hash != state.head_hash:
        raise ValueError("block does not extend the current head")
    if state.world.root != state.head.state_root:
        raise AssertionError("the world state is not the head's")
    # execute_block computed the root from this very diff on this very state.
    apply_diff(state.world, executed.diff, header.state_root)
    state.head = header
    state.head_hash = executed.block.hash


def apply_block(
    state: ChainState, txs: Sequence[Transaction], timestamp: int
) -> tuple[Block, tuple[TxReceipt, ...]]:
    """Produce the next block from ``txs`` and advance ``state`` to it."""
    executed = execute_block(state, txs, timestamp)
    commit_block(state, executed)
    return executed.block, executed.receipts


def call(
    state: ChainState,
    sender: bytes,
    to: bytes,
    data: bytes,
    *,
    value: int = 0,
    gas: int | None = None,
) -> CallResult:
    """``eth_call``: run a message call on top of the head state and throw the changes away."""
    gas_limit = state.params.gas_limit if gas is None else gas
    intrinsic = 21_000 + sum(16 if b else 4 for b in data)
    frame = Frame(state.world).child()
    if value and frame.balance(sender) < value:
        frame.set_balance(sender, value)  # like geth's eth_call, do not fail on funds
    ctx = block_context(state, state.head.number + 1, state.head.timestamp)
    env = Env(frame, state.contracts, ctx, GasMeter(gas_limit, min(intrinsic, gas_limit)), sender)
    try:
        if intrinsic > gas_limit:
            raise OutOfGas
        output = env.call(sender, to, data, value, top=True)
    except Revert as exc:
        return CallResult(False, exc.data, env.gas.used)
    except OutOfGas:
        return CallResult(False, b"", gas_limit, out_of_gas=True)
    return CallResult(True, output, env.gas.used, tuple(env.logs))


def make_genesis(
    params: ChainParams,
    balances: Mapping[bytes, int],
    contracts: Sequence[NativeContract],
    timestamp: int = 0,
) -> ChainState:
    """The chain at block 0: funded accounts and native contracts with their storage."""
    accounts: dict[bytes, AccountState] = {}
    for address, balance in sorted(balances.items()):
        accounts[address] = AccountState(0, balance)
    storage: dict[tuple[bytes, bytes], bytes] = {}
    for contract in contracts:
        if contract.address in accounts and accounts[contract.address].balance:
            raise ValueError(f"contract address 0x{contract.address.hex()} is also funded")
        accounts[contract.address] = AccountState(1, 0, contract.code)
        for key, value in contract.genesis_storage().items():
            storage[(contract.address, key)] = value
    world = WorldState()
    apply_diff(world, StateDiff(accounts, storage))
    header = Header(
        parent_hash=ZERO_HASH,
        ommers_hash=EMPTY_OMMERS_HASH,
        coinbase=b"\x00" * 20,
        state_root=world.root,
        transactions_root=compute_trie_root([]),
        receipts_root=compute_trie_root([]),
        logs_bloom=b"\x00" * 256,
        difficulty=0,
        number=0,
        gas_limit=params.gas_limit,
        gas_used=0,
        timestamp=timestamp,
        extra_data=params.extra_data,
        mix_hash=ZERO_HASH,
        nonce=b"\x00" * 8,
        base_fee_per_gas=params.base_fee,
    )
    by_address = {c.address: c for c in contracts}
    if len(by_address) != len(contracts):
        raise ValueError("two native contracts share an address")
    return ChainState(params, by_address, world, header, compute_header_hash(header))


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block as the store gives it back; ``transactions`` only when asked for in full."""

    header: Header
    hash: bytes
    seals: tuple[bytes, ...]
    tx_hashes: tuple[bytes, ...]
    transactions: tuple[Transaction, ...]
    size: int


@dataclass(frozen=True, slots=True)
class LogEntry:
    log: Log
    block_number: int
    block_hash: bytes
    log_index: int
    tx_index: int
    tx_hash: bytes


def _rlp_length(payload: int) -> int:
    """Length of an RLP string or list header plus its ``payload`` bytes."""
    return payload + (1 if payload < 56 else 1 + (payload.bit_length() + 7) // 8)


def compute_block_size(header: Header, raw_transactions: Sequence[bytes]) -> int:
    """Byte length of ``rlp([header, transactions, ommers])``, as ``size`` reports it.

    A legacy transaction sits in the body as its RLP list (its raw bytes); a typed
    one as an RLP string holding its raw bytes.
    """
    txs = sum(len(raw) if raw[0] >= 0xC0 else _rlp_length(len(raw)) for raw in raw_transactions)
    return _rlp_length(len(encode_header(header)) + _rlp_length(txs) + 1)
