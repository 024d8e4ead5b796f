"""The SDK's core: everything a relay client does except I/O.

:class:`ClientBase` builds ``httpx.Request`` objects (URL, headers, msgpack
bodies), parses ``httpx.Response`` objects (msgpack or JSON, 0x-hex turned back
into bytes where docs/api.md says bytes), maps refusals to
:class:`~relay.sdk.errors.RelayApiError`, and tracks the signing account's nonce.

Operations that take more than one round trip (sign-and-send, batched IBTP
submission, polling until final) are written once, here, as *flows*: generators
that yield a step and receive its outcome:

* :class:`Call` — send this request; the flow receives the ``httpx.Response``
  (or has a :class:`RelayConnectionError` thrown in);
* :class:`Sleep` — wait this many seconds;
* :class:`Clock` — the flow receives the current time.

``RelayClient`` (httpx.Client, ``time``) and ``AsyncRelayClient`` (httpx.AsyncClient,
``trio``) only drive flows, so both behave identically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import msgpack

from relay.crypto import Account, AccountLike, as_account
from relay.errors import Code, RelayError, http_status
from relay.ibtp import IBTP, TxStatus, compute_ibtp_id
from relay.ledger.types import Transaction, encode_tx, sign_tx
from relay.refusals import describe_refusal
from relay.sdk.errors import (
    RelayApiError,
    RelayConnectionError,
    RelayResponseError,
    RelayTimeoutError,
)
from relay.sdk.ids import canonical_ibtp_id, canonical_service_id
from relay.sdk.types import IbtpResult, IbtpStatus, OutboundEntry, OutboundPage, TxResult

T = TypeVar("T")

MSGPACK = "application/msgpack"
_MSGPACK_TYPES = (MSGPACK, "application/x-msgpack")
USER_AGENT = "relayhub-sdk/0.1"

#: Protocol limits (docs/protocol.md §4, docs/api.md).
MAX_IBTPS_PER_TX = 4096
MAX_TXS_PER_REQUEST = 1000

#: Response keys whose values are byte strings (0x-hex in JSON).
BYTES_KEYS = frozenset(
    {
        "hash",
        "head_hash",
        "state_root",
        "parent_hash",
        "tx_root",
        "receipt_root",
        "sig",
        "signatures",
        "sigs",
        "ibtp",
        "result",
    }
)

_NONCE_CODES = (Code.NONCE_USED, Code.NONCE_GAP)
_NOT_YET = (Code.UNKNOWN_IBTP, Code.NOT_FOUND)


# --- flow steps ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """Send ``request``; the flow receives the response."""

    request: httpx.Request


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Clock:
    """The flow receives the driver's current time (seconds, monotonic)."""


Step = Call | Sleep | Clock
Flow = Generator[Step, Any, T]


# --- decoding -----------------------------------------------------------------


