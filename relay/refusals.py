"""The last admission refusal of each IBTP, bounded (pure: no I/O, no clock).

When a gateway's ``ibtp`` transaction is refused because of one of its IBTPs
(the refusal's ``details.item``), the node remembers that refusal under the IBTP's
ID, so ``GET /v1/ibtps/{id}``, ``relayhub tx status`` and the SDK's wait can say
why the relay has not recorded it. Memory only: it is diagnostics, not consensus
state (never in the ledger or the state root), each node has its own, and it is
lost on restart. Least recently refused IDs are dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from relay.errors import RelayError
from relay.ibtp.codec import IBTP_MAX_DEPTH, IBTP_MAX_OBJECTS, unpack_strict
from relay.ibtp.ids import compute_ibtp_id

#: IBTP IDs remembered per node.
REFUSAL_LOG_SIZE = 4096


def ibtp_id_of_item(tx_body: Any, item: Any) -> str | None:
    """The ID of item ``item`` of an ``ibtp`` transaction's body, or None when the item
    is not there or does not decode far enough to have one (its refusal says why)."""
    if type(item) is not int or not isinstance(tx_body, list) or not 0 <= item < len(tx_body):
        return None
    raw = tx_body[item]
    if not isinstance(raw, bytes):
        return None
    try:
        obj = unpack_strict(raw, max_objects=IBTP_MAX_OBJECTS, max_depth=IBTP_MAX_DEPTH)
    except RelayError:
        return None
    if not isinstance(obj, list) or len(obj) != 9:
        return None
    src, dst, index = obj[1], obj[2], obj[3]
    if not isinstance(src, str) or not isinstance(dst, str) or type(index) is not int:
        return None
    return compute_ibtp_id(src, dst, index)


class RefusalLog:
    """IBTP ID -> the last refusal ``{code, message, details, sender, height}``."""

    def __init__(self, capacity: int = REFUSAL_LOG_SIZE) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, ibtp_id: str, exc: RelayError, sender: str, height: int) -> None:
        """Remember ``exc`` as ``ibtp_id``'s last refusal (``height``: the relay's head)."""
        self._entries.pop(ibtp_id, None)
        self._entries[ibtp_id] = {
            "code": exc.code,
            "message": exc.message,
            "details": dict(exc.details),
            "sender": sender,
            "height": height,
        }
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, ibtp_id: str) -> dict[str, Any] | None:
        entry = self._entries.get(ibtp_id)
        return None if entry is None else dict(entry)


def describe_refusal(entry: dict[str, Any]) -> str:
    """``"[code] message (height h)"``: how people are shown a recorded refusal."""
    return f"[{entry.get('code')}] {entry.get('message')} (relay height {entry.get('height')})"
