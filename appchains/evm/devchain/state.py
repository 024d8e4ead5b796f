"""World state, journaled frames and the state commitment (pure).

The world state is accounts (nonce, balance, code) plus a key-value storage per
account; the native contracts keep their data in that storage. Execution writes
into :class:`Frame` objects stacked over the world: a frame's writes merge into
its parent on :meth:`Frame.commit` or vanish when it is dropped, which gives the
revert semantics of a call (and of Solidity's try/catch).

``stateRoot`` is a commitment, not an Ethereum state trie (building one with
``trie.HexaryTrie`` costs ~250 µs a key here): each block that changes state
sets ::

    stateRoot = keccak256("relayhub.evm-state.v1" ‖ parent.stateRoot ‖ keccak256(rlp(diff)))

where ``diff`` is the block's sorted changes (see :func:`encode_diff`); a block
that changes nothing keeps its parent's root. Genesis chains from 32 zero bytes.
A chain with another hash uses it for both hashes (``hash_fn``: SM3 on a FISCO 国密
chain, where every ``crypto::Hash`` is SM3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from appchains.evm.devchain.crypto import ZERO_HASH, keccak
from appchains.evm.devchain.rlpcodec import encode as rlp_encode
from appchains.evm.devchain.rlpcodec import encode_bytes, encode_list_payload

STATE_DOMAIN = b"relayhub.evm-state.v1"


@dataclass(frozen=True, slots=True)
class AccountState:
    nonce: int = 0
    balance: int = 0
    code: bytes = b""


@dataclass(slots=True)
class WorldState:
    accounts: dict[bytes, AccountState] = field(default_factory=dict)
    storage: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)
    root: bytes = ZERO_HASH

    def account(self, address: bytes) -> AccountState:
        return self.accounts.get(address) or AccountState()


@dataclass(frozen=True, slots=True)
class StateDiff:
    """New values of what a block changed. A storage value ``b""`` deletes the key."""

    accounts: dict[bytes, AccountState]
    storage: dict[tuple[bytes, bytes], bytes]

    def __bool__(self) -> bool:
        return bool(self.accounts or self.storage)


class InsufficientBalance(Exception):
    pass


class Frame:
    """A journaled view over the world state or over another frame."""

    __slots__ = ("_accounts", "_parent", "_storage", "world")

    def __init__(self, world: WorldState, parent: Frame | None = None) -> None:
        self.world = world
        self._parent = parent
        self._accounts: dict[bytes, tuple[int, int]] = {}
        self._storage: dict[tuple[bytes, bytes], bytes] = {}

    def child(self) -> Frame:
        return Frame(self.world, self)

    def commit(self) -> None:
        """Merge this frame's writes into its parent."""
        if self._parent is None:
            raise RuntimeError("the top frame is committed with diff() + apply_diff()")
        self._parent._accounts.update(self._accounts)
        self._parent._storage.update(self._storage)

    # -- reads
    def _account(self, address: bytes) -> tuple[int, int]:
        frame: Frame | None = self
        while frame is not None:
            found = frame._accounts.get(address)
            if found is not None:
                return found
            frame = frame._parent
        account = self.world.accounts.get(address)
        return (account.nonce, account.balance) if account else (0, 0)

    def nonce(self, address: bytes) -> int:
        return self._account(address)[0]

    def balance(self, address: bytes) -> int:
        return self._account(address)[1]

    def code(self, address: bytes) -> bytes:
        account = self.world.accounts.get(address)
        return account.code if account else b""

    def sload(self, address: bytes, key: bytes) -> bytes:
        slot = (address, key)
        frame: Frame | None = self
        while frame is not None:
            found = frame._storage.get(slot)
            if found is not None:
                return found
            frame = frame._parent
        return self.world.storage.get(address, {}).get(key, b"")

    # -- writes
    def set_nonce(self, address: bytes, nonce: int) -> None:
        self._accounts[address] = (nonce, self.balance(address))

    def set_balance(self, address: bytes, balance: int) -> None:
        if balance < 0:
            raise InsufficientBalance(address.hex())
        self._accounts[address] = (self.nonce(address), balance)

    def add_balance(self, address: bytes, amount: int) -> None:
        self.set_balance(address, self.balance(address) + amount)

    def transfer(self, sender: bytes, to: bytes, amount: int) -> None:
        if amount:
            self.set_balance(sender, self.balance(sender) - amount)
            self.add_balance(to, amount)

    def sstore(self, address: bytes, key: bytes, value: bytes) -> None:
        self._storage[(address, key)] = value

    def diff(self) -> StateDiff:
        """What this (top) frame changes in the world, no-op writes left out."""
        world = self.world
        accounts: dict[bytes, AccountState] = {}
        for address, (nonce, balance) in self._accounts.items():
            old = world.account(address)
            if (old.nonce, old.balance) != (nonce, balance):
                accounts[address] = AccountState(nonce, balance, old.code)
        storage = {
            (address, key): value
            for (address, key), value in self._storage.items()
            if world.storage.get(address, {}).get(key, b"") != value
        }
        return StateDiff(accounts, storage)


def encode_diff(diff: StateDiff) -> bytes:
    """``rlp([[[address, nonce, balance, code], ...], [[address, key, value], ...]])``, sorted.

    Written out item by item (a block changes hundreds of slots; the generic encoder's
    recursion was a tenth of block production)."""
    accounts = b"".join(
        [
            encode_list_payload(
                encode_bytes(a) + rlp_encode(s.nonce) + rlp_encode(s.balance) + encode_bytes(s.code)
            )
            for a, s in sorted(diff.accounts.items())
        ]
    )
    storage = b"".join(
        [
            encode_list_payload(encode_bytes(a) + encode_bytes(k) + encode_bytes(v))
            for (a, k), v in sorted(diff.storage.items())
        ]
    )
    return encode_list_payload(encode_list_payload(accounts) + encode_list_payload(storage))


def compute_state_root(
    parent_root: bytes, diff: StateDiff, hash_fn: Callable[[bytes], bytes] = keccak
) -> bytes:
    """``Hash(STATE_DOMAIN ‖ parent_root ‖ Hash(encode_diff(diff)))``, ``Hash`` the chain's
    (keccak-256 by default), or ``parent_root`` when ``diff`` changes nothing."""
    if not diff:
        return parent_root
    return hash_fn(STATE_DOMAIN + parent_root + hash_fn(encode_diff(diff)))


def apply_diff(
    world: WorldState,
    diff: StateDiff,
    root: bytes | None = None,
    hash_fn: Callable[[bytes], bytes] = keccak,
) -> None:
    """Write ``diff`` into ``world`` and advance its root (to ``root`` when the caller has
    already computed ``compute_state_root(world.root, diff, hash_fn)``)."""
    world.root = compute_state_root(world.root, diff, hash_fn) if root is None else root
    for address, account in diff.accounts.items():
        world.accounts[address] = account
    for (address, key), value in diff.storage.items():
        slots = world.storage.setdefault(address, {})
        if value:
            slots[key] = value
        else:
            slots.pop(key, None)
