"""The ``asset`` chaincode: AssetTransfer of docs/broker.md (lock / mint / burn) on Fabric.

Same semantics, refusal messages and results as the EVM service
(``appchains/evm/devchain/services.py``, ``AssetTransfer.sol``): it mints only for its
registered counterparts and transfers only to them; its owner sets them
(``setCounterpart``); callbacks and rollbacks act only on the locks and mints it recorded;
a mint is ``mint(abi.encode(address recipient, uint256 amount))`` on both families, and
``onInterchain`` returns that same encoding.

Fabric-style identities: an account is the 20-byte account of a client identity
(``codec.account_of``: SHA-256 over MSP ID and certificate), written ``0x`` + 40 hex —
address-shaped, so an EVM AssetTransfer can send to a Fabric account and back. The owner
is a configured account (the dev chain's genesis), as the EVM's is its deployer.

Functions (argument encodings of ``codec``):

* ``transfer(toService, recipient, amount, timeout)`` → the request's index (decimal);
  only through ``broker.invokeService("asset", "transfer", …)``, the sender being the
  client (``get_creator``);
* ``setCounterpart(service, allowed)`` (owner only; event ``CounterpartSet``
  ``{"allowed": bool, "service": str}`` when invoked directly, the chaincode's own event);
* views: ``balanceOf(account)``, ``totalSupply()``, ``totalLocked()``, ``mintCap()``
  (decimal), ``owner()``, ``broker()``, ``isCounterpart(service)`` (``true`` /
  ``false``), ``lockOf(to, index)`` (``{"account": "0x…", "amount": int}``),
  ``accountOf()`` (the invoking client's account);
* the service interface, for the broker only (``asset: only the broker``).

The EVM service's own logs (Locked, Minted, Burned, Unlocked) have no Fabric
counterpart: a transaction keeps the broker's event only. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from .codec import (
    UINT256_MAX,
    ZERO_ACCOUNT,
    Handler,
    Refused,
    Request,
    ServiceAnswer,
    UserHandler,
    account_arg,
    account_hex,
    account_of,
    arity,
    bool_arg,
    bytes_list_arg,
    canonical_json,
    encode_bool,
    encode_uint,
    load_json,
    load_uint,
    plain,
    require,
    serve,
    state_key,
    store_uint,
    text_arg,
    uint_arg,
)
from .stub import Response, Stub

P = "asset"


def encode_mint(recipient: bytes, amount: int) -> bytes:
    """``abi.encode(address recipient, uint256 amount)``."""
    return abi_encode(["address", "uint256"], ["0x" + recipient.hex(), amount])


def decode_mint(data: bytes) -> tuple[bytes, int]:
    """``abi.decode(data, (address, uint256))``; a failure is a refusal with an empty
    message, as Solidity's ``abi.decode`` reverts with empty data."""
    try:
        recipient, amount = abi_decode(["address", "uint256"], data)
    except Exception:
        raise Refused("") from None
    return bytes.fromhex(str(recipient)[2:]), int(amount)


