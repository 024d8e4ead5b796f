"""What a chaincode sees of its transaction: the shape of Fabric's shim
``ChaincodeStubInterface`` (``fabric-chaincode-go/shim``), the part our chaincodes use.

A peer's simulation implements :class:`Stub` on its world state and records the
read-write set; a chaincode is a :class:`Chaincode`: ``invoke(stub)`` returns a
:class:`Response` — status 200 (``OK``) with a payload, or 500 (``ERROR``) with a
message — as shim's ``Success`` / ``Error``. A chaincode never raises to say no: it
returns an error response (the peer then endorses nothing). Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: shim.OK and shim.ERROR; a status at or above ERROR_THRESHOLD (400) is an error.
OK = 200
ERROR = 500
ERROR_THRESHOLD = 400


@dataclass(frozen=True, slots=True)
class Response:
    """``peer.Response``: what a chaincode invocation returns."""

    status: int
    message: str = ""
    payload: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status < ERROR_THRESHOLD


def success(payload: bytes = b"") -> Response:
    """shim.Success."""
    return Response(OK, "", payload)


def error(message: str) -> Response:
    """shim.Error."""
    return Response(ERROR, message, b"")


class Stub(Protocol):
    """The transaction context of one chaincode invocation."""

    def get_args(self) -> Sequence[bytes]:
        """The invocation's arguments; the first is the function name."""
        ...

    def get_tx_id(self) -> str: ...

    def get_channel_id(self) -> str: ...

    def get_creator(self) -> bytes:
        """The submitting client's ``msp.SerializedIdentity`` bytes."""
        ...

    def get_tx_timestamp(self) -> int:
        """The proposal's channel-header timestamp, in Unix seconds."""
        ...

    def get_state(self, key: str) -> bytes | None:
        """The committed value of ``key`` in this chaincode's namespace (None when
        absent), or this transaction's own earlier write. Recorded as a read."""
        ...

    def put_state(self, key: str, value: bytes) -> None:
        """Write ``key`` (a non-empty value; use :meth:`del_state` to delete)."""
        ...

    def del_state(self, key: str) -> None: ...

    def set_event(self, name: str, payload: bytes) -> None:
        """Set the transaction's chaincode event (the last call wins, as in Fabric)."""
        ...

    def invoke_chaincode(self, name: str, args: Sequence[bytes]) -> Response:
        """Call chaincode ``name`` on the same channel, in this transaction: its reads
        and writes join this transaction's read-write set (its own namespace), its
        event is dropped (Fabric keeps only the invoked chaincode's). A called
        chaincode sees the same creator; ``get_caller`` tells it who called it."""
        ...

    def get_caller(self) -> str | None:
        """The chaincode that invoked this one through :meth:`invoke_chaincode`, or None
        when the client invoked it directly. (Fabric's shim has no such call; a Fabric
        chaincode learns its caller from a signed proposal or an argument. Ours
        reports what the peer knows, so a service can accept calls only from the
        broker.)"""
        ...


class Chaincode(Protocol):
    """A chaincode: ``name`` on the channel, and what it does with one invocation."""

    name: str

    def invoke(self, stub: Stub) -> Response: ...
