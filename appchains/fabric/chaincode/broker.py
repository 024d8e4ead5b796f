"""The broker chaincode (``broker``): docs/broker.md with Fabric's calling convention.

Same semantics as the EVM broker (``appchains/evm/devchain/broker.py``, itself the twin
of ``Broker.sol``): the same checks in the same order, the same refusal messages, the
same counters, receipts, callbacks, rollbacks and index consumption by rollback notices.
What differs is only what Fabric makes different (docs/fabric.md §3.2):

* **one event per transaction**, the invoked chaincode's (a called chaincode's event is
  dropped), so every interchain transaction invokes the broker: a client sends through
  ``invokeService(service, func, args…)``, which invokes the service chaincode with
  ``[func, args…]``; the service answers a ``ServiceAnswer`` (``codec``) that may carry
  one request for the broker to emit (``emitInterchain``'s checks and index). The
  broker's state-changing functions refuse to be called by another chaincode
  (``broker: only a client may invoke the broker``): their event would be lost, and
  a request whose event is lost leaves a hole its pair waits behind;
* a local service's full ID is ``hubId:chainId:<chaincode name>`` (a name of
  ``[A-Za-z0-9_.-]{1,128}``);
* a refusal is an error response (status 500, the EVM revert string as message), and a
  failed invocation writes nothing (the peer endorses no failed simulation);
* a failing service (``onInterchain`` answering an error) gives
  ``ReceiptEvent(typ = 2, result = the error message's UTF-8)`` — what the EVM broker
  records for a ``require`` — and none of the service's writes.

**What this needs of the Stub** (the peer's simulation, ``appchains/fabric``):
``invoke_chaincode`` runs the callee in this transaction and, when the callee answers an
error response (status ≥ 400), **discards every write the callee made** (and any
chaincode it called), as the EVM's ``try_call`` reverts a callee — the broker relies on
it to record a FAILURE receipt without the failed service's partial writes. A callee
that is not on the channel answers an error response; the EVM broker's result for a
target without code is ``no service code``, which a peer matches by answering exactly
that message. ``get_caller`` is None for the client's own invocation. The broker's
event is set last, once, per invocation.

Arguments (byte strings; ``codec`` has the encodings): strings UTF-8, integers decimal,
byte strings raw, lists of byte strings canonical JSON arrays of hex. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.fabric.errors import BrokerEventError
from adapters.fabric.proposal import (
    CALLBACK_EVENT,
    INTERCHAIN_EVENT,
    RECEIPT_EVENT,
    AnyBrokerEvent,
    CallbackEvent,
    InterchainEvent,
    ReceiptEvent,
    encode_event,
)

from .codec import (
    SERVICE_INTERFACE,
    Handler,
    Refused,
    Request,
    ServiceAnswer,
    account_of,
    arity,
    bytes_list_arg,
    canonical_json,
    dispatch,
    encode_bool,
    encode_bytes_list,
    encode_uint,
    load_json,
    load_uint,
    require,
    state_key,
    store_uint,
    text_arg,
    uint_arg,
)
from .relayproof import ADDRESS_BYTES, check_relay_proof, compute_payload_hash, compute_relay_digest
from .stub import Response, Stub

BROKER = "broker"
P = "broker"

TYPE_INTERCHAIN = 0
TYPE_RECEIPT_SUCCESS = 1
TYPE_RECEIPT_FAILURE = 2
TYPE_RECEIPT_ROLLBACK = 3

STATUS_BEGIN = 0
STATUS_SUCCESS = 1
STATUS_FAILURE = 2
STATUS_BEGIN_FAILURE = 4
STATUS_BEGIN_ROLLBACK = 5

# Destination-side state of an inbound index.
IN_NONE = 0
IN_SUCCEEDED = 1
IN_FAILED = 2
IN_ROLLED_BACK = 3

NO_SERVICE_CODE_RESULT = b"no service code"

#: What an IBTP can carry (docs/protocol.md §2): the broker refuses more at emit time.
MAX_FUNC_BYTES = 128
MAX_ARGS = 32
MAX_ARG_BYTES = 32 * 1024
MAX_SERVICE_CHARS = 128

_SEGMENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def is_id_segment(text: str, limit: int = 64) -> bool:
    """``[A-Za-z0-9_.-]{1,limit}`` (docs/protocol.md §1)."""
    return 1 <= len(text) <= limit and all(c in _SEGMENT_CHARS for c in text)


def compute_receipt_payload_hash(typ: int, result: bytes) -> bytes:
    """payloadHash("", [result], false) for a receipt, payloadHash("", [], false) for a rollback."""
    return compute_payload_hash("", [] if typ == TYPE_RECEIPT_ROLLBACK else [result])


def _status_matches(typ: int, status: int) -> bool:
    if typ == TYPE_RECEIPT_SUCCESS:
        return status == STATUS_SUCCESS
    if typ == TYPE_RECEIPT_FAILURE:
        return status == STATUS_FAILURE
    return status in (STATUS_BEGIN_ROLLBACK, STATUS_BEGIN_FAILURE)


#: The message slot of each broker event (``messageTx``).
_SLOTS = {INTERCHAIN_EVENT: "request", RECEIPT_EVENT: "receipt", CALLBACK_EVENT: "rollback"}


def is_account_name(name: str) -> bool:
    """Whether a service part is a client account (``0x`` + 40 lowercase hex), the
    ``from`` of a client's own ``emitInterchain``: never a chaincode name here (the dev
    chain refuses to install a chaincode so named)."""
    return (
        len(name) == 42 and name.startswith("0x") and all(c in "0123456789abcdef" for c in name[2:])
    )


class BrokerChaincode:
    """The broker of one chain: hub and chain IDs, relay validators (20-byte addresses)
    and threshold are its deployment parameters (the Solidity constructor's)."""

    def __init__(
        self,
        hub_id: str,
        chain_id: str,
        relay_validators: Sequence[bytes],
        threshold: int,
        name: str = BROKER,
    ) -> None:
        # The Solidity constructor's checks.
        if not is_id_segment(hub_id):
            raise ValueError("broker: bad hub id")
        if not is_id_segment(chain_id):
            raise ValueError("broker: bad chain id")
        if not 1 <= len(relay_validators) <= 256:
            raise ValueError("broker: 1 to 256 relay validators")
        if not 1 <= threshold <= len(relay_validators):
            raise ValueError("broker: threshold out of range")
        if any(len(v) != ADDRESS_BYTES for v in relay_validators):
            raise ValueError("broker: a relay validator is not a 20-byte address")
        if any(v == b"\x00" * ADDRESS_BYTES for v in relay_validators):
            raise ValueError("broker: zero relay validator")
        if len(set(relay_validators)) != len(relay_validators):
            raise ValueError("broker: duplicate relay validator")
        if not is_id_segment(name, MAX_SERVICE_CHARS):
            raise ValueError("broker: bad chaincode name")
        self.name = name
        self.hub_id = hub_id
        self.chain_id = chain_id
        self.prefix = f"{hub_id}:{chain_id}:"
        self.validators = tuple(bytes(v) for v in relay_validators)
        self.validator_set = frozenset(self.validators)
        self.threshold = threshold
        self.handlers: dict[str, Handler] = {
            "invokeService": self.invoke_service,
            "emitInterchain": self.emit_interchain,
            "invokeInterchain": self.invoke_interchain,
            "invokeReceipt": self.invoke_receipt,
            "outCounter": self.out_counter,
            "inCounter": self.in_counter,
            "callbackCounter": self.callback_counter,
            "outMessage": self.out_message,
            "receiptMessage": self.receipt_message,
            "relayValidators": self.relay_validators,
            "messageTx": self.message_tx,
        }

    def invoke(self, stub: Stub) -> Response:
        return dispatch(stub, self.handlers, P)

    def genesis_state(self) -> dict[str, bytes]:
        """The broker's world state at genesis: its parameters, so the state commits to
        them (as the EVM dev chain's genesis storage does)."""
        return {state_key("config"): self._config()}

    def _config(self) -> bytes:
        return canonical_json(
            {
                "hubId": self.hub_id,
                "chainId": self.chain_id,
                "threshold": self.threshold,
                "validators": ["0x" + v.hex() for v in self.validators],
            }
        )

    # ------------------------------------------------------------------ identity
    def full_id(self, chaincode: str) -> str:
        return self.prefix + chaincode

    def parse_local(self, service_id: str) -> str | None:
        """The chaincode name of ``hubId:chainId:<name>`` on this chain, else None."""
        if not service_id.startswith(self.prefix):
            return None
        name = service_id[len(self.prefix) :]
        return name if is_id_segment(name, MAX_SERVICE_CHARS) else None

    def is_remote_service_id(self, service_id: str) -> bool:
        """``hubId:chain:service`` with this hub's ID, a chain of ``[A-Za-z0-9_.-]{1,64}``
        and a service of ``[A-Za-z0-9_.-]{1,128}`` (docs/protocol.md §1)."""
        hub = self.hub_id + ":"
        if not service_id.startswith(hub):
            return False
        parts = service_id[len(hub) :].split(":")
        return (
            len(parts) == 2
            and is_id_segment(parts[0])
            and is_id_segment(parts[1], MAX_SERVICE_CHARS)
        )

    # ------------------------------------------------------------------ helpers
    def _only_clients(self, stub: Stub) -> None:
        require(stub.get_caller() is None, "broker: only a client may invoke the broker")

    def _digest(
        self, src: str, dst: str, index: int, typ: int, payload_hash: bytes, status: int
    ) -> bytes:
        return compute_relay_digest(
            self.hub_id, self.chain_id, src, dst, index, typ, payload_hash, status
        )

    def _advance_in(self, stub: Stub, src: str, dst: str, index: int) -> None:
        """inCounter = ``index``, then past every following index already rolled back
        (its notice came before the requests ahead of it were delivered)."""
        while load_uint(stub, state_key("instate", src, dst, str(index + 1))) == IN_ROLLED_BACK:
            index += 1
        store_uint(stub, state_key("in", src, dst), index)

    def _emit(self, stub: Stub, name: str, event: AnyBrokerEvent) -> None:
        try:
            payload = encode_event(event)
        except BrokerEventError as exc:  # only for fields no relay proof carries
            raise Refused(f"broker: {exc}") from None
        stub.set_event(name, payload)
        # Where each message of an index is, for a gateway's refetch (messageTx).
        if not isinstance(event, CallbackEvent) or event.typ == TYPE_RECEIPT_ROLLBACK:
            slot = _SLOTS[name]
            key = state_key("tx", slot, event.from_, event.to, str(event.index))
            stub.put_state(key, stub.get_tx_id().encode())

    # ------------------------------------------------------------------ sending
    def invoke_service(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``invokeService(service, func, args…)``: invoke the service chaincode with
        ``[func, args…]``, emit the request it answers (if any), return its result."""
        self._only_clients(stub)
        require(len(args) >= 2, f"{P}: invokeService takes a service, a function and its args")
        service = text_arg(args[0], "service", P)
        func = text_arg(args[1], "func", P)
        require(is_id_segment(service, MAX_SERVICE_CHARS), f"{P}: service is not a chaincode name")
        require(service != self.name, f"{P}: the broker is not a service")
        require(func not in SERVICE_INTERFACE, f"{P}: only the broker calls {func}")
        response = stub.invoke_chaincode(service, list(args[1:]))
        if not response.ok:
            raise Refused(response.message)  # the service said no: so does the transaction
        answer = ServiceAnswer.decode(response.payload)
        if answer.request is not None:
            self._emit_interchain(stub, service, answer)
        return answer.result

    def _emit_interchain(self, stub: Stub, service: str, answer: ServiceAnswer) -> None:
        request = answer.request
        assert request is not None
        dst, func, args = request.to, request.func, request.args
        require(not dst.startswith(self.prefix), f"{P}: to is on this chain")
        # Refuse here what the relay could never admit: a request the relay cannot decode
        # would leave its index unconsumed, and the pair would wait behind it for good.
        require(self.is_remote_service_id(dst), f"{P}: to is not a service ID of this hub")
        require(
            len(func) <= MAX_FUNC_BYTES and all(0x20 <= ord(c) <= 0x7E for c in func),
            f"{P}: func is not 0-128 printable ASCII characters",
        )
        require(
            len(args) <= MAX_ARGS and all(len(a) <= MAX_ARG_BYTES for a in args),
            f"{P}: at most 32 args of at most 32768 bytes",
        )
        src = self.full_id(service)
        index = load_uint(stub, state_key("out", src, dst)) + 1
        require(request.index == index, f"{P}: the service expects index {request.index}")
        store_uint(stub, state_key("out", src, dst), index)
        stored = {"func": func, "args": [a.hex() for a in args], "timeout": request.timeout}
        stub.put_state(state_key("msg", src, dst, str(index)), canonical_json(stored))
        event = InterchainEvent(
            from_=src,
            to=dst,
            index=index,
            func=func,
            args=tuple(args),
            encrypted=False,
            timeout=request.timeout,
            payload_hash=compute_payload_hash(func, args),
        )
        self._emit(stub, INTERCHAIN_EVENT, event)

    def emit_interchain(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``emitInterchain(to, func, args, timeout)``: a client sends an interchain call
        in its own name, ``from`` = ``hubId:chainId:<its account>`` (the EVM broker's
        ``emitInterchain`` from an account). Returns the index, in decimal."""
        arity(args, 4, P)
        self._only_clients(stub)
        dst = text_arg(args[0], "to", P)
        func = text_arg(args[1], "func", P)
        call_args = bytes_list_arg(args[2], "args", P)
        timeout = uint_arg(args[3], "timeout", P)
        account = "0x" + account_of(stub.get_creator()).hex()
        index = load_uint(stub, state_key("out", self.full_id(account), dst)) + 1
        request = Request(to=dst, func=func, args=tuple(call_args), timeout=timeout, index=index)
        self._emit_interchain(stub, account, ServiceAnswer(request=request))
        return encode_uint(index)

    # ------------------------------------------------------------------ receiving
    def invoke_interchain(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``invokeInterchain(from, to, index, func, args, signatures)``."""
        self._only_clients(stub)
        arity(args, 6, P)
        src = text_arg(args[0], "from", P)
        dst = text_arg(args[1], "to", P)
        index = uint_arg(args[2], "index", P)
        func = text_arg(args[3], "func", P)
        call_args = bytes_list_arg(args[4], "args", P)
        signatures = bytes_list_arg(args[5], "signatures", P)
        target = self.parse_local(dst)
        require(target is not None, f"{P}: to is not a local service")
        assert target is not None
        in_key = state_key("in", src, dst)
        require(index == load_uint(stub, in_key) + 1, f"{P}: index out of order")
        digest = self._digest(
            src, dst, index, TYPE_INTERCHAIN, compute_payload_hash(func, call_args), STATUS_BEGIN
        )
        check_relay_proof(digest, signatures, self.validator_set, self.threshold)
        self._advance_in(stub, src, dst, index)

        if target == self.name:  # the broker is no service: nothing to run
            typ, result = TYPE_RECEIPT_FAILURE, NO_SERVICE_CODE_RESULT
        else:
            response = stub.invoke_chaincode(
                target,
                [
                    b"onInterchain",
                    src.encode(),
                    encode_uint(index),
                    func.encode(),
                    encode_bytes_list(call_args),
                ],
            )
            if response.ok:
                typ, result = TYPE_RECEIPT_SUCCESS, response.payload
            else:  # the peer dropped the service's writes
                typ, result = TYPE_RECEIPT_FAILURE, response.message.encode()
        state = IN_SUCCEEDED if typ == TYPE_RECEIPT_SUCCESS else IN_FAILED
        store_uint(stub, state_key("instate", src, dst, str(index)), state)
        receipt = canonical_json({"typ": typ, "result": result.hex()})
        stub.put_state(state_key("rcpt", src, dst, str(index)), receipt)
        event = ReceiptEvent(
            from_=src,
            to=dst,
            index=index,
            typ=typ,
            result=result,
            payload_hash=compute_receipt_payload_hash(typ, result),
        )
        self._emit(stub, RECEIPT_EVENT, event)
        return b""

    def invoke_receipt(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``invokeReceipt(from, to, index, typ, result, status, signatures)``."""
        self._only_clients(stub)
        arity(args, 7, P)
        src = text_arg(args[0], "from", P)
        dst = text_arg(args[1], "to", P)
        index = uint_arg(args[2], "index", P)
        typ = uint_arg(args[3], "typ", P, 255)
        result = bytes(args[4])
        status = uint_arg(args[5], "status", P, 255)
        signatures = bytes_list_arg(args[6], "signatures", P)
        require(
            typ in (TYPE_RECEIPT_SUCCESS, TYPE_RECEIPT_FAILURE, TYPE_RECEIPT_ROLLBACK),
            f"{P}: bad receipt type",
        )
        require(_status_matches(typ, status), f"{P}: status does not match type")
        require(typ != TYPE_RECEIPT_ROLLBACK or not result, f"{P}: rollback carries no result")
        require(index >= 1, f"{P}: unknown index")
        digest = self._digest(
            src, dst, index, typ, compute_receipt_payload_hash(typ, result), status
        )
        check_relay_proof(digest, signatures, self.validator_set, self.threshold)

        source = self.parse_local(src)
        if source is not None:
            require(index <= load_uint(stub, state_key("out", src, dst)), f"{P}: unknown index")
            done = state_key("done", src, dst, str(index))
            require(stub.get_state(done) is None, f"{P}: receipt already processed")
            stub.put_state(done, b"1")
            # Callback failures fail the whole receipt (it can be delivered again). A
            # client's own call (emitInterchain) has no service to call back, as an EVM
            # account without code: its receipt is recorded all the same.
            service = not is_account_name(source)
            if service and typ in (TYPE_RECEIPT_SUCCESS, TYPE_RECEIPT_FAILURE):
                self._call(
                    stub,
                    source,
                    b"onCallback",
                    dst.encode(),
                    encode_uint(index),
                    encode_bool(typ == TYPE_RECEIPT_SUCCESS),
                    result,
                )
            if service and typ in (TYPE_RECEIPT_FAILURE, TYPE_RECEIPT_ROLLBACK):
                self._call(stub, source, b"onRollback", dst.encode(), encode_uint(index))
            cb_key = state_key("cb", src, dst)
            store_uint(stub, cb_key, load_uint(stub, cb_key) + 1)
            self._emit(stub, CALLBACK_EVENT, CallbackEvent(src, dst, index, typ))
            return b""

        # The destination side. A notice may name a service ID of this chain that is no
        # possible service (not a chaincode name): nothing can ever run for it here, so
        # it is taken like any other (marked once), not refused, and never blocks a
        # gateway.
        target = self.parse_local(dst)
        require(
            typ == TYPE_RECEIPT_ROLLBACK and (target is not None or dst.startswith(self.prefix)),
            f"{P}: neither side is local",
        )
        state_k = state_key("instate", src, dst, str(index))
        state = load_uint(stub, state_k)
        # Executed already (the notice of a timeout crossed the delivery): its outcome
        # stands, and its receipt settles the transaction at the relay (a late receipt).
        # The notice is taken and changes nothing: no undo, no refusal, no event.
        if state in (IN_SUCCEEDED, IN_FAILED):
            return b""
        require(state != IN_ROLLED_BACK, f"{P}: receipt already processed")
        store_uint(stub, state_k, IN_ROLLED_BACK)
        # A notice for the next index (a request the relay never routed, or one that timed
        # out before it was delivered) consumes that index: the request never executes.
        if index == load_uint(stub, state_key("in", src, dst)) + 1:
            self._advance_in(stub, src, dst, index)
        # The destination's acknowledgement: this index will never run here. The relay
        # tells the source to roll back only once it has seen this event.
        self._emit(stub, CALLBACK_EVENT, CallbackEvent(src, dst, index, typ))
        return b""

    def _call(self, stub: Stub, chaincode: str, *args: bytes) -> None:
        """Invoke a service function whose failure fails the whole invocation (the
        service's message is the broker's, as a reverting call reverts the EVM broker)."""
        response = stub.invoke_chaincode(chaincode, list(args))
        if not response.ok:
            raise Refused(response.message)

    # ------------------------------------------------------------------ views
    def _pair(self, args: Sequence[bytes]) -> tuple[str, str]:
        arity(args, 2, P)
        return text_arg(args[0], "from", P), text_arg(args[1], "to", P)

    def _pair_index(self, args: Sequence[bytes]) -> tuple[str, str, int]:
        arity(args, 3, P)
        src, dst = self._pair(args[:2])
        return src, dst, uint_arg(args[2], "index", P)

    def out_counter(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        return encode_uint(load_uint(stub, state_key("out", *self._pair(args))))

    def in_counter(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        return encode_uint(load_uint(stub, state_key("in", *self._pair(args))))

    def callback_counter(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        return encode_uint(load_uint(stub, state_key("cb", *self._pair(args))))

    def out_message(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``{"args": [hex…], "func": str, "timeout": uint64}`` (empty for no message)."""
        src, dst, index = self._pair_index(args)
        stored = stub.get_state(state_key("msg", src, dst, str(index)))
        return stored or canonical_json({"func": "", "args": [], "timeout": 0})

    def receipt_message(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``{"result": hex, "typ": uint8}`` (typ 0 for no receipt)."""
        src, dst, index = self._pair_index(args)
        stored = load_json(stub, state_key("rcpt", src, dst, str(index)))
        return canonical_json(stored or {"typ": 0, "result": ""})

    def message_tx(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``messageTx(slot, from, to, index)``: the ID of the transaction whose event is
        the broker's ``slot`` message for the index — ``request`` (InterchainEvent),
        ``receipt`` (ReceiptEvent) or ``rollback`` (CallbackEvent typ 3) — or empty.
        A gateway proves a message again from it (``qscc GetBlockByTxID``)."""
        arity(args, 4, P)
        slot = text_arg(args[0], "slot", P)
        require(slot in _SLOTS.values(), f"{P}: slot is request, receipt or rollback")
        src, dst, index = self._pair_index(args[1:])
        return stub.get_state(state_key("tx", slot, src, dst, str(index))) or b""

    def relay_validators(self, stub: Stub, args: Sequence[bytes]) -> bytes:
        """``{"threshold": uint64, "validators": ["0x…"]}``."""
        arity(args, 0, P)
        return canonical_json(
            {"validators": ["0x" + v.hex() for v in self.validators], "threshold": self.threshold}
        )
