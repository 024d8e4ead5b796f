"""Deterministic block execution: the relay's state transition function.

``Executor.begin_block`` (timeouts) and ``Executor.apply_tx`` are the only ways
state changes. Both read and write a :class:`StateView` and nothing else: no
clock, no I/O, no iteration over unordered sets, so a follower that replays the
same blocks reaches the same state (docs/ledger.md). A transaction either applies
whole or raises a :class:`RelayError` and leaves the view untouched (the caller
runs it in a child layer and drops the layer on error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from relay.crypto import Address, lower_if_address, normalize_address
from relay.errors import Code, ProofError, RelayError
from relay.genesis import Genesis
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_ibtp_hash,
    compute_ibtp_id,
    decode_ibtp,
    encode_ibtp_unproven,
    parse_ibtp_id,
    parse_service_id,
)
from relay.ibtp.ids import ServiceID, is_valid_chain_id, is_valid_service_part
from relay.interchain.machine import Event, compute_next_status
from relay.ledger.state import StateView
from relay.ledger.types import Transaction, TxReceipt, verify_tx_signature
from relay.validation.base import ChainContext, Registration
from relay.validation.registry import VerifierRegistry

MAX_IBTPS_PER_TX = 4096

# Chain and service statuses.
PENDING, ACTIVE, REJECTED, FROZEN = "PENDING", "ACTIVE", "REJECTED", "FROZEN"
WITHDRAWN = "WITHDRAWN"
#: A rejected or withdrawn registration frees its chain ID for a new one.
_RELEASED = (REJECTED, WITHDRAWN)
#: PENDING registrations one key may hold at a time (chain.register spam).
MAX_PENDING_PER_KEY = 4

# Indices into a tx record:
# [status, ibtp_hash, timeout_height, history, receipt_hash, result]
# ``result`` is what the destination returned (or its failure reason), from the receipt.
R_STATUS, R_HASH, R_TIMEOUT, R_HISTORY, R_RECEIPT, R_RESULT = range(6)


def pair_key(src: str, dst: str) -> str:
    return f"pair/{src}~{dst}"


def tx_key(ibtp_id: str) -> str:
    return f"tx/{ibtp_id}"


def timeout_prefix(height: int) -> str:
    return f"timeout/{height:016x}/"


def out_key(chain: str, seq: int) -> str:
    return f"out/{chain}/{seq:016x}"


def pending_key(registrar: str) -> str:
    """How many PENDING registrations ``registrar`` holds."""
    return f"pending/{registrar}"


def prior_key(chain: str, n: int) -> str:
    """The ``n``-th (from 0) earlier, rejected or withdrawn, registration of ``chain``."""
    return f"chainprior/{chain}/{n:08x}"


class _IbtpTxScope:
    """Reads memoised for the length of one ``ibtp`` transaction.

    An ``ibtp`` transaction writes no ``chain/`` or ``svc/`` record, so within it
    those records (and parsed service IDs, and each submitting chain's verifier
    context) are read once instead of once per IBTP. The memo lives only as long as
    the transaction, so it never outlives a state it was read from."""

    __slots__ = ("chains", "noop_acks", "records", "sids")

    def __init__(self) -> None:
        self.chains: dict[str, tuple[dict[str, Any], ChainContext]] = {}
        #: destination acknowledgements taken as no-ops in this transaction, by
        #: (chain, IBTP hash, proof): a copy of one is not verified again (each verify
        #: is a proof check; thousands of copies in one transaction must not cost
        #: thousands — every other repeated IBTP is recognised without a proof check).
        self.noop_acks: set[tuple[str, bytes, bytes]] = set()
        self.records: dict[str, Any] = {}
        self.sids: dict[str, ServiceID] = {}

    def service_id(self, text: str) -> ServiceID:
        sid = self.sids.get(text)
        if sid is None:
            sid = self.sids[text] = parse_service_id(text)
        return sid

    def record(self, view: StateView, key: str) -> Any:
        """``view.get(key)`` for a ``chain/`` or ``svc/`` key, memoised."""
        try:
            return self.records[key]
        except KeyError:
            v = self.records[key] = view.get(key)
            return v


@dataclass(frozen=True, slots=True)
class Outbound:
    """An IBTP the relay routes to a chain, with the status its relay proof announces."""

    chain: str
    seq: int
    ibtp: bytes
    status: int


class Executor:
    def __init__(self, genesis: Genesis, verifiers: VerifierRegistry) -> None:
        self.genesis = genesis
        self.hub_id = genesis.hub_id
        self.verifiers = verifiers
        self._admins = frozenset(genesis.admins)
        # Parsed trust roots keyed by (chain id, height the root took effect).
        self._roots: dict[tuple[str, int], Any] = {}

    # --- blocks ---------------------------------------------------------------

    def begin_block(self, view: StateView, height: int) -> int:
        """Process timeouts due at ``height``: BEGIN -> BEGIN_ROLLBACK, and a rollback
        notice to the destination only. The source is told once the destination has
        acknowledged that it consumed the index without running it (SOURCE_ROLLBACK);
        a destination that had run it sends its receipt instead, which still counts.

        Returns how many transactions timed out."""
        prefix = timeout_prefix(height)
        due = sorted((parse_ibtp_id(k[len(prefix) :]), k) for k, _ in view.scan(prefix))
        for (src, dst, index), key in due:
            ibtp_id = compute_ibtp_id(src, dst, index)
            view.delete(key)
            rec = view.get(tx_key(ibtp_id))
            if rec is None or rec[R_STATUS] != TxStatus.BEGIN:
                continue
            status = compute_next_status(TxStatus(rec[R_STATUS]), Event.TIMEOUT)
            self._set_status(view, ibtp_id, rec, status, height)
            self._route(view, parse_service_id(dst).chain, _notice(src, dst, index), status)
            self._add_meta(view, "open_timeouts", -1)
        return len(due)

    def has_open_timeouts(self, view: StateView) -> bool:
        return int(view.get("meta/open_timeouts", 0)) > 0

    # --- transactions ---------------------------------------------------------

    def apply_tx(self, view: StateView, tx: Transaction, height: int, index: int) -> TxReceipt:
        if tx.hub_id != self.hub_id:
            raise RelayError(
                Code.WRONG_HUB, f"transaction is for hub {tx.hub_id!r}; this is hub {self.hub_id!r}"
            )
        verify_tx_signature(tx)
        last = int(view.get(f"acct/{tx.sender}", 0))
        if tx.nonce <= last:
            raise RelayError(
                Code.NONCE_USED,
                f"nonce {tx.nonce} of {tx.sender} was already used (replay?); next is {last + 1}",
                expected=last + 1,
            )
        if tx.nonce != last + 1:
            raise RelayError(
                Code.NONCE_GAP,
                f"nonce {tx.nonce} skips ahead; {tx.sender}'s next nonce is {last + 1}",
                expected=last + 1,
            )
        handler = self._HANDLERS.get(tx.kind)
        if handler is None:
            raise RelayError(
                Code.UNKNOWN_TX_KIND,
                f"unknown transaction kind {tx.kind!r}; one of {', '.join(sorted(self._HANDLERS))}",
            )
        results = handler(self, view, tx, height)
        view.set(f"acct/{tx.sender}", tx.nonce)
        return TxReceipt(tx.hash, height, index, tuple(results))

    # --- registry -------------------------------------------------------------

    def _chain_register(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        b = _body_dict(
            tx.body, {"id", "family", "trust_root", "broker"}, {"gateways", "name", "desc"}
        )
        cid = b["id"]
        if not is_valid_chain_id(cid):
            raise RelayError(Code.FIELD_TYPE, "chain id must be 1-64 chars of A-Z a-z 0-9 _ . -")
        old = view.get(f"chain/{cid}")
        if old is not None and old["status"] not in _RELEASED:
            hint = (
                "; a PENDING registration frees its ID when its registrar withdraws it "
                "(chain.withdraw) or an admin rejects it"
                if old["status"] == PENDING
                else ""
            )
            raise RelayError(
                Code.CHAIN_EXISTS,
                f"chain {cid!r} is already registered ({old['status']}); choose another "
                f"chain ID{hint}",
            )
        pending = int(view.get(pending_key(tx.sender), 0))
        if pending >= MAX_PENDING_PER_KEY:
            raise RelayError(
                Code.TOO_MANY_PENDING,
                f"{tx.sender} already holds {pending} PENDING registrations, the most one key "
                f"may hold ({MAX_PENDING_PER_KEY}); wait for an admin's decision or withdraw "
                "one (chain.withdraw)",
                limit=MAX_PENDING_PER_KEY,
            )
        family = b["family"]
        if not isinstance(family, str):
            raise RelayError(Code.FIELD_TYPE, "family must be a string")
        broker = b["broker"]
        if not isinstance(broker, str) or not 1 <= len(broker) <= 128:
            raise RelayError(Code.FIELD_TYPE, "broker must be a 1-128 character string")
        reg = self._check_registration(family, b["trust_root"], broker)
        gateways = b.get("gateways", [])
        if not isinstance(gateways, list) or len(gateways) > 16:
            raise RelayError(Code.FIELD_TYPE, "gateways must be a list of 1-16 addresses")
        gateways = gateways or [tx.sender]  # absent or empty: the sender is the gateway
        gws = sorted({normalize_address(g) for g in gateways})
        name, desc = _text(b, "name", 128), _text(b, "desc", 1024)
        prior = 0
        if old is not None:
            # Re-registration of a released ID: the earlier record is kept whole under
            # chainprior/, the new one counts how many came before it.
            prior = int(old.get("prior", 0))
            view.set(prior_key(cid, prior), old)
            prior += 1
        rec = {
            "id": cid,
            "family": family,
            "trust_roots": [[height, b["trust_root"]]],
            "broker": reg.broker,
            "gateways": gws,
            "status": PENDING,
            "name": name,
            "desc": desc,
            "registrar": tx.sender,
            "registered_at": height,
            "history": [[PENDING, height]],
        }
        if prior:
            rec["prior"] = prior
        view.set(f"chain/{cid}", rec)
        view.set(pending_key(tx.sender), pending + 1)
        return [cid, PENDING]

    def _check_registration(self, family: str, trust_root: Any, broker: str) -> Registration:
        reg = _guarded(
            Code.BAD_TRUST_ROOT,
            f"the {family} verifier failed on this registration",
            self.verifiers.get(family).check_registration,
            trust_root,
            broker,
        )
        if not isinstance(reg, Registration) or not isinstance(reg.broker, str):
            raise RelayError(
                Code.BAD_TRUST_ROOT,
                f"the {family} verifier's registration hook returned no Registration",
            )
        return reg

    def _release_pending(self, view: StateView, registrar: str) -> None:
        key = pending_key(registrar)
        left = int(view.get(key, 0)) - 1
        if left > 0:
            view.set(key, left)
        else:
            view.delete(key)

    def _chain_decide(
        self, view: StateView, tx: Transaction, height: int, approve: bool
    ) -> list[Any]:
        if tx.sender not in self._admins:
            raise RelayError(
                Code.UNAUTHORIZED, f"{tx.sender} is not a hub admin; only admins approve chains"
            )
        b = _body_dict(tx.body, {"id"}, set())
        rec = view.get(f"chain/{b['id']}") if is_valid_chain_id(b["id"]) else None
        if rec is None:
            raise RelayError(Code.UNKNOWN_CHAIN, f"chain {str(b['id'])[:64]!r} is not registered")
        if rec["status"] != PENDING:
            raise RelayError(Code.NOT_PENDING, f"chain {b['id']!r} is {rec['status']}, not PENDING")
        status = ACTIVE if approve else REJECTED
        view.set(
            f"chain/{b['id']}",
            {**rec, "status": status, "history": [*rec["history"], [status, height]]},
        )
        self._release_pending(view, rec["registrar"])
        return [b["id"], status]

    def _chain_withdraw(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        b = _body_dict(tx.body, {"id"}, set())
        cid = b["id"]
        rec = view.get(f"chain/{cid}") if is_valid_chain_id(cid) else None
        if rec is None:
            raise RelayError(Code.UNKNOWN_CHAIN, f"chain {str(cid)[:64]!r} is not registered")
        if tx.sender != rec["registrar"]:
            raise RelayError(
                Code.UNAUTHORIZED,
                f"{tx.sender} did not register chain {cid!r}; only its registrar "
                f"{rec['registrar']} may withdraw it",
            )
        if rec["status"] != PENDING:
            raise RelayError(
                Code.NOT_PENDING,
                f"chain {cid!r} is {rec['status']}, not PENDING; only a PENDING registration "
                "can be withdrawn",
            )
        view.set(
            f"chain/{cid}",
            {**rec, "status": WITHDRAWN, "history": [*rec["history"], [WITHDRAWN, height]]},
        )
        self._release_pending(view, rec["registrar"])
        return [cid, WITHDRAWN]

    def _chain_approve(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        return self._chain_decide(view, tx, height, True)

    def _chain_reject(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        return self._chain_decide(view, tx, height, False)

    def _service_register(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        if isinstance(tx.body, dict) and "ordered" in tx.body:
            raise RelayError(
                Code.FIELD_TYPE,
                "'ordered' is no longer a service option: every service takes its calls in "
                "index order (docs/protocol.md §3); drop the field",
            )
        b = _body_dict(tx.body, {"service"}, {"allow", "deny", "name"})
        sid = parse_service_id(b["service"])
        if sid.hub != self.hub_id:
            raise RelayError(Code.BAD_SERVICE_ID, f"service {sid} is not on hub {self.hub_id}")
        chain = self._active_chain(view, sid.chain)
        sid = ServiceID(sid.hub, sid.chain, self._canonical_service(chain["family"], sid.service))
        if tx.sender not in chain["gateways"] and tx.sender != chain["registrar"]:
            raise RelayError(
                Code.UNAUTHORIZED, f"{tx.sender} may not register services on chain {sid.chain}"
            )
        if view.get(f"svc/{sid}") is not None:
            raise RelayError(Code.SERVICE_EXISTS, f"service {sid} is already registered")
        svc_name = _text(b, "name", 128)
        lists = {}
        for name in ("allow", "deny"):
            items = b.get(name, [])
            if not isinstance(items, list) or len(items) > 256:
                raise RelayError(
                    Code.FIELD_TYPE, f"{name} must be a list of at most 256 service IDs"
                )
            lists[name] = sorted({self._canonical_entry(view, name, s) for s in items})
        view.set(
            f"svc/{sid}",
            {
                "id": str(sid),
                "chain": sid.chain,
                "allow": lists["allow"],
                "deny": lists["deny"],
                "name": svc_name,
                "status": ACTIVE,
                "registered_at": height,
            },
        )
        return [str(sid), ACTIVE]

    def _canonical_service(self, family: str, service: str) -> str:
        """``service`` (a service part) as the chain family spells it (BAD_SERVICE_ID)."""
        canonical = _guarded(
            Code.BAD_SERVICE_ID,
            f"the {family} verifier failed on service {service!r}",
            self.verifiers.get(family).canonical_service,
            service,
        )
        if not isinstance(canonical, str) or not is_valid_service_part(canonical):
            raise RelayError(
                Code.BAD_SERVICE_ID,
                f"the {family} verifier spells service {service!r} as {str(canonical)[:140]!r}, "
                "which is not a service ID part",
            )
        return canonical

    def _canonical_entry(self, view: StateView, name: str, text: Any) -> str:
        """An allow/deny entry as the full ID its chain's broker would emit for it."""
        entry = parse_service_id(text)
        if entry.hub != self.hub_id:
            raise RelayError(
                Code.BAD_SERVICE_ID,
                f"{name} entry {entry} is on hub {entry.hub!r}; only services of this hub "
                f"({self.hub_id!r}) call its services",
            )
        rec = view.get(f"chain/{entry.chain}")
        if rec is None:
            # A chain not registered yet has no family: the hub-wide rule, which every
            # family's spelling agrees with, is that an address is written lowercase.
            return f"{entry.hub}:{entry.chain}:{lower_if_address(entry.service)}"
        service = self._canonical_service(rec["family"], entry.service)
        return str(ServiceID(entry.hub, entry.chain, service))

    def _active_chain(self, view: StateView, chain_id: str) -> dict[str, Any]:
        rec = view.get(f"chain/{chain_id}")
        if rec is None:
            raise RelayError(
                Code.UNKNOWN_CHAIN, f"chain {chain_id!r} is not registered on this hub"
            )
        if rec["status"] != ACTIVE:
            raise RelayError(
                Code.CHAIN_NOT_ACTIVE, f"chain {chain_id!r} is {rec['status']}, not ACTIVE"
            )
        return rec

    def chain_context(self, rec: dict[str, Any]) -> ChainContext:
        height, raw = rec["trust_roots"][-1]
        key = (rec["id"], height)
        parsed = self._roots.get(key)
        if parsed is None:
            # A (chain, height) trust root never changes: rotation adds a new height.
            parsed = self.verifiers.get(rec["family"]).parse_trust_root(raw)
            self._roots[key] = parsed
        return ChainContext(
            hub_id=self.hub_id,
            chain_id=rec["id"],
            family=rec["family"],
            broker=rec["broker"],
            trust_root=parsed,
            trust_root_height=height,
        )

    # --- IBTPs ----------------------------------------------------------------

    def _ibtp(self, view: StateView, tx: Transaction, height: int) -> list[Any]:
        items = tx.body
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_IBTPS_PER_TX:
            raise RelayError(
                Code.FIELD_TYPE, f"an ibtp transaction carries 1-{MAX_IBTPS_PER_TX} encoded IBTPs"
            )
        results = []
        scope = _IbtpTxScope()
        for i, raw in enumerate(items):
            try:
                if not isinstance(raw, bytes):
                    raise RelayError(Code.FIELD_TYPE, "each IBTP is its canonical bytes")
                ibtp = decode_ibtp(raw)
                results.append(self._apply_ibtp(view, tx.sender, ibtp, height, scope))
            except RelayError as exc:
                exc.details.setdefault("item", i)
                raise
        return results

    def _apply_ibtp(
        self,
        view: StateView,
        sender: Address,
        ibtp: IBTP,
        height: int,
        scope: _IbtpTxScope,
    ) -> list[Any]:
        src, dst = scope.service_id(ibtp.src), scope.service_id(ibtp.dst)
        for s in (src, dst):
            if s.hub != self.hub_id:
                raise RelayError(
                    Code.WRONG_HUB,
                    f"{s} is on hub {s.hub!r}, but this relay is hub {self.hub_id!r}; "
                    "send IBTPs to the relay of the hub their service IDs name",
                )
        if src.chain == dst.chain:
            raise RelayError(Code.SAME_CHAIN, "from and to are on the same chain; call it locally")
        if ibtp.type == IBTPType.RECEIPT_ROLLBACK:
            sides = self._ack_sides(view, sender, src, dst, scope)
            ctx = sides[0][1]
        else:
            submitter = (
                dst if ibtp.type in (IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE) else src
            )
            rec, ctx = self._chain_ctx(view, submitter.chain, scope)
            if sender not in rec["gateways"]:
                other = dst if submitter is src else src
                other_rec = view.get(f"chain/{other.chain}")
                if other_rec is not None and sender in other_rec["gateways"]:
                    raise RelayError(
                        Code.WRONG_SUBMITTER,
                        f"{ibtp.type.name} {compute_ibtp_id(ibtp.src, ibtp.dst, ibtp.index)} "
                        f"was sent by a gateway of chain {other.chain}, but a "
                        f"{ibtp.type.name} is submitted by a gateway of chain "
                        f"{submitter.chain} (requests come from the source chain, receipts "
                        "from the destination)",
                    )
                raise RelayError(
                    Code.UNAUTHORIZED,
                    f"{sender} is not a registered gateway of chain {submitter.chain}; "
                    f"{ibtp.type.name} is submitted by that chain's gateway",
                )
        ibtp_id = compute_ibtp_id(ibtp.src, ibtp.dst, ibtp.index)
        ibtp_hash = compute_ibtp_hash(ibtp)
        if (
            ibtp.type == IBTPType.INTERCHAIN
            and ibtp.index > view.get(pair_key(ibtp.src, ibtp.dst), (0, 0))[0]
        ):
            # A request is recorded only together with its pair's counter raised to at
            # least its index (_accept_interchain), so an index past the counter has no
            # record: skip the lookup, a store miss for every new request.
            record = None
        else:
            record = view.get(tx_key(ibtp_id))
        if ibtp.type == IBTPType.INTERCHAIN:
            if record is not None:
                return self._duplicate(ibtp_id, record, record[R_HASH], ibtp_hash)
            self._check_index(view, src, dst, ibtp)
            self._verify(ctx, ibtp, ibtp_hash)
            return self._accept_interchain(view, ibtp, ibtp_id, ibtp_hash, src, dst, height, scope)
        if record is None:
            raise RelayError(
                Code.UNKNOWN_IBTP, f"{ibtp.type.name} for {ibtp_id}, which the relay has not seen"
            )
        if ibtp.type == IBTPType.RECEIPT_ROLLBACK:
            return self._apply_rollback_ack(
                view, ibtp, ibtp_id, ibtp_hash, record, sides, height, scope
            )
        if record[R_RECEIPT] and record[R_RECEIPT] == ibtp_hash:
            return [ibtp_id, record[R_STATUS], True]
        event = (
            Event.RECEIPT_SUCCESS
            if ibtp.type == IBTPType.RECEIPT_SUCCESS
            else Event.RECEIPT_FAILURE
        )
        prior = TxStatus(record[R_STATUS])
        status = compute_next_status(prior, event)
        self._verify(ctx, ibtp, ibtp_hash)
        # A receipt's result is the destination's answer.
        record = [
            *record[:R_RECEIPT],
            ibtp_hash,
            ibtp.payload.args[0] if ibtp.payload.args else b"",
        ]
        self._set_status(view, ibtp_id, record, status, height)
        if prior is TxStatus.BEGIN:
            # In BEGIN_ROLLBACK (a late receipt) begin_block has removed the timeout already.
            view.delete(timeout_prefix(record[R_TIMEOUT]) + ibtp_id)
            self._add_meta(view, "open_timeouts", -1)
        self._raise_receipt_counter(view, ibtp)
        self._route(view, src.chain, ibtp, status)
        return [ibtp_id, int(status), False]

    def _apply_rollback_ack(
        self,
        view: StateView,
        ibtp: IBTP,
        ibtp_id: str,
        ibtp_hash: bytes,
        record: list[Any],
        sides: list[tuple[bool, ChainContext]],
        height: int,
        scope: _IbtpTxScope,
    ) -> list[Any]:
        """A RECEIPT_ROLLBACK: the source's acknowledgement that it rolled back
        (ROLLBACK_ACK, ``from``'s chain), or the destination's that it consumed the
        index without running it (DST_ROLLBACK_ACK, ``to``'s chain). ``sides`` are the
        readings the sender allows, as (is the source, context), the source's first."""
        prior = TxStatus(record[R_STATUS])
        if sides[0][0] and record[R_RECEIPT] == ibtp_hash:
            return [ibtp_id, int(prior), True]  # the source's acknowledgement again
        only_destination = len(sides) == 1 and not sides[0][0]
        if only_destination and (sides[0][1].chain_id, ibtp_hash, ibtp.proof) in scope.noop_acks:
            return [ibtp_id, int(prior), True]  # the same no-op, verified above
        first: RelayError | None = None
        for is_source, ctx in sides:
            event = Event.ROLLBACK_ACK if is_source else Event.DST_ROLLBACK_ACK
            try:
                status = compute_next_status(prior, event)
                self._verify(ctx, ibtp, ibtp_hash)
            except RelayError as exc:
                # A gateway of both chains: the source's reading failed, try the other.
                first = first or exc
                continue
            break
        else:
            assert first is not None
            raise first
        if is_source:
            # The acknowledgement keeps the result the record holds (why the relay did
            # not route it, for BEGIN_FAILURE and a request expired at admission).
            record = [*record[:R_RECEIPT], ibtp_hash, record[R_RESULT]]
            self._set_status(view, ibtp_id, record, status, height)
            return [ibtp_id, int(status), False]
        if status is prior:
            # The destination consumed an index it was told to (a notice sent to both
            # chains), or says so again: taken, verified, nothing changes.
            scope.noop_acks.add((ctx.chain_id, ibtp_hash, ibtp.proof))
            return [ibtp_id, int(prior), True]
        # BEGIN_ROLLBACK -> SOURCE_ROLLBACK: the request will never run at the
        # destination, so now the source may roll back. The record keeps no hash of this
        # acknowledgement: the source's has the same IBTP hash and must not look repeated.
        self._set_status(view, ibtp_id, record, status, height)
        self._raise_receipt_counter(view, ibtp)
        self._route(
            view, parse_service_id(ibtp.src).chain, _notice(ibtp.src, ibtp.dst, ibtp.index), status
        )
        return [ibtp_id, int(status), False]

    @staticmethod
    def _raise_receipt_counter(view: StateView, ibtp: IBTP) -> None:
        """The pair's receipt counter: the highest index the destination answered (a
        receipt, or its acknowledgement that it gave the request up)."""
        pk = pair_key(ibtp.src, ibtp.dst)
        ic, rc = view.get(pk, (0, 0))
        view.set(pk, [ic, max(rc, ibtp.index)])

    def _chain_ctx(
        self, view: StateView, chain: str, scope: _IbtpTxScope
    ) -> tuple[dict[str, Any], ChainContext]:
        """The ACTIVE chain's record and verifier context (3001 / 3002), memoised."""
        cached = scope.chains.get(chain)
        if cached is None:
            rec = self._active_chain(view, chain)
            cached = scope.chains[chain] = (rec, self.chain_context(rec))
        return cached

    def _ack_sides(
        self, view: StateView, sender: Address, src: ServiceID, dst: ServiceID, scope: _IbtpTxScope
    ) -> list[tuple[bool, ChainContext]]:
        """Whose acknowledgement a RECEIPT_ROLLBACK from ``sender`` is: the source's when
        ``sender`` is a gateway of ``from``'s chain, the destination's when it is one of
        ``to``'s chain (both, source first, for a gateway of both chains). The chain must
        be ACTIVE (3001 / 3002); a gateway of neither is 2005 UNAUTHORIZED."""
        found: list[tuple[bool, ServiceID, bool]] = []
        for is_source, side in ((True, src), (False, dst)):
            rec = scope.record(view, f"chain/{side.chain}")
            if rec is not None and sender in rec["gateways"]:
                found.append((is_source, side, rec["status"] == ACTIVE))
        # A gateway of both chains, one of them not ACTIVE: the ACTIVE one's reading.
        chosen = [f for f in found if f[2]] or found[:1]
        sides = [
            (is_source, self._chain_ctx(view, side.chain, scope)[1])
            for is_source, side, _ in chosen
        ]
        if not sides:
            self._chain_ctx(view, src.chain, scope)
            raise RelayError(
                Code.UNAUTHORIZED,
                f"{sender} is a registered gateway of neither chain {src.chain} nor chain "
                f"{dst.chain}; a RECEIPT_ROLLBACK is submitted by a gateway of the chain whose "
                "broker emitted it (the source's acknowledgement, or the destination's)",
            )
        return sides

    def _verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        try:
            self.verifiers.get(ctx.family).verify(ctx, ibtp, ibtp_hash)
        except ProofError:
            raise
        except RelayError as exc:
            raise ProofError(exc.code, exc.message, **exc.details) from None
        except Exception as exc:  # a verifier bug must not take the node down
            raise ProofError(
                Code.PROOF_INVALID, f"{ctx.family} verifier failed on this proof: {exc!r}"[:300]
            ) from None

    @staticmethod
    def _duplicate(ibtp_id: str, record: list[Any], known: bytes, got: bytes) -> list[Any]:
        if known != got:
            raise RelayError(
                Code.CONFLICTING_DUPLICATE,
                f"{ibtp_id} was already accepted with different content; the source chain "
                "emitted two messages with one index",
                ibtp_id=ibtp_id,
            )
        return [ibtp_id, record[R_STATUS], True]

    @staticmethod
    def _check_index(view: StateView, src: ServiceID, dst: ServiceID, ibtp: IBTP) -> None:
        """Every pair is ordered: a request must carry exactly the pair's counter + 1."""
        ic, _ = view.get(pair_key(ibtp.src, ibtp.dst), (0, 0))
        if ibtp.index != ic + 1:
            raise RelayError(
                Code.INDEX_GAP,
                f"{src} -> {dst} expects index {ic + 1}, got {ibtp.index}; resend from {ic + 1}",
                expected=ic + 1,
            )

    def _accept_interchain(
        self,
        view: StateView,
        ibtp: IBTP,
        ibtp_id: str,
        ibtp_hash: bytes,
        src: ServiceID,
        dst: ServiceID,
        height: int,
        scope: _IbtpTxScope | None = None,
    ) -> list[Any]:
        """Record a proven request with the next index. Whatever else is wrong with it, it
        consumes its index, and the destination's broker learns of that index: as the call
        (BEGIN), or as a relay-signed notice that it will never execute (BEGIN_FAILURE when
        the relay cannot route it, BEGIN_ROLLBACK when its timeout had already passed). A
        refusal that left the index unconsumed would stall the pair for good."""
        timeout = ibtp.timeout or height + self.genesis.default_timeout_blocks
        pk = pair_key(ibtp.src, ibtp.dst)
        ic, rc = view.get(pk, (0, 0))
        view.set(pk, [max(ic, ibtp.index), rc])
        refusal = self._routing_refusal(view, src, dst, scope)
        if refusal is None and timeout <= height:
            refusal = (
                f"timeout height {timeout} had passed when the relay admitted it at height {height}"
            )
            status = compute_next_status(None, Event.INTERCHAIN_EXPIRED)
        elif refusal is not None:
            status = compute_next_status(None, Event.INTERCHAIN_REJECTED)
        else:
            status = compute_next_status(None, Event.INTERCHAIN_ACCEPTED)
        if refusal is None:
            view.set(timeout_prefix(timeout) + ibtp_id, 1)
            self._add_meta(view, "open_timeouts", 1)
            self._route(view, dst.chain, ibtp, status)
        else:
            self._route_notice(view, ibtp.src, ibtp.dst, ibtp.index, status)
        reason = refusal.encode() if refusal is not None else b""
        view.set(
            tx_key(ibtp_id),
            [int(status), ibtp_hash, timeout, [[int(status), height]], b"", reason],
        )
        out = [ibtp_id, int(status), False]
        if refusal is not None:
            out.append(refusal)
        return out

    def _route_notice(
        self, view: StateView, src: str, dst: str, index: int, status: TxStatus
    ) -> None:
        """Tell both chains at once that request ``index`` of (src -> dst), which the
        relay never routed, will not complete: a RECEIPT_ROLLBACK (no payload, timeout
        0). The source rolls back; the destination marks the index so its broker never
        executes it and moves past it. Safe only because the request was never routed
        (BEGIN_FAILURE, or expired at admission): a routed one's timeout tells the
        destination first (begin_block). The destination's notice is queued even if
        that chain is not registered (yet): a chain registered later reads its queue
        from the start."""
        note = _notice(src, dst, index)
        self._route(view, parse_service_id(src).chain, note, status)
        self._route(view, parse_service_id(dst).chain, note, status)

    def _routing_refusal(
        self,
        view: StateView,
        src: ServiceID,
        dst: ServiceID,
        scope: _IbtpTxScope | None = None,
    ) -> str | None:
        """Why a proven request cannot be delivered (it becomes BEGIN_FAILURE), or None."""
        get = view.get if scope is None else partial(scope.record, view)
        chain = get(f"chain/{dst.chain}")
        if chain is None or chain["status"] != ACTIVE:
            return f"destination chain {dst.chain} is not an active chain of this hub"
        svc = get(f"svc/{dst}")
        if svc is None:
            return f"destination service {dst} is not registered"
        if svc["status"] != ACTIVE:
            return f"destination service {dst} is {svc['status']}"
        if not svc["deny"] and not svc["allow"]:
            return None
        # The lists hold canonical IDs (service.register); compare the caller's.
        caller = str(src)
        src_chain = get(f"chain/{src.chain}")
        if src_chain is not None:
            try:
                canonical = self._canonical_service(src_chain["family"], src.service)
                caller = str(ServiceID(src.hub, src.chain, canonical))
            except RelayError:
                pass  # no canonical spelling: it matches no entry of either list
        if caller in svc["deny"] or (svc["allow"] and caller not in svc["allow"]):
            return f"{dst} does not allow calls from {caller}"
        return None

    def _set_status(
        self, view: StateView, ibtp_id: str, rec: list[Any], status: TxStatus, height: int
    ) -> None:
        view.set(
            tx_key(ibtp_id),
            [
                int(status),
                rec[R_HASH],
                rec[R_TIMEOUT],
                [*rec[R_HISTORY], [int(status), height]],
                rec[R_RECEIPT],
                rec[R_RESULT],
            ],
        )

    def _route(self, view: StateView, chain: str, ibtp: IBTP, status: TxStatus) -> None:
        """Queue ``ibtp`` for ``chain`` with the status its relay proof announces: the
        transaction's, except SOURCE_ROLLBACK, whose notices announce BEGIN_ROLLBACK
        (brokers know the statuses of docs/protocol.md §2.2 only)."""
        seq = int(view.get(f"outseq/{chain}", 0)) + 1
        view.set(f"outseq/{chain}", seq)
        view.set(out_key(chain, seq), [encode_ibtp_unproven(ibtp), int(_proof_status(status))])

    @staticmethod
    def _add_meta(view: StateView, name: str, delta: int) -> None:
        view.set(f"meta/{name}", int(view.get(f"meta/{name}", 0)) + delta)

    _HANDLERS = {
        "ibtp": _ibtp,
        "chain.register": _chain_register,
        "chain.approve": _chain_approve,
        "chain.reject": _chain_reject,
        "chain.withdraw": _chain_withdraw,
        "service.register": _service_register,
    }


