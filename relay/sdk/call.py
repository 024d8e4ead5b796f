"""``client.call(src, dst, func, args)``: an interchain call, answered by the destination.

The request is emitted on the **source chain** by a :class:`SourceChain` connector
(for EVM chains ``adapters.evm.client.EvmCaller``, which calls the broker's
``emitInterchain`` from the caller's account); the relay then carries it, and
``call`` waits for the final status and turns it into a result or an error:

* SUCCESS → :class:`CallResult` with the destination's return bytes;
* FAILURE → :class:`InterchainFailed` (the destination refused or reverted; the
  source has rolled back), ``reason`` is the destination's failure message;
* ROLLBACK → :class:`InterchainRolledBack`: ``timed_out`` when no receipt came by the
  timeout height and the destination gave the call up unexecuted (a destination that
  ran it answers with its receipt, however late: SUCCESS or FAILURE), or when the
  timeout had passed at admission; otherwise the relay refused to route it
  (``BEGIN_FAILURE``);
* no final status within ``timeout`` seconds → ``RelayTimeoutError`` (7002).

The SDK imports no chain family: connectors are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from relay.errors import Code, RelayError
from relay.ibtp import TxStatus, compute_ibtp_id
from relay.sdk.ids import canonical_service_id
from relay.sdk.types import IbtpStatus


class CallCode:
    FAILED = 7004
    ROLLED_BACK = 7005


#: The fewest relay blocks a round trip can take: the request is admitted at the
#: earliest in the next block (h + 1), its receipt in a later one (h + 2), and the
#: timeout fires when the height reaches it, so it must be at least h + 3.
MIN_TIMEOUT_BLOCKS = 3


def check_timeout_blocks(timeout_blocks: int) -> None:
    """Refuse a ``timeout_blocks`` that cannot work, before anything is emitted. A
    request whose timeout has passed when the relay admits it is not lost (it rolls
    back on both chains, docs/protocol.md §3), but it can never succeed."""
    if type(timeout_blocks) is not int or timeout_blocks < 0:
        raise RelayError(
            Code.TIMEOUT_EXPIRED,
            f"timeout_blocks must be a non-negative integer, got {timeout_blocks!r}",
        )
    if 0 < timeout_blocks < MIN_TIMEOUT_BLOCKS:
        raise RelayError(
            Code.TIMEOUT_EXPIRED,
            f"timeout_blocks={timeout_blocks} expires before a receipt can be recorded "
            f"(a round trip takes at least {MIN_TIMEOUT_BLOCKS} relay blocks); pass 0 for "
            f"the hub's default, or {MIN_TIMEOUT_BLOCKS} or more (with a margin: blocks "
            "come every batch time under load, every idle interval otherwise)",
            timeout_blocks=timeout_blocks,
            minimum=MIN_TIMEOUT_BLOCKS,
        )


def check_call(
    via: SourceChain, src_service: str, dst_service: str, args: Any, timeout_blocks: int
) -> tuple[str, str, list[bytes]]:
    """Refuse a call that cannot work, before anything is emitted; return the canonical
    source and destination IDs (:func:`relay.sdk.ids.canonical_service_id`) and the args."""
    src, dst = canonical_service_id(src_service), canonical_service_id(dst_service)
    if canonical_service_id(via.service_id) != src:
        raise RelayError(
            Code.BAD_REQUEST,
            f"the connector calls from {via.service_id}, not {src_service}; "
            "pass the connector of the source service",
        )
    if isinstance(args, bytes | str) or not all(isinstance(a, bytes) for a in args):
        raise TypeError(
            "args is a list of bytes, each argument ABI-encoded as the destination "
            "decodes it, e.g. [eth_abi.encode(['string'], ['price'])]"
        )
    check_timeout_blocks(timeout_blocks)
    return src, dst, list(args)


@runtime_checkable
class SourceChain(Protocol):
    #: Full service ID the connector calls from (``hub:chain:service``).
    service_id: str

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        """Emit the request on the source chain; return its (from, to, index)."""
        ...


@dataclass(frozen=True, slots=True)
class CallResult:
    ibtp_id: str
    result: bytes
    status: IbtpStatus


class InterchainFailed(RelayError):
    """The destination refused or reverted the call; the source rolled back (7004).
    ``details``: ``ibtp_id``, ``reason`` (the destination's message), ``history``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(CallCode.FAILED, message, **details)


class InterchainRolledBack(RelayError):
    """The call was rolled back without a destination answer (7005). ``details``:
    ``ibtp_id``, ``timed_out`` (True: no receipt by the timeout height, or the timeout
    had already passed at admission; False: the relay refused to route it), ``reason``
    (why the relay did not route it, when it did not), ``history``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(CallCode.ROLLED_BACK, message, **details)


def interpret_final_status(st: IbtpStatus) -> CallResult:
    """The outcome of a call from its final relay status (pure)."""
    path = " → ".join(f"{s.name}@{h}" for s, h in st.history)
    history = [[int(s), h] for s, h in st.history]
    if st.status == TxStatus.SUCCESS:
        return CallResult(st.id, st.result, st)
    if st.status == TxStatus.FAILURE:
        reason = st.result.decode("utf-8", errors="replace")
        raise InterchainFailed(
            f"{st.id} failed at the destination ({reason or 'no reason given'}); "
            f"the source rolled back [{path}]",
            ibtp_id=st.id,
            reason=reason,
            history=history,
        )
    if st.status == TxStatus.ROLLBACK:
        timed_out = any(
            s in (TxStatus.BEGIN_ROLLBACK, TxStatus.SOURCE_ROLLBACK) for s, _ in st.history
        )
        # For a request the relay never routed, the record keeps why.
        reason = st.result.decode("utf-8", errors="replace")
        if timed_out and reason:
            why = f"it had timed out before the relay admitted it ({reason})"
        elif timed_out:
            why = (
                "no receipt arrived before its timeout height, and the destination "
                "confirmed it never ran the call"
            )
        else:
            why = f"the relay could not route it ({reason or 'destination not routable'})"
        raise InterchainRolledBack(
            f"{st.id} was rolled back: {why} [{path}]",
            ibtp_id=st.id,
            timed_out=timed_out,
            reason=reason,
            history=history,
        )
    raise RelayError(Code.INVALID_TRANSITION, f"{st.id} is not final ({st.status.name})")


async def call_async(
    client: Any,
    src_service: str,
    dst_service: str,
    func: str,
    args: list[bytes],
    *,
    via: SourceChain,
    timeout: float = 60.0,
    timeout_blocks: int = 0,
) -> CallResult:
    _, dst_service, args = check_call(via, src_service, dst_service, args, timeout_blocks)
    height = 0
    if timeout_blocks:
        height = int((await client.status())["height"]) + timeout_blocks
    src, dst, index = await via.emit(dst_service, func, args, height)
    st = await client.wait_final(compute_ibtp_id(src, dst, index), timeout=timeout)
    return interpret_final_status(st)