def _hex_to_bytes(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("0x") and len(v) % 2 == 0:
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            return v
    if isinstance(v, list):
        return [_hex_to_bytes(x) for x in v]
    return v


def from_json(obj: Any) -> Any:
    """Turn 0x-hex back into bytes where the API sends bytes (the keys in BYTES_KEYS,
    and the body of an ``ibtp`` transaction)."""
    if isinstance(obj, list):
        return [from_json(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _hex_to_bytes(v) if k in BYTES_KEYS else from_json(v) for k, v in obj.items()}
    if out.get("kind") == "ibtp" and isinstance(out.get("body"), list):
        out["body"] = _hex_to_bytes(out["body"])
    return out


def decode_body(response: httpx.Response) -> Any:
    """The response body as Python values (msgpack or JSON by Content-Type)."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = response.content
    try:
        if ctype in _MSGPACK_TYPES:
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        if ctype == "application/json" or ctype.endswith("+json"):
            return from_json(json.loads(raw))
    except (ValueError, msgpack.UnpackException) as exc:
        raise RelayResponseError(
            f"HTTP {response.status_code}: body is not valid {ctype}: {exc}"[:300],
            status=response.status_code,
        ) from None
    if not raw:
        return None
    raise RelayResponseError(
        f"HTTP {response.status_code} with content type {ctype or 'none'!r}: "
        f"{raw[:200].decode('utf-8', 'replace')!r}; is this URL a relayhub API?",
        status=response.status_code,
    )


def api_error(status: int, data: Any) -> RelayError:
    """The error a refusal body ``{code, message, details}`` stands for."""
    if isinstance(data, dict) and type(data.get("code")) is int:
        details = data.get("details")
        return RelayApiError(
            data["code"],
            str(data.get("message", "")),
            details if isinstance(details, dict) else {},
            status=status,
        )
    return RelayResponseError(
        f"HTTP {status} without a relay error body ({str(data)[:200]!r})", status=status
    )


def _hash_hex(v: Any) -> str:
    if isinstance(v, bytes):
        return v.hex()
    return str(v or "").removeprefix("0x")


def parse_tx_result(d: Any) -> TxResult:
    if not isinstance(d, dict):
        raise RelayResponseError(f"a transaction result is a map, got {str(d)[:100]!r}")
    if d.get("ok"):
        return TxResult(
            ok=True,
            tx=_hash_hex(d.get("tx")),
            height=int(d["height"]) if d.get("height") is not None else None,
            results=list(d.get("results") or []),
        )
    details = d.get("details")
    return TxResult(
        ok=False,
        tx=_hash_hex(d.get("tx")),
        code=int(d.get("code", 0)),
        message=str(d.get("message", "")),
        details=dict(details) if isinstance(details, dict) else {},
    )


def tx_result_error(
    result: TxResult, status: int, results: list[TxResult] | None = None
) -> RelayApiError:
    """A refused transaction result as an exception."""
    return RelayApiError(
        result.code or Code.BAD_REQUEST,
        result.message,
        result.details,
        status=status if status >= 400 else http_status(result.code or Code.BAD_REQUEST),
        results=results,
    )


def parse_ibtp_status(d: Any) -> IbtpStatus:
    try:
        status = TxStatus(int(d["status"]))
        return IbtpStatus(
            id=str(d["id"]),
            status=status,
            status_name=str(d.get("status_name", status.name)),
            final=bool(d.get("final", status.is_final)),
            hash=bytes(d.get("hash") or b""),
            timeout=int(d.get("timeout", 0)),
            history=[(TxStatus(int(s)), int(h)) for s, h in d.get("history", [])],
            result=bytes(d.get("result") or b""),
            last_refusal=_refusal(d.get("last_refusal")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RelayResponseError(f"IBTP status record has a bad field: {exc!r}") from None


def _refusal(v: Any) -> dict[str, Any] | None:
    return dict(v) if isinstance(v, dict) and type(v.get("code")) is int else None


def describe_wait_timeout(
    ibtp_id: str, timeout: float, last: IbtpStatus | None, refusal: dict[str, Any] | None
) -> str:
    """Why :meth:`wait_final` gave up, and where to look: the side that has not acted."""
    head = f"{ibtp_id} is not final after {timeout:g}s"
    if last is None:
        if refusal is not None:
            return (
                f"{head}: the relay has not recorded it; the relay refused it: "
                f"{describe_refusal(refusal)}. Fix what that says on the source side; "
                "the source chain's gateway then resubmits it"
            )
        return (
            f"{head}: the relay has not recorded it, so the source chain's gateway has "
            "not submitted it; check the source chain's gateway (is it running, is it "
            "registered, does it see the broker's event?)"
        )
    why = {
        TxStatus.BEGIN: "the relay routed it and the destination chain has not answered; "
        "check the destination chain's gateway",
        TxStatus.BEGIN_FAILURE: "the relay could not route it and waits for the source "
        "chain to acknowledge the rollback; check the source chain's gateway",
        TxStatus.BEGIN_ROLLBACK: "it timed out and waits for the destination chain: its "
        "broker either ran the call (its receipt still settles it) or gives it up (its "
        "acknowledgement lets the source roll back); check the destination chain's gateway",
        TxStatus.SOURCE_ROLLBACK: "the destination gave it up; it waits for the source "
        "chain to acknowledge the rollback; check the source chain's gateway",
    }.get(last.status, "wait longer")
    out = f"{head} (status {last.status_name}): {why}"
    if refusal is not None:
        out += f"; the relay's last refusal of it: {describe_refusal(refusal)}"
    return out


def parse_outbound_entry(chain: str, d: Any) -> OutboundEntry:
    try:
        return OutboundEntry(
            chain=chain,
            seq=int(d["seq"]),
            ibtp=bytes(d["ibtp"]),
            status=TxStatus(int(d["status"])),
            sigs=[bytes(s) for s in d.get("sigs", [])],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RelayResponseError(f"outbound entry has a bad field: {exc!r}") from None


def parse_outbound_page(chain: str, d: Any) -> OutboundPage:
    if not isinstance(d, dict) or not isinstance(d.get("entries"), list):
        raise RelayResponseError(f"outbound answer is {{entries, last_seq}}, got {str(d)[:100]!r}")
    return OutboundPage(
        entries=[parse_outbound_entry(chain, e) for e in d["entries"]],
        last_seq=int(d.get("last_seq", 0)),
    )


def parse_stream_frame(chain: str, message: bytes | str) -> OutboundPage:
    """One frame of ``WS /v1/stream/{chain}``: binary msgpack ``{entries, last_seq}``."""
    try:
        if isinstance(message, bytes):
            data = msgpack.unpackb(message, raw=False, strict_map_key=False)
        else:
            data = from_json(json.loads(message))
    except (ValueError, msgpack.UnpackException) as exc:
        raise RelayResponseError(f"stream frame does not decode: {exc}"[:300]) from None
    if isinstance(data, dict) and "code" in data and "entries" not in data:
        raise api_error(400, data)
    return parse_outbound_page(chain, data)


def stream_refusal(close_code: int | None, reason: str, url: str) -> RelayApiError | None:
    """The refusal a stream close stands for: codes 4000-4999 are the relay refusing
    the request (docs/api.md), with ``"[code] message"`` as the reason; None for any
    other close (the connection broke: reconnect)."""
    if close_code is None or not 4000 <= close_code <= 4999:
        return None
    code, _, message = reason.partition("] ")
    relay_code = int(code[1:]) if code.startswith("[") and code[1:].isdigit() else None
    return RelayApiError(
        relay_code or Code.BAD_REQUEST,
        message if relay_code else reason or f"the relay closed the stream with {close_code}",
        {"url": url, "close_code": close_code},
        status=close_code - 4000,
    )


def ibtp_id_of(encoded: bytes) -> str:
    """The IBTP ID of canonical IBTP bytes, read without full validation."""
    try:
        obj = msgpack.unpackb(encoded, raw=False)
        return compute_ibtp_id(obj[1], obj[2], obj[3])
    except Exception:
        return "?"


#: Refusals that apply to every later IBTP of the same pair (the counter did not move).
_PAIR_CODES = frozenset({Code.INDEX_GAP, Code.INDEX_WINDOW})
#: Refusals about the submitting chain or the signer, not the message.
_SUBMITTER_CODES = frozenset({Code.UNAUTHORIZED, Code.CHAIN_NOT_ACTIVE, Code.WRONG_SUBMITTER})


def _ibtp_head(encoded: bytes) -> tuple[str, str, int, str] | None:
    """(from, to, index, submitting chain) of canonical IBTP bytes, or None."""
    try:
        obj = msgpack.unpackb(encoded, raw=False)
        src, dst, index, typ = obj[1], obj[2], int(obj[3]), int(obj[4])
        submitter = dst if typ in (1, 2) else src
        return src, dst, index, submitter.split(":")[1]
    except Exception:
        return None


def is_doomed_by(code: int, culprit: bytes, later: bytes) -> bool:
    """Would ``later`` (after ``culprit`` in one transaction) be refused for the same
    reason ``culprit`` was? Saves a round trip per IBTP when a whole run fails."""
    a, b = _ibtp_head(culprit), _ibtp_head(later)
    if a is None or b is None:
        return False
    if code in _PAIR_CODES:
        return (a[0], a[1]) == (b[0], b[1]) and b[2] >= a[2]
    if code in _SUBMITTER_CODES:
        return a[3] == b[3]
    return False


def _ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ``indices`` as half-open ranges."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def quote_segment(s: str) -> str:
    return quote(s, safe=":~@")


# --- the client core ------------------------------------------------------------


class ClientBase:
    """Request building, response parsing, nonce tracking and flows; no I/O.

    ``base_url`` is the relay's API root (``http://127.0.0.1:8710``); ``account``
    signs writes; ``hub_id`` is read from ``/v1/status`` on first need unless given.
    The nonce is read from ``/v1/accounts/{address}`` once, then counted locally;
    a NONCE_USED / NONCE_GAP refusal resets it from ``details.expected``.
    """

    def __init__(
        self,
        base_url: str,
        account: AccountLike | None = None,
        *,
        hub_id: str | None = None,
        timeout: float = 10.0,
        commit_timeout: float = 60.0,
        poll_interval: float = 0.05,
        max_poll_interval: float = 1.0,
        max_txs_per_request: int = 64,
        max_ibtps_per_tx: int = MAX_IBTPS_PER_TX,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url {base_url!r} must be http(s)://host:port[/prefix]")
        if not 1 <= max_txs_per_request <= MAX_TXS_PER_REQUEST:
            raise ValueError(f"max_txs_per_request must be 1..{MAX_TXS_PER_REQUEST}")
        if not 1 <= max_ibtps_per_tx <= MAX_IBTPS_PER_TX:
            raise ValueError(f"max_ibtps_per_tx must be 1..{MAX_IBTPS_PER_TX}")
        self.base_url = base_url.rstrip("/")
        self.account: Account | None = None if account is None else as_account(account)
        self.hub_id = hub_id
        self.timeout = timeout
        self.commit_timeout = commit_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_txs_per_request = max_txs_per_request
        self.max_ibtps_per_tx = max_ibtps_per_tx
        #: Next nonce to sign with; None = ask the relay.
        self.next_nonce: int | None = None

    # --- requests ---------------------------------------------------------------

    def build_request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> httpx.Request:
        headers = {"Accept": MSGPACK, "User-Agent": USER_AGENT}
        if content is not None:
            headers["Content-Type"] = MSGPACK
        t = httpx.Timeout(self.timeout if timeout is None else timeout)
        return httpx.Request(
            method,
            self.base_url + path,
            params=params,
            headers=headers,
            content=content,
            extensions={"timeout": t.as_dict()},
        )

    def build_submit(self, txs: Sequence[Transaction], wait_commit: bool) -> httpx.Request:
        if not 1 <= len(txs) <= MAX_TXS_PER_REQUEST:
            raise ValueError(f"submit 1-{MAX_TXS_PER_REQUEST} transactions per request")
        body = msgpack.packb([encode_tx(tx) for tx in txs], use_bin_type=True)
        return self.build_request(
            "POST",
            "/v1/txs",
            params={"wait": "commit"} if wait_commit else None,
            content=body,
            timeout=self.commit_timeout if wait_commit else None,
        )

    def stream_url(self, chain: str, from_seq: int) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = f"{parts.path}/v1/stream/{quote_segment(chain)}"
        return urlunsplit((scheme, parts.netloc, path, f"from_seq={from_seq}", ""))

    # --- responses --------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Any:
        """The decoded body of a 2xx answer; a refusal raises its RelayApiError."""
        data = decode_body(response)
        if not 200 <= response.status_code < 300:
            raise api_error(response.status_code, data)
        return data

    def parse_submit(self, response: httpx.Response, count: int) -> list[TxResult]:
        """Per-transaction results of ``POST /v1/txs`` (one per transaction sent).

        A refusal of the whole request (bad body, 413, undecodable transaction)
        raises; so does an answer that does not line up with what was sent.
        """
        data = decode_body(response)
        raw = data.get("results") if isinstance(data, dict) else None
        if isinstance(raw, list) and len(raw) == count:
            return [parse_tx_result(r) for r in raw]
        if not 200 <= response.status_code < 300:
            raise api_error(response.status_code, data)
        raise RelayResponseError(
            f"submit answer has {len(raw) if isinstance(raw, list) else 'no'} results "
            f"for {count} transactions",
            status=response.status_code,
        )

    # --- nonces -----------------------------------------------------------------

    def require_account(self) -> Account:
        if self.account is None:
            raise RelayError(
                Code.BAD_REQUEST, "this client has no account; pass account=Account(...) to sign"
            )
        return self.account

    def sign(self, kind: str, body: Any) -> Transaction:
        """Sign ``body`` as the next transaction of the client's account (call after
        :meth:`_signer_flow`, which makes ``hub_id`` and ``next_nonce`` known)."""
        account = self.require_account()
        if self.hub_id is None or self.next_nonce is None:
            raise RuntimeError("sign() before the hub id and nonce are known")
        tx = sign_tx(account, self.hub_id, self.next_nonce, kind, body)
        self.next_nonce += 1
        return tx

    def observe_results(self, txs: Sequence[Transaction], results: Sequence[TxResult]) -> None:
        """Bring ``next_nonce`` in line with what the relay did with our transactions:
        the first refused one's nonce (or ``details.expected``) is next; if all were
        admitted, the one after the last."""
        if self.account is None:
            return
        me = self.account.address
        mine = [(tx, r) for tx, r in zip(txs, results, strict=True) if tx.sender == me]
        for tx, r in mine:
            if not r.ok:
                expected = r.details.get("expected") if r.code in _NONCE_CODES else None
                self.next_nonce = int(expected) if type(expected) is int else tx.nonce
                return
        if mine:
            self.next_nonce = max(self.next_nonce or 0, mine[-1][0].nonce + 1)

    def _forget_nonce(self, txs: Sequence[Transaction], refused_whole: bool) -> None:
        if self.account is None:
            return
        mine = [tx.nonce for tx in txs if tx.sender == self.account.address]
        if mine:
            # A whole-request refusal (4xx) admitted nothing; otherwise we cannot know.
            self.next_nonce = min(mine) if refused_whole else None

    # --- flows: reads -----------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Flow[Any]:
        response = yield Call(self.build_request("GET", path, params=params))
        return self.parse_response(response)

    def _status_flow(self) -> Flow[dict[str, Any]]:
        data = yield from self._get("/v1/status")
        if self.hub_id is None and isinstance(data, dict):
            self.hub_id = data.get("hub_id")
        return _dict(data)

    def _account_flow(self, address: str) -> Flow[dict[str, Any]]:
        return _dict((yield from self._get(f"/v1/accounts/{quote_segment(address)}")))

    def _chain_flow(self, chain_id: str) -> Flow[dict[str, Any]]:
        return _dict((yield from self._get(f"/v1/chains/{quote_segment(chain_id)}")))

    def _chains_flow(self) -> Flow[list[dict[str, Any]]]:
        data = yield from self._get("/v1/chains")
        if not isinstance(data, list):
            raise RelayResponseError(f"/v1/chains answers a list, got {str(data)[:100]!r}")
        return data

    def _chain_pairs_flow(self, chain_id: str) -> Flow[list[dict[str, Any]]]:
        data = yield from self._get(f"/v1/chains/{quote_segment(chain_id)}/pairs")
        if not isinstance(data, list):
            raise RelayResponseError(f"chain pairs answer a list, got {str(data)[:100]!r}")
        return [_dict(p) for p in data]

    def _service_flow(self, service_id: str) -> Flow[dict[str, Any]]:
        service_id = canonical_service_id(service_id)
        return _dict((yield from self._get(f"/v1/services/{quote_segment(service_id)}")))

    def _pair_flow(self, src: str, dst: str) -> Flow[dict[str, Any]]:
        src, dst = canonical_service_id(src), canonical_service_id(dst)
        path = f"/v1/pairs/{quote_segment(src)}/{quote_segment(dst)}"
        return _dict((yield from self._get(path)))

    def _ibtp_status_flow(self, ibtp_id: str) -> Flow[IbtpStatus]:
        ibtp_id = canonical_ibtp_id(ibtp_id)
        return parse_ibtp_status((yield from self._get(f"/v1/ibtps/{quote_segment(ibtp_id)}")))

    def _block_flow(self, ref: int | str, txs: bool) -> Flow[dict[str, Any]]:
        if not (ref == "latest" or (isinstance(ref, int) and ref >= 0)):
            raise ValueError("block reference is a height (int >= 0) or 'latest'")
        data = yield from self._get(f"/v1/blocks/{ref}", {"txs": "1"} if txs else None)
        return _dict(data)

    def _tx_flow(self, tx_hash: bytes | str) -> Flow[dict[str, Any]]:
        h = tx_hash.hex() if isinstance(tx_hash, bytes) else tx_hash.removeprefix("0x")
        return _dict((yield from self._get(f"/v1/txs/{h}")))

    def _outbound_flow(self, chain: str, from_seq: int, limit: int) -> Flow[OutboundPage]:
        params = {"from_seq": max(from_seq, 1), "limit": limit}
        data = yield from self._get(f"/v1/outbound/{quote_segment(chain)}", params)
        return parse_outbound_page(chain, data)

    def _wait_final_flow(self, ibtp_id: str, timeout: float) -> Flow[IbtpStatus]:
        """Poll ``/v1/ibtps/{id}`` with backoff until the status is final."""
        ibtp_id = canonical_ibtp_id(ibtp_id)
        deadline = (yield Clock()) + timeout
        delay = self.poll_interval
        last: IbtpStatus | None = None
        refusal: dict[str, Any] | None = None
        while True:
            try:
                last = yield from self._ibtp_status_flow(ibtp_id)
                if last.final:
                    return last
                refusal = last.last_refusal
            except RelayApiError as exc:
                if exc.code not in _NOT_YET:  # not committed yet: keep waiting
                    raise
                refusal = _refusal(exc.details.get("last_refusal")) or refusal
            now = yield Clock()
            if now >= deadline:
                raise RelayTimeoutError(
                    describe_wait_timeout(ibtp_id, timeout, last, refusal),
                    ibtp_id=ibtp_id,
                    last_status=None if last is None else int(last.status),
                    last_refusal=refusal,
                )
            yield Sleep(min(delay, deadline - now))
            delay = min(delay * 1.6, self.max_poll_interval)

    # --- flows: writes ----------------------------------------------------------

    def _signer_flow(self) -> Flow[None]:
        """Make the hub ID and the account's next nonce known."""
        account = self.require_account()
        if self.hub_id is None:
            yield from self._status_flow()
            if self.hub_id is None:
                raise RelayResponseError("/v1/status did not name the hub_id")
        if self.next_nonce is None:
            data = yield from self._account_flow(account.address)
            self.next_nonce = int(data.get("nonce", 0)) + 1

    def _post_txs_flow(
        self, txs: list[Transaction], wait_commit: bool
    ) -> Flow[tuple[list[TxResult], int]]:
        """POST ``txs``, parse the per-transaction results and keep the nonce count in
        step with what the relay admitted; returns (results, HTTP status)."""
        request = self.build_submit(txs, wait_commit)
        try:
            response = yield Call(request)
        except RelayConnectionError:
            self._forget_nonce(txs, refused_whole=False)
            raise
        try:
            results = self.parse_submit(response, len(txs))
        except RelayError:
            self._forget_nonce(txs, refused_whole=400 <= response.status_code < 500)
            raise
        self.observe_results(txs, results)
        return results, response.status_code

    def _submit_flow(self, txs: Sequence[Transaction], wait_commit: bool) -> Flow[list[TxResult]]:
        results, status = yield from self._post_txs_flow(list(txs), wait_commit)
        if not any(r.ok for r in results):
            raise tx_result_error(results[0], status, results)
        return results

    def _send_flow(self, kind: str, body: Any, wait_commit: bool) -> Flow[TxResult]:
        """Sign with the next nonce and submit; one retry after a nonce resync."""
        for attempt in range(2):
            yield from self._signer_flow()
            tx = self.sign(kind, body)
            try:
                results = yield from self._submit_flow([tx], wait_commit)
            except RelayApiError as exc:
                if exc.code in _NONCE_CODES and attempt == 0:
                    continue
                raise
            return results[0]
        raise AssertionError("unreachable")

    def _submit_ibtps_flow(
        self, ibtps: Iterable[IBTP | bytes], wait_commit: bool
    ) -> Flow[list[IbtpResult]]:
        """Batch IBTPs into ``ibtp`` transactions and submit them in order.

        Up to ``max_ibtps_per_tx`` IBTPs a transaction, ``max_txs_per_request``
        transactions a request. A transaction refused because of one IBTP (the
        refusal's ``details.item``) is split around it and the rest resent, so every
        IBTP ends with its own result. Transactions refused only because an earlier
        one left a nonce gap, or because the mempool was full, are resent.
        """
        from relay.ibtp import encode_ibtp

        items = [x if isinstance(x, bytes) else encode_ibtp(x) for x in ibtps]
        out: list[IbtpResult | None] = [None] * len(items)
        step = self.max_ibtps_per_tx
        queue = [(s, min(s + step, len(items))) for s in range(0, len(items), step)]
        stalled = 0
        while queue:
            yield from self._signer_flow()
            batch, queue = queue[: self.max_txs_per_request], queue[self.max_txs_per_request :]
            txs = [self.sign("ibtp", items[s:e]) for s, e in batch]
            results, http_status = yield from self._post_txs_flow(txs, wait_commit)
            retry: list[tuple[int, int]] = []
            backoff = 0.0
            progress = False
            for (s, e), r in zip(batch, results, strict=True):
                if r.ok:
                    progress = True
                    for i, item in enumerate(r.results):
                        out[s + i] = IbtpResult(
                            ibtp_id=str(item[0]),
                            status=TxStatus(int(item[1])),
                            duplicate=bool(item[2]),
                            reason=str(item[3]) if len(item) > 3 else "",
                            tx=r.tx,
                        )
                    continue
                if r.code in _NONCE_CODES:
                    retry.append((s, e))
                    continue
                if r.code == Code.MEMPOOL_FULL:
                    retry.append((s, e))
                    backoff = max(backoff, float(r.details.get("retry_after", 0.5)))
                    continue
                progress = True
                error = tx_result_error(r, http_status)
                bad = r.details.get("item")
                if type(bad) is int and 0 <= bad < e - s:
                    # Resend the rest, except the IBTPs the same refusal dooms.
                    culprit = s + bad
                    out[culprit] = IbtpResult(ibtp_id_of(items[culprit]), tx=r.tx, error=error)
                    keep = list(range(s, culprit))
                    for i in range(culprit + 1, e):
                        if is_doomed_by(error.code, items[culprit], items[i]):
                            out[i] = IbtpResult(ibtp_id_of(items[i]), tx=r.tx, error=error)
                        else:
                            keep.append(i)
                    retry += _ranges(keep)
                else:
                    for i in range(s, e):
                        out[i] = IbtpResult(ibtp_id_of(items[i]), tx=r.tx, error=error)
            queue = sorted(retry + queue)
            stalled = 0 if progress else stalled + 1
            if stalled > 8:
                raise tx_result_error(next(r for r in results if not r.ok), http_status, results)
            if backoff:
                yield Sleep(backoff)
        final = [r for r in out if r is not None]
        if len(final) != len(items):
            raise AssertionError("every IBTP has a result")
        if final and all(r.error is not None for r in final):
            first = final[0].error
            assert first is not None
            raise first
        return final

    def _register_chain_flow(
        self,
        chain_id: str,
        family: str,
        trust_root: Any,
        broker: str,
        gateways: Sequence[str] | None,
        name: str,
        desc: str,
        wait_commit: bool,
    ) -> Flow[TxResult]:
        body: dict[str, Any] = {
            "id": chain_id,
            "family": family,
            "trust_root": trust_root,
            "broker": broker,
            "name": name,
            "desc": desc,
        }
        if gateways:
            body["gateways"] = list(gateways)
        return (yield from self._send_flow("chain.register", body, wait_commit))

    def _register_service_flow(
        self,
        service: str,
        chain: str | None,
        allow: Sequence[str],
        deny: Sequence[str],
        name: str,
        wait_commit: bool,
    ) -> Flow[TxResult]:
        if chain is not None:
            if self.hub_id is None:
                yield from self._status_flow()
            service = f"{self.hub_id}:{chain}:{service}"
        body: dict[str, Any] = {
            "service": canonical_service_id(service),
            "allow": [canonical_service_id(s) for s in allow],
            "deny": [canonical_service_id(s) for s in deny],
        }
        if name:
            body["name"] = name
        return (yield from self._send_flow("service.register", body, wait_commit))


def _dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RelayResponseError(f"expected a map, got {str(data)[:100]!r}")
    return data


def drive_sync(
    flow: Flow[T],
    send: Callable[[httpx.Request], httpx.Response],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> T:
    """Run a flow with blocking I/O: ``send`` answers :class:`Call`, and so on."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        if isinstance(step, Call):
            try:
                value = send(step.request)
            except httpx.TransportError as exc:
                error = connection_error(step.request, exc)
        elif isinstance(step, Sleep):
            sleep(step.seconds)
        else:
            value = clock()


def connection_error(request: httpx.Request, exc: Exception) -> RelayConnectionError:
    """An httpx transport failure as the SDK's RelayConnectionError (mapped at the edge)."""
    url = str(request.url.copy_with(query=None))
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return RelayConnectionError(
        f"{request.method} {url} {kind} ({type(exc).__name__}: {exc}); "
        "check that the relay is running (`relayhub relay start`) and the URL is right",
        url=url,
    )