def _guarded(code: Code, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` of a chain family's verifier: its RelayErrors pass, and any other
    exception (a verifier bug) becomes a refusal with ``code``, never a node crash."""
    try:
        return fn(*args)
    except RelayError:
        raise
    except Exception as exc:
        raise RelayError(code, f"{what}: {exc!r}"[:300]) from None


def _body_dict(body: Any, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RelayError(Code.FIELD_TYPE, "transaction body must be a map")
    missing = required - set(body)
    extra = set(body) - required - optional
    if missing or extra:
        raise RelayError(
            Code.FIELD_TYPE,
            f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}; "
            f"required {sorted(required)}, optional {sorted(optional)}",
        )
    return body


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    """Optional text field ``name`` of a body ("" when absent), cut to ``limit`` code
    points; anything but a string is refused (FIELD_TYPE), so every implementation
    stores the same text (docs/protocol.md §4)."""
    value = body.get(name, "")
    if not isinstance(value, str):
        raise RelayError(Code.FIELD_TYPE, f"{name} must be a string")
    return value[:limit]


def _notice(src: str, dst: str, index: int) -> IBTP:
    """The rollback notice for request ``index`` of (src -> dst) (docs/protocol.md §3)."""
    return IBTP(src, dst, index, IBTPType.RECEIPT_ROLLBACK, 0, Payload())


def _proof_status(status: TxStatus) -> TxStatus:
    """The status a relay proof announces for a transaction in ``status``."""
    return TxStatus.BEGIN_ROLLBACK if status is TxStatus.SOURCE_ROLLBACK else status


def decode_outbound(chain: str, seq: int, value: Any) -> Outbound:
    return Outbound(chain, seq, bytes(value[0]), int(value[1]))