class AssetChaincode:
    def __init__(
        self,
        owner: bytes,
        mint_cap: int,
        holders: Mapping[bytes, int] | None = None,
        name: str = "asset",
        broker: str = "broker",
    ) -> None:
        if len(owner) != 20:
            raise ValueError("asset: the owner is a 20-byte account")
        self.name = name
        self.broker = broker
        self.owner = bytes(owner)
        self.mint_cap = mint_cap
        self.holders = dict(holders or {})
        self.interface: dict[str, Handler] = {
            "onInterchain": self.on_interchain,
            "onCallback": self.on_callback,
            "onRollback": self.on_rollback,
        }
        views: dict[str, Handler] = {
            "balanceOf": self.balance_of,
            "totalSupply": lambda stub, a: self._view0(stub, a, "supply"),
            "totalLocked": lambda stub, a: self._view0(stub, a, "locked"),
            "mintCap": lambda stub, a: self._const(a, encode_uint(self.mint_cap)),
            "owner": lambda stub, a: self._const(a, account_hex(self.owner).encode()),
            "broker": lambda stub, a: self._const(a, self.broker.encode()),
            "isCounterpart": self.is_counterpart,
            "lockOf": self.lock_of,
            "accountOf": lambda stub, a: self._const(
                a, account_hex(account_of(stub.get_creator())).encode()
            ),
        }
        self.functions: dict[str, UserHandler] = {
            "transfer": self.transfer,
            "setCounterpart": self.set_counterpart,
            **{name: plain(handler) for name, handler in views.items()},
        }

    def invoke(self, stub: Stub) -> Response:
        return serve(stub, self.interface, self.functions, self.broker, P)

    def genesis_state(self) -> dict[str, bytes]:
        """Initial balances and supply, and the parameters (the constructor's)."""
        config = {
            "broker": self.broker,
            "mintCap": self.mint_cap,
            "owner": account_hex(self.owner),
        }
        state = {state_key("config"): canonical_json(config)}
        for account, amount in sorted(self.holders.items()):
            if amount:
                state[state_key("bal", account_hex(account))] = encode_uint(amount)
        supply = sum(self.holders.values())
        if supply:
            state[state_key("supply")] = encode_uint(supply)
        return state

    # ------------------------------------------------------------------ helpers
    def _add(self, stub: Stub, delta: int, key: str) -> None:
        value = load_uint(stub, key) + delta
        require(0 <= value <= UINT256_MAX, f"{P}: arithmetic overflow")
        store_uint(stub, key, value)

    def _is_counterpart(self, stub: Stub, service: str) -> bool:
        return stub.get_state(state_key("peer", service)) is not None

    def _record(self, stub: Stub, *key: str) -> tuple[bytes, int]:
        raw = load_json(stub, state_key(*key))
        if not isinstance(raw, dict):
            return ZERO_ACCOUNT, 0
        return bytes.fromhex(raw["account"][2:]), int(raw["amount"])

    def _store_record(self, stub: Stub, account: bytes, amount: int, *key: str) -> None:
        record = {"account": account_hex(account), "amount": amount}
        stub.put_state(state_key(*key), canonical_json(record))

    def _view0(self, stub: Stub, args: Sequence[bytes], key: str) -> bytes:
        arity(args, 0, P)
        return encode_uint(load_uint(stub, state_key(key)))

    @staticmethod
    def _const(args: Sequence[bytes], value: bytes) -> bytes:
        arity(args, 0, P)
        return value

    # ------------------------------------------------------------------ owner functions
    def set_counterpart(self, stub: Stub, args: Sequence[bytes]) -> ServiceAnswer:
        arity(args, 2, P)
        service = text_arg(args[0], "service", P)
        allowed = bool_arg(args[1], "allowed", P)
        require(account_of(stub.get_creator()) == self.owner, f"{P}: only the owner")
        if allowed:
            stub.put_state(state_key("peer", service), b"1")
        else:
            stub.del_state(state_key("peer", service))
        event = canonical_json({"service": service, "allowed": allowed})
        stub.set_event("CounterpartSet", event)
        return ServiceAnswer()

    # ------------------------------------------------------------------ user functions
    def transfer(self, stub: Stub, args: Sequence[bytes]) -> ServiceAnswer:
        arity(args, 4, P)
        dst = text_arg(args[0], "toService", P)
        recipient = account_arg(args[1], "recipient", P)
        amount = uint_arg(args[2], "amount", P, UINT256_MAX)
        timeout = uint_arg(args[3], "timeout", P)
        sender = account_of(stub.get_creator())
        require(self._is_counterpart(stub, dst), f"{P}: destination is not a counterpart")
        require(amount > 0, f"{P}: zero amount")
        bal = state_key("bal", account_hex(sender))
        require(load_uint(stub, bal) >= amount, f"{P}: insufficient balance")
        self._add(stub, -amount, bal)
        self._add(stub, amount, state_key("locked"))
        index = load_uint(stub, state_key("out", dst)) + 1
        store_uint(stub, state_key("out", dst), index)
        self._store_record(stub, sender, amount, "lock", dst, str(index))
        request = Request(dst, "mint", (encode_mint(recipient, amount),), timeout, index)
        return ServiceAnswer(encode_uint(index), request)

    # ------------------------------------------------------------------ IInterchainService
    def on_interchain(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 4, P)
        src = text_arg(args[0], "from", P)
        uint_arg(args[1], "index", P)
        func = text_arg(args[2], "func", P)
        call_args = bytes_list_arg(args[3], "args", P)
        require(self._is_counterpart(stub, src), f"{P}: source is not a counterpart")
        require(func == "mint", f"{P}: unknown function")
        require(len(call_args) == 1, f"{P}: mint takes one argument")
        recipient, amount = decode_mint(call_args[0])
        require(recipient != ZERO_ACCOUNT, f"{P}: mint to the zero address")
        require(amount <= self.mint_cap, f"{P}: amount above mint cap")
        self._add(stub, amount, state_key("bal", account_hex(recipient)))
        self._add(stub, amount, state_key("supply"))
        return encode_mint(recipient, amount)

    def on_callback(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 4, P)
        dst = text_arg(args[0], "to", P)
        index = uint_arg(args[1], "index", P)
        ok = bool_arg(args[2], "ok", P)
        if not ok:
            return b""  # onRollback follows and returns the lock
        _sender, amount = self._record(stub, "lock", dst, str(index))
        if amount == 0:
            return b""
        stub.del_state(state_key("lock", dst, str(index)))
        self._add(stub, -amount, state_key("locked"))
        self._add(stub, -amount, state_key("supply"))
        return b""

    def on_rollback(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 2, P)
        dst = text_arg(args[0], "to", P)
        index = uint_arg(args[1], "index", P)
        sender, amount = self._record(stub, "lock", dst, str(index))
        if amount == 0:
            return b""
        stub.del_state(state_key("lock", dst, str(index)))
        self._add(stub, -amount, state_key("locked"))
        self._add(stub, amount, state_key("bal", account_hex(sender)))
        return b""

    # ------------------------------------------------------------------ views
    def balance_of(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 1, P)
        account = account_arg(args[0], "account", P)
        return encode_uint(load_uint(stub, state_key("bal", account_hex(account))))

    def is_counterpart(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 1, P)
        return encode_bool(self._is_counterpart(stub, text_arg(args[0], "service", P)))

    def lock_of(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        arity(args, 2, P)
        dst = text_arg(args[0], "to", P)
        index = uint_arg(args[1], "index", P)
        account, amount = self._record(stub, "lock", dst, str(index))
        return canonical_json({"account": account_hex(account), "amount": amount})
