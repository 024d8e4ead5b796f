"""The FISCO BCOS-like chain's core: keys, genesis, block execution and sealing (pure).

* **Keys** (:func:`make_setup`): every key is derived from the seed —
  ``Hash("relayhub.fisco.key.v1|seed|role|i")`` reduced into the mode's curve order —
  for the roles ``sealer`` and ``account``. The group's sealer list is the sealers'
  node IDs (64-byte public keys) **sorted ascending**, as FISCO keeps ``m_sealerList``;
  seal indexes point into that order.
* **Contracts**: the EVM dev chain's native broker and example services
  (``appchains/evm/devchain/broker.py``, ``services.py``): the same ABI, events,
  revert data and semantics. Executed with the chain's hash (``Env.hash_fn``), so on a
  国密 chain function selectors (dispatch and the contracts' calls to each other), the
  ``Error(string)`` / ``Panic(uint256)`` selectors of revert data, event topics and the
  broker's ``payloadHash`` are SM3, as a 国密 toolchain compiles them (a 国密 node's
  Solidity ``keccak256`` is ``crypto::Hash``). The broker checks relay proofs with
  keccak-256 + secp256k1 as the relay signs them.
* **State root**: the EVM dev chain's state commitment
  (:func:`appchains.evm.devchain.state.compute_state_root`) with the chain's hash.
* **Blocks** (:func:`execute_block`): transactions in order, each reverted one kept
  with status 22 (``RevertInstruction``) and its revert data as ``output``; receipts as
  ``BlockVerifier::executeBlock`` commits them (the block's final ``stateRoot`` in
  every receipt, cumulative ``gasUsed``), both trees with FISCO's Merkle scheme
  (:mod:`appchains.fisco.formats`), the 13-field header, its hash, and the
  ``signatureList`` of a PBFT quorum ``n - (n-1)//3`` of sealers over it.

No native coin (FISCO has none): transactions pay no fee, ``value`` must be 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from coincurve import PrivateKey, PublicKey

from adapters.fisco.smcrypto import fisco_sm2_sign, verify_fisco_sm2_signature
from adapters.fisco.transaction import (
    STATUS_OK,
    STATUS_OUT_OF_GAS,
    STATUS_REVERT,
    FiscoTransaction,
    address_of,
    key_from_seed,
    public_key_of,
)
from appchains.evm.devchain.broker import Broker
from appchains.evm.devchain.native import (
    BlockContext,
    Env,
    GasMeter,
    NativeContract,
    OutOfGas,
    Revert,
)
from appchains.evm.devchain.receipts import Log
from appchains.evm.devchain.services import AssetTransfer, DataSwap
from appchains.evm.devchain.state import (
    AccountState,
    Frame,
    StateDiff,
    WorldState,
    apply_diff,
    compute_state_root,
)
from appchains.fisco import formats
from appchains.fisco.config import FiscoConfig

KEY_DOMAIN = b"relayhub.fisco.key.v1"
ZERO_HASH = b"\x00" * 32
ZERO_ADDRESS = b"\x00" * 20
EMPTY_BLOOM = b"\x00" * 256


def compute_pbft_quorum(n: int) -> int:
    """``n - (n - 1) // 3`` (``ConsensusEngineBase::minValidNodes``)."""
    return n - (n - 1) // 3


@dataclass(frozen=True, slots=True)
class Member:
    """A key of the chain: a sealer (its ``node_id``) or an account (its ``address``)."""

    private_key: bytes
    node_id: bytes
    address: bytes


def derive_member(seed: str, role: str, index: int, mode: str) -> Member:
    material = formats.keccak256(
        b"|".join([KEY_DOMAIN, seed.encode(), role.encode(), str(index).encode()])
    )
    private = key_from_seed(material, mode)
    pub = public_key_of(private, mode)
    return Member(private, pub, address_of(pub, mode))


