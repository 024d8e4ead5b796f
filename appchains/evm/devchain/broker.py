"""The broker of docs/broker.md as a native contract (pure).

Same selectors, arguments, return data, events and revert data as
``appchains/evm/contracts/Broker.sol``: a gateway or a test cannot tell them apart
from the outside. Where docs/broker.md is silent this follows the Solidity
broker (revert strings, strict relay-signature checks, "no service code"), except
one point fixed by the dev-chain brief: a reverting service yields
``ReceiptEvent(typ = 2, result = the raw revert data)``, what
``catch (bytes memory reason)`` captures (for ``require`` that is the
``Error(string)`` encoding, not the bare message).

The relay proof is checked as a contract would: the signed digest of
docs/protocol.md §2.2 is recomputed from the call's fields with eth-abi +
keccak, and signatures are recovered with libsecp256k1 (``ecrecover``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rlp

from appchains.evm.devchain.abicodec import decode as abi_decode
from appchains.evm.devchain.abicodec import encode as abi_encode
from appchains.evm.devchain.crypto import HALF_N, ZERO_ADDRESS, keccak, recover_signer
from appchains.evm.devchain.native import (
    ECRECOVER_GAS,
    ERROR_SIGNATURE,
    Env,
    Msg,
    NativeContract,
    Revert,
    abi_event,
    abi_function,
    compute_selector,
    encode_uint,
    require,
)
from appchains.evm.devchain.rlpcodec import encode as rlp_encode

RELAY_PROOF_DOMAIN = keccak(b"relayhub.relay-proof.v2")

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

INTERCHAIN_EVENT = abi_event(
    "InterchainEvent(string,string,uint64,string,bytes[],bool,uint64,bytes32)"
)
RECEIPT_EVENT = abi_event("ReceiptEvent(string,string,uint64,uint8,bytes,bytes32)")
CALLBACK_EVENT = abi_event("CallbackEvent(string,string,uint64,uint8)")

#: What an IBTP can carry (docs/protocol.md §2): the broker refuses more at emit time.
MAX_FUNC_BYTES = 128
MAX_ARGS = 32
MAX_ARG_BYTES = 32 * 1024

_SEGMENT_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_LOWER_HEX = frozenset(b"0123456789abcdef")
_DIGEST_TYPES = [
    "bytes32",
    "bytes",
    "bytes",
    "bytes",
    "bytes",
    "uint64",
    "uint8",
    "bytes32",
    "uint8",
]


def compute_payload_hash(
    func: bytes,
    args: Sequence[bytes],
    encrypted: bool = False,
    hash_fn: Callable[[bytes], bytes] = keccak,
) -> bytes:
    """keccak256(abi.encode(string func, bytes[] args, bool encrypted)) (``hash_fn``: the
    chain's ``keccak256``, SM3 on a FISCO 国密 chain)."""
    return hash_fn(abi_encode(["bytes", "bytes[]", "bool"], [func, list(args), encrypted]))


def compute_receipt_payload_hash(
    typ: int, result: bytes, hash_fn: Callable[[bytes], bytes] = keccak
) -> bytes:
    """payloadHash("", [result], false) for a receipt, payloadHash("", [], false) for a rollback."""
    return compute_payload_hash(
        b"", [] if typ == TYPE_RECEIPT_ROLLBACK else [result], hash_fn=hash_fn
    )


def compute_relay_digest(
    hub_id: bytes,
    target_chain: bytes,
    src: bytes,
    dst: bytes,
    index: int,
    ibtp_type: int,
    payload_hash: bytes,
    status: int,
) -> bytes:
    """The signed digest of docs/protocol.md §2.2, as the broker of ``target_chain``
    recomputes it (its own chain ID: a proof addressed to another chain never matches)."""
    return keccak(
        abi_encode(
            _DIGEST_TYPES,
            [
                RELAY_PROOF_DOMAIN,
                hub_id,
                target_chain,
                src,
                dst,
                index,
                ibtp_type,
                payload_hash,
                status,
            ],
        )
    )


def compute_failure_result(revert_data: bytes, hash_fn: Callable[[bytes], bytes] = keccak) -> bytes:
    """``ReceiptEvent.result`` when ``onInterchain`` reverts, as ``Broker.sol`` records it:
    for a revert with ``Error(string)`` (a ``require``; its selector is the chain's,
    ``hash_fn``), the message's UTF-8 bytes (``catch Error(string memory reason)``); any
    other revert data, raw (``catch (bytes memory reason)``)."""
    if revert_data[:4] == compute_selector(ERROR_SIGNATURE, hash_fn):
        try:
            (message,) = abi_decode(["string"], revert_data[4:])
            return str(message).encode()
        except Exception:
            return revert_data
    return revert_data


def is_id_segment(text: bytes) -> bool:
    """``[A-Za-z0-9_.-]{1,64}`` (docs/protocol.md §1)."""
    return 1 <= len(text) <= 64 and all(c in _SEGMENT_CHARS for c in text)


# The service interface the broker calls (selectors: the chain's hash, ``Env.selector``).
_ON_INTERCHAIN = "onInterchain(string,uint64,string,bytes[])"
_ON_CALLBACK = "onCallback(string,uint64,bool,bytes)"
_ON_ROLLBACK = "onRollback(string,uint64)"


def _call_data(selector: bytes, types: list[str], values: list[object]) -> bytes:
    return selector + abi_encode(types, values)


class Broker(NativeContract):
    NAME = "Broker"

    def __init__(
        self,
        address: bytes,
        hub_id: str,
        chain_id: str,
        relay_validators: Sequence[bytes],
        threshold: int,
    ) -> None:
        super().__init__(address)
        hub, chain = hub_id.encode(), chain_id.encode()
        # The Solidity constructor's checks.
        if not is_id_segment(hub):
            raise ValueError("broker: bad hub id")
        if not is_id_segment(chain):
            raise ValueError("broker: bad chain id")
        if not 1 <= len(relay_validators) <= 256:
            raise ValueError("broker: 1 to 256 relay validators")
        if not 1 <= threshold <= len(relay_validators):
            raise ValueError("broker: threshold out of range")
        if any(v == ZERO_ADDRESS for v in relay_validators):
            raise ValueError("broker: zero relay validator")
        if len(set(relay_validators)) != len(relay_validators):
            raise ValueError("broker: duplicate relay validator")
        self.hub_id = hub
        self.chain_id = chain
        self.prefix = hub + b":" + chain + b":"
        self.validators = tuple(relay_validators)
        self.validator_set = frozenset(relay_validators)
        self.threshold = threshold

    def genesis_storage(self) -> dict[bytes, bytes]:
        config = rlp_encode([self.hub_id, self.chain_id, list(self.validators), self.threshold])
        return {self.key(b"config"): config}

    # ------------------------------------------------------------------ identity
    def full_id(self, address: bytes) -> bytes:
        return self.prefix + b"0x" + address.hex().encode()

    def parse_local(self, service_id: bytes) -> bytes | None:
        """The address of ``hubId:chainId:0x<40 lowercase hex>`` on this chain, else ``None``."""
        p = len(self.prefix)
        if len(service_id) != p + 42 or not service_id.startswith(self.prefix):
            return None
        if service_id[p : p + 2] != b"0x":
            return None
        digits = service_id[p + 2 :]
        if not all(c in _LOWER_HEX for c in digits):
            return None
        return bytes.fromhex(digits.decode())

    def is_remote_service_id(self, service_id: bytes) -> bool:
        """``hubId:chain:service`` with this hub's ID, a chain of ``[A-Za-z0-9_.-]{1,64}``
        and a service of ``[A-Za-z0-9_.-]{1,128}`` (docs/protocol.md §1)."""
        hub = self.hub_id + b":"
        if not service_id.startswith(hub):
            return False
        parts = service_id[len(hub) :].split(b":")
        return (
            len(parts) == 2
            and is_id_segment(parts[0])
            and 1 <= len(parts[1]) <= 128
            and all(c in _SEGMENT_CHARS for c in parts[1])
        )

    # ------------------------------------------------------------------ helpers
    def _enter(self, env: Env) -> None:
        require(not self.load(env, b"entered"), "broker: reentrant call")
        self.store(env, b"\x01", b"entered")

    def _leave(self, env: Env) -> None:
        self.store(env, b"", b"entered")

    def _digest(
        self, src: bytes, dst: bytes, index: int, typ: int, payload_hash: bytes, status: int
    ) -> bytes:
        return compute_relay_digest(
            self.hub_id, self.chain_id, src, dst, index, typ, payload_hash, status
        )

    def _check_relay_proof(self, env: Env, digest: bytes, signatures: Sequence[bytes]) -> None:
        """Every signature well formed and from a registered relay validator; at least
        ``threshold`` distinct ones (a validator that signed twice counts once)."""
        seen: set[bytes] = set()
        for sig in signatures:
            require(len(sig) == 65, "broker: malformed relay signature")
            require(sig[64] in (27, 28), "broker: malformed relay signature")
            require(
                int.from_bytes(sig[32:64], "big") <= HALF_N, "broker: malformed relay signature"
            )
            env.gas.charge(ECRECOVER_GAS)
            signer = recover_signer(digest, sig)
            require(signer is not None, "broker: malformed relay signature")
            require(signer in self.validator_set, "broker: unregistered relay signer")
            assert signer is not None
            seen.add(signer)
        require(len(seen) >= self.threshold, "broker: relay signatures below threshold")

    def _advance_in(self, env: Env, src: bytes, dst: bytes, index: int) -> None:
        """inCounter = ``index``, then past every following index already rolled back
        (its notice came before the requests ahead of it were delivered)."""
        while self.load_uint(env, b"instate", src, dst, index + 1) == IN_ROLLED_BACK:
            index += 1
        self.store_uint(env, index, b"in", src, dst)

    # ------------------------------------------------------------------ sending
    @abi_function("emitInterchain(string,string,bytes[],uint64)", "uint64")
    def emit_interchain(
        self, msg: Msg, dst: bytes, func: bytes, args: tuple[bytes, ...], timeout: int
    ) -> int:
        env = msg.env
        require(not dst.startswith(self.prefix), "broker: to is on this chain")
        # Refuse here what the relay could never admit: a request the relay cannot decode
        # would leave its index unconsumed, and the pair would wait behind it for good.
        require(self.is_remote_service_id(dst), "broker: to is not a service ID of this hub")
        require(
            len(func) <= MAX_FUNC_BYTES and all(0x20 <= c <= 0x7E for c in func),
            "broker: func is not 0-128 printable ASCII characters",
        )
        require(
            len(args) <= MAX_ARGS and all(len(a) <= MAX_ARG_BYTES for a in args),
            "broker: at most 32 args of at most 32768 bytes",
        )
        src = self.full_id(msg.sender)
        index = self.load_uint(env, b"out", src, dst) + 1
        self.store_uint(env, index, b"out", src, dst)
        self.store(env, rlp_encode([func, list(args), timeout]), b"msg", src, dst, index)
        payload_hash = compute_payload_hash(func, args, hash_fn=env.hash_fn)
        env.emit_event(
            INTERCHAIN_EVENT,
            self.address,
            src,
            dst,
            index,
            func,
            list(args),
            False,
            timeout,
            payload_hash,
        )
        return index

    # ------------------------------------------------------------------ receiving
    @abi_function("invokeInterchain(string,string,uint64,string,bytes[],bytes[])")
    def invoke_interchain(
        self,
        msg: Msg,
        src: bytes,
        dst: bytes,
        index: int,
        func: bytes,
        args: tuple[bytes, ...],
        signatures: tuple[bytes, ...],
    ) -> None:
        env = msg.env
        self._enter(env)
        target = self.parse_local(dst)
        require(target is not None, "broker: to is not a local service")
        assert target is not None
        require(index == self.load_uint(env, b"in", src, dst) + 1, "broker: index out of order")
        digest = self._digest(
            src, dst, index, TYPE_INTERCHAIN, compute_payload_hash(func, args), STATUS_BEGIN
        )
        self._check_relay_proof(env, digest, signatures)
        self._advance_in(env, src, dst, index)

        if not env.has_code(target):
            typ, result = TYPE_RECEIPT_FAILURE, NO_SERVICE_CODE_RESULT
            self.store_uint(env, IN_FAILED, b"instate", src, dst, index)
        else:
            data = _call_data(
                env.selector(_ON_INTERCHAIN),
                ["bytes", "uint64", "bytes", "bytes[]"],
                [src, index, func, list(args)],
            )
            ok, out = env.try_call(self.address, target, data)
            if ok:
                typ, result = TYPE_RECEIPT_SUCCESS, _decode_bytes_return(out)
                self.store_uint(env, IN_SUCCEEDED, b"instate", src, dst, index)
            else:
                typ, result = TYPE_RECEIPT_FAILURE, compute_failure_result(out, env.hash_fn)
                self.store_uint(env, IN_FAILED, b"instate", src, dst, index)
        self.store(env, rlp_encode([typ, result]), b"rcpt", src, dst, index)
        env.emit_event(
            RECEIPT_EVENT,
            self.address,
            src,
            dst,
            index,
            typ,
            result,
            compute_receipt_payload_hash(typ, result, env.hash_fn),
        )
        self._leave(env)

    @abi_function("invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])")
    def invoke_receipt(
        self,
        msg: Msg,
        src: bytes,
        dst: bytes,
        index: int,
        typ: int,
        result: bytes,
        status: int,
        signatures: tuple[bytes, ...],
    ) -> None:
        env = msg.env
        self._enter(env)
        require(
            typ in (TYPE_RECEIPT_SUCCESS, TYPE_RECEIPT_FAILURE, TYPE_RECEIPT_ROLLBACK),
            "broker: bad receipt type",
        )
        require(_status_matches(typ, status), "broker: status does not match type")
        require(typ != TYPE_RECEIPT_ROLLBACK or not result, "broker: rollback carries no result")
        require(index >= 1, "broker: unknown index")
        digest = self._digest(
            src, dst, index, typ, compute_receipt_payload_hash(typ, result), status
        )
        self._check_relay_proof(env, digest, signatures)

        source = self.parse_local(src)
        if source is not None:
            require(index <= self.load_uint(env, b"out", src, dst), "broker: unknown index")
            require(
                not self.load(env, b"done", src, dst, index), "broker: receipt already processed"
            )
            self.store(env, b"\x01", b"done", src, dst, index)
            if env.has_code(source):
                # Callback failures revert the whole receipt (it can be delivered again).
                if typ in (TYPE_RECEIPT_SUCCESS, TYPE_RECEIPT_FAILURE):
                    env.call(
                        self.address,
                        source,
                        _call_data(
                            env.selector(_ON_CALLBACK),
                            ["bytes", "uint64", "bool", "bytes"],
                            [dst, index, typ == TYPE_RECEIPT_SUCCESS, result],
                        ),
                    )
                if typ in (TYPE_RECEIPT_FAILURE, TYPE_RECEIPT_ROLLBACK):
                    env.call(
                        self.address,
                        source,
                        _call_data(env.selector(_ON_ROLLBACK), ["bytes", "uint64"], [dst, index]),
                    )
            self.store_uint(env, self.load_uint(env, b"cb", src, dst) + 1, b"cb", src, dst)
            env.emit_event(CALLBACK_EVENT, self.address, src, dst, index, typ)
            self._leave(env)
            return

        # The destination side. A notice may name a service ID of this chain that is no
        # possible service (not a lowercase address): nothing can ever run for it here,
        # so it is taken like any other (marked once), not refused, and never blocks a
        # gateway.
        target = self.parse_local(dst)
        require(
            typ == TYPE_RECEIPT_ROLLBACK and (target is not None or dst.startswith(self.prefix)),
            "broker: neither side is local",
        )
        state = self.load_uint(env, b"instate", src, dst, index)
        # Executed already (the notice of a timeout crossed the delivery): its outcome
        # stands, and its receipt settles the transaction at the relay (a late receipt).
        # The notice is taken and changes nothing: no undo, no revert, no event.
        if state in (IN_SUCCEEDED, IN_FAILED):
            self._leave(env)
            return
        require(state != IN_ROLLED_BACK, "broker: receipt already processed")
        self.store_uint(env, IN_ROLLED_BACK, b"instate", src, dst, index)
        # A notice for the next index (a request the relay never routed, or one that timed
        # out before it was delivered) consumes that index: the request never executes.
        if index == self.load_uint(env, b"in", src, dst) + 1:
            self._advance_in(env, src, dst, index)
        # The destination's acknowledgement: this index will never run here. The relay
        # tells the source to roll back only once it has seen this event.
        env.emit_event(CALLBACK_EVENT, self.address, src, dst, index, typ)
        self._leave(env)

    # ------------------------------------------------------------------ views
    @abi_function("outCounter(string,string)", "uint64")
    def out_counter(self, msg: Msg, src: bytes, dst: bytes) -> int:
        return self.load_uint(msg.env, b"out", src, dst)

    @abi_function("inCounter(string,string)", "uint64")
    def in_counter(self, msg: Msg, src: bytes, dst: bytes) -> int:
        return self.load_uint(msg.env, b"in", src, dst)

    @abi_function("callbackCounter(string,string)", "uint64")
    def callback_counter(self, msg: Msg, src: bytes, dst: bytes) -> int:
        return self.load_uint(msg.env, b"cb", src, dst)

    @abi_function("outMessage(string,string,uint64)", "string,bytes[],uint64")
    def out_message(
        self, msg: Msg, src: bytes, dst: bytes, index: int
    ) -> tuple[bytes, list[bytes], int]:
        raw = self.load(msg.env, b"msg", src, dst, index)
        if not raw:
            return b"", [], 0
        func, args, timeout = rlp.decode(raw)
        return func, list(args), int.from_bytes(timeout, "big")

    @abi_function("receiptMessage(string,string,uint64)", "uint8,bytes")
    def receipt_message(self, msg: Msg, src: bytes, dst: bytes, index: int) -> tuple[int, bytes]:
        raw = self.load(msg.env, b"rcpt", src, dst, index)
        if not raw:
            return 0, b""
        typ, result = rlp.decode(raw)
        return int.from_bytes(typ, "big"), result

    @abi_function("relayValidators()", "address[],uint64")
    def relay_validators(self, msg: Msg) -> tuple[list[bytes], int]:
        return list(self.validators), self.threshold


def _status_matches(typ: int, status: int) -> bool:
    if typ == TYPE_RECEIPT_SUCCESS:
        return status == STATUS_SUCCESS
    if typ == TYPE_RECEIPT_FAILURE:
        return status == STATUS_FAILURE
    return status in (STATUS_BEGIN_ROLLBACK, STATUS_BEGIN_FAILURE)


def _decode_bytes_return(data: bytes) -> bytes:
    """Decode ``returns (bytes memory)``; undecodable data reverts the caller (empty data)."""
    try:
        (value,) = abi_decode(["bytes"], data)
    except Exception:
        raise Revert(b"") from None
    return bytes(value)


__all__ = [
    "CALLBACK_EVENT",
    "INTERCHAIN_EVENT",
    "RECEIPT_EVENT",
    "RELAY_PROOF_DOMAIN",
    "Broker",
    "compute_payload_hash",
    "compute_receipt_payload_hash",
    "compute_relay_digest",
    "encode_uint",
]
