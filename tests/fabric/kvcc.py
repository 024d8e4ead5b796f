"""A small real chaincode for the Fabric dev-chain tests: keys with integer balances.

``put(key, value)``, ``get(key)``, ``del(key)``, ``transfer(from, to, amount)`` (reads
both keys: two transfers endorsed on the same state conflict), ``fail(message)``,
``call(chaincode, args...)`` (``invoke_chaincode``; returns the callee's payload),
``caller()``; ``put`` and ``transfer`` set an event. :func:`definitions` is a chaincode
provider (``tests.fabric.kvcc:definitions``) for configs and child processes.
"""

from __future__ import annotations

from collections.abc import Iterable

from appchains.fabric.chaincode.stub import Response, Stub, error, success
from appchains.fabric.registry import ChaincodeContext, ChaincodeDefinition


class KeyValue:
    def __init__(self, name: str = "kv") -> None:
        self.name = name

    def invoke(self, stub: Stub) -> Response:
        args = [a.decode() for a in stub.get_args()]
        if not args:
            return error("no function")
        fn, rest = args[0], args[1:]
        if fn == "put" and len(rest) == 2:
            stub.put_state(rest[0], rest[1].encode())
            stub.set_event("Put", rest[0].encode())
            return success()
        if fn == "get" and len(rest) == 1:
            return success(stub.get_state(rest[0]) or b"")
        if fn == "del" and len(rest) == 1:
            stub.del_state(rest[0])
            return success()
        if fn == "transfer" and len(rest) == 3:
            src, dst, amount = rest[0], rest[1], int(rest[2])
            have = int(stub.get_state(src) or b"0")
            if have < amount:
                return error(f"{src} has {have}, needs {amount}")
            to = int(stub.get_state(dst) or b"0")
            stub.put_state(src, str(have - amount).encode())
            stub.put_state(dst, str(to + amount).encode())
            stub.set_event("Transfer", f"{src}>{dst}:{amount}".encode())
            return success(str(have - amount).encode())
        if fn == "fail":
            return error(rest[0] if rest else "failed")
        if fn == "call" and rest:
            stub.set_event("Called", rest[0].encode())
            return stub.invoke_chaincode(rest[0], [a.encode() for a in rest[1:]])
        if fn == "caller":
            return success((stub.get_caller() or "").encode())
        return error(f"unknown function {fn!r} with {len(rest)} arguments")


def definitions(context: ChaincodeContext) -> Iterable[ChaincodeDefinition]:
    """``kv`` with the channel default (majority) and ``kv1`` endorsable by Org1 alone."""
    return [
        ChaincodeDefinition(KeyValue("kv")),
        ChaincodeDefinition(KeyValue("kv1"), policy=f"OR('{context.msp_ids[0]}.peer')"),
    ]
