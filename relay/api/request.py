"""Decoding a ``POST /v1/txs`` body (pure: no trio, no sockets, no clock).

The work a request can cause is bounded before it starts: the envelope (an array of
at most MAX_TXS_PER_REQUEST byte strings) and every transaction are walked by
``relay.ibtp.codec.scan_msgpack`` with limits sized to what a valid request holds,
so a hostile body of millions of small values is refused after a bounded walk
instead of being decoded, re-encoded and hashed. The server runs
:func:`decode_submission` in a worker thread (it is CPU work: decode, canonical
check, tx hash, signature recovery), never on the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relay.errors import Code, RelayError
from relay.ibtp.codec import unpack_strict
from relay.ledger.types import (
    MAX_TX_BYTES,
    MAX_TX_OBJECTS,
    Transaction,
    decode_tx_counted,
    with_recovered_signer,
)

MSGPACK = "application/msgpack"
MSGPACK_TYPES = (MSGPACK, "application/x-msgpack")
MAX_JSON_BODY_BYTES = 1024 * 1024
MAX_TXS_PER_REQUEST = 1000
#: msgpack values all the transactions of one request may hold together (each at most
#: MAX_TX_OBJECTS): room for 64 transactions of 4,096 IBTPs, far more than a 16 MiB
#: body of real IBTPs, and a bound on what a hostile body of small values costs.
MAX_REQUEST_OBJECTS = 262_144


@dataclass(frozen=True, slots=True)
class Refused:
    """A transaction refused before admission (its signature does not recover)."""

    tx: Transaction
    error: RelayError


@dataclass(frozen=True, slots=True)
class Submission:
    """A decoded body: one entry per transaction, in order.

    ``undecodable`` set: some entries are decoding errors and nothing may be admitted.
    Otherwise each entry is a Transaction whose signature recovered (``signer`` set,
    or left to the executor when it names another hub), or :class:`Refused`.
    """

    items: list[Transaction | RelayError | Refused]
    undecodable: bool = False


def decode_envelope(ctype: str, body: bytes) -> list[bytes]:
    """The transaction byte strings a body carries, or the request's refusal."""
    if ctype in MSGPACK_TYPES:
        # Flat (depth 1) and short: room for the count check below to name the limit.
        raws = unpack_strict(
            body, MAX_TX_BYTES, max_objects=2 * MAX_TXS_PER_REQUEST, max_depth=1, what="body"
        )
        if not isinstance(raws, list) or not all(isinstance(r, bytes) for r in raws):
            raise RelayError(
                Code.FIELD_TYPE,
                "msgpack body must be an array of transaction byte strings (bin), "
                "each the canonical encoding of one transaction",
            )
    elif ctype in ("application/json", ""):
        # A valid body is exactly {"txs": ["0x...", ...]}: one map, one array, hex
        # strings. Refusing anything nested deeper before parsing keeps a hostile
        # body from recursing the JSON parser off the C stack.
        if len(body) > MAX_JSON_BODY_BYTES:
            raise RelayError(
                Code.BODY_TOO_LARGE,
                f"JSON bodies are at most {MAX_JSON_BODY_BYTES} bytes; use msgpack for more",
            )
        if body.count(b"{") > 1 or body.count(b"[") > 1:
            raise RelayError(Code.FIELD_TYPE, 'JSON body must be {"txs": ["0x...", ...]}')
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RelayError(
                Code.MALFORMED_ENCODING, f"body is not valid JSON: {exc}"[:300]
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("txs"), list):
            raise RelayError(Code.FIELD_TYPE, 'JSON body must be {"txs": ["0x...", ...]}')
        raws = [_hex_bytes(t, f"tx {i}") for i, t in enumerate(doc["txs"])]
    else:
        raise RelayError(
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"content type {ctype!r}: use {MSGPACK} or application/json",
        )
    if not 1 <= len(raws) <= MAX_TXS_PER_REQUEST:
        raise RelayError(
            Code.FIELD_TYPE,
            f"send 1-{MAX_TXS_PER_REQUEST} transactions per request (got {len(raws)})",
        )
    return raws


def decode_submission(ctype: str, body: bytes, hub_id: str) -> Submission:
    """Decode a whole ``POST /v1/txs`` body and recover each signature (docs/api.md).

    Raises the request's refusal when the envelope is wrong; per-transaction problems
    are entries of the answer."""
    raws = decode_envelope(ctype, body)
    budget = MAX_REQUEST_OBJECTS
    decoded: list[Transaction | RelayError | Refused] = []
    failed = False
    for i, raw in enumerate(raws):
        try:
            if budget <= 0:
                raise RelayError(
                    Code.FIELD_TOO_LARGE,
                    f"the request's transactions hold more than {MAX_REQUEST_OBJECTS} msgpack "
                    f"values before transaction {i}; send fewer per request",
                    item=i,
                )
            limit = min(MAX_TX_OBJECTS, budget)
            # A refused walk may have gone up to its limit: charge that much.
            budget -= limit
            try:
                tx, count = decode_tx_counted(raw, limit, f"transaction {i}")
            except RelayError as exc:
                if exc.code == Code.FIELD_TOO_LARGE and limit < MAX_TX_OBJECTS:
                    raise RelayError(
                        Code.FIELD_TOO_LARGE,
                        f"the request's transactions hold more than {MAX_REQUEST_OBJECTS} "
                        f"msgpack values by transaction {i}; send fewer per request",
                        item=i,
                    ) from None
                raise
            budget += limit - count
            decoded.append(tx)
        except RelayError as exc:
            decoded.append(exc)
            failed = True
    if failed:
        return Submission(decoded, undecodable=True)
    return Submission([_recover(tx, hub_id) for tx in decoded if isinstance(tx, Transaction)])


def _recover(tx: Transaction, hub_id: str) -> Transaction | Refused:
    if tx.hub_id != hub_id:
        return tx  # the executor refuses it as WRONG_HUB, before any signature check
    try:
        return with_recovered_signer(tx)
    except RelayError as exc:
        return Refused(tx, exc)


def _hex_bytes(s: Any, what: str) -> bytes:
    if not isinstance(s, str) or not s.startswith("0x"):
        raise RelayError(Code.FIELD_TYPE, f"{what} must be a 0x-hex string")
    try:
        return bytes.fromhex(s[2:])
    except ValueError:
        raise RelayError(Code.FIELD_TYPE, f"{what} is not valid hex") from None
