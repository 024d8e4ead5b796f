"""SDK errors: every one is a :class:`relay.errors.RelayError`.

A refusal the relay sent is a :class:`RelayApiError` carrying the relay's own code
(docs/protocol.md §6), its message and details, and the HTTP status it came with.
Failures that happen on the client's side of the wire have codes in the 7xxx
range, which the relay never sends:

* 7001 CONNECTION — the relay could not be reached or the connection broke
  (the outcome of a write is then unknown; resending is safe, IBTPs are idempotent)
* 7002 TIMEOUT — :meth:`wait_final` gave up before the IBTP reached a final status
* 7003 BAD_RESPONSE — the answer was not msgpack/JSON of the documented shape
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

from relay.errors import RelayError

if TYPE_CHECKING:
    from relay.sdk.types import TxResult


class ClientCode(IntEnum):
    CONNECTION = 7001
    TIMEOUT = 7002
    BAD_RESPONSE = 7003


class RelayApiError(RelayError):
    """A refusal answered by the relay: ``code``, ``message``, ``details`` and ``status``.

    For a ``POST /v1/txs`` that admitted nothing, ``results`` holds every
    transaction's own result (the error itself is the first refusal).
    """

    def __init__(
        self,
        code: int,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int,
        results: list[TxResult] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.details = dict(details or {})
        self.status = status
        self.results = results

    @property
    def http_status(self) -> int:
        return self.status


class RelayConnectionError(RelayError):
    """The relay could not be reached (7001). ``details`` has ``url``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ClientCode.CONNECTION, message, **details)


class RelayTimeoutError(RelayError):
    """Waiting for a final status ran out of time (7002). ``details`` has ``ibtp_id``,
    ``last_status`` (the last status seen, or None if the relay had not seen it) and
    ``last_refusal`` (the relay's last admission refusal of it, or None). The message
    names the side that has not acted."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ClientCode.TIMEOUT, message, **details)


class RelayResponseError(RelayError):
    """The relay's answer could not be understood (7003). ``details`` has ``status``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ClientCode.BAD_RESPONSE, message, **details)
