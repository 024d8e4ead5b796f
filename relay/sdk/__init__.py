"""Client SDK for a relayhub relay: ``RelayClient`` (blocking) and ``AsyncRelayClient``
(trio), one sans-I/O core (:mod:`relay.sdk.base`). See docs/api.md.

    from relay.sdk import RelayClient
    with RelayClient("http://127.0.0.1:8710", account) as relay:
        relay.register_chain("chainA", "notary", {"keys": [...], "threshold": 1}, "0xbroker")
"""

from relay.sdk.aio import AsyncRelayClient
from relay.sdk.base import ClientBase
from relay.sdk.call import (
    CallResult,
    InterchainFailed,
    InterchainRolledBack,
    SourceChain,
)
from relay.sdk.errors import (
    ClientCode,
    RelayApiError,
    RelayConnectionError,
    RelayResponseError,
    RelayTimeoutError,
)
from relay.sdk.sync import RelayClient
from relay.sdk.types import IbtpResult, IbtpStatus, OutboundEntry, OutboundPage, TxResult

__all__ = [
    "AsyncRelayClient",
    "CallResult",
    "ClientBase",
    "ClientCode",
    "IbtpResult",
    "IbtpStatus",
    "InterchainFailed",
    "InterchainRolledBack",
    "OutboundEntry",
    "OutboundPage",
    "RelayApiError",
    "RelayClient",
    "RelayConnectionError",
    "RelayResponseError",
    "RelayTimeoutError",
    "SourceChain",
    "TxResult",
]
