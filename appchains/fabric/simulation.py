"""Chaincode simulation: a :class:`~appchains.fabric.chaincode.stub.Stub` over a
committed world-state snapshot that records Fabric's read-write set. Pure.

The record is a ``rwset.TxReadWriteSet`` (data model KV) with one ``NsReadWriteSet``
per namespace (a chaincode's name) whose ``rwset`` is a ``kvrwset.KVRWSet``: the reads,
each with the ``Version{block_num, tx_num}`` of the committed value it saw (no version
for an absent key), and the writes (``is_delete`` for deletions). Namespaces and keys
are sorted, as Fabric's ``rwsetutil`` builder writes them. A key read after this
transaction wrote it returns the written value and records no read (Fabric itself
returns the committed value there; our Stub contract says "this transaction's own
earlier write"). ``invoke_chaincode`` runs the callee in the same record, in its own
namespace; the callee's event is dropped and ``get_caller`` names the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

from appchains.fabric.chaincode.stub import Chaincode, Response, error

#: Nested ``invoke_chaincode`` calls deeper than this fail (a loop would never end).
MAX_CALL_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Version:
    """Where a committed value was written: block number and transaction index."""

    block_num: int
    tx_num: int


@dataclass(frozen=True, slots=True)
class VersionedValue:
    value: bytes
    version: Version


class StateReader(Protocol):
    """A committed world-state snapshot."""

    def get_state(self, namespace: str, key: str) -> VersionedValue | None: ...


@dataclass(frozen=True, slots=True)
class TxContext:
    """What the proposal says about the transaction."""

    channel_id: str
    tx_id: str
    creator: bytes
    timestamp: int


@dataclass
class ReadWriteSet:
    """The reads and writes of one simulation, per namespace."""

    #: namespace -> key -> version read (None: the key was absent)
    reads: dict[str, dict[str, Version | None]] = field(default_factory=dict)
    #: namespace -> key -> value written (None: deleted)
    writes: dict[str, dict[str, bytes | None]] = field(default_factory=dict)

    def to_proto(self) -> rwset_pb2.TxReadWriteSet:
        out = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
        for ns in sorted(set(self.reads) | set(self.writes)):
            kv = kv_rwset_pb2.KVRWSet()
            for key, version in sorted(self.reads.get(ns, {}).items()):
                read = kv.reads.add(key=key)
                if version is not None:
                    read.version.block_num = version.block_num
                    read.version.tx_num = version.tx_num
            for key, value in sorted(self.writes.get(ns, {}).items()):
                kv.writes.add(key=key, is_delete=value is None, value=value or b"")
            out.ns_rwset.add(namespace=ns, rwset=kv.SerializeToString())
        return out

    def serialize(self) -> bytes:
        return self.to_proto().SerializeToString()


def parse_rwset(data: bytes) -> ReadWriteSet:
    """A ``TxReadWriteSet`` back into reads and writes (``DecodeError`` if malformed)."""
    msg = rwset_pb2.TxReadWriteSet.FromString(data)
    out = ReadWriteSet()
    for ns in msg.ns_rwset:
        kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
        reads = out.reads.setdefault(ns.namespace, {})
        for r in kv.reads:
            reads[r.key] = (
                Version(r.version.block_num, r.version.tx_num) if r.HasField("version") else None
            )
        writes = out.writes.setdefault(ns.namespace, {})
        for w in kv.writes:
            writes[w.key] = None if w.is_delete else w.value
    return out


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class SimulationResult:
    response: Response
    rwset: ReadWriteSet
    event: Event | None


class SimulationStub:
    """The :class:`Stub` one chaincode invocation sees."""

    def __init__(
        self,
        *,
        namespace: str,
        args: Sequence[bytes],
        tx: TxContext,
        state: StateReader,
        record: ReadWriteSet,
        resolve: Callable[[str], Chaincode | None],
        caller: str | None = None,
        depth: int = 0,
    ) -> None:
        self.namespace = namespace
        self._args = tuple(args)
        self._tx = tx
        self._state = state
        self._record = record
        self._resolve = resolve
        self._caller = caller
        self._depth = depth
        self.event: Event | None = None

    def get_args(self) -> Sequence[bytes]:
        return self._args

    def get_tx_id(self) -> str:
        return self._tx.tx_id

    def get_channel_id(self) -> str:
        return self._tx.channel_id

    def get_creator(self) -> bytes:
        return self._tx.creator

    def get_tx_timestamp(self) -> int:
        return self._tx.timestamp

    def get_state(self, key: str) -> bytes | None:
        _check_key(key)
        written = self._record.writes.get(self.namespace, {})
        if key in written:
            return written[key]
        committed = self._state.get_state(self.namespace, key)
        reads = self._record.reads.setdefault(self.namespace, {})
        reads.setdefault(key, None if committed is None else committed.version)
        return None if committed is None else committed.value

    def put_state(self, key: str, value: bytes) -> None:
        _check_key(key)
        if not value:
            raise ValueError("put_state needs a non-empty value; use del_state to delete")
        self._record.writes.setdefault(self.namespace, {})[key] = bytes(value)

    def del_state(self, key: str) -> None:
        _check_key(key)
        self._record.writes.setdefault(self.namespace, {})[key] = None

    def set_event(self, name: str, payload: bytes) -> None:
        if not name:
            raise ValueError("an event needs a name")
        self.event = Event(name, bytes(payload))

    def invoke_chaincode(self, name: str, args: Sequence[bytes]) -> Response:
        callee = self._resolve(name)
        if callee is None:
            return error(f"chaincode {name!r} is not defined on channel {self._tx.channel_id!r}")
        if self._depth + 1 > MAX_CALL_DEPTH:
            return error(f"chaincode calls nest deeper than {MAX_CALL_DEPTH}")
        stub = SimulationStub(
            namespace=name,
            args=args,
            tx=self._tx,
            state=self._state,
            record=self._record,
            resolve=self._resolve,
            caller=self.namespace,
            depth=self._depth + 1,
        )
        return _run(callee, stub)

    def get_caller(self) -> str | None:
        return self._caller


def _check_key(key: str) -> None:
    if not key:
        raise ValueError("a state key must not be empty")


def _run(chaincode: Chaincode, stub: SimulationStub) -> Response:
    """The chaincode's response; an exception it raises is an error response (Fabric's
    shim turns a panic into an error too)."""
    try:
        response = chaincode.invoke(stub)
    except Exception as exc:  # a chaincode bug must not take the peer down
        return error(f"chaincode {stub.namespace} failed: {type(exc).__name__}: {exc}")
    if not isinstance(response, Response):
        return error(f"chaincode {stub.namespace} returned {type(response).__name__}")
    return response


def simulate(
    chaincode: Chaincode,
    args: Sequence[bytes],
    tx: TxContext,
    state: StateReader,
    chaincodes: Mapping[str, Chaincode],
) -> SimulationResult:
    """Run ``chaincode`` with ``args`` on ``state``; the response, the read-write set and
    the event (only the invoked chaincode's)."""
    record = ReadWriteSet()
    stub = SimulationStub(
        namespace=chaincode.name,
        args=args,
        tx=tx,
        state=state,
        record=record,
        resolve=chaincodes.get,
    )
    response = _run(chaincode, stub)
    return SimulationResult(response, record, stub.event)
