"""One exception tree with stable numeric codes.

Every refusal the relay can give has a numbered :class:`Code`. The number is part of
the protocol (``docs/protocol.md`` lists them) and never changes meaning; new codes
are only added. Each error carries a message that tells the caller what to do next
and, where useful, structured ``details`` (for example the expected index).

Ranges:

* 1xxx encoding and request shape
* 2xxx transactions, signatures, accounts
* 3xxx registry: app chains and services
* 4xxx interchain: indices, states, timeouts
* 5xxx proofs (51xx notary, 52xx EVM, 53xx Fabric, 54xx FISCO)
* 6xxx node: capacity, lookups, storage
* 8xxx chain side: what an app chain answered a gateway (never sent by the relay)

Chain-side errors (8xxx, and 6007 UPSTREAM_UNAVAILABLE: a chain node that did not
answer) are raised by adapters at the gateway; :func:`is_chain_side` tells them
apart from the relay's refusals, which the gateway handles per item.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Code(IntEnum):
    # 1xxx encoding and request shape
    MALFORMED_ENCODING = 1001
    NON_CANONICAL = 1002
    FIELD_TYPE = 1003
    FIELD_TOO_LARGE = 1004
    BAD_SERVICE_ID = 1005
    UNSUPPORTED_VERSION = 1006
    BODY_TOO_LARGE = 1007
    UNSUPPORTED_MEDIA_TYPE = 1008
    BAD_REQUEST = 1009

    # 2xxx transactions
    BAD_SIGNATURE = 2001
    SIGNER_MISMATCH = 2002
    NONCE_USED = 2003
    NONCE_GAP = 2004
    UNAUTHORIZED = 2005
    WRONG_HUB = 2006
    UNKNOWN_TX_KIND = 2007

    # 3xxx registry
    UNKNOWN_CHAIN = 3001
    CHAIN_NOT_ACTIVE = 3002
    UNKNOWN_SERVICE = 3003
    CALLER_NOT_ALLOWED = 3004
    CHAIN_EXISTS = 3005
    UNKNOWN_FAMILY = 3006
    BAD_TRUST_ROOT = 3007
    SERVICE_EXISTS = 3008
    NOT_PENDING = 3009
    TOO_MANY_PENDING = 3010

    # 4xxx interchain
    INDEX_GAP = 4001
    CONFLICTING_DUPLICATE = 4002
    TIMEOUT_EXPIRED = 4003
    UNKNOWN_IBTP = 4004
    LATE_RECEIPT = 4005
    INVALID_TRANSITION = 4006
    WRONG_SUBMITTER = 4007
    INDEX_WINDOW = 4008
    SAME_CHAIN = 4009

    # 5xxx proofs
    PROOF_INVALID = 5001
    PROOF_MALFORMED = 5002
    NOTARY_BELOW_THRESHOLD = 5101
    NOTARY_UNKNOWN_SIGNER = 5102
    NOTARY_BAD_SIGNATURE = 5103

    # 6xxx node
    MEMPOOL_FULL = 6001
    NOT_FOUND = 6002
    SHUTTING_DOWN = 6003
    STORAGE = 6004
    LEDGER_INCONSISTENT = 6005
    CONFIG = 6006
    UPSTREAM_UNAVAILABLE = 6007

    # 8xxx chain side (gateway <-> app chain; never sent by the relay)
    #: The destination chain refused a delivery (its broker reverted); the gateway
    #: retries it a bounded number of times, then sets it aside (docs/gateway.md).
    DELIVERY_REFUSED = 8001
    #: A chain node answered an API call (JSON-RPC, gRPC...) with an error of its own;
    #: ``details`` carry the node's ``rpc_code``, ``rpc_message`` and ``data``.
    CHAIN_RPC_ERROR = 8002
    #: The chain's answers do not fit together (receipts that do not rebuild the
    #: header's root, a log that is not in its receipt): nothing provable to submit.
    CHAIN_INCONSISTENT = 8003


#: HTTP status for each code; anything not listed is a 400.
HTTP_STATUS: dict[Code, int] = {
    Code.BODY_TOO_LARGE: 413,
    Code.UNSUPPORTED_MEDIA_TYPE: 415,
    Code.BAD_SIGNATURE: 401,
    Code.SIGNER_MISMATCH: 401,
    Code.UNAUTHORIZED: 403,
    Code.CALLER_NOT_ALLOWED: 403,
    Code.NONCE_USED: 409,
    Code.NONCE_GAP: 409,
    Code.NOT_PENDING: 409,
    Code.TOO_MANY_PENDING: 409,
    Code.INDEX_WINDOW: 409,
    Code.WRONG_SUBMITTER: 403,
    Code.CHAIN_EXISTS: 409,
    Code.SERVICE_EXISTS: 409,
    Code.CONFLICTING_DUPLICATE: 409,
    Code.INDEX_GAP: 409,
    Code.LATE_RECEIPT: 409,
    Code.INVALID_TRANSITION: 409,
    Code.UNKNOWN_CHAIN: 404,
    Code.UNKNOWN_SERVICE: 404,
    Code.UNKNOWN_IBTP: 404,
    Code.NOT_FOUND: 404,
    Code.PROOF_INVALID: 422,
    Code.PROOF_MALFORMED: 422,
    Code.NOTARY_BELOW_THRESHOLD: 422,
    Code.NOTARY_UNKNOWN_SIGNER: 422,
    Code.NOTARY_BAD_SIGNATURE: 422,
    Code.MEMPOOL_FULL: 503,
    Code.SHUTTING_DOWN: 503,
    Code.STORAGE: 500,
    Code.LEDGER_INCONSISTENT: 500,
    Code.CONFIG: 500,
    Code.UPSTREAM_UNAVAILABLE: 502,
    Code.DELIVERY_REFUSED: 502,
    Code.CHAIN_RPC_ERROR: 502,
    Code.CHAIN_INCONSISTENT: 502,
}


def http_status(code: int) -> int:
    """The HTTP status a refusal with ``code`` is sent with (4xx/5xx)."""
    try:
        return HTTP_STATUS.get(Code(code), 400)
    except ValueError:
        # Codes 5200-5499 belong to chain-family verifiers: all are proof refusals.
        return 422 if 5000 <= code < 6000 else 400


def is_chain_side(code: int) -> bool:
    """Whether ``code`` is about an app chain as a gateway sees it (8xxx, or 6007 a chain
    node that did not answer) rather than a refusal by the relay: the gateway retries
    such errors with backoff and never sets an item aside or stops for one."""
    return 8000 <= code < 9000 or code == Code.UPSTREAM_UNAVAILABLE


class RelayError(Exception):
    """Base of every error the relay reports to a caller.

    ``code`` is stable; ``message`` says what happened and what to do next;
    ``details`` carries machine-readable context (expected index, item number...).
    """

    code: int = Code.BAD_REQUEST

    def __init__(self, code: int, message: str, **details: Any) -> None:
        super().__init__(f"[{int(code)}] {message}")
        self.code = int(code)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The wire form ``{code, message, details}``: ``details`` is always present
        (an empty map when there is nothing to add), as docs/api.md promises."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}

    @property
    def http_status(self) -> int:
        return http_status(self.code)


class EncodingError(RelayError):
    """Bytes that are not a valid canonical encoding."""


class ProofError(RelayError):
    """A proof that does not verify against the registered trust root.

    Chain-family verifiers raise this with their own code (5xxx) so that every
    tampered-proof case is refused with a code of its own.
    """


class StorageError(RelayError):
    """The ledger store failed or found itself inconsistent."""
