"""A test harness for unit-testing chaincode logic: an in-memory :class:`Stub`.

Not the dev chain's peer (that is ``appchains/fabric``): no read-write set, no
endorsement, no blocks. It keeps what the chaincodes rely on, as the peer must:

* a world state per chaincode namespace (a dict), a transaction's writes visible to its
  own later reads, committed only when the invoked chaincode answers status < 400 — a
  failed invocation changes nothing (a peer endorses no failed simulation);
* ``invoke_chaincode`` runs the callee in the same transaction, in its own namespace,
  with the same creator and ``get_caller()`` = the calling chaincode; when the callee
  answers an error, **every write it made (and its callees made) is discarded**; its
  event is dropped (Fabric keeps the invoked chaincode's only); an unknown chaincode
  answers ``error("no service code")``;
* one event per transaction: the invoked chaincode's last ``set_event``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from appchains.fabric.chaincode.stub import Chaincode, Response, error

Arg = bytes | str | int


def encode_arg(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, bool):
        return b"true" if arg else b"false"
    if isinstance(arg, int):
        return str(arg).encode()
    return arg.encode()


@dataclass
class Outcome:
    """What one top-level invocation did."""

    response: Response
    event: tuple[str, bytes] | None
    calls: list[tuple[str | None, str, str, bool]]  # (caller, callee, function, ok)

    @property
    def ok(self) -> bool:
        return self.response.ok

    @property
    def payload(self) -> bytes:
        return self.response.payload

    @property
    def message(self) -> str:
        return self.response.message


@dataclass
class _Tx:
    tx_id: str
    creator: bytes
    writes: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    calls: list[tuple[str | None, str, str, bool]] = field(default_factory=list)


class World:
    """Chaincodes on one channel and their world state."""

    def __init__(self, chaincodes: Iterable[Chaincode], channel: str = "mychannel") -> None:
        self.chaincodes = {cc.name: cc for cc in chaincodes}
        self.channel = channel
        self.state: dict[str, dict[str, bytes]] = {}
        for name, cc in self.chaincodes.items():
            genesis = getattr(cc, "genesis_state", None)
            self.state[name] = dict(genesis()) if genesis else {}
        self.height = 0

    def invoke(self, chaincode: str, function: str, *args: Arg, creator: bytes) -> Outcome:
        """A client's transaction invoking ``chaincode``; committed if it succeeds."""
        self.height += 1
        tx = _Tx(f"tx{self.height:08d}", creator)
        stub = TestStub(self, tx, chaincode, [function.encode(), *map(encode_arg, args)], None)
        response = stub.run()
        if response.ok:
            for (namespace, key), value in tx.writes.items():
                if value is None:
                    self.state[namespace].pop(key, None)
                else:
                    self.state[namespace][key] = value
        event = stub.event if response.ok else None
        return Outcome(response, event, tx.calls)

    def query(self, chaincode: str, function: str, *args: Arg, creator: bytes) -> bytes:
        """Evaluate (nothing is committed); the payload of a successful answer."""
        snapshot = {ns: dict(kv) for ns, kv in self.state.items()}
        stub = TestStub(
            self,
            _Tx("query", creator),
            chaincode,
            [function.encode(), *map(encode_arg, args)],
            None,
        )
        response = stub.run()
        assert self.state == snapshot
        assert response.ok, response.message
        return response.payload

    def snapshot(self) -> dict[str, dict[str, bytes]]:
        return {ns: dict(kv) for ns, kv in self.state.items()}


class TestStub:
    """One chaincode invocation's view of its transaction."""

    __test__ = False  # not a pytest class

    def __init__(
        self, world: World, tx: _Tx, namespace: str, args: Sequence[bytes], caller: str | None
    ) -> None:
        self.world, self.tx, self.namespace = world, tx, namespace
        self.args, self.caller = list(args), caller
        self.event: tuple[str, bytes] | None = None

    def run(self) -> Response:
        chaincode = self.world.chaincodes.get(self.namespace)
        response = error("no service code") if chaincode is None else chaincode.invoke(self)
        assert isinstance(response, Response)
        function = self.args[0].decode("utf-8", "replace") if self.args else ""
        self.tx.calls.append((self.caller, self.namespace, function, response.ok))
        return response

    # --- the Stub protocol
    def get_args(self) -> Sequence[bytes]:
        return list(self.args)

    def get_tx_id(self) -> str:
        return self.tx.tx_id

    def get_channel_id(self) -> str:
        return self.world.channel

    def get_creator(self) -> bytes:
        return self.tx.creator

    def get_tx_timestamp(self) -> int:
        return 1_767_225_600 + self.world.height

    def get_state(self, key: str) -> bytes | None:
        assert isinstance(key, str) and key
        where = (self.namespace, key)
        if where in self.tx.writes:
            return self.tx.writes[where]
        return self.world.state.get(self.namespace, {}).get(key)

    def put_state(self, key: str, value: bytes) -> None:
        assert isinstance(key, str) and key and isinstance(value, bytes) and value
        key.encode("utf-8")  # a Fabric key is UTF-8 text
        self.tx.writes[(self.namespace, key)] = value

    def del_state(self, key: str) -> None:
        assert isinstance(key, str) and key
        self.tx.writes[(self.namespace, key)] = None

    def set_event(self, name: str, payload: bytes) -> None:
        assert name and isinstance(payload, bytes)
        self.event = (name, payload)

    def invoke_chaincode(self, name: str, args: Sequence[bytes]) -> Response:
        assert all(isinstance(a, bytes) for a in args)
        saved = dict(self.tx.writes)
        callee = TestStub(self.world, self.tx, name, args, self.namespace)
        response = callee.run()
        if not response.ok:
            self.tx.writes = saved  # the callee's writes are discarded
        return response  # the callee's event is dropped

    def get_caller(self) -> str | None:
        return self.caller