@dataclass(frozen=True, slots=True)
class FiscoSetup:
    config: FiscoConfig
    seed: str
    #: Sorted by node ID: index ``i`` here is sealer index ``i`` of every seal.
    sealers: tuple[Member, ...]
    accounts: tuple[Member, ...]
    relay_validators: tuple[bytes, ...]
    broker: bytes
    asset_transfer: bytes
    data_swap: bytes

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def sealer_list(self) -> tuple[bytes, ...]:
        return tuple(s.node_id for s in self.sealers)

    @property
    def service_owner(self) -> bytes:
        return self.accounts[0].address


def make_setup(config: FiscoConfig, seed: str) -> FiscoSetup:
    config.check()
    mode = config.mode
    sealers = sorted(
        (derive_member(seed, "sealer", i, mode) for i in range(config.sealers)),
        key=lambda m: m.node_id,
    )
    return FiscoSetup(
        config=config,
        seed=seed,
        sealers=tuple(sealers),
        accounts=tuple(derive_member(seed, "account", i, mode) for i in range(config.accounts)),
        relay_validators=tuple(bytes.fromhex(a[2:]) for a in config.relay_validators),
        broker=bytes.fromhex(config.broker_address[2:]),
        asset_transfer=bytes.fromhex(config.asset_transfer_address[2:]),
        data_swap=bytes.fromhex(config.data_swap_address[2:]),
    )


def make_contracts(setup: FiscoSetup) -> dict[bytes, NativeContract]:
    config = setup.config
    if not setup.relay_validators:
        raise ValueError("the broker needs relay validators (relay_validators)")
    contracts: list[NativeContract] = [
        Broker(
            setup.broker,
            config.hub_id,
            config.chain_name,
            setup.relay_validators,
            config.relay_threshold,
        ),
        AssetTransfer(
            setup.asset_transfer,
            setup.broker,
            config.mint_cap,
            {a.address: config.token_balance for a in setup.accounts},
            setup.service_owner,
        ),
        DataSwap(setup.data_swap, setup.broker),
    ]
    return {c.address: c for c in contracts}


# ---------------------------------------------------------------------- seals
def sign_seal(sealer: Member, block_hash: bytes, mode: str) -> bytes:
    """``Signature::asBytes`` over the block hash: ``r‖s‖v`` (v 0/1) or ``r‖s‖pub``."""
    if mode == "sm":
        return fisco_sm2_sign(sealer.private_key, sealer.node_id, block_hash)
    return bytes(PrivateKey(sealer.private_key).sign_recoverable(block_hash, hasher=None))


def seal_signer(signature: bytes, block_hash: bytes, mode: str) -> bytes | None:
    """The node ID a seal verifies under, or None."""
    if mode == "sm":
        return verify_fisco_sm2_signature(signature, block_hash)
    try:
        key = PublicKey.from_signature_and_message(signature, block_hash, hasher=None)
    except Exception:
        return None
    return bytes(key.format(compressed=False)[1:])


# ---------------------------------------------------------------------- blocks
@dataclass(frozen=True, slots=True)
class Header:
    parent_hash: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    db_hash: bytes
    log_bloom: bytes
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int  # milliseconds
    extra_data: tuple[bytes, ...]
    sealer: int
    sealer_list: tuple[bytes, ...]

    def encode(self) -> bytes:
        return formats.encode_header(
            parent_hash=self.parent_hash,
            state_root=self.state_root,
            transactions_root=self.transactions_root,
            receipts_root=self.receipts_root,
            db_hash=self.db_hash,
            log_bloom=self.log_bloom,
            number=self.number,
            gas_limit=self.gas_limit,
            gas_used=self.gas_used,
            timestamp=self.timestamp,
            extra_data=self.extra_data,
            sealer=self.sealer,
            sealer_list=self.sealer_list,
        )


def decode_header(data: bytes) -> Header:
    f = rlp.decode(data)
    n = [int.from_bytes(f[i], "big") for i in (6, 7, 8, 9, 11)]
    return Header(
        f[0], f[1], f[2], f[3], f[4], f[5], n[0], n[1], n[2], n[3], tuple(f[10]), n[4], tuple(f[12])
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A committed receipt (``TransactionReceipt``, 7 fields: supported_version < 2.8.0)."""

    state_root: bytes
    gas_used: int  # cumulative within the block
    contract_address: bytes
    log_bloom: bytes
    status: int
    output: bytes
    logs: tuple[Log, ...]

    def encode(self) -> bytes:
        return formats.encode_receipt(
            state_root=self.state_root,
            gas_used=self.gas_used,
            contract_address=self.contract_address,
            log_bloom=self.log_bloom,
            status=self.status,
            output=self.output,
            logs=[(x.address, x.topics, x.data) for x in self.logs],
        )


def decode_receipt(data: bytes) -> Receipt:
    f = rlp.decode(data)
    logs = tuple(Log(a, tuple(t), d) for a, t, d in f[-1])
    return Receipt(
        f[0], int.from_bytes(f[1], "big"), f[2], f[3], int.from_bytes(f[4], "big"), f[5], logs
    )


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    hash: bytes
    transactions: tuple[FiscoTransaction, ...]
    receipts: tuple[Receipt, ...]
    sig_list: tuple[tuple[int, bytes], ...]

    @property
    def number(self) -> int:
        return self.header.number


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    block: Block
    diff: StateDiff


@dataclass(slots=True)
class ChainState:
    setup: FiscoSetup
    contracts: Mapping[bytes, NativeContract]
    world: WorldState
    head: Header
    head_hash: bytes


@dataclass(frozen=True, slots=True)
class CallResult:
    status: int
    output: bytes


def intrinsic_gas(data: bytes) -> int:
    return 21_000 + sum(16 if b else 4 for b in data)


def _env(
    state: ChainState, frame: Frame, number: int, timestamp: int, gas: GasMeter, sender: bytes
) -> Env:
    setup = state.setup
    ctx = BlockContext(number, timestamp, setup.config.chain_id, ZERO_ADDRESS, 0)
    return Env(frame, state.contracts, ctx, gas, sender, formats.hash_for(setup.mode))


def execute_block(
    state: ChainState, txs: Sequence[FiscoTransaction], timestamp_ms: int
) -> ExecutedBlock:
    """The next block from ``txs`` (checked by the pool), sealed by a PBFT quorum."""
    setup = state.setup
    mode = setup.mode
    hash_fn = formats.hash_for(mode)
    number = state.head.number + 1
    timestamp_ms = max(timestamp_ms, state.head.timestamp)
    frame = Frame(state.world)
    results: list[tuple[int, bytes, list[Log], int]] = []
    for tx in txs:
        assert tx.to is not None
        tx_frame = frame.child()
        gas = GasMeter(tx.gas, min(intrinsic_gas(tx.data), tx.gas))
        env = _env(state, tx_frame, number, timestamp_ms // 1000, gas, tx.sender)
        status, output = STATUS_OK, b""
        try:
            output = env.call(tx.sender, tx.to, tx.data, 0, top=True)
        except Revert as exc:
            status, output = STATUS_REVERT, exc.data
        except OutOfGas:
            status = STATUS_OUT_OF_GAS
            gas.used = tx.gas
        if status == STATUS_OK:
            tx_frame.commit()
        results.append((status, output, env.logs if status == STATUS_OK else [], gas.used))
    diff = frame.diff()
    state_root = compute_state_root(state.world.root, diff, hash_fn)
    receipts: list[Receipt] = []
    cumulative = 0
    for status, output, logs, used in results:
        cumulative += used
        bloom = formats.log_bloom([(x.address, x.topics, x.data) for x in logs], hash_fn)
        receipts.append(
            Receipt(state_root, cumulative, ZERO_ADDRESS, bloom, status, output, tuple(logs))
        )
    bloom_bits = 0
    for r in receipts:
        bloom_bits |= int.from_bytes(r.log_bloom, "big")
    n = len(setup.sealers)
    leader = number % n
    header = Header(
        parent_hash=state.head_hash,
        state_root=state_root,
        transactions_root=formats.merkle_root([tx.hash for tx in txs], hash_fn),
        receipts_root=formats.merkle_root([hash_fn(r.encode()) for r in receipts], hash_fn),
        db_hash=ZERO_HASH,
        log_bloom=bloom_bits.to_bytes(256, "big"),
        number=number,
        gas_limit=0,
        gas_used=cumulative,
        timestamp=timestamp_ms,
        extra_data=(),
        sealer=leader,
        sealer_list=setup.sealer_list,
    )
    block_hash = hash_fn(header.encode())
    signers = [(leader + k) % n for k in range(compute_pbft_quorum(n))]
    sig_list = tuple((i, sign_seal(setup.sealers[i], block_hash, mode)) for i in signers)
    return ExecutedBlock(Block(header, block_hash, tuple(txs), tuple(receipts), sig_list), diff)


def commit_block(state: ChainState, executed: ExecutedBlock) -> None:
    header = executed.block.header
    if header.parent_hash != state.head_hash:
        raise ValueError("block does not extend the current head")
    apply_diff(state.world, executed.diff, header.state_root)
    state.head = header
    state.head_hash = executed.block.hash


def call(state: ChainState, sender: bytes, to: bytes, data: bytes) -> CallResult:
    """FISCO's ``call``: run on the head state and throw the changes away."""
    limit = state.setup.config.gas_limit
    frame = Frame(state.world).child()
    gas = GasMeter(limit, min(intrinsic_gas(data), limit))
    head = state.head
    env = _env(state, frame, head.number + 1, head.timestamp // 1000, gas, sender)
    try:
        return CallResult(STATUS_OK, env.call(sender, to, data, 0, top=True))
    except Revert as exc:
        return CallResult(STATUS_REVERT, exc.data)
    except OutOfGas:
        return CallResult(STATUS_OUT_OF_GAS, b"")


def make_genesis(setup: FiscoSetup, timestamp_ms: int = 0) -> tuple[ChainState, Block, StateDiff]:
    """Block 0: the contracts and their storage, sealed like any block."""
    contracts = make_contracts(setup)
    accounts: dict[bytes, AccountState] = {}
    storage: dict[tuple[bytes, bytes], bytes] = {}
    for contract in contracts.values():
        accounts[contract.address] = AccountState(1, 0, contract.code)
        for key, value in contract.genesis_storage().items():
            storage[(contract.address, key)] = value
    diff = StateDiff(accounts, storage)
    world = WorldState()
    hash_fn = formats.hash_for(setup.mode)
    apply_diff(world, diff, hash_fn=hash_fn)
    header = Header(
        parent_hash=ZERO_HASH,
        state_root=world.root,
        transactions_root=formats.merkle_root([], hash_fn),
        receipts_root=formats.merkle_root([], hash_fn),
        db_hash=ZERO_HASH,
        log_bloom=EMPTY_BLOOM,
        number=0,
        gas_limit=0,
        gas_used=0,
        timestamp=timestamp_ms,
        extra_data=(),
        sealer=0,
        sealer_list=setup.sealer_list,
    )
    block_hash = hash_fn(header.encode())
    state = ChainState(setup, contracts, world, header, block_hash)
    return state, Block(header, block_hash, (), (), ()), diff


def genesis_spec(setup: FiscoSetup, genesis_hash: bytes) -> dict[str, Any]:
    """What a data dir must have been created with (checked on reopening)."""
    c = setup.config
    return {
        "chain_id": c.chain_id,
        "group_id": c.group_id,
        "mode": c.mode,
        "genesis": genesis_hash.hex(),
        "sealers": [s.node_id.hex() for s in setup.sealers],
        "hub_id": c.hub_id,
        "chain_name": c.chain_name,
    }
